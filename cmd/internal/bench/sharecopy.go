package bench

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/share"
)

// shareCopyRun is glbridge's own copy path (package share, forced): what
// a GL without zero-copy import pays. GL renders into a texture of its
// own; the end of the GL access copies it into the Vulkan memory
// (glGetTexImage, then an upload); the consumer, a second Vulkan device
// that imports that memory zero-copy as a DXVK would, copies it into an
// image of its own.
type shareCopyRun struct {
	*rig
	gl   *share.GL
	res  *share.GLResource
	fb   *framebuffer
	vk   *share.Vulkan
	vres *share.VulkanResource
	own  *share.VulkanResource
}

func newShareCopy(r *rig) (pathRun, error) {
	s := &shareCopyRun{rig: r}
	fail := func(err error) (pathRun, error) {
		s.close()
		return nil, fmt.Errorf("bench: %s: %w", ShareCopy, err)
	}
	var err error
	r.env.GL.Call(func() {
		if s.gl, err = share.NewGL(r.env.GL.ProcAddr, share.Options{ForceCopy: true}); err != nil {
			return
		}
		if s.res, err = s.gl.Create(r.desc); err != nil {
			return
		}
		name, _ := s.res.Texture()
		s.fb, err = newFramebuffer(name, r.w, r.h)
	})
	if err != nil {
		return fail(err)
	}
	a := s.res.Allocation()
	var id *bridge.DeviceID
	if !a.HostMemory {
		id = &a.Device
	}
	if s.vk, err = share.NewVulkan(id, share.Options{}); err != nil {
		return fail(err)
	}
	fd, err := s.res.ExportFD()
	if err != nil {
		return fail(err)
	}
	defer unix.Close(fd) // Open imports a duplicate
	if s.vres, err = s.vk.Open(a, fd); err != nil {
		return fail(err)
	}
	if s.own, err = s.vk.Create(r.desc); err != nil {
		return fail(err)
	}
	return s, nil
}

func (s *shareCopyRun) frame(n int) (err error) {
	s.env.GL.Call(func() {
		if err = s.res.BeginAccess(bridge.AccessReadWrite); err != nil {
			return
		}
		err = s.work.render(s.fb, n)
		if eerr := s.res.EndAccess(); err == nil {
			err = eerr
		}
	})
	if err != nil {
		return err
	}
	if err := s.vres.BeginAccess(bridge.AccessRead); err != nil {
		return err
	}
	if err = s.own.BeginAccess(bridge.AccessReadWrite); err == nil {
		err = s.vres.CopyTo(s.own)
		if eerr := s.own.EndAccess(); err == nil {
			err = eerr
		}
	}
	if eerr := s.vres.EndAccess(); err == nil {
		err = eerr
	}
	return err
}

func (s *shareCopyRun) check(n int) (err error) {
	var src []byte
	s.env.GL.Call(func() { src, err = s.fb.read() })
	if err != nil {
		return err
	}
	if err := s.own.BeginAccess(bridge.AccessRead); err != nil {
		return err
	}
	seen, err := s.own.ReadPixels(bridge.Subresource{})
	if eerr := s.own.EndAccess(); err == nil {
		err = eerr
	}
	if err != nil {
		return err
	}
	return compare(ShareCopy, src, seen, s.w, s.h, n)
}

// The frame passes through host memory once: glGetTexImage into it, then
// an upload from it.
func (s *shareCopyRun) hostBytes() uint64 { return s.frameBytes() }
func (s *shareCopyRun) gpuBytes() uint64  { return 2 * s.frameBytes() }

func (s *shareCopyRun) close() {
	if s.own != nil {
		s.own.Close()
	}
	if s.vres != nil {
		s.vres.Close()
	}
	if s.vk != nil {
		s.vk.Close()
	}
	s.env.GL.Call(func() {
		if s.fb != nil {
			s.fb.close()
		}
		if s.res != nil {
			s.res.Close()
		}
		if s.gl != nil {
			s.gl.Close()
		}
	})
}
