package share

import (
	"fmt"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/handoff"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/vkalloc"
)

// Vulkan is the Vulkan side of sharing, for a process that renders with
// Vulkan (the DXVK role), with or without GL: it opens what GL processes
// share, on every path, and makes resources of its own. Its methods may
// be called from any goroutine.
type Vulkan struct {
	dev    *helperdev.Device
	opts   Options
	devs   devices
	mu     sync.Mutex
	closed bool
}

// NewVulkan opens the Vulkan device of id (nil: the first device that
// exports memory as opaque fds) for sharing. Options.ForceCopy (or
// GLBRIDGE_FORCE_COPY=1) makes Create use host memory and Open copy even
// what it could import; NoVulkan is refused (bridge.ErrNoVulkan). The caller
// owns the Vulkan and must Close it after its resources.
func NewVulkan(id *bridge.DeviceID, opts Options) (*Vulkan, error) {
	opts = opts.withEnv()
	if opts.NoVulkan {
		return nil, fmt.Errorf("share: NewVulkan: %w (Options.NoVulkan)", bridge.ErrNoVulkan)
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
	v := &Vulkan{dev: dev, opts: opts}
	v.devs.add(dev)
	return v, nil
}

// Device returns the device resources are made on and the caller's
// Vulkan work runs on. It belongs to v.
func (v *Vulkan) Device() *helperdev.Device { return v.dev }

// Path returns the path Create uses: ZeroCopy (an exportable Vulkan
// allocation), or CopyHost under ForceCopy.
func (v *Vulkan) Path() Path {
	if v.opts.ForceCopy {
		return CopyHost
	}
	return ZeroCopy
}

// Close releases the devices. Every resource made or opened through v
// must be closed first. It is idempotent.
func (v *Vulkan) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.closed {
		v.closed = true
		v.devs.closeAll()
	}
	return nil
}

func (v *Vulkan) live(op string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return fmt.Errorf("share: %s: %w", op, bridge.ErrClosed)
	}
	return nil
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
		l, err := LayoutOf(desc)
		if err != nil {
			return nil, fmt.Errorf("share: Create: %w", err)
		}
		b, fd, err := newHostBacking(l.Size)
		if err != nil {
			return nil, fmt.Errorf("share: Create: %w", err)
		}
		r := &VulkanResource{v: v, alloc: hostAllocation(desc, l), fd: fd}
		if err := r.initCopy(b, CopyHost, v.opts.forceReason()); err != nil {
			b.close()
			unix.Close(fd)
			return nil, fmt.Errorf("share: Create: %w", err)
		}
		return r, nil
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
	return &VulkanResource{v: v, alloc: img.Allocation(), fd: fd, path: ZeroCopy, img: img, imgDev: v.dev}, nil
}

// Open opens a resource another process or API shares, from its record
// and memory fd (which stays the caller's). Vulkan memory of Device's
// UUIDs is imported zero-copy unless ForceCopy; Vulkan memory of another
// device is imported on a device of its own UUIDs, opened here, and
// copied to an image on Device; host memory is mapped and copied. The
// caller owns the resource and must Close it.
func (v *Vulkan) Open(a bridge.Allocation, fd int) (*VulkanResource, error) {
	if err := v.live("Open"); err != nil {
		return nil, err
	}
	dup, err := dupForOpen(fd)
	if err != nil {
		return nil, err
	}
	r, err := v.open(a, dup)
	if err != nil {
		unix.Close(dup)
		return nil, fmt.Errorf("share: Open: %w", err)
	}
	return r, nil
}

