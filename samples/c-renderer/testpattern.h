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
void tp_expected(unsigned char *px, int w, int h, int frame);

#endif
