// Package glutil holds the small GL helpers glbridge's tests, demo and
// benchmark share: naming GL errors; clearing, drawing into and reading
// back one level of a 2D texture through a temporary framebuffer object;
// moving whole levels of any kind of texture (1D, arrays, 3D, cube faces,
// block-compressed, depth and stencil) in and out with glTexSubImage and
// glGetTexImage (teximage.go); resolving multisampled layers; and reading
// and writing buffer objects on the GPU.
//
// Everything here must run on the GL context's thread with the context
// current, after go-gl has been loaded (glimport.Init does that). The
// helpers work on a context somebody else owns, so each restores every
// binding and piece of state it changes.
//
// Orientation: GL numbers rows from window y = 0, which GL calls the bottom.
// The first row in a texture's memory is row 0, so what GL calls the bottom
// row is the first row Vulkan and Direct3D see, and they call it the top.
// The helpers speak GL's language throughout.
package glutil

import (
	"errors"
	"fmt"

	"github.com/go-gl/gl/v3.2-compatibility/gl"
)

// GLErrorName returns the name of a glGetError code, such as
// "GL_INVALID_VALUE", or its number in hex when unknown.
func GLErrorName(code uint32) string {
	if n, ok := errorNames[code]; ok {
		return n
	}
	return fmt.Sprintf("GL error 0x%04x", code)
}

var errorNames = map[uint32]string{
	gl.NO_ERROR: "GL_NO_ERROR", gl.INVALID_ENUM: "GL_INVALID_ENUM", gl.INVALID_VALUE: "GL_INVALID_VALUE",
	gl.INVALID_OPERATION: "GL_INVALID_OPERATION", gl.STACK_OVERFLOW: "GL_STACK_OVERFLOW",
	gl.STACK_UNDERFLOW: "GL_STACK_UNDERFLOW", gl.OUT_OF_MEMORY: "GL_OUT_OF_MEMORY",
	gl.INVALID_FRAMEBUFFER_OPERATION: "GL_INVALID_FRAMEBUFFER_OPERATION", gl.CONTEXT_LOST: "GL_CONTEXT_LOST",
}

// FramebufferStatusName returns the name of a glCheckFramebufferStatus
// result, such as "GL_FRAMEBUFFER_INCOMPLETE_ATTACHMENT".
func FramebufferStatusName(status uint32) string {
	if n, ok := framebufferStatusNames[status]; ok {
		return n
	}
	return fmt.Sprintf("framebuffer status 0x%04x", status)
}

var framebufferStatusNames = map[uint32]string{
	gl.FRAMEBUFFER_COMPLETE:                      "GL_FRAMEBUFFER_COMPLETE",
	gl.FRAMEBUFFER_UNDEFINED:                     "GL_FRAMEBUFFER_UNDEFINED",
	gl.FRAMEBUFFER_INCOMPLETE_ATTACHMENT:         "GL_FRAMEBUFFER_INCOMPLETE_ATTACHMENT",
	gl.FRAMEBUFFER_INCOMPLETE_MISSING_ATTACHMENT: "GL_FRAMEBUFFER_INCOMPLETE_MISSING_ATTACHMENT",
	gl.FRAMEBUFFER_INCOMPLETE_DRAW_BUFFER:        "GL_FRAMEBUFFER_INCOMPLETE_DRAW_BUFFER",
	gl.FRAMEBUFFER_INCOMPLETE_READ_BUFFER:        "GL_FRAMEBUFFER_INCOMPLETE_READ_BUFFER",
	gl.FRAMEBUFFER_UNSUPPORTED:                   "GL_FRAMEBUFFER_UNSUPPORTED",
	gl.FRAMEBUFFER_INCOMPLETE_MULTISAMPLE:        "GL_FRAMEBUFFER_INCOMPLETE_MULTISAMPLE",
	gl.FRAMEBUFFER_INCOMPLETE_LAYER_TARGETS:      "GL_FRAMEBUFFER_INCOMPLETE_LAYER_TARGETS",
	0:                                            "0 (glCheckFramebufferStatus itself failed)",
}

// DrainErrors reads glGetError until it reports no error and returns the
// names of what it discarded. Call it before a sequence whose errors will
// be checked, so that an error left by earlier code is not blamed on it.
// It stops after 32 codes: a lost context can report errors forever.
func DrainErrors() []string {
	var stale []string
	for range 32 {
		e := gl.GetError()
		if e == gl.NO_ERROR {
			break
		}
		stale = append(stale, GLErrorName(e))
	}
	return stale
}

// CheckError returns an error naming call and the pending GL error, or nil
// when there is none: "call: GL_INVALID_VALUE". Callers prefix their
// package.
func CheckError(call string) error {
	if e := gl.GetError(); e != gl.NO_ERROR {
		return fmt.Errorf("%s: %s", call, GLErrorName(e))
	}
	return nil
}

