package bench

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unsafe"

	"github.com/go-gl/gl/v3.2-compatibility/gl"

	"github.com/glbridge/glbridge/internal/glutil"
	"github.com/glbridge/glbridge/testpattern"
)

// Everything in this file runs on the GL context's thread (Env.GL.Call).

// The full-screen draws of the workload: a hash per fragment, blended over
// what is there, so that every draw reads and writes every texel (a real
// fill cost, unlike a clear, which drivers may turn into a fast path).
// GLSL 1.20 and gl_Vertex, so that any compatibility context runs them.
const (
	vertexShader = `#version 120
void main() { gl_Position = gl_Vertex; }
`
	fragmentShader = `#version 120
uniform float seed;
void main() {
	float v = fract(sin(dot(gl_FragCoord.xy, vec2(12.9898, 78.233)) + seed) * 43758.5453);
	gl_FragColor = vec4(v, 0.5 * v, 1.0 - v, 0.25);
}
`
)

// workload is the GL rendering every path does for every frame, into a
// different texture per path but with the same commands.
type workload struct {
	prog  uint32
	seed  int32
	draws int
}

func newWorkload(draws int) (*workload, error) {
	glutil.DrainErrors()
	vs, err := compileShader(gl.VERTEX_SHADER, vertexShader)
	if err != nil {
		return nil, err
	}
	defer gl.DeleteShader(vs)
	fs, err := compileShader(gl.FRAGMENT_SHADER, fragmentShader)
	if err != nil {
		return nil, err
	}
	defer gl.DeleteShader(fs)
	p := gl.CreateProgram()
	gl.AttachShader(p, vs)
	gl.AttachShader(p, fs)
	gl.LinkProgram(p)
	if err := objectStatus("glLinkProgram", p, gl.LINK_STATUS, gl.GetProgramiv, gl.GetProgramInfoLog); err != nil {
		gl.DeleteProgram(p)
		return nil, err
	}
	w := &workload{prog: p, seed: gl.GetUniformLocation(p, gl.Str("seed\x00")), draws: draws}
	if err := glutil.CheckError("glLinkProgram"); err != nil {
		gl.DeleteProgram(p)
		return nil, fmt.Errorf("bench: %w", err)
	}
	return w, nil
}

func compileShader(kind uint32, src string) (uint32, error) {
	s := gl.CreateShader(kind)
	csrc, free := gl.Strs(src + "\x00")
	gl.ShaderSource(s, 1, csrc, nil)
	free()
	gl.CompileShader(s)
	if err := objectStatus("glCompileShader", s, gl.COMPILE_STATUS, gl.GetShaderiv, gl.GetShaderInfoLog); err != nil {
		gl.DeleteShader(s)
		return 0, err
	}
	return s, nil
}

// objectStatus is nil when status (GL_COMPILE_STATUS, GL_LINK_STATUS) of
// shader or program obj is true, and otherwise an error with obj's info
// log: a failed compile or link says why only there, not in glGetError.
func objectStatus(call string, obj, status uint32, getiv func(uint32, uint32, *int32), getLog func(uint32, int32, *int32, *uint8)) error {
	var ok int32
	getiv(obj, status, &ok)
	if ok != gl.FALSE {
		return nil
	}
	var n int32
	getiv(obj, gl.INFO_LOG_LENGTH, &n)
	log := make([]byte, max(n, 1))
	getLog(obj, int32(len(log)), nil, &log[0])
	return fmt.Errorf("bench: %s: %s", call, strings.TrimRight(string(log), "\x00\n"))
}

func (w *workload) close() { gl.DeleteProgram(w.prog) }

