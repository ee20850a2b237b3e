package share

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/handoff"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/internal/fdutil"
	"github.com/glbridge/glbridge/vkalloc"
)

// Vulkan is the Vulkan side of sharing, for a process that renders with
// Vulkan (the DXVK role), with or without GL: it opens what GL processes
// share, on every path, and makes resources of its own. Its methods may
// be called from any goroutine.
type Vulkan struct {
	side
	dev *helperdev.Device
}

// NewVulkan opens the Vulkan device of id (nil: the first device that
// exports memory as opaque fds) for sharing. Options.ForceCopy (or
// GLBRIDGE_FORCE_COPY=1) makes Create use host memory and Open copy even
// what it could import; and the noVulkan test switch is refused (bridge.ErrNoVulkan). The caller
// owns the Vulkan and must Close it after its resources.
func NewVulkan(id *bridge.DeviceID, opts Options) (*Vulkan, error) {
	opts = opts.withEnv()
	if opts.noVulkan {
		return nil, fmt.Errorf("share: NewVulkan: %w (test switch noVulkan)", bridge.ErrNoVulkan)
	}
	var dev *helperdev.Device
	var err error
	if id != nil {
		dev, err = helperdev.Open(helperdev.Config{Device: *id, Peer: "share.NewVulkan"})
		if err != nil {
			err = fmt.Errorf("share: NewVulkan: %w", err)
		}
	} else {
		dev, err = openExporting(nil)
	}
	if err != nil {
		return nil, err
	}
	v := &Vulkan{side: side{opts: opts}, dev: dev}
	v.devs.add(dev)
	return v, nil
}

// NewVulkanOn works on the caller's own Vulkan device (the DXVK role),
// given as plain handles (see helperdev.Adopt for what it must have
// enabled): resources are made and opened on it, and glbridge submits to
// its queue h.QueueFamily/h.QueueIndex. glbridge owns nothing of it; the
// caller destroys it after closing the Vulkan. Options as for NewVulkan.
func NewVulkanOn(h bridge.VulkanHandles, opts Options) (*Vulkan, error) {
	opts = opts.withEnv()
	dev, err := helperdev.Adopt(h)
	if err != nil {
		return nil, fmt.Errorf("share: NewVulkanOn: %w", err)
	}
	v := &Vulkan{side: side{opts: opts}, dev: dev}
	v.devs.add(dev)
	return v, nil
}

// Handles returns the Vulkan device resources are made on, for a caller
// recording commands of its own on VulkanResource.Handle: the caller's own
// under NewVulkanOn. They belong to v.
func (v *Vulkan) Handles() bridge.VulkanHandles { return v.dev.Handles() }

// DeviceName names the Vulkan device resources are made on.
func (v *Vulkan) DeviceName() string { return deviceName(v.dev) }

// Path returns the path Create uses: ZeroCopy (an exportable Vulkan
// allocation), or CopyHost under ForceCopy.
func (v *Vulkan) Path() Path {
	if v.opts.ForceCopy {
		return CopyHost
	}
	return ZeroCopy
}

// Create makes a shared texture resource described by desc: an
// exportable image on Device (ZeroCopy), or under ForceCopy host memory
// with an image of this side's own (CopyHost), which GL processes without
// Vulkan can open. The caller owns the resource and must Close it.
func (v *Vulkan) Create(desc bridge.Desc) (*VulkanResource, error) {
	if err := v.live("Create"); err != nil {
		return nil, err
	}
	if v.opts.ForceCopy {
		return createHostCopy(desc, v.opts.forceReason(), func(a bridge.Allocation, fd int) *VulkanResource { return newVulkanResource(v, a, fd) })
	}
	img, err := vkalloc.NewImage(v.dev, desc)
	if err != nil {
		return nil, fmt.Errorf("share: Create: %w", err)
	}
	fd, err := img.ExportFD()
	if err != nil {
		img.Close()
		return nil, fmt.Errorf("share: Create: %w", err)
	}
	r := newVulkanResource(v, img.Allocation(), fd)
	r.path, r.img, r.imgDev = ZeroCopy, img, v.dev
	return r, nil
}

// Open opens a resource another process or API shares, from its record
// and memory fd (which stays the caller's). Vulkan memory of Device's
// UUIDs is imported zero-copy unless ForceCopy; Vulkan memory of another
// device is imported on a device of its own UUIDs, opened here, and
// copied to an image on Device; host memory is mapped and copied. The
// caller owns the resource and must Close it.
func (v *Vulkan) Open(a bridge.Allocation, fd int) (*VulkanResource, error) {
	return openDup(v.live, a, fd, v.open)
}

