package bench

import (
	"bytes"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/glimport"
	"github.com/glbridge/glbridge/handoff"
	"github.com/glbridge/glbridge/internal/gpuenv"
	"github.com/glbridge/glbridge/testpattern"
	"github.com/glbridge/glbridge/vkalloc"
)

// Path names one way of getting a GL-rendered frame to its consumer.
type Path string

// The paths measured, in the order they are reported.
const (
	// Baseline: GL renders, then glBlitFramebuffer copies the frame into
	// another GL texture. No API is crossed: the floor for the others.
	Baseline Path = "baseline"
	// ZeroCopy: GL renders into memory a Vulkan device allocated; the
	// device copies it into an image of its own (vkCmdCopyImage), ordered
	// by the handoff access API. Nothing passes through host memory.
	ZeroCopy Path = "zero-copy"
	// Copy: what a bridge without shared memory does: glReadPixels into a
	// pixel-pack buffer, map it, and upload the texels into the Vulkan
	// image through a staging buffer (vkCmdCopyBufferToImage).
	Copy Path = "copy"
	// RenderOnly is the reference the others are read against: the same
	// GL rendering and fence, delivered nowhere. A path's p50 minus this
	// one's estimates what delivering the frame costs (Result.TransferMs).
	RenderOnly Path = "render-only"
	// ShareCopy, measured when Options.ShareCopy asks for it, is glbridge's
	// own copy path (package share, forced), for drivers that cannot share
	// zero-copy: GL renders into a texture of its own, which the end of the
	// access copies into the Vulkan memory a consumer device imports.
	ShareCopy Path = "share-copy"
)

// Paths lists the paths every run measures in report order, the
// reference first; AllPaths adds those measured on request.
var (
	Paths    = []Path{RenderOnly, Baseline, ZeroCopy, Copy}
	AllPaths = append(append([]Path(nil), Paths...), ShareCopy)
)

// pathRun is one path's objects for one size.
type pathRun interface {
	// frame renders frame n and delivers it to the consumer; when it
	// returns, the consumer holds the frame, complete and visible to it.
	frame(n int) error
	// check, after frame(n), compares the consumer's copy with what GL
	// rendered, texel for texel, and reads frame n's number from it.
	check(n int) error
	// hostBytes is how many bytes of each frame pass through host memory,
	// gpuBytes how many the GPU copies.
	hostBytes() uint64
	gpuBytes() uint64
	close()
}

// rig is what every path of a size shares: the GL context and helper
// device, the workload and the frame size.
type rig struct {
	env  *gpuenv.Env
	work *workload
	desc bridge.Desc
	w, h int
}

func (r *rig) frameBytes() uint64 { return uint64(r.w) * uint64(r.h) * 4 }

// compare checks that the consumer's texels equal GL's and carry frame n.
func compare(p Path, gl, seen []byte, w, h, n int) error {
	if !bytes.Equal(gl, seen) {
		i := 0
		for i < min(len(gl), len(seen)) && gl[i] == seen[i] {
			i++
		}
		return fmt.Errorf("bench: %s %dx%d frame %d: the consumer's image differs from GL's at byte %d of %d", p, w, h, n, i, len(gl))
	}
	if got, ok := testpattern.FrameOf(seen, w, h); !ok || got != n%(1<<testpattern.FrameBits) {
		return fmt.Errorf("bench: %s %dx%d: the consumer holds frame %d (readable: %v), want %d", p, w, h, got, ok, n)
	}
	return nil
}

// renderRun: GL renders; the frame ends when a fence says GL is done.
type renderRun struct {
	*rig
	fb *framebuffer
}

func newRenderOnly(r *rig) (pathRun, error) {
	ro := &renderRun{rig: r}
	var err error
	r.env.GL.Call(func() { ro.fb, err = newFramebuffer(0, r.w, r.h) })
	if err != nil {
		return nil, err
	}
	return ro, nil
}

