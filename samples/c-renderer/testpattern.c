/*
 * testpattern.c: the C port of testpattern.Expected (see testpattern.h).
 * The pattern is a list of axis-aligned rectangles of exact 8-bit colours,
 * later ones painted over earlier ones, exactly as testpattern.rects lists
 * them (Go's integer division truncates toward zero, as C99's does).
 */
#include "testpattern.h"

static int imax(int a, int b) { return a > b ? a : b; }

/* texels is where tp_expected paints. */
struct texels {
    unsigned char *px;
    int w, h;
};

static void fill(void *ctx, int x0, int y0, int rw, int rh,
                 unsigned char r, unsigned char g, unsigned char b, unsigned char a)
{
    const struct texels *t = ctx;
    int x, y;
    for (y = y0 < 0 ? 0 : y0; y < y0 + rh && y < t->h; y++)
        for (x = x0 < 0 ? 0 : x0; x < x0 + rw && x < t->w; x++) {
            unsigned char *p = t->px + ((size_t)y * (size_t)t->w + (size_t)x) * 4;
            p[0] = r;
            p[1] = g;
            p[2] = b;
            p[3] = a;
        }
}

static const unsigned char bars[8][4] = {
    { 255, 255, 255, 255 }, { 255, 255, 0, 255 }, { 0, 255, 255, 255 }, { 0, 255, 0, 255 },
    { 255, 0, 255, 255 }, { 255, 0, 0, 255 }, { 0, 0, 255, 255 }, { 0, 0, 0, 255 },
};

void tp_rects(int w, int h, int frame, tp_rect_fn rect, void *ctx)
{
    int i, top, rampH, band, side, step, x, bitsH;
    /* Background of the middle band: black. */
    rect(ctx, 0, 0, w, h, 0, 0, 0, 255);
    top = h / 2;
    for (i = 0; i < 8; i++) {
        int x0 = i * w / 8, x1 = (i + 1) * w / 8;
        rect(ctx, x0, top, x1 - x0, h - top, bars[i][0], bars[i][1], bars[i][2], bars[i][3]);
    }
    rampH = h / 4;
    for (i = 0; i < 16; i++) {
        int x0 = i * w / 16, x1 = (i + 1) * w / 16;
        unsigned char v = (unsigned char)(i * 17);
        rect(ctx, x0, 0, x1 - x0, rampH, v, v, v, 255);
    }
    /* The moving square, in the band [rampH, top). */
    band = top - rampH;
    side = imax(band / 2, 1);
    step = imax(w / 16, 1);
    x = (frame * step) % imax(w - side + 1, 1);
    rect(ctx, x, rampH + (band - side) / 2, side, side, 255, 255, 255, 255);
    /* The frame number, in a band of rows at the very bottom. */
    bitsH = imax(h / 16, 1);
    for (i = 0; i < TP_FRAME_BITS; i++) {
        int x0 = i * w / TP_FRAME_BITS, x1 = (i + 1) * w / TP_FRAME_BITS;
        unsigned char c = (frame >> i & 1) ? 255 : 64;
        rect(ctx, x0, 0, x1 - x0, bitsH, c, c, c, 255);
    }
}

void tp_expected(unsigned char *px, int w, int h, int frame)
{
    struct texels t = { px, w, h };
    tp_rects(w, h, frame, fill, &t);
}