// OpenShared opens what a broker open returned and attaches the keyed
// mutex through res.Handle on c. res.FD and the sync fds stay the
// caller's.
func (v *Vulkan) OpenShared(c *broker.Client, res broker.Resource) (*VulkanResource, error) {
	r, err := v.Open(res.Allocation, res.FD)
	return attachOpened(r, err, c, res)
}

func (v *Vulkan) open(a bridge.Allocation, fd int) (*VulkanResource, error) {
	r := newVulkanResource(v, a, fd)
	err := openRecord(a, fd, r.initCopy, &v.devs, false, func() (why string, done bool, err error) {
		caps := v.dev.Caps()
		switch {
		case a.Device != caps.Device:
			return mismatch(a, fmt.Sprintf("%q", caps.DeviceName), caps.Device), false, nil
		case v.opts.ForceCopy:
			return v.opts.forceReason(), false, nil
		}
		dup, err := fdutil.Dup(fd)
		if err != nil {
			return "", false, err
		}
		img, err := vkalloc.ImportImage(v.dev, a, dup)
		if err != nil {
			unix.Close(dup) // ImportImage takes it only on success
			return "", false, err
		}
		r.path, r.img, r.imgDev = ZeroCopy, img, v.dev
		return "", true, nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// VulkanResource is a shared texture as Vulkan sees it: an image that is
// the shared memory itself (ZeroCopy) or an image of this side's own that
// an access fills from the shared memory and a writing access writes back.
// Its Vulkan operations (Clear, WritePixels, ReadPixels, CopyTo) run inside
// an access, BeginAccess/EndAccess in one process or AcquireSync/
// ReleaseSync across processes, which orders them with every other user's;
// each completes before it returns. Accesses must not overlap: BeginAccess
// while one is open panics, and so does an operation outside one, or a
// writing operation in a read access.
type VulkanResource struct {
	resource
	v *Vulkan

	// img is the image the caller works on, on imgDev (Device): the
	// shared allocation on the zero-copy path, this side's own on a copy
	// path.
	img    *vkalloc.Image
	imgDev *helperdev.Device

	// opSync is what each operation of the open access waits for (the
	// previous holder's timeline value; waiting twice for a timeline value
	// is harmless); opErr is the first operation's failure, after which
	// the access writes nothing back and signals nothing.
	opSync vkalloc.Sync
	opErr  error
}

func (r *VulkanResource) initCopy(b backing, l bridge.HostLayout, path Path, why string) error {
	img, err := vkalloc.NewImage(r.v.dev, r.alloc.Desc)
	if err != nil {
		return err
	}
	if err := checkImageLayout(img.Allocation(), l); err != nil {
		img.Close()
		return err
	}
	r.path, r.reason, r.layout, r.back, r.img, r.imgDev = path, why, l, b, img, r.v.dev
	return nil
}

// Handle returns the VkImage this side works on, on the device of the
// Vulkan's Handles, for a caller recording commands of its own inside an
// access: that work must be complete before the access ends. On a copy
// path its contents are the shared contents only inside an access.
func (r *VulkanResource) Handle() uint64 { return r.img.Handle() }

// op runs one Vulkan operation of the open access.
func (r *VulkanResource) op(name string, writes bool, f func(vkalloc.Sync) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.open {
		panic("share: " + name + " outside an access")
	}
	if writes && !r.mode.Writes() {
		panic("share: " + name + " in a read access")
	}
	if err := f(r.opSync); err != nil {
		if r.opErr == nil {
			r.opErr = err
		}
		return fmt.Errorf("share: %s: %w", name, err)
	}
	return nil
}

// Clear fills every level and layer with the colour c.
func (r *VulkanResource) Clear(c [4]float32) error {
	return r.op("Clear", true, func(s vkalloc.Sync) error { return r.img.Clear(c, s) })
}

// WritePixels replaces subresource sub with data, laid out as
// bridge.SubresourceLayout says for host memory (tightly packed rows, the
// top row first).
func (r *VulkanResource) WritePixels(sub bridge.Subresource, data []byte) error {
	return r.op("WritePixels", true, func(s vkalloc.Sync) error { return r.img.WritePixels(sub, data, s) })
}

// ReadPixels returns the texels of subresource sub, laid out as
// WritePixels takes them.
func (r *VulkanResource) ReadPixels(sub bridge.Subresource) (px []byte, err error) {
	err = r.op("ReadPixels", false, func(s vkalloc.Sync) error {
		px, err = r.img.ReadPixels(sub, s)
		return err
	})
	return px, err
}

// CopyTo copies every subresource into dst, a resource of the same
// description on the same Vulkan, inside a writing access of its own.
func (r *VulkanResource) CopyTo(dst *VulkanResource) error {
	if dst.v != r.v || dst == r {
		panic("share: CopyTo itself or a resource of another Vulkan")
	}
	return r.op("CopyTo", false, func(s vkalloc.Sync) error {
		return dst.op("CopyTo (destination)", true, func(ds vkalloc.Sync) error {
			return r.img.CopyTo(dst.img, vkalloc.Sync{Wait: append(s.Wait[:len(s.Wait):len(s.Wait)], ds.Wait...)})
		})
	})
}

// BeginAccess starts an access by this process's Vulkan, ordered after
// every access that ended before it in this process (every glbridge
// Vulkan operation completes before it returns, so nothing more is
// needed). On a copy path the image is filled from the shared memory.
// Across processes, use AcquireSync. It is BeginAccessWith(access, 0).
func (r *VulkanResource) BeginAccess(access bridge.Access) error {
	return r.BeginAccessWith(access, 0)
}

// BeginAccessWith is BeginAccess with hints of what the access will do:
// with WriteDiscard a copy path skips the fill (see GLResource.
// BeginAccessWith); DeferWriteBack changes nothing here. A hint that
// does not fit access panics.
func (r *VulkanResource) BeginAccessWith(access bridge.Access, hint AccessHint) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.beginCheck("BeginAccess")
	checkHint("BeginAccess", access, hint)
	if r.path != ZeroCopy {
		if err := r.begin(hint, vkalloc.Sync{}); err != nil {
			return fmt.Errorf("share: BeginAccess(%s, %v): %w", access, hint, err)
		}
	}
	r.open, r.mode, r.hint, r.opSync, r.opErr = true, access, hint, vkalloc.Sync{}, nil
	return nil
}

// begin starts a copy-path access: the fill after s, unless the hint
// says the access overwrites everything.
func (r *VulkanResource) begin(hint AccessHint, s vkalloc.Sync) error {
	if hint&WriteDiscard != 0 {
		r.known = r.back.view(r.layout)
		return nil
	}
	return r.fill(s)
}

// Flush exists so that code may treat both sides alike: the Vulkan side
// never defers a write-back (its transfers complete before they return),
// so there is nothing to store and it returns nil.
func (r *VulkanResource) Flush() error { return nil }

// EndAccess ends the access BeginAccess began. On a copy path a writing
// access whose operations all succeeded is copied back into the shared
// memory before EndAccess returns, only what changed being stored.
func (r *VulkanResource) EndAccess() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.open || r.held {
		panic("share: EndAccess without BeginAccess")
	}
	r.open = false
	var err error
	if r.path != ZeroCopy && r.mode.Writes() && r.opErr == nil {
		err = r.writeBack(vkalloc.Sync{})
	}
	r.known = nil
	if err != nil {
		return fmt.Errorf("share: EndAccess: %w", err)
	}
	return nil
}

func (r *VulkanResource) fill(s vkalloc.Sync) error {
	data, err := r.back.load(r.layout, s)
	if err != nil {
		return err
	}
	if err := writeImage(r.img, r.layout, data, vkalloc.Sync{}); err != nil {
		return err
	}
	r.known = data
	r.moved.filled += r.layout.Size
	return nil
}

// writeBack reads the image back and stores what changed with s.
func (r *VulkanResource) writeBack(s vkalloc.Sync) error {
	data, err := readImage(r.img, r.layout, vkalloc.Sync{})
	if err != nil {
		return err
	}
	r.moved.readBack += r.layout.Size
	return r.storeBack(data, r.known, s)
}

// syncDevice is the device of this side's view of the shared allocation,
// where the keyed mutex's semaphores live; nil for host memory.
func (r *VulkanResource) syncDevice() *helperdev.Device {
	if ib, ok := r.back.(*imageBacking); ok {
		return ib.dev
	}
	if r.path == ZeroCopy {
		return r.imgDev
	}
	return nil
}

// Attach sets up the keyed mutex through h, a handle of c to the
// resource; syncs, from the open, stay the caller's. See
// GLResource.Attach.
func (r *VulkanResource) Attach(c *broker.Client, h bridge.Handle, syncs []broker.SyncFD) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.attached {
		panic("share: Attach of an attached VulkanResource")
	}
	if dev := r.syncDevice(); dev != nil {
		km, err := handoff.NewKeyedMutexVulkan(c, h, dev, syncs)
		if err != nil {
			return fmt.Errorf("share: Attach: %w", err)
		}
		r.km = km
	}
	r.client, r.handle, r.attached = c, h, true
	return nil
}

