// Package testpattern draws glbridge's recognisable, animated test pattern
// with GL and computes the same pattern on the CPU, so that whoever
// receives a frame can check it texel by texel and tell which frame it is.
//
// The pattern is made of axis-aligned rectangles of exact 8-bit colours
// (drawn with scissored glClear, which every legacy GL context has), so
// there is no rasterisation rule or rounding to disagree about:
//   - eight colour bars (white, yellow, cyan, green, magenta, red, blue,
//     black) over the top half;
//   - a 16-step grey ramp over the bottom quarter;
//   - a white square that moves one step right per frame in the band
//     between them, on black;
//   - the frame number in binary: 16 cells along the very bottom row band,
//     white for 1, dark grey for 0 (least significant bit on the left).
//
// Coordinates are GL's: row 0 is the bottom row, the first in memory.
package testpattern

import (
	"fmt"

	"github.com/go-gl/gl/v3.2-compatibility/gl"

	"github.com/glbridge/glbridge/internal/glutil"
)

// FrameBits is how many bits of the frame number the pattern carries.
const FrameBits = 16

type rect struct {
	x, y, w, h int
	c          [4]byte
}

var bars = [8][4]byte{
	{255, 255, 255, 255}, {255, 255, 0, 255}, {0, 255, 255, 255}, {0, 255, 0, 255},
	{255, 0, 255, 255}, {255, 0, 0, 255}, {0, 0, 255, 255}, {0, 0, 0, 255},
}

// rects lists the pattern of frame as rectangles, later ones painted over
// earlier ones.
func rects(w, h, frame int) []rect {
	var rs []rect
	// Background of the middle band: black.
	rs = append(rs, rect{0, 0, w, h, [4]byte{0, 0, 0, 255}})
	top := h / 2
	for i, c := range bars {
		x0, x1 := i*w/8, (i+1)*w/8
		rs = append(rs, rect{x0, top, x1 - x0, h - top, c})
	}
	rampH := h / 4
	for i := range 16 {
		x0, x1 := i*w/16, (i+1)*w/16
		v := byte(i * 17)
		rs = append(rs, rect{x0, 0, x1 - x0, rampH, [4]byte{v, v, v, 255}})
	}
	// The moving square, in the band [rampH, top).
	band := top - rampH
	side := max(band/2, 1)
	step := max(w/16, 1)
	x := (frame * step) % max(w-side+1, 1)
	rs = append(rs, rect{x, rampH + (band-side)/2, side, side, [4]byte{255, 255, 255, 255}})
	// The frame number, in a band of rows at the very bottom.
	bitsH := max(h/16, 1)
	for i := range FrameBits {
		x0, x1 := i*w/FrameBits, (i+1)*w/FrameBits
		c := [4]byte{64, 64, 64, 255}
		if frame>>i&1 == 1 {
			c = [4]byte{255, 255, 255, 255}
		}
		rs = append(rs, rect{x0, 0, x1 - x0, bitsH, c})
	}
	return rs
}

// Expected returns the RGBA8 texels of frame at w×h, rows bottom first.
func Expected(w, h, frame int) []byte {
	px := make([]byte, w*h*4)
	for _, r := range rects(w, h, frame) {
		for y := r.y; y < r.y+r.h && y < h; y++ {
			for x := r.x; x < r.x+r.w && x < w; x++ {
				copy(px[(y*w+x)*4:], r.c[:])
			}
		}
	}
	return px
}

// Draw renders frame into level 0 of texture tex (target, w×h texels) on
// the current GL context, restoring the state it changes. It must run on
// the context's thread.
func Draw(tex, target uint32, w, h, frame int) error {
	f, err := glutil.BindTexture(tex, target, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	var vp [4]int32
	var sc [4]int32
	var clear [4]float32
	gl.GetIntegerv(gl.VIEWPORT, &vp[0])
	gl.GetIntegerv(gl.SCISSOR_BOX, &sc[0])
	gl.GetFloatv(gl.COLOR_CLEAR_VALUE, &clear[0])
	scissorOn := gl.IsEnabled(gl.SCISSOR_TEST)
	defer func() {
		gl.Viewport(vp[0], vp[1], vp[2], vp[3])
		gl.Scissor(sc[0], sc[1], sc[2], sc[3])
		gl.ClearColor(clear[0], clear[1], clear[2], clear[3])
		if !scissorOn {
			gl.Disable(gl.SCISSOR_TEST)
		}
	}()
	gl.Viewport(0, 0, int32(w), int32(h))
	gl.Enable(gl.SCISSOR_TEST)
	for _, r := range rects(w, h, frame) {
		if r.w <= 0 || r.h <= 0 {
			continue
		}
		gl.Scissor(int32(r.x), int32(r.y), int32(r.w), int32(r.h))
		gl.ClearColor(float32(r.c[0])/255, float32(r.c[1])/255, float32(r.c[2])/255, float32(r.c[3])/255)
		gl.Clear(gl.COLOR_BUFFER_BIT)
	}
	if err := glutil.CheckError("glClear"); err != nil {
		return fmt.Errorf("testpattern: %w", err)
	}
	return nil
}

// FrameOf reads the frame number back from texels laid out as Expected
// returns them. It reports false when the bits band does not hold clean
// bit colours (a torn or foreign image).
func FrameOf(px []byte, w, h int) (int, bool) {
	if w < FrameBits || h < 1 || len(px) < w*h*4 {
		return 0, false
	}
	frame := 0
	for i := range FrameBits {
		x := (2*i + 1) * w / (2 * FrameBits)
		c := px[x*4 : x*4+4]
		switch {
		case c[0] == 255 && c[1] == 255 && c[2] == 255:
			frame |= 1 << i
		case c[0] == 64 && c[1] == 64 && c[2] == 64:
		default:
			return 0, false
		}
	}
	return frame, true
}
