package glutil_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/go-gl/gl/v3.2-compatibility/gl"

	"github.com/glbridge/glbridge/glimport"
	"github.com/glbridge/glbridge/headless"
	"github.com/glbridge/glbridge/internal/glutil"
	"github.com/glbridge/glbridge/internal/testenv"
)

func newContext(t *testing.T) *headless.Context { return testenv.GLContext(t, glimport.Init) }

// plainTexture makes an ordinary immutable 2D RGBA8 texture of one level,
// not imported memory, so the helpers are tested on their own.
func plainTexture(w, h int) uint32 {
	return storageTexture(gl.TEXTURE_2D, gl.RGBA8, 1, int32(w), int32(h), 1)
}

// unorm converts a byte to the float that glClear stores as that byte.
func unorm(b uint8) float32 { return float32(b) / 255 }

func color(r, g, b, a uint8) [4]float32 { return [4]float32{unorm(r), unorm(g), unorm(b), unorm(a)} }

func TestClearAndRead(t *testing.T) {
	c := newContext(t)
	for _, size := range [][2]int{{1, 1}, {7, 5}, {64, 64}, {512, 3}} {
		w, h := size[0], size[1]
		t.Run(fmt.Sprintf("%dx%d", w, h), func(t *testing.T) {
			c.Call(func() {
				tex := plainTexture(w, h)
				defer gl.DeleteTextures(1, &tex)
				for _, want := range [][4]uint8{{0, 0, 0, 0}, {255, 51, 0, 204}, {1, 2, 3, 4}} {
					if err := glutil.ClearTexture(tex, gl.TEXTURE_2D, 0, unorm(want[0]), unorm(want[1]), unorm(want[2]), unorm(want[3])); err != nil {
						t.Fatal(err)
					}
					px, err := glutil.ReadRGBA8(tex, gl.TEXTURE_2D, 0, w, h)
					if err != nil {
						t.Fatal(err)
					}
					if len(px) != w*h*4 {
						t.Fatalf("read %d bytes, want %d", len(px), w*h*4)
					}
					for i := 0; i < len(px); i += 4 {
						if [4]uint8(px[i:i+4]) != want {
							t.Fatalf("cleared to %v: texel (%d,%d) = %v", want, i/4%w, i/4/w, px[i:i+4])
						}
					}
				}
			})
		})
	}
}

func TestDrawQuadrants(t *testing.T) {
	c := newContext(t)
	colors := [4][4]uint8{
		glutil.TopLeft:     {255, 0, 0, 255},
		glutil.TopRight:    {0, 255, 0, 255},
		glutil.BottomLeft:  {0, 0, 255, 255},
		glutil.BottomRight: {51, 102, 153, 204},
	}
	var fcolors [4][4]float32
	for i, c := range colors {
		fcolors[i] = color(c[0], c[1], c[2], c[3])
	}
	for _, size := range [][2]int{{1, 1}, {2, 2}, {7, 5}, {64, 32}, {1, 9}} {
		w, h := size[0], size[1]
		t.Run(fmt.Sprintf("%dx%d", w, h), func(t *testing.T) {
			c.Call(func() {
				tex := plainTexture(w, h)
				defer gl.DeleteTextures(1, &tex)
				if err := glutil.ClearTexture(tex, gl.TEXTURE_2D, 0, 0, 0, 0, 0); err != nil {
					t.Fatal(err)
				}
				if err := glutil.DrawQuadrants(tex, gl.TEXTURE_2D, w, h, fcolors); err != nil {
					t.Fatal(err)
				}
				px, err := glutil.ReadRGBA8(tex, gl.TEXTURE_2D, 0, w, h)
				if err != nil {
					t.Fatal(err)
				}
				seen := map[int]bool{}
				for y := range h {
					for x := range w {
						q := glutil.QuadrantOf(x, y, w, h)
						seen[q] = true
						got := [4]uint8(px[(y*w+x)*4:])
						if got != colors[q] {
							t.Fatalf("texel (%d,%d) = %v, want quadrant %d's %v", x, y, got, q, colors[q])
						}
					}
				}
				// Row 0 (window y = 0) is the bottom: in a 2×2 image
				// the first texel read is the bottom-left colour.
				if w == 2 && h == 2 && [4]uint8(px[:4]) != colors[glutil.BottomLeft] {
					t.Errorf("first texel %v, want bottom-left %v", px[:4], colors[glutil.BottomLeft])
				}
				if w >= 2 && h >= 2 && len(seen) != 4 {
					t.Errorf("only quadrants %v present", seen)
				}
			})
		})
	}
}