// Share registers the resource with the broker through c, with private
// runtime data data (nil: the Direct3D runtime descriptor), and attaches
// its keyed mutex; see GLResource.Share.
func (r *VulkanResource) Share(c *broker.Client, data []byte) (bridge.Handle, error) {
	return r.register(c, data, r.syncDevice(), r.Attach)
}

// AcquireSync acquires the keyed mutex with key (IDXGIKeyedMutex::
// AcquireSync), waiting up to timeout (broker.InfiniteTimeout for ever; a
// timeout is an error wrapping bridge.ErrTimeout), and begins a read-write
// access: the operations that follow wait, on the GPU, for the previous
// holder's work (on a copy path the image has been filled from the shared
// memory). abandoned says the previous holder died holding the mutex. It
// is AcquireSyncWith(key, timeout, bridge.AccessReadWrite, 0).
func (r *VulkanResource) AcquireSync(key uint64, timeout time.Duration) (abandoned bool, err error) {
	return r.AcquireSyncWith(key, timeout, bridge.AccessReadWrite, 0)
}

// AcquireSyncWith is AcquireSync for an access of rights mode with hints
// (see GLResource.AcquireSyncWith): on a copy path a read-only access
// writes nothing back and WriteDiscard skips the fill; writing
// operations in a read-only access panic.
func (r *VulkanResource) AcquireSyncWith(key uint64, timeout time.Duration, mode bridge.Access, hint AccessHint) (abandoned bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.beginCheck("AcquireSync")
	checkHint("AcquireSync", mode, hint)
	r.attachCheck()
	var ks vkalloc.Sync
	if r.km != nil {
		ks, abandoned, err = r.km.AcquireVulkan(key, timeout)
	} else {
		abandoned, err = r.acquireHost(key, timeout)
	}
	if err != nil {
		return false, fmt.Errorf("share: %w", err)
	}
	r.opSync = vkalloc.Sync{}
	if r.path == ZeroCopy {
		// The operations wait for the previous holder; the release
		// waits for that too (an access may have had no operation)
		// and then signals the next value from the host, every
		// operation being complete by then.
		r.opSync = vkalloc.Sync{Wait: ks.Wait}
		r.heldSync = ks
	} else {
		if err := r.begin(hint, vkalloc.Sync{Wait: ks.Wait}); err != nil {
			r.releaseMutex(key, err)
			return false, fmt.Errorf("share: AcquireSync: %w", err)
		}
		r.heldSync = vkalloc.Sync{Signal: ks.Signal}
		if hint&WriteDiscard != 0 {
			// Nothing waited for the previous holder: the store does.
			r.heldSync = ks
		}
	}
	r.open, r.held, r.mode, r.hint, r.opErr = true, true, mode, hint, nil
	return abandoned, nil
}

