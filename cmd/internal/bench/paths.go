package bench

import (
	"bytes"
	"cmp"
	"fmt"
	"io"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/handoff"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/internal/fdutil"
	"github.com/glbridge/glbridge/internal/gpuenv"
	"github.com/glbridge/glbridge/testpattern"
	"github.com/glbridge/glbridge/vkalloc"
)

// Path names one way of getting a GL-rendered frame to its consumer.
type Path string

// The paths measured. Each constant's comment says what one frame of it
// does; Paths gives the order they are reported in.
const (
	// Baseline: GL renders, then glBlitFramebuffer copies the frame into
	// another GL texture. No API is crossed: the floor for the others.
	Baseline Path = "baseline"
	// ZeroCopy: GL renders into memory the helper device allocated; a
	// second VkDevice with its own VkInstance (the DXVK role), which
	// imported the memory and the hand-off's semaphores, copies it into
	// an image of its own (vkCmdCopyImage), ordered by handoff. A frame
	// ends when the consumer holds it: the latency of one hand-off.
	// Nothing passes through host memory.
	ZeroCopy Path = "zero-copy"
	// ZeroCopyPipelined: ZeroCopy as a presenting consumer runs it,
	// Options.InFlight frames in flight in a ring of shared images: GL
	// renders frame n while the consumer copies frame n-1, and waits only
	// for the consumer of the frame whose image it is about to reuse.
	// Its frame times are throughput, not latency.
	ZeroCopyPipelined Path = "zero-copy-pipelined"
	// Copy: what a bridge without shared memory does: glReadPixels into a
	// pixel-pack buffer, map it, and upload the texels with vkalloc's
	// WritePixels (one memcpy into the staging buffer the image keeps
	// between transfers, then vkCmdCopyBufferToImage).
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
// reference first, so that each row after it can be read against it;
// AllPaths adds those measured only on request.
var (
	Paths    = []Path{RenderOnly, Baseline, ZeroCopy, ZeroCopyPipelined, Copy}
	AllPaths = append(append([]Path(nil), Paths...), ShareCopy)
)

// CopyUpload says how the copy path gets the texels to the GPU. Reports
// print it because earlier runs uploaded otherwise (the benchmark's own
// staging buffer, `--staging persistent`, until commit a1f84f0), and a
// table read later must say which it measured.
const CopyUpload = "glReadPixels into a pixel-pack buffer, mapped; vkalloc WritePixels through the staging buffer the image keeps"

// rig is what every path of a size shares: the GL context and helper
// device, the workload and the frame size.
type rig struct {
	env  *gpuenv.Env
	work *workload
	desc bridge.Desc
	w, h int
}

// newRig is the set-up of size sz: an RGBA8 2D texture, the format every
// driver shares, so that a path is never measured on a fallback format.
func newRig(env *gpuenv.Env, work *workload, sz Size) *rig {
	return &rig{env: env, work: work, w: sz.W, h: sz.H, desc: bridge.Desc{
		Dimension: bridge.DimensionTexture2D, Width: uint32(sz.W), Height: uint32(sz.H),
		DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1, Format: bridge.FormatR8G8B8A8Unorm,
	}}
}

func (r *rig) frameBytes() uint64 { return uint64(r.w) * uint64(r.h) * 4 }

// accessor is an access API: handoff's GL side (through glSide) and
// package share's resources. A frame's work on shared memory goes between
// its BeginAccess and EndAccess, or the other API may see it half done.
type accessor interface {
	BeginAccess(bridge.Access) error
	EndAccess() error
}

// glSide is a handoff resource's GL accesses as an accessor.
type glSide struct{ *handoff.Resource }

func (s glSide) BeginAccess(a bridge.Access) error { return s.BeginGL(a) }
func (s glSide) EndAccess() error                  { return s.EndGL() }

// within runs f inside an access to r (none when r is nil). f's error is
// the one returned when both fail: it is the cause, the end's the effect.
func within(r accessor, mode bridge.Access, f func() error) error {
	if r == nil {
		return f()
	}
	if err := r.BeginAccess(mode); err != nil {
		return err
	}
	return cmp.Or(f(), r.EndAccess())
}

// pathRun is one path's objects at one size. Every path runs the same
// frame and the same check, and differs only in the parts below, so that
// what the paths' times compare is how each delivers the frame, not how
// each was written:
//
//   - GL renders into fb, inside renderAccess where fb is memory another
//     API shares;
//   - deliver, still on GL's thread and inside that access, does what the
//     path does with the frame on the GL side;
//   - consume, after the access, is the consumer's part;
//   - seen returns the consumer's copy for the check (nil: the path has no
//     consumer, and GL's own frame is checked).
type pathRun struct {
	*rig
	path Path
	fb   *framebuffer
	// renderAccess brackets the rendering. readAccess brackets the check's
	// read of fb, needed only where fb is itself the shared memory: where it
	// is GL's own texture (share's copy path), an access would first refill
	// it from the shared memory, and the check would compare the consumer's
	// copy with itself rather than with what GL rendered.
	renderAccess, readAccess accessor
	deliver                  func() error
	consume                  func() error
	seen                     func() ([]byte, error)
	// prepare, when set, starts frame n before its rendering (the
	// pipelined path picks the ring's image and waits until the
	// consumer is done with it); drain waits until the consumer holds
	// every frame delivered; block is how many frames the path runs
	// before the next path takes its turn (0: the default, 1), drained
	// at the end of each so that no path's work overlaps another's.
	prepare func(n int) error
	drain   func() error
	block   int
	// ring is the zero-copy paths' shared images, for tests.
	ring []*zeroCopySlot
	// host is how many bytes of each frame pass through host memory, gpu
	// how many the GPU copies: what Result reports beside the times.
	host, gpu uint64
	// closers release what set-up made, last made first, so that nothing
	// is freed before what was made from it.
	closers []func()
}

// newPath sets up path p on r. A set-up that fails part way releases what
// it made, so that a run that cannot measure one path leaks nothing.
func newPath(r *rig, p Path, hp handoff.Path, inFlight int) (*pathRun, error) {
	pr := &pathRun{rig: r, path: p}
	var err error
	switch p {
	case RenderOnly:
		err = pr.setUpRenderOnly()
	case Baseline:
		err = pr.setUpBaseline()
	case ZeroCopy:
		err = pr.setUpZeroCopy(hp, 1)
	case ZeroCopyPipelined:
		err = pr.setUpZeroCopy(hp, max(inFlight, 1))
	case Copy:
		err = pr.setUpCopy()
	case ShareCopy:
		err = pr.setUpShareCopy()
	default:
		err = fmt.Errorf("bench: no path %q", p)
	}
	if err != nil {
		pr.close()
		return nil, fmt.Errorf("%s at %dx%d: %w", p, r.w, r.h, err)
	}
	return pr, nil
}

// onGL runs f on GL's thread, inside an access to a when a is not nil.
func (p *pathRun) onGL(a accessor, mode bridge.Access, f func() error) (err error) {
	p.env.GL.Call(func() { err = within(a, mode, f) })
	return err
}

// frame renders frame n and delivers it to the consumer; when it returns,
// the consumer holds the frame, complete and visible to it.
func (p *pathRun) frame(n int) error {
	if p.prepare != nil {
		if err := p.prepare(n); err != nil {
			return err
		}
	}
	err := p.onGL(p.renderAccess, bridge.AccessReadWrite, func() error {
		if err := p.work.render(p.fb, n); err != nil || p.deliver == nil {
			return err
		}
		return p.deliver()
	})
	if err != nil || p.consume == nil {
		return err
	}
	return p.consume()
}

// check, after frame(n), compares the consumer's copy with what GL
// rendered, texel for texel, and reads frame n's number from it.
func (p *pathRun) check(n int) error {
	if p.drain != nil {
		if err := p.drain(); err != nil {
			return err
		}
	}
	var src []byte
	err := p.onGL(p.readAccess, bridge.AccessRead, func() (err error) {
		src, err = p.fb.read()
		return err
	})
	if err != nil {
		return err
	}
	seen := src
	if p.seen != nil {
		if seen, err = p.seen(); err != nil {
			return err
		}
	}
	return compare(p.path, src, seen, p.w, p.h, n)
}

// release closes c with the path; releaseGL does it on GL's thread, which
// GL objects need.
func (p *pathRun) release(c io.Closer) { p.closers = append(p.closers, func() { c.Close() }) }
func (p *pathRun) releaseGL(c io.Closer) {
	p.closers = append(p.closers, func() { p.env.GL.Call(func() { c.Close() }) })
}

func (p *pathRun) close() {
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i]()
	}
	p.closers = nil
}