// OpenShared opens what a broker open returned and attaches the keyed
// mutex through res.Handle on c. res.FD and the sync fds stay the
// caller's.
func (v *Vulkan) OpenShared(c *broker.Client, res broker.Resource) (*VulkanResource, error) {
	r, err := v.Open(res.Allocation, res.FD)
	if err != nil {
		return nil, err
	}
	if err := r.Attach(c, res.Handle, res.Syncs); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func (v *Vulkan) open(a bridge.Allocation, fd int) (*VulkanResource, error) {
	r := &VulkanResource{v: v, alloc: a, fd: fd}
	if a.HostMemory {
		b, err := openHostRecord(a, fd)
		if err != nil {
			return nil, err
		}
		if err := r.initCopy(b, CopyHost, "the resource is in host memory"); err != nil {
			b.close()
			return nil, err
		}
		return r, nil
	}
	caps := v.dev.Caps()
	same := a.Device.Driver == caps.Device.Driver && a.Device.Device == caps.Device.Device
	if same && !v.opts.ForceCopy {
		dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("duplicating fd %d: %w", fd, err)
		}
		img, err := vkalloc.ImportImage(v.dev, a, dup)
		if err != nil {
			unix.Close(dup)
			return nil, err
		}
		r.path, r.img, r.imgDev = ZeroCopy, img, v.dev
		return r, nil
	}
	why := v.opts.forceReason()
	if !same {
		why = fmt.Sprintf("%v: the memory is of driver %s device %s; %q is driver %s device %s",
			bridge.ErrUUIDMismatch, a.Device.Driver, a.Device.Device, caps.DeviceName, caps.Device.Driver, caps.Device.Device)
	}
	dev, err := v.devs.forRecord(a, false)
	if err != nil {
		return nil, fmt.Errorf("not zero-copy (%s), and not copied: %w", why, err)
	}
	b, err := importBacking(dev, a, fd)
	if err != nil {
		return nil, err
	}
	if err := r.initCopy(b, CopyVulkan, why); err != nil {
		b.close()
		return nil, err
	}
	return r, nil
}

// VulkanResource is a shared texture as Vulkan sees it: Image() is the
// shared memory itself (ZeroCopy) or an image of this side's own that
// BeginAccess fills from the shared memory and EndAccess writes back.
// Vulkan work on Image() goes inside BeginAccess/EndAccess or
// AcquireSync/ReleaseSync, and is given the vkalloc.Sync they return.
// Accesses must not overlap: BeginAccess while one is open panics.
type VulkanResource struct {
	v      *Vulkan
	alloc  bridge.Allocation
	path   Path
	reason string
	fd     int // owned, for ExportFD and Share

	// img is the image the caller works on, on imgDev (Device): the
	// shared allocation on the zero-copy path, this side's own on a copy
	// path.
	img    *vkalloc.Image
	imgDev *helperdev.Device
	layout HostLayout
	back   backing

	mu       sync.Mutex
	open     bool
	mode     bridge.Access
	client   *broker.Client
	handle   bridge.Handle
	attached bool
	km       *handoff.KeyedMutex
	sem      *vkalloc.Semaphore
	held     bool
	heldSync vkalloc.Sync
	heldVal  uint64
	closed   bool
}