// signalFromHost does on the CPU what the last operation of an access
// would have signalled: it waits for s.Wait and signals s.Signal.
func signalFromHost(s vkalloc.Sync) error {
	for _, w := range s.Wait {
		if err := w.Semaphore.Wait(w.Value, uint64(handoff.FenceTimeout)); err != nil {
			return err
		}
	}
	for _, sig := range s.Signal {
		if err := sig.Semaphore.Signal(sig.Value); err != nil {
			return err
		}
	}
	return nil
}

// ReleaseSync ends the access AcquireSync began and releases the keyed
// mutex with key (IDXGIKeyedMutex::ReleaseSync), for whoever acquires key
// next. Unless an operation of the access failed, a copy path first
// writes the image back into the shared memory (after a writing access,
// and only what changed); if that fails the mutex is still released (so
// the other processes are not stuck) and the error returned.
func (r *VulkanResource) ReleaseSync(key uint64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.held {
		panic("share: ReleaseSync without AcquireSync")
	}
	r.open, r.held = false, false
	opErr := r.opErr
	if r.path == ZeroCopy {
		var serr error
		if opErr == nil {
			serr = signalFromHost(r.heldSync)
			opErr = serr
		}
		rerr := r.releaseMutex(key, opErr)
		if serr != nil {
			return fmt.Errorf("share: ReleaseSync: %w", serr)
		}
		return rerr
	}
	var werr error
	switch {
	case opErr != nil:
		werr = opErr
	case r.mode.Writes():
		werr = r.writeBack(r.heldSync)
	default:
		// Nothing to store, and the fill waited for the previous
		// holder: what the store would have signalled is signalled
		// from here.
		werr = signalFromHost(r.heldSync)
	}
	r.known = nil
	rerr := r.releaseMutex(key, werr)
	if opErr == nil && werr != nil {
		return fmt.Errorf("share: ReleaseSync: writing back: %w", werr)
	}
	return rerr
}

// Close releases the image, the shared memory, the keyed mutex's
// semaphores and the owned fd; an open access is abandoned without
// writing back. It is idempotent.
func (r *VulkanResource) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed, r.open, r.held = true, false, false
	if r.img != nil {
		r.img.Close()
	}
	r.closeShared()
	return nil
}