// render draws frame into the texture that fb's colour attachment is:
// glbridge's test pattern (scissored clears), then the full-screen draws,
// which spare the pattern's frame-number band at the bottom so that the
// consumer can still tell which frame it holds (testpattern.FrameOf).
func (w *workload) render(fb *framebuffer, frame int) error {
	glutil.DrainErrors()
	if err := testpattern.Draw(fb.tex, gl.TEXTURE_2D, fb.w, fb.h, frame); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	gl.BindFramebuffer(gl.FRAMEBUFFER, fb.fbo)
	gl.Viewport(0, 0, int32(fb.w), int32(fb.h))
	bitsH := max(fb.h/16, 1)
	gl.Enable(gl.SCISSOR_TEST)
	gl.Scissor(0, int32(bitsH), int32(fb.w), int32(fb.h-bitsH))
	gl.Enable(gl.BLEND)
	gl.BlendFunc(gl.SRC_ALPHA, gl.ONE_MINUS_SRC_ALPHA)
	gl.UseProgram(w.prog)
	for i := range w.draws {
		gl.Uniform1f(w.seed, float32(frame%1024)+float32(i)/float32(w.draws))
		gl.Begin(gl.TRIANGLE_STRIP)
		gl.Vertex2f(-1, -1)
		gl.Vertex2f(1, -1)
		gl.Vertex2f(-1, 1)
		gl.Vertex2f(1, 1)
		gl.End()
	}
	gl.UseProgram(0)
	gl.Disable(gl.BLEND)
	gl.Disable(gl.SCISSOR_TEST)
	gl.BindFramebuffer(gl.FRAMEBUFFER, 0)
	if err := glutil.CheckError("rendering the workload"); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// framebuffer is a colour texture with an FBO around it, kept for the
// whole run so that no frame pays for making one.
type framebuffer struct {
	tex, fbo uint32
	own      bool // tex was made here and is deleted with the FBO
	w, h     int
}

// newFramebuffer wraps tex (a GL_TEXTURE_2D of w×h), or a new RGBA8
// texture when tex is 0.
func newFramebuffer(tex uint32, w, h int) (*framebuffer, error) {
	glutil.DrainErrors()
	fb := &framebuffer{tex: tex, w: w, h: h}
	if tex == 0 {
		fb.own = true
		gl.GenTextures(1, &fb.tex)
		gl.BindTexture(gl.TEXTURE_2D, fb.tex)
		gl.TexParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST)
		gl.TexParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST)
		gl.TexImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, int32(w), int32(h), 0, gl.RGBA, gl.UNSIGNED_BYTE, nil)
		gl.BindTexture(gl.TEXTURE_2D, 0)
		if err := glutil.CheckError("glTexImage2D"); err != nil {
			fb.Close()
			return nil, fmt.Errorf("bench: %w", err)
		}
	}
	gl.GenFramebuffers(1, &fb.fbo)
	gl.BindFramebuffer(gl.FRAMEBUFFER, fb.fbo)
	gl.FramebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, fb.tex, 0)
	err := glutil.CheckFramebuffer(gl.FRAMEBUFFER)
	gl.BindFramebuffer(gl.FRAMEBUFFER, 0)
	if err == nil {
		err = glutil.CheckError("glFramebufferTexture2D")
	}
	if err != nil {
		fb.Close()
		return nil, fmt.Errorf("bench: %w", err)
	}
	return fb, nil
}

// Close deletes the FBO, and the texture if it was made here; it returns
// nil, and is an io.Closer so that a path releases it like its other objects.
func (fb *framebuffer) Close() error {
	if fb.fbo != 0 {
		gl.DeleteFramebuffers(1, &fb.fbo)
		fb.fbo = 0
	}
	if fb.own && fb.tex != 0 {
		gl.DeleteTextures(1, &fb.tex)
		fb.tex = 0
	}
	return nil
}

// read returns the texture's texels, rows bottom first.
func (fb *framebuffer) read() ([]byte, error) {
	px, err := glutil.ReadRGBA8(fb.tex, gl.TEXTURE_2D, 0, fb.w, fb.h)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	return px, nil
}

