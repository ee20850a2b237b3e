// Package gpuenv opens what a GL renderer using glbridge has: a headless GL
// context, glimport loaded on it, and the helper device that matches it.
// glshare's tools and glbridge's tests start from it.
package gpuenv

import (
	"fmt"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/glimport"
	"github.com/glbridge/glbridge/headless"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/vkalloc"
	"golang.org/x/sys/unix"
)

// Env is a headless GL context with its helper device: what a GL renderer
// using glbridge has. Tests, the demo and the benchmarks build on it.
type Env struct {
	GL  *headless.Context
	ID  glimport.Identity
	Dev *helperdev.Device
}

// NewEnv makes a GL context on platform ("" for the first that works),
// loads glimport on it and opens the helper device that matches it.
func NewEnv(platform string) (*Env, error) {
	ctx, err := headless.New(headless.Options{Platform: platform})
	if err != nil {
		return nil, err
	}
	var id glimport.Identity
	ctx.Call(func() {
		if err = glimport.Init(ctx.ProcAddr); err != nil {
			return
		}
		id, err = glimport.QueryIdentity()
	})
	if err != nil {
		ctx.Close()
		return nil, err
	}
	dev, err := OpenHelper(id)
	if err != nil {
		ctx.Close()
		return nil, fmt.Errorf("GL %q on %s: %w", id.Renderer, ctx.Platform(), err)
	}
	return &Env{GL: ctx, ID: id, Dev: dev}, nil
}

// Close releases the helper device and the context.
func (e *Env) Close() {
	e.Dev.Close()
	e.GL.Close()
}

// OpenHelper opens the helper device for the GL context id describes,
// failing (wrapping bridge.ErrNoExternalMemory) where GL cannot import
// Vulkan memory at all.
func OpenHelper(id glimport.Identity) (*helperdev.Device, error) {
	if err := id.CheckMemoryObject(); err != nil {
		return nil, err
	}
	return helperdev.Open(helperdev.Config{Device: id.Device, Peer: id.String()})
}

// ImportTexture imports the memory behind fd, which a describes, into the
// context as a texture. The caller keeps fd (ImportMemory imports a dup)
// and closes the texture, then the memory, on the GL thread.
func (e *Env) ImportTexture(a bridge.Allocation, fd int) (mem *glimport.Memory, tex *glimport.Texture, err error) {
	e.GL.Call(func() {
		if mem, err = glimport.ImportMemory(a, fd); err != nil {
			return
		}
		if tex, err = mem.Texture(a); err != nil {
			mem.Close()
		}
	})
	return mem, tex, err
}

// Share allocates d on the helper device, exports it and imports it into
// the context as a texture: one image seen from both APIs. The caller owns
// all of it: the image, the GL memory and texture (closed on the GL
// thread, texture first), and fd, the exported memory.
func (e *Env) Share(d bridge.Desc) (img *vkalloc.Image, mem *glimport.Memory, tex *glimport.Texture, fd int, err error) {
	if img, err = vkalloc.NewImage(e.Dev, d); err != nil {
		return nil, nil, nil, -1, err
	}
	if fd, err = img.ExportFD(); err != nil {
		img.Close()
		return nil, nil, nil, -1, err
	}
	if mem, tex, err = e.ImportTexture(img.Allocation(), fd); err != nil {
		unix.Close(fd)
		img.Close()
		return nil, nil, nil, -1, err
	}
	return img, mem, tex, fd, nil
}
