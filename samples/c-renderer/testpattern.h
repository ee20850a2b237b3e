/*
 * testpattern.h: a C99 port of glbridge's testpattern.Expected
 * (testpattern/testpattern.go), the texels of frame N of the test pattern.
 * samples_test.go compares it with the Go original through
 * `c-renderer --dump`, so the two cannot drift apart.
 */
#ifndef C_RENDERER_TESTPATTERN_H
#define C_RENDERER_TESTPATTERN_H

#include <stddef.h>

/* TP_FRAME_BITS: how many bits of the frame number the pattern carries. */
#define TP_FRAME_BITS 16

/*
 * tp_expected writes the RGBA8 texels of frame at w x h into px
 * (w * h * 4 bytes), rows bottom first (GL's row 0 first in memory), as
 * testpattern.Expected returns them.
 */
/* tp_rect_fn paints one rectangle of the pattern (x, y from GL's row 0). */
typedef void (*tp_rect_fn)(void *ctx, int x, int y, int w, int h,
                           unsigned char r, unsigned char g, unsigned char b, unsigned char a);

/* tp_rects calls rect for every rectangle of frame's pattern in a w x h
 * texture, in painting order (later ones cover earlier ones), as
 * testpattern.Draw clears them. */
void tp_rects(int w, int h, int frame, tp_rect_fn rect, void *ctx);

/* tp_expected writes the w x h RGBA8 texels of frame (GL's row 0 first). */
void tp_expected(unsigned char *px, int w, int h, int frame);

#endif