func (ro *renderRun) frame(n int) (err error) {
	ro.env.GL.Call(func() {
		if err = ro.work.render(ro.fb, n); err == nil {
			err = finish()
		}
	})
	return err
}

// check has no consumer to compare with: it reads the frame number back.
func (ro *renderRun) check(n int) (err error) {
	var px []byte
	ro.env.GL.Call(func() { px, err = ro.fb.read() })
	if err != nil {
		return err
	}
	return compare(RenderOnly, px, px, ro.w, ro.h, n)
}

func (ro *renderRun) hostBytes() uint64 { return 0 }
func (ro *renderRun) gpuBytes() uint64  { return 0 }

func (ro *renderRun) close() { ro.env.GL.Call(ro.fb.close) }

// baselineRun: GL renders into src and blits into dst; the frame ends when
// a fence says GL has executed both.
type baselineRun struct {
	*rig
	src, dst *framebuffer
}

func newBaseline(r *rig) (pathRun, error) {
	b := &baselineRun{rig: r}
	var err error
	r.env.GL.Call(func() {
		if b.src, err = newFramebuffer(0, r.w, r.h); err != nil {
			return
		}
		b.dst, err = newFramebuffer(0, r.w, r.h)
	})
	if err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

func (b *baselineRun) frame(n int) (err error) {
	b.env.GL.Call(func() {
		if err = b.work.render(b.src, n); err != nil {
			return
		}
		if err = blit(b.src, b.dst); err != nil {
			return
		}
		err = finish()
	})
	return err
}

func (b *baselineRun) check(n int) (err error) {
	var src, dst []byte
	b.env.GL.Call(func() {
		if src, err = b.src.read(); err == nil {
			dst, err = b.dst.read()
		}
	})
	if err != nil {
		return err
	}
	return compare(Baseline, src, dst, b.w, b.h, n)
}

func (b *baselineRun) hostBytes() uint64 { return 0 }
func (b *baselineRun) gpuBytes() uint64  { return b.frameBytes() }

func (b *baselineRun) close() {
	b.env.GL.Call(func() {
		for _, fb := range []*framebuffer{b.src, b.dst} {
			if fb != nil {
				fb.close()
			}
		}
	})
}

// zeroCopyRun: GL renders into the shared image's texture inside a
// handoff GL access; then, inside a Vulkan access, the consumer device
// copies the shared image into its own image (vkalloc.CopyTo waits for
// the copy to complete).
//
// The consumer device is the helper device itself: handoff.Resource
// orders GL against the one device the image was made on, and sharing its
// semaphores with a second VkDevice is not in the access API yet. The
// copy is the same vkCmdCopyImage a second device on the same GPU would
// record; only its queue is the helper's.
type zeroCopyRun struct {
	*rig
	shared *vkalloc.Image
	mem    *glimport.Memory
	tex    *glimport.Texture
	fb     *framebuffer
	res    *handoff.Resource
	own    *vkalloc.Image
}

func newZeroCopy(r *rig, path handoff.Path) (pathRun, error) {
	z := &zeroCopyRun{rig: r}
	fail := func(err error) (pathRun, error) {
		z.close()
		return nil, err
	}
	var err error
	if z.shared, err = vkalloc.NewImage(r.env.Dev, r.desc); err != nil {
		return fail(err)
	}
	if z.own, err = vkalloc.NewImage(r.env.Dev, r.desc); err != nil {
		return fail(err)
	}
	fd, err := z.shared.ExportFD()
	if err != nil {
		return fail(err)
	}
	defer unix.Close(fd) // ImportMemory imports a duplicate
	rec := z.shared.Allocation()
	r.env.GL.Call(func() {
		if z.mem, err = glimport.ImportMemory(rec, fd); err != nil {
			return
		}
		if z.tex, err = z.mem.Texture(rec); err != nil {
			return
		}
		if z.fb, err = newFramebuffer(z.tex.Name(), r.w, r.h); err != nil {
			return
		}
		z.res, err = handoff.New(handoff.Config{Device: r.env.Dev, Image: z.shared, Texture: z.tex, GL: r.env.ID, Path: path})
	})
	if err != nil {
		return fail(err)
	}
	return z, nil
}

func (z *zeroCopyRun) frame(n int) (err error) {
	z.env.GL.Call(func() {
		if err = z.res.BeginGL(bridge.AccessReadWrite); err != nil {
			return
		}
		err = z.work.render(z.fb, n)
		if eerr := z.res.EndGL(); err == nil {
			err = eerr
		}
	})
	if err != nil {
		return err
	}
	sync, err := z.res.BeginVulkan(bridge.AccessRead)
	if err != nil {
		return err
	}
	err = z.shared.CopyTo(z.own, sync)
	z.res.EndVulkan(err)
	return err
}

func (z *zeroCopyRun) check(n int) (err error) {
	var src []byte
	z.env.GL.Call(func() {
		if err = z.res.BeginGL(bridge.AccessRead); err != nil {
			return
		}
		src, err = z.fb.read()
		if eerr := z.res.EndGL(); err == nil {
			err = eerr
		}
	})
	if err != nil {
		return err
	}
	seen, err := z.own.ReadPixels(bridge.Subresource{}, vkalloc.Sync{})
	if err != nil {
		return err
	}
	return compare(ZeroCopy, src, seen, z.w, z.h, n)
}

func (z *zeroCopyRun) hostBytes() uint64 { return 0 }
func (z *zeroCopyRun) gpuBytes() uint64  { return z.frameBytes() }

func (z *zeroCopyRun) close() {
	z.env.GL.Call(func() {
		if z.res != nil {
			z.res.Close()
		}
		if z.fb != nil {
			z.fb.close()
		}
		if z.tex != nil {
			z.tex.Close()
		}
		if z.mem != nil {
			z.mem.Close()
		}
	})
	for _, im := range []*vkalloc.Image{z.own, z.shared} {
		if im != nil {
			im.Close()
		}
	}
}

// copyRun: GL renders into its own texture; glReadPixels into a pixel-pack
// buffer, which is mapped, and the mapped texels are uploaded into the
// Vulkan image with vkalloc's WritePixels (one host copy into the staging
// buffer the image keeps, then vkCmdCopyBufferToImage). The upload waits
// for its completion.
type copyRun struct {
	*rig
	fb  *framebuffer
	pbo *packBuffer
	img *vkalloc.Image
}

func newCopy(r *rig) (pathRun, error) {
	c := &copyRun{rig: r}
	var err error
	if c.img, err = vkalloc.NewImage(r.env.Dev, r.desc); err != nil {
		return nil, err
	}
	r.env.GL.Call(func() {
		if c.fb, err = newFramebuffer(0, r.w, r.h); err != nil {
			return
		}
		c.pbo, err = newPackBuffer(int(r.frameBytes()))
	})
	if err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func (c *copyRun) frame(n int) (err error) {
	c.env.GL.Call(func() {
		if err = c.work.render(c.fb, n); err != nil {
			return
		}
		err = c.pbo.readInto(c.fb, func(data []byte) error {
			return c.img.WritePixels(bridge.Subresource{}, data, vkalloc.Sync{})
		})
	})
	return err
}

func (c *copyRun) check(n int) (err error) {
	var src []byte
	c.env.GL.Call(func() { src, err = c.fb.read() })
	if err != nil {
		return err
	}
	seen, err := c.img.ReadPixels(bridge.Subresource{}, vkalloc.Sync{})
	if err != nil {
		return err
	}
	return compare(Copy, src, seen, c.w, c.h, n)
}

func (c *copyRun) hostBytes() uint64 { return c.frameBytes() }
func (c *copyRun) gpuBytes() uint64  { return c.frameBytes() }

func (c *copyRun) close() {
	c.env.GL.Call(func() {
		if c.pbo != nil {
			c.pbo.close()
		}
		if c.fb != nil {
			c.fb.close()
		}
	})
	if c.img != nil {
		c.img.Close()
	}
}