// newFramebuffer makes a framebuffer of the path's size around tex (a
// texture of its own when tex is 0) that closes with the path.
func (p *pathRun) newFramebuffer(tex uint32) (fb *framebuffer, err error) {
	p.env.GL.Call(func() { fb, err = newFramebuffer(tex, p.w, p.h) })
	if err != nil {
		return nil, err
	}
	p.releaseGL(fb)
	return fb, nil
}

// newImage makes an image of the path's size on the helper device that
// closes with the path.
func (p *pathRun) newImage() (*vkalloc.Image, error) {
	im, err := vkalloc.NewImage(p.env.Dev, p.desc)
	if err != nil {
		return nil, err
	}
	p.release(im)
	return im, nil
}

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

// setUpRenderOnly: GL renders; the frame ends when a fence says GL is
// done. There is no consumer: the check reads the frame number back.
func (p *pathRun) setUpRenderOnly() (err error) {
	p.fb, err = p.newFramebuffer(0)
	p.deliver = finish
	return err
}

// setUpBaseline: GL renders into fb and blits into a second texture; the
// frame ends when a fence says GL has executed both.
func (p *pathRun) setUpBaseline() error {
	var err error
	if p.fb, err = p.newFramebuffer(0); err != nil {
		return err
	}
	dst, err := p.newFramebuffer(0)
	if err != nil {
		return err
	}
	p.gpu = p.frameBytes()
	p.deliver = func() error {
		if err := blit(p.fb, dst); err != nil {
			return err
		}
		return finish()
	}
	p.seen = func() (px []byte, err error) {
		p.env.GL.Call(func() { px, err = dst.read() })
		return px, err
	}
	return nil
}

