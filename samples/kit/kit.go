// Package kit is what the samples need that is not their point: a GL
// thread standing in for a renderer's own, and reading and checking
// texels of glbridge's test pattern. A renderer has its own context, its
// own GL loader and its own idea of what a texture should hold, so it
// needs none of this.
package kit

import (
	"fmt"
	"unsafe"

	"github.com/go-gl/gl/v3.2-compatibility/gl"

	"github.com/glbridge/glbridge/headless"
	"github.com/glbridge/glbridge/share"
	"github.com/glbridge/glbridge/testpattern"
)

// ProcAddr is a GL platform's proc-address function (eglGetProcAddress,
// glXGetProcAddress), which share.NewGL takes.
type ProcAddr = func(name string) unsafe.Pointer

// OnGLThread runs f on the thread of a new headless GL context, current
// there, as a renderer runs its GL work on the thread where its own
// context is current; f gets the context's getProcAddress
// (eglGetProcAddress), which it hands to share.NewGL as a renderer hands
// its own. The context goes when f returns.
func OnGLThread(f func(getProcAddress ProcAddr) error) error {
	ctx, err := headless.New(headless.Options{})
	if err != nil {
		return fmt.Errorf("no headless GL context: %w", err)
	}
	defer ctx.Close()
	ctx.Call(func() { err = f(ctx.ProcAddr) })
	return err
}

// ReadTexture reads level 0 of a w×h RGBA8 texture with glGetTexImage,
// rows bottom first. It runs on the GL thread, inside an access, after
// share.NewGL has loaded the GL functions (go-gl's, which the samples use
// too).
func ReadTexture(name, target uint32, w, h int) ([]byte, error) {
	px := make([]byte, w*h*4)
	gl.BindTexture(target, name)
	gl.PixelStorei(gl.PACK_ALIGNMENT, 1)
	gl.GetTexImage(target, 0, gl.RGBA, gl.UNSIGNED_BYTE, gl.Ptr(px))
	gl.BindTexture(target, 0)
	if e := gl.GetError(); e != gl.NO_ERROR {
		return nil, fmt.Errorf("glGetTexImage: GL error %#x", e)
	}
	return px, nil
}

// Check reports whether px, w×h RGBA8 texels with GL's bottom row first
// (which is Vulkan's top row: the same memory), is frame of the test
// pattern, and if not, the first texel that differs and which frame px
// holds, if any.
func Check(px []byte, w, h, frame int) error {
	want := testpattern.Expected(w, h, frame)
	if len(px) != len(want) {
		return fmt.Errorf("read %d bytes, want %d for frame %d of the test pattern", len(px), len(want), frame)
	}
	for i := 0; i < len(px); i += 4 {
		if [4]byte(px[i:i+4]) != [4]byte(want[i:i+4]) {
			err := fmt.Errorf("not frame %d of the test pattern: texel (%d,%d) is %v, want %v", frame, i/4%w, i/4/w, px[i:i+4], want[i:i+4])
			if got, ok := testpattern.FrameOf(px, w, h); ok {
				err = fmt.Errorf("%w; it holds frame %d", err, got)
			}
			return err
		}
	}
	return nil
}

// Describe is a share path and, on a copy path, why.
func Describe(p share.Path, reason string) string {
	if reason == "" {
		return p.String()
	}
	return p.String() + ": " + reason
}