// CheckFramebuffer checks the framebuffer bound to target
// (GL_DRAW_FRAMEBUFFER, GL_READ_FRAMEBUFFER or GL_FRAMEBUFFER) and returns
// an error naming its status unless it is complete.
func CheckFramebuffer(target uint32) error {
	if s := gl.CheckFramebufferStatus(target); s != gl.FRAMEBUFFER_COMPLETE {
		return fmt.Errorf("glutil: glCheckFramebufferStatus: %s", FramebufferStatusName(s))
	}
	return nil
}

// FBO is a temporary framebuffer object whose colour attachment 0 is one
// level of a texture, bound for both drawing and reading. Close deletes it
// and rebinds the framebuffers that were bound before.
type FBO struct {
	name               uint32
	prevDraw, prevRead uint32
}

// BindTexture makes an FBO with level of texture tex (of the given target)
// as colour attachment 0, binds it for drawing and reading, and checks it is
// complete. Only GL_TEXTURE_2D and GL_TEXTURE_RECTANGLE are handled. The
// caller must Close the FBO, which also restores the previous bindings.
func BindTexture(tex, target uint32, level int) (*FBO, error) {
	if target != gl.TEXTURE_2D && target != gl.TEXTURE_RECTANGLE {
		return nil, fmt.Errorf("glutil: texture target 0x%04x cannot be attached yet", target)
	}
	f := &FBO{}
	var v int32
	gl.GetIntegerv(gl.DRAW_FRAMEBUFFER_BINDING, &v)
	f.prevDraw = uint32(v)
	gl.GetIntegerv(gl.READ_FRAMEBUFFER_BINDING, &v)
	f.prevRead = uint32(v)
	gl.GenFramebuffers(1, &f.name)
	gl.BindFramebuffer(gl.FRAMEBUFFER, f.name)
	gl.FramebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, target, tex, int32(level))
	if err := CheckError("glutil: glFramebufferTexture2D"); err != nil {
		f.Close()
		return nil, err
	}
	if err := CheckFramebuffer(gl.FRAMEBUFFER); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Name returns the GL framebuffer name.
func (f *FBO) Name() uint32 { return f.name }

// Close deletes the framebuffer and rebinds the previous draw and read
// framebuffers. It is idempotent.
func (f *FBO) Close() {
	if f.name == 0 {
		return
	}
	gl.BindFramebuffer(gl.DRAW_FRAMEBUFFER, f.prevDraw)
	gl.BindFramebuffer(gl.READ_FRAMEBUFFER, f.prevRead)
	gl.DeleteFramebuffers(1, &f.name)
	f.name = 0
}

// clearState is the state glClear depends on besides the framebuffer; it
// is saved, set to let the clear through, and restored.
type clearState struct {
	colorMask         [4]bool
	clearColor        [4]float32
	scissor           bool
	scissorBox        [4]int32
	rasterizerDiscard bool
}

func saveClearState() clearState {
	var s clearState
	gl.GetBooleanv(gl.COLOR_WRITEMASK, &s.colorMask[0])
	gl.GetFloatv(gl.COLOR_CLEAR_VALUE, &s.clearColor[0])
	s.scissor = gl.IsEnabled(gl.SCISSOR_TEST)
	gl.GetIntegerv(gl.SCISSOR_BOX, &s.scissorBox[0])
	s.rasterizerDiscard = gl.IsEnabled(gl.RASTERIZER_DISCARD)
	gl.ColorMask(true, true, true, true)
	gl.Disable(gl.RASTERIZER_DISCARD)
	return s
}

func (s clearState) restore() {
	m := s.colorMask
	gl.ColorMask(m[0], m[1], m[2], m[3])
	c := s.clearColor
	gl.ClearColor(c[0], c[1], c[2], c[3])
	setEnabled(gl.SCISSOR_TEST, s.scissor)
	b := s.scissorBox
	gl.Scissor(b[0], b[1], b[2], b[3])
	setEnabled(gl.RASTERIZER_DISCARD, s.rasterizerDiscard)
}

func setEnabled(cap uint32, on bool) {
	if on {
		gl.Enable(cap)
	} else {
		gl.Disable(cap)
	}
}

// clearInto binds level of tex as the framebuffer glClear draws into, with
// the clear state saved; done puts both back.
func clearInto(tex, target uint32, level int) (done func(), err error) {
	DrainErrors()
	f, err := BindTexture(tex, target, level)
	if err != nil {
		return nil, err
	}
	s := saveClearState()
	return func() { s.restore(); f.Close() }, nil
}

// ClearTexture fills level of texture tex with the colour (r, g, b, a),
// through an FBO and glClear.
func ClearTexture(tex, target uint32, level int, r, g, b, a float32) error {
	done, err := clearInto(tex, target, level)
	if err != nil {
		return err
	}
	defer done()
	gl.Disable(gl.SCISSOR_TEST)
	gl.ClearColor(r, g, b, a)
	gl.Clear(gl.COLOR_BUFFER_BIT)
	return prefixed(CheckError("glClear"))
}