// zeroCopySlot is one image of the zero-copy ring: the shared image on
// the helper device with its GL texture and framebuffer, its hand-off, and
// the consumer device's import of it with the consumer's own image.
type zeroCopySlot struct {
	fb        *framebuffer
	res       *handoff.Resource
	peer      *handoff.Peer
	imported  *vkalloc.Image
	own       *vkalloc.Image
	consuming chan error // the consumer's result, while it works on the slot
	frame     int        // the frame last rendered into it
}

// setUpZeroCopy: GL renders into a shared image's texture inside a
// handoff GL access; then, inside a Vulkan access, the consumer device
// copies the shared image into its own image (vkalloc.CopyTo waits for
// the copy to complete).
//
// The consumer is a second VkDevice with its own VkInstance on the same
// GPU (helperdev.Open of the helper's UUIDs), as DXVK in the same process
// would be: it imports the image's memory and, through handoff.Peer, the
// hand-off's semaphores. With inFlight 1 each frame waits for its copy
// (latency); with more, frames rotate through inFlight shared images and
// the copies run on a goroutine of their own, behind GL (throughput).
func (p *pathRun) setUpZeroCopy(hp handoff.Path, inFlight int) error {
	caps := p.env.Dev.Caps()
	consumer, err := helperdev.Open(helperdev.Config{Device: bridge.DeviceID{Driver: caps.Device.Driver, Device: caps.Device.Device}, Peer: "bench consumer"})
	if err != nil {
		return err
	}
	p.release(consumer)
	slots := make([]*zeroCopySlot, inFlight)
	for i := range slots {
		if slots[i], err = p.newZeroCopySlot(hp, consumer); err != nil {
			return err
		}
	}
	consume := func(s *zeroCopySlot) error {
		sync, err := s.peer.BeginVulkan(bridge.AccessRead)
		if err != nil {
			return err
		}
		err = s.imported.CopyTo(s.own, sync)
		s.peer.EndVulkan(err)
		return err
	}
	p.ring = slots
	cur := slots[0]
	p.fb, p.renderAccess, p.readAccess = cur.fb, glSide{cur.res}, glSide{cur.res}
	p.gpu = p.frameBytes()
	p.seen = func() ([]byte, error) { return cur.own.ReadPixels(bridge.Subresource{}, vkalloc.Sync{}) }
	if inFlight == 1 {
		p.consume = func() error { return consume(cur) }
		return nil
	}
	// Pipelined: one consumer goroutine takes the slots in order.
	jobs := make(chan *zeroCopySlot, inFlight)
	go func() {
		for s := range jobs {
			s.consuming <- consume(s)
		}
	}()
	p.closers = append(p.closers, func() { close(jobs) })
	wait := func(s *zeroCopySlot) error {
		if s.consuming == nil {
			return nil
		}
		err := <-s.consuming
		s.consuming = nil
		return err
	}
	p.block = 4 * inFlight
	p.prepare = func(n int) error {
		cur = slots[n%inFlight]
		p.fb, p.renderAccess, p.readAccess = cur.fb, glSide{cur.res}, glSide{cur.res}
		err := wait(cur)
		cur.frame = n
		return err
	}
	p.consume = func() error {
		cur.consuming = make(chan error, 1)
		jobs <- cur
		return nil
	}
	p.drain = func() error {
		var first error
		for _, s := range slots {
			first = cmp.Or(first, wait(s))
		}
		return first
	}
	return nil
}

