package bench

import (
	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/share"
)

// setUpShareCopy is glbridge's own copy path (package share, forced): what
// a GL without zero-copy import pays. GL renders into a texture of its
// own; the end of the GL access copies it into the Vulkan memory
// (glGetTexImage, then an upload); the consumer, a second Vulkan device
// that imports that memory zero-copy as a DXVK would, copies it into an
// image of its own.
func (p *pathRun) setUpShareCopy() error {
	var res *share.GLResource
	var err error
	p.env.GL.Call(func() {
		var g *share.GL
		if g, err = share.NewGL(p.env.GL.ProcAddr, share.Options{ForceCopy: true}); err != nil {
			return
		}
		p.releaseGL(g)
		if res, err = g.Create(p.desc); err != nil {
			return
		}
		p.releaseGL(res)
	})
	if err != nil {
		return err
	}
	name, _ := res.Texture()
	if p.fb, err = p.newFramebuffer(name); err != nil {
		return err
	}
	a := res.Allocation()
	var id *bridge.DeviceID
	if !a.HostMemory {
		id = &a.Device
	}
	vk, err := share.NewVulkan(id, share.Options{})
	if err != nil {
		return err
	}
	p.release(vk)
	fd, err := res.ExportFD()
	if err != nil {
		return err
	}
	defer unix.Close(fd) // Open imports a duplicate
	vres, err := vk.Open(a, fd)
	if err != nil {
		return err
	}
	p.release(vres)
	own, err := vk.Create(p.desc)
	if err != nil {
		return err
	}
	p.release(own)
	// No readAccess: fb is GL's own texture here (see pathRun).
	p.renderAccess = writeDiscard{res}
	// The frame passes through host memory once: glGetTexImage into it,
	// then an upload from it; the GPU copies it twice, into the shared
	// memory and then the consumer's image.
	p.host, p.gpu = p.frameBytes(), 2*p.frameBytes()
	p.consume = func() error {
		return within(vres, bridge.AccessRead, func() error {
			return within(own, bridge.AccessReadWrite, func() error { return vres.CopyTo(own) })
		})
	}
	p.seen = func() (px []byte, err error) {
		err = within(own, bridge.AccessRead, func() (err error) {
			px, err = own.ReadPixels(bridge.Subresource{})
			return err
		})
		return px, err
	}
	return nil
}

// writeDiscard begins every writing access with share.WriteDiscard, as
// a renderer that knows its frame covers every texel (the test pattern
// does; the check would see a hole) tells the copy path: the frame is not
// first filled from the shared memory.
type writeDiscard struct{ *share.GLResource }

func (w writeDiscard) BeginAccess(mode bridge.Access) error {
	if !mode.Writes() {
		return w.GLResource.BeginAccess(mode)
	}
	return w.BeginAccessWith(mode, share.WriteDiscard)
}