// Quadrant indices into DrawQuadrants' colours. Top and bottom are GL's:
// the top half is the rows with the larger window y, which in memory come
// last (and which Direct3D and Vulkan would call the bottom).
const (
	TopLeft = iota
	TopRight
	BottomLeft
	BottomRight
)

// DrawQuadrants fills level 0 of texture tex, w×h texels, with four
// quadrants of colours[TopLeft], colours[TopRight], colours[BottomLeft] and
// colours[BottomRight] (each r, g, b, a), by glClear with scissor
// rectangles. With odd sizes the left and bottom quadrants get the smaller
// half: the left quadrants are x < w/2, the bottom ones y < h/2. QuadrantOf
// says which quadrant a texel falls in.
func DrawQuadrants(tex, target uint32, w, h int, colors [4][4]float32) error {
	done, err := clearInto(tex, target, 0)
	if err != nil {
		return err
	}
	defer done()
	gl.Enable(gl.SCISSOR_TEST)
	hw, hh := w/2, h/2
	rects := [4][4]int{
		TopLeft:     {0, hh, hw, h - hh},
		TopRight:    {hw, hh, w - hw, h - hh},
		BottomLeft:  {0, 0, hw, hh},
		BottomRight: {hw, 0, w - hw, hh},
	}
	for q, r := range rects {
		if r[2] == 0 || r[3] == 0 {
			continue // a 1-texel-wide or -high image has no left or bottom half
		}
		c := colors[q]
		gl.Scissor(int32(r[0]), int32(r[1]), int32(r[2]), int32(r[3]))
		gl.ClearColor(c[0], c[1], c[2], c[3])
		gl.Clear(gl.COLOR_BUFFER_BIT)
	}
	return prefixed(CheckError("glClear"))
}

// CheckQuadrants reports where px, w×h RGBA8 texels with GL's bottom row
// first, differs from what DrawQuadrants draws with colors: the first
// texel whose colour is not its quadrant's, or (for images of at least 2×2)
// a quadrant missing altogether.
func CheckQuadrants(px []byte, w, h int, colors [4][4]float32) error {
	seen := map[int]int{}
	for y := range h {
		for x := range w {
			q := QuadrantOf(x, y, w, h)
			seen[q]++
			i := (y*w + x) * 4
			for ch := range 4 {
				if want := byte(colors[q][ch] * 255); px[i+ch] != want {
					return fmt.Errorf("texel (%d,%d) = %v, want quadrant %d colour %v", x, y, px[i:i+4], q, colors[q])
				}
			}
		}
	}
	if w > 1 && h > 1 && len(seen) != 4 {
		return fmt.Errorf("only quadrants %v present", seen)
	}
	return nil
}

// QuadrantOf returns the DrawQuadrants quadrant of texel (x, y) of a w×h
// image, y counted from GL's bottom (the first row in memory).
func QuadrantOf(x, y, w, h int) int {
	left, bottom := x < w/2, y < h/2
	switch {
	case left && !bottom:
		return TopLeft
	case !left && !bottom:
		return TopRight
	case left:
		return BottomLeft
	}
	return BottomRight
}

// ReadRGBA8 reads w×h texels of level of texture tex with glReadPixels as
// GL_RGBA / GL_UNSIGNED_BYTE, tightly packed, rows in GL order: the first
// row returned is window y = 0. It unbinds any pixel-pack buffer and resets
// the pack parameters for the read, and restores them.
func ReadRGBA8(tex, target uint32, level, w, h int) ([]byte, error) {
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("glutil: ReadRGBA8: size %dx%d", w, h)
	}
	DrainErrors()
	f, err := BindTexture(tex, target, level)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	params := []uint32{gl.PACK_ALIGNMENT, gl.PACK_ROW_LENGTH, gl.PACK_SKIP_PIXELS, gl.PACK_SKIP_ROWS, gl.PACK_SWAP_BYTES, gl.PACK_LSB_FIRST}
	saved := make([]int32, len(params))
	for i, p := range params {
		gl.GetIntegerv(p, &saved[i])
	}
	var pbo int32
	gl.GetIntegerv(gl.PIXEL_PACK_BUFFER_BINDING, &pbo)
	defer func() {
		for i, p := range params {
			gl.PixelStorei(p, saved[i])
		}
		gl.BindBuffer(gl.PIXEL_PACK_BUFFER, uint32(pbo))
	}()
	gl.BindBuffer(gl.PIXEL_PACK_BUFFER, 0)
	gl.PixelStorei(gl.PACK_ALIGNMENT, 1) // 0 is invalid; 1 packs rows tightly
	for _, p := range params[1:] {
		gl.PixelStorei(p, 0)
	}

	pixels := make([]byte, w*h*4)
	gl.ReadPixels(0, 0, int32(w), int32(h), gl.RGBA, gl.UNSIGNED_BYTE, gl.Ptr(pixels))
	if err := CheckError("glReadPixels"); err != nil {
		return nil, prefixed(err)
	}
	return pixels, nil
}

func prefixed(err error) error {
	if err == nil {
		return nil
	}
	return errors.New("glutil: " + err.Error())
}