// blit copies src into dst on the GPU: the single-API baseline's copy.
func blit(src, dst *framebuffer) error {
	gl.BindFramebuffer(gl.READ_FRAMEBUFFER, src.fbo)
	gl.BindFramebuffer(gl.DRAW_FRAMEBUFFER, dst.fbo)
	gl.BlitFramebuffer(0, 0, int32(src.w), int32(src.h), 0, 0, int32(dst.w), int32(dst.h), gl.COLOR_BUFFER_BIT, gl.NEAREST)
	gl.BindFramebuffer(gl.FRAMEBUFFER, 0)
	if err := glutil.CheckError("glBlitFramebuffer"); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// fenceTimeout bounds a wait for GL to finish a frame.
const fenceTimeout = 10 * time.Second

// finish waits on the CPU until GL has executed every command issued so
// far: how the baseline's frame ends, the way handoff's fallback path ends
// a GL access (a fence, not glFinish, so that a hang is reported).
func finish() error {
	fence := gl.FenceSync(gl.SYNC_GPU_COMMANDS_COMPLETE, 0)
	if fence == 0 {
		return fmt.Errorf("bench: %w", glutil.CheckError("glFenceSync"))
	}
	defer gl.DeleteSync(fence)
	deadline := time.Now().Add(fenceTimeout)
	for {
		switch gl.ClientWaitSync(fence, gl.SYNC_FLUSH_COMMANDS_BIT, uint64(100*time.Millisecond)) {
		case gl.ALREADY_SIGNALED, gl.CONDITION_SATISFIED:
			return nil
		case gl.TIMEOUT_EXPIRED:
			if time.Now().After(deadline) {
				return fmt.Errorf("bench: glClientWaitSync: GL did not finish a frame within %v", fenceTimeout)
			}
		default:
			return fmt.Errorf("bench: glClientWaitSync: GL_WAIT_FAILED (%v)", glutil.CheckError("glClientWaitSync"))
		}
	}
}

// packBuffer is the copy path's pixel-pack buffer: glReadPixels writes
// into it asynchronously, and mapping it hands the texels to the CPU.
type packBuffer struct {
	name uint32
	size int
}

func newPackBuffer(size int) (*packBuffer, error) {
	glutil.DrainErrors()
	p := &packBuffer{size: size}
	gl.GenBuffers(1, &p.name)
	gl.BindBuffer(gl.PIXEL_PACK_BUFFER, p.name)
	gl.BufferData(gl.PIXEL_PACK_BUFFER, size, nil, gl.STREAM_READ)
	gl.BindBuffer(gl.PIXEL_PACK_BUFFER, 0)
	if err := glutil.CheckError("glBufferData(GL_PIXEL_PACK_BUFFER)"); err != nil {
		gl.DeleteBuffers(1, &p.name)
		return nil, fmt.Errorf("bench: %w", err)
	}
	return p, nil
}

// Close deletes the buffer; like framebuffer's, it returns nil.
func (p *packBuffer) Close() error {
	if p.name != 0 {
		gl.DeleteBuffers(1, &p.name)
		p.name = 0
	}
	return nil
}

// readInto reads fb into the buffer, maps it and calls use with the
// mapped texels (valid only during the call), then unmaps it.
func (p *packBuffer) readInto(fb *framebuffer, use func([]byte) error) error {
	gl.BindFramebuffer(gl.READ_FRAMEBUFFER, fb.fbo)
	gl.BindBuffer(gl.PIXEL_PACK_BUFFER, p.name)
	defer gl.BindBuffer(gl.PIXEL_PACK_BUFFER, 0)
	defer gl.BindFramebuffer(gl.READ_FRAMEBUFFER, 0)
	gl.PixelStorei(gl.PACK_ALIGNMENT, 1)
	// With a pixel-pack buffer bound, the pointer is an offset into it: nil
	// is offset 0. (go-gl has no ReadPixels overload taking an offset, and
	// PtrOffset is deprecated: a uintptr made a pointer upsets checkptr.)
	gl.ReadPixels(0, 0, int32(fb.w), int32(fb.h), gl.RGBA, gl.UNSIGNED_BYTE, nil)
	if err := glutil.CheckError("glReadPixels(GL_PIXEL_PACK_BUFFER)"); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	// Mapping for reading waits for the read to land: the copy path's
	// synchronisation.
	ptr := gl.MapBufferRange(gl.PIXEL_PACK_BUFFER, 0, p.size, gl.MAP_READ_BIT)
	if ptr == nil {
		return fmt.Errorf("bench: glMapBufferRange(GL_PIXEL_PACK_BUFFER): %v", glutil.CheckError("glMapBufferRange"))
	}
	err := use(unsafe.Slice((*byte)(ptr), p.size))
	if !gl.UnmapBuffer(gl.PIXEL_PACK_BUFFER) && err == nil {
		// The contents went bad while mapped (GL_FALSE): the frame is lost.
		err = errors.New("bench: glUnmapBuffer: the buffer's contents were lost while mapped")
	}
	return err
}