// newZeroCopySlot makes one image of the zero-copy ring (see
// zeroCopySlot); everything closes with the path.
func (p *pathRun) newZeroCopySlot(hp handoff.Path, consumer *helperdev.Device) (*zeroCopySlot, error) {
	shared, err := p.newImage()
	if err != nil {
		return nil, err
	}
	fd, err := shared.ExportFD()
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd) // ImportMemory imports a duplicate
	rec := shared.Allocation()
	s := &zeroCopySlot{}
	mem, tex, err := p.env.ImportTexture(rec, fd)
	if err != nil {
		return nil, err
	}
	p.releaseGL(mem)
	p.releaseGL(tex) // closed first: closers run last made first
	if s.fb, err = p.newFramebuffer(tex.Name()); err != nil {
		return nil, err
	}
	p.env.GL.Call(func() {
		s.res, err = handoff.New(handoff.Config{Device: p.env.Dev, Image: shared, Texture: tex, GL: p.env.ID, Path: hp})
	})
	if err != nil {
		return nil, err
	}
	p.releaseGL(s.res)
	if s.peer, err = s.res.NewPeer(consumer); err != nil {
		return nil, err
	}
	p.release(s.peer)
	// The consumer's import takes its fd; the GL import above kept
	// only a dup of fd, which stays ours.
	dup, err := fdutil.Dup(fd)
	if err != nil {
		return nil, err
	}
	if s.imported, err = vkalloc.ImportImage(consumer, rec, dup); err != nil {
		unix.Close(dup)
		return nil, err
	}
	p.release(s.imported)
	if s.own, err = vkalloc.NewImage(consumer, p.desc); err != nil {
		return nil, err
	}
	p.release(s.own)
	return s, nil
}

// setUpCopy: GL renders into its own texture; deliver reads it into a
// pixel-pack buffer, maps it, and uploads the mapped texels with vkalloc's
// WritePixels (see CopyUpload), which waits for the upload to complete.
// Uploading straight from the mapping leaves one memcpy per frame in host
// memory: the copy path's best case.
func (p *pathRun) setUpCopy() error {
	img, err := p.newImage()
	if err != nil {
		return err
	}
	if p.fb, err = p.newFramebuffer(0); err != nil {
		return err
	}
	var pbo *packBuffer
	p.env.GL.Call(func() { pbo, err = newPackBuffer(int(p.frameBytes())) })
	if err != nil {
		return err
	}
	p.releaseGL(pbo)
	p.host, p.gpu = p.frameBytes(), p.frameBytes()
	p.deliver = func() error {
		return pbo.readInto(p.fb, func(texels []byte) error {
			return img.WritePixels(bridge.Subresource{}, texels, vkalloc.Sync{})
		})
	}
	p.seen = func() ([]byte, error) { return img.ReadPixels(bridge.Subresource{}, vkalloc.Sync{}) }
	return nil
}