// TestStateRestored checks that the helpers leave the caller's bindings and
// clear state as they found them.
func TestStateRestored(t *testing.T) {
	c := newContext(t)
	c.Call(func() {
		tex := plainTexture(8, 8)
		other := plainTexture(4, 4)
		defer gl.DeleteTextures(1, &tex)
		defer gl.DeleteTextures(1, &other)
		var fbo, pbo uint32
		gl.GenFramebuffers(1, &fbo)
		defer gl.DeleteFramebuffers(1, &fbo)
		gl.BindFramebuffer(gl.FRAMEBUFFER, fbo)
		gl.FramebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, other, 0)
		gl.GenBuffers(1, &pbo)
		defer gl.DeleteBuffers(1, &pbo)
		gl.BindBuffer(gl.PIXEL_PACK_BUFFER, pbo)
		gl.BufferData(gl.PIXEL_PACK_BUFFER, 1024, nil, gl.STREAM_READ)
		gl.BindTexture(gl.TEXTURE_2D, other)
		gl.ClearColor(0.25, 0.5, 0.75, 1)
		gl.ColorMask(true, false, true, false)
		gl.Enable(gl.SCISSOR_TEST)
		gl.Scissor(1, 2, 3, 4)
		gl.PixelStorei(gl.PACK_ALIGNMENT, 8)
		gl.PixelStorei(gl.PACK_ROW_LENGTH, 16)

		type state struct {
			draw, read, tex2D, pbo, align, rowLength int32
			clear                                    [4]float32
			mask                                     [4]bool
			scissorOn                                bool
			box                                      [4]int32
		}
		get := func() state {
			var s state
			gl.GetIntegerv(gl.DRAW_FRAMEBUFFER_BINDING, &s.draw)
			gl.GetIntegerv(gl.READ_FRAMEBUFFER_BINDING, &s.read)
			gl.GetIntegerv(gl.TEXTURE_BINDING_2D, &s.tex2D)
			gl.GetIntegerv(gl.PIXEL_PACK_BUFFER_BINDING, &s.pbo)
			gl.GetIntegerv(gl.PACK_ALIGNMENT, &s.align)
			gl.GetIntegerv(gl.PACK_ROW_LENGTH, &s.rowLength)
			gl.GetFloatv(gl.COLOR_CLEAR_VALUE, &s.clear[0])
			gl.GetBooleanv(gl.COLOR_WRITEMASK, &s.mask[0])
			s.scissorOn = gl.IsEnabled(gl.SCISSOR_TEST)
			gl.GetIntegerv(gl.SCISSOR_BOX, &s.box[0])
			return s
		}
		before := get()

		// The caller's colour mask and scissor must not leak into the
		// helpers: a full clear must reach every channel of every texel.
		if err := glutil.ClearTexture(tex, gl.TEXTURE_2D, 0, unorm(10), unorm(20), unorm(30), unorm(40)); err != nil {
			t.Fatal(err)
		}
		if err := glutil.DrawQuadrants(tex, gl.TEXTURE_2D, 8, 8, [4][4]float32{color(1, 1, 1, 1), color(2, 2, 2, 2), color(3, 3, 3, 3), color(4, 4, 4, 4)}); err != nil {
			t.Fatal(err)
		}
		px, err := glutil.ReadRGBA8(tex, gl.TEXTURE_2D, 0, 8, 8)
		if err != nil {
			t.Fatal(err)
		}
		for y := range 8 {
			for x := range 8 {
				v := uint8(glutil.QuadrantOf(x, y, 8, 8) + 1)
				if got := [4]uint8(px[(y*8+x)*4:]); got != [4]uint8{v, v, v, v} {
					t.Fatalf("texel (%d,%d) = %v, want all %d", x, y, got, v)
				}
			}
		}
		if after := get(); after != before {
			t.Errorf("state changed:\nbefore %+v\nafter  %+v", before, after)
		}
	})
}

func TestErrors(t *testing.T) {
	c := newContext(t)
	c.Call(func() {
		if _, err := glutil.ReadRGBA8(1234, gl.TEXTURE_3D, 0, 4, 4); err == nil || !strings.Contains(err.Error(), "0x806f") {
			t.Errorf("3D target: err = %v, want one naming the target", err)
		}
		// A texture with no storage makes an incomplete framebuffer.
		var empty uint32
		gl.GenTextures(1, &empty)
		gl.BindTexture(gl.TEXTURE_2D, empty)
		gl.BindTexture(gl.TEXTURE_2D, 0)
		defer gl.DeleteTextures(1, &empty)
		err := glutil.ClearTexture(empty, gl.TEXTURE_2D, 0, 1, 1, 1, 1)
		if err == nil || !strings.Contains(err.Error(), "glCheckFramebufferStatus: GL_FRAMEBUFFER_INCOMPLETE_ATTACHMENT") {
			t.Errorf("texture without storage: err = %v, want GL_FRAMEBUFFER_INCOMPLETE_ATTACHMENT", err)
		}
		// A name that is no texture at all is a GL error.
		err = glutil.ClearTexture(987654, gl.TEXTURE_2D, 0, 1, 1, 1, 1)
		if err == nil || !strings.Contains(err.Error(), "glFramebufferTexture2D: GL_INVALID_OPERATION") {
			t.Errorf("unknown texture name: err = %v, want glFramebufferTexture2D: GL_INVALID_OPERATION", err)
		}
		var fb int32
		gl.GetIntegerv(gl.FRAMEBUFFER_BINDING, &fb)
		if fb != 0 {
			t.Errorf("framebuffer %d left bound after a failure", fb)
		}
	})
}

func TestNames(t *testing.T) {
	for code, want := range map[uint32]string{
		gl.NO_ERROR:                      "GL_NO_ERROR",
		gl.INVALID_VALUE:                 "GL_INVALID_VALUE",
		gl.INVALID_FRAMEBUFFER_OPERATION: "GL_INVALID_FRAMEBUFFER_OPERATION",
		0x1234:                           "GL error 0x1234",
	} {
		if got := glutil.GLErrorName(code); got != want {
			t.Errorf("GLErrorName(0x%x) = %q, want %q", code, got, want)
		}
	}
	if got := glutil.FramebufferStatusName(gl.FRAMEBUFFER_UNSUPPORTED); got != "GL_FRAMEBUFFER_UNSUPPORTED" {
		t.Errorf("FramebufferStatusName = %q", got)
	}
}