func (r *VulkanResource) initCopy(b backing, path Path, why string) error {
	l, err := LayoutOf(r.alloc.Desc)
	if err != nil {
		return err
	}
	if ib, ok := b.(*imageBacking); ok {
		if err := checkImageLayout(ib.img.Allocation(), l); err != nil {
			return err
		}
	}
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

// Image returns the image Vulkan work uses, on the Vulkan's Device. On a
// copy path its contents are the shared contents only between BeginAccess
// and EndAccess.
func (r *VulkanResource) Image() *vkalloc.Image { return r.img }

// Allocation returns the record that travels with the memory fd.
func (r *VulkanResource) Allocation() bridge.Allocation { return r.alloc }

// Path returns how the resource is shared with this process.
func (r *VulkanResource) Path() Path { return r.path }

// Reason says why Path is not ZeroCopy ("" when it is).
func (r *VulkanResource) Reason() string { return r.reason }

// ExportFD returns a new fd of the resource's memory, owned by the
// caller.
func (r *VulkanResource) ExportFD() (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return -1, fmt.Errorf("share: ExportFD: %w", bridge.ErrClosed)
	}
	fd, err := unix.FcntlInt(uintptr(r.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("share: ExportFD: %w", err)
	}
	return fd, nil
}

func (r *VulkanResource) beginCheck(what string) {
	if r.closed {
		panic("share: " + what + " on a closed VulkanResource")
	}
	if r.open {
		panic("share: " + what + " while an access is open")
	}
}

// BeginAccess starts an access in this process and returns the Sync to
// give the Vulkan operation on Image() (on these paths every glbridge
// Vulkan operation completes before it returns, so it orders nothing
// further). On a copy path Image() is filled from the shared memory.
// Across processes, use AcquireSync.
func (r *VulkanResource) BeginAccess(mode bridge.Access) (vkalloc.Sync, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.beginCheck("BeginAccess")
	if r.path != ZeroCopy {
		if err := r.fill(vkalloc.Sync{}); err != nil {
			return vkalloc.Sync{}, fmt.Errorf("share: BeginAccess(%s): %w", mode, err)
		}
	}
	r.open, r.mode = true, mode
	return vkalloc.Sync{}, nil
}

// EndAccess ends the access; opErr is the error of the Vulkan operation.
// On a copy path a writing access whose operation succeeded is copied
// back into the shared memory before EndAccess returns.
func (r *VulkanResource) EndAccess(opErr error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.open || r.held {
		panic("share: EndAccess without BeginAccess")
	}
	r.open = false
	if r.path != ZeroCopy && r.mode.Writes() && opErr == nil {
		if err := r.writeBack(vkalloc.Sync{}); err != nil {
			return fmt.Errorf("share: EndAccess: %w", err)
		}
	}
	return nil
}

func (r *VulkanResource) fill(s vkalloc.Sync) error {
	data, err := r.back.load(r.layout, s)
	if err != nil {
		return err
	}
	return writeImage(r.img, r.layout, data, vkalloc.Sync{})
}

func (r *VulkanResource) writeBack(s vkalloc.Sync) error {
	data, err := readImage(r.img, r.layout, vkalloc.Sync{})
	if err != nil {
		return err
	}
	return r.back.store(r.layout, data, s)
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
// runtime data data, and attaches its keyed mutex; see GLResource.Share.
func (r *VulkanResource) Share(c *broker.Client, data []byte) (bridge.Handle, error) {
	if r.attached {
		panic("share: Share of a VulkanResource already shared or attached")
	}
	return register(c, r.alloc, r.fd, data, r.syncDevice(), &r.sem, r.Attach)
}

// AcquireSync acquires the keyed mutex with key, waiting up to timeout,
// and begins a read-write access: it returns the Sync to give the Vulkan
// operation on Image() (on a copy path Image() has been filled from the
// shared memory). abandoned says the previous holder died holding it.
// Call ReleaseSync with the operation's error afterwards.
func (r *VulkanResource) AcquireSync(key uint64, timeout time.Duration) (s vkalloc.Sync, abandoned bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.beginCheck("AcquireSync")
	if !r.attached {
		panic("share: AcquireSync before Attach or Share")
	}
	var ks vkalloc.Sync
	if r.km != nil {
		ks, abandoned, err = r.km.AcquireVulkan(key, timeout)
	} else {
		var res broker.AcquireResult
		res, err = r.client.AcquireSync(r.handle, key, timeout)
		abandoned, r.heldVal = res.Abandoned, res.Value
	}
	if err != nil {
		return vkalloc.Sync{}, false, fmt.Errorf("share: %w", err)
	}
	if r.path == ZeroCopy {
		s = ks
	} else {
		if err := r.fill(vkalloc.Sync{Wait: ks.Wait}); err != nil {
			r.releaseMutex(key, err)
			return vkalloc.Sync{}, false, fmt.Errorf("share: AcquireSync: %w", err)
		}
		r.heldSync = vkalloc.Sync{Signal: ks.Signal}
	}
	r.open, r.held, r.mode = true, true, bridge.AccessReadWrite
	return s, abandoned, nil
}

func (r *VulkanResource) releaseMutex(key uint64, opErr error) error {
	if r.km != nil {
		return r.km.ReleaseVulkan(key, opErr)
	}
	if err := r.client.ReleaseSync(r.handle, key, r.heldVal); err != nil {
		return fmt.Errorf("share: ReleaseSync(%d): %w", key, err)
	}
	return nil
}

// ReleaseSync ends the access AcquireSync began and releases the keyed
// mutex with key. opErr is the error of the Vulkan operation; when it is
// nil, a copy path first writes Image() back into the shared memory.
func (r *VulkanResource) ReleaseSync(key uint64, opErr error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.held {
		panic("share: ReleaseSync without AcquireSync")
	}
	r.open, r.held = false, false
	if r.path == ZeroCopy {
		return r.releaseMutex(key, opErr)
	}
	var werr error
	if opErr == nil {
		werr = r.writeBack(r.heldSync)
	} else {
		werr = opErr
	}
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
	if r.km != nil {
		r.km.Close()
	}
	if r.img != nil {
		r.img.Close()
	}
	if r.back != nil {
		r.back.close()
	}
	if r.sem != nil {
		r.sem.Close()
	}
	unix.Close(r.fd)
	return nil
}
