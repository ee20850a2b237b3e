package share

import (
	"cmp"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/handoff"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/internal/fdutil"
	"github.com/glbridge/glbridge/vkalloc"
)

// resource is what a GLResource and a VulkanResource have in common: the
// record and the memory, the path, the access in progress and the keyed
// mutex. Each embeds one.
type resource struct {
	kind   string // "GLResource" or "VulkanResource", for panics
	alloc  bridge.Allocation
	path   Path
	reason string
	// fd is a memory fd the resource owns, for ExportFD and Share.
	fd int

	// A copy path's shared contents and their layout.
	layout bridge.HostLayout
	back   backing

	// mu guards what follows for a VulkanResource, whose methods may be
	// called from any goroutine; a GLResource's run on the GL thread.
	mu     sync.Mutex
	open   bool
	mode   bridge.Access
	hint   AccessHint
	closed bool

	// known is what the shared memory holds during a copy-path access,
	// as far as this side knows: what the fill loaded, or the host memory
	// itself; nil when unknown (a WriteDiscard access over a Vulkan
	// image). The write-back stores only what differs from it. moved
	// counts the bytes the copies moved.
	known []byte
	moved copyCounts

	// The keyed mutex (Attach): km where a Vulkan device holds this side's
	// view of the memory, the bare client calls for host memory.
	client   *broker.Client
	handle   bridge.Handle
	attached bool
	// mutexRef is the reference to the keyed-mutex object an open took
	// (0 for none), released at Close; Attach's handle then is it. kmRefs
	// are a sharer's to the keyed-mutex and sync objects Share made.
	mutexRef bridge.Handle
	kmRefs   keyedMutexRefs
	km       *handoff.KeyedMutex
	sem      *vkalloc.Semaphore // the timeline semaphore Share made
	held     bool
	heldSync vkalloc.Sync // what the end of a held access signals
	heldVal  uint64       // host memory: the value handed on unchanged

	// A resource the broker allocated (Options.Service): the connection
	// that holds its allocation's reference, and the KMT handle it holds
	// it through.
	svc       *broker.Client
	svcHandle bridge.Handle
}

// allocated records that the broker allocated r through c, as res says
// (r owns res.FD already). The semaphore fds that came with it are
// closed: the keyed mutex imports those of the open Share makes.
func (r *resource) allocated(c *broker.Client, res broker.Resource) {
	r.svc, r.svcHandle = c, res.Handle
	closeSyncs(res.Syncs)
}

func newGLResource(g *GL, a bridge.Allocation, fd int) *GLResource {
	return &GLResource{resource: resource{kind: "GLResource", alloc: a, fd: fd}, g: g}
}

func newVulkanResource(v *Vulkan, a bridge.Allocation, fd int) *VulkanResource {
	return &VulkanResource{resource: resource{kind: "VulkanResource", alloc: a, fd: fd}, v: v}
}

// Allocation returns the record that travels with the memory fd.
// HostMemory says the memory is host memory (CopyHost).
func (r *resource) Allocation() bridge.Allocation { return r.alloc }

// Path returns how the resource is shared with this process.
func (r *resource) Path() Path { return r.path }

// Reason says why Path is not ZeroCopy ("" when it is).
func (r *resource) Reason() string { return r.reason }

// ExportFD returns a new fd of the resource's memory, owned by the
// caller: for broker.Client.Create or CreateWithSync (which send a copy,
// so the caller closes it afterwards) or another importer.
func (r *resource) ExportFD() (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return -1, fmt.Errorf("share: ExportFD: %w", bridge.ErrClosed)
	}
	fd, err := fdutil.Dup(r.fd)
	if err != nil {
		return -1, fmt.Errorf("share: ExportFD: %w", err)
	}
	return fd, nil
}

// Access runs f inside an access with access rights access: BeginAccess,
// f, EndAccess. It returns f's error, or else EndAccess's; the access
// ends whatever f returns. On a GLResource it runs on the GL thread.
func (r *GLResource) Access(access bridge.Access, f func() error) error {
	return inAccess(r, access, f)
}

// Access runs f inside an access with access rights access: BeginAccess,
// f, EndAccess. It returns f's error, or else EndAccess's; the access
// ends whatever f returns.
func (r *VulkanResource) Access(access bridge.Access, f func() error) error {
	return inAccess(r, access, f)
}

func inAccess(r interface {
	BeginAccess(bridge.Access) error
	EndAccess() error
}, access bridge.Access, f func() error) error {
	if err := r.BeginAccess(access); err != nil {
		return err
	}
	// f runs before EndAccess, and its error, the cause, wins.
	return cmp.Or(f(), r.EndAccess())
}

// beginCheck panics on an access begun where none may be.
func (r *resource) beginCheck(what string) {
	if r.closed {
		panic("share: " + what + " on a closed " + r.kind)
	}
	if r.open {
		panic("share: " + what + " while an access is open")
	}
}

// attachCheck panics on an AcquireSync before the keyed mutex exists.
func (r *resource) attachCheck() {
	if !r.attached {
		panic("share: AcquireSync before Attach or Share")
	}
}

// register registers the resource with the broker through c, with private
// data data and, where dev shares timeline semaphores, a timeline
// semaphore of dev (made once, kept in r.sem), then attaches the keyed
// mutex with attach.
func (r *resource) register(c *broker.Client, data []byte, dev *helperdev.Device, attach func(*broker.Client, bridge.Handle, []broker.SyncFD) error) (bridge.Handle, error) {
	if r.attached {
		panic("share: Share of a " + r.kind + " already shared or attached")
	}
	if r.svc != nil {
		return r.registered(c, data, attach)
	}
	described := data == nil
	if described {
		data = runtimeData(r.alloc.Desc, 0, 0)
	}
	var syncs []broker.SyncFD
	if dev != nil && r.sem == nil {
		s, ss, err := handoff.NewTimelineSync(dev)
		if err != nil {
			return 0, fmt.Errorf("share: Share: %w", err)
		}
		r.sem, syncs = s, ss
		defer closeSyncs(ss)
	}
	kmt, err := c.CreateWithSync(r.alloc, r.fd, data, syncs)
	if err != nil {
		return 0, fmt.Errorf("share: Share: %w", err)
	}
	if described && data != nil && keyedMutexHandles(r.alloc.Desc) {
		semFD := -1
		if len(syncs) == 1 && syncs[0].Timeline {
			semFD = syncs[0].FD
		}
		if r.kmRefs, err = giveKeyedMutex(c, kmt, r.alloc.Desc, semFD); err != nil {
			c.CloseHandle(kmt)
			return 0, fmt.Errorf("share: Share: %w", err)
		}
	}
	if err := attach(c, kmt, syncs); err != nil {
		c.CloseHandle(kmt)
		return 0, err
	}
	return kmt, nil
}

// registered is register for a resource the broker allocated, and so
// registered already: its private data is set through the allocating
// connection (its creator), and c opens the KMT handle, so that c holds
// a reference of its own, as after a create, which the caller releases
// with CloseHandle; the allocation's own lives until Close. The keyed
// mutex is attached through c with the semaphores the open hands on.
func (r *resource) registered(c *broker.Client, data []byte, attach func(*broker.Client, bridge.Handle, []broker.SyncFD) error) (bridge.Handle, error) {
	if data == nil && keyedMutexHandles(r.alloc.Desc) {
		// The allocating connection is the creator, which gives the
		// mutex; its sync object is the broker's to keep, as the
		// allocation's semaphores are this side's alone.
		var err error
		if r.kmRefs, err = giveKeyedMutex(r.svc, r.svcHandle, r.alloc.Desc, -1); err != nil {
			return 0, fmt.Errorf("share: Share: %w", err)
		}
	} else if data == nil {
		data = runtimeData(r.alloc.Desc, 0, 0)
	}
	if data != nil {
		if err := r.svc.UpdateData(r.svcHandle, data); err != nil {
			return 0, fmt.Errorf("share: Share: %w", err)
		}
	}
	res, err := c.OpenKMT(r.svcHandle)
	if err != nil {
		return 0, fmt.Errorf("share: Share: %w", err)
	}
	unix.Close(res.FD)
	defer closeSyncs(res.Syncs)
	if err := attach(c, res.Handle, res.Syncs); err != nil {
		c.CloseHandle(res.Handle)
		return 0, err
	}
	return res.Handle, nil
}

// closeSyncs closes the fds of syncs.
func closeSyncs(syncs []broker.SyncFD) {
	for _, s := range syncs {
		if s.FD >= 0 {
			unix.Close(s.FD)
		}
	}
}

// acquireHost acquires the keyed mutex of host memory, which has no
// semaphore: the value travels unchanged.
func (r *resource) acquireHost(key uint64, timeout time.Duration) (abandoned bool, err error) {
	res, err := r.client.AcquireSync(r.handle, key, timeout)
	r.heldVal = res.Value
	return res.Abandoned, err
}

// releaseHost releases the keyed mutex of host memory.
func (r *resource) releaseHost(key uint64) error {
	if err := r.client.ReleaseSync(r.handle, key, r.heldVal); err != nil {
		return fmt.Errorf("share: ReleaseSync(%d): %w", key, err)
	}
	return nil
}

// releaseMutex releases the keyed mutex of a copy path, or of a Vulkan
// view; opErr says the Vulkan work (or write-back) that would have
// signalled what the next holder waits for did not happen.
func (r *resource) releaseMutex(key uint64, opErr error) error {
	if r.km != nil {
		return r.km.ReleaseVulkan(key, opErr)
	}
	return r.releaseHost(key)
}

// storeBack stores data, this side's contents read back, into the shared
// memory with s, writing only what differs from known (see backing.store).
func (r *resource) storeBack(data, known []byte, s vkalloc.Sync) error {
	n, err := r.back.store(r.layout, data, known, s)
	r.moved.stored += n
	return err
}

// closeShared releases what every resource holds, after the side's own
// objects: the keyed mutex's semaphores, the backing and the fd.
func (r *resource) closeShared() {
	if r.km != nil {
		r.km.Close()
	}
	if r.mutexRef != 0 {
		// Closing it while held abandons the mutex, as on Windows; a
		// broker that has gone released it already.
		r.client.CloseHandle(r.mutexRef)
		r.mutexRef = 0
	}
	r.kmRefs.close()
	if r.back != nil {
		r.back.close()
	}
	if r.sem != nil {
		r.sem.Close()
	}
	unix.Close(r.fd)
	if r.svc != nil {
		// The broker frees the memory with the last reference; a
		// broker that has gone freed it already.
		r.svc.CloseHandle(r.svcHandle)
	}
}

// openRecord sets up a resource, just made for record a and its memory
// fd, on the path the record allows: host memory is mapped and copied;
// Vulkan memory is offered to zeroCopy, which imports it (done), says why
// not, or fails, and what it does not take is copied through a Vulkan device of the
// record's UUIDs (none under noVulkan), init setting the resource up.
func openRecord(a bridge.Allocation, fd int, init copyInit, devs *devices, noVulkan bool, zeroCopy func() (why string, done bool, err error)) error {
	if a.HostMemory {
		return openCopy(a, fd, nil, init, CopyHost, hostReason)
	}
	why, done, err := zeroCopy()
	if done || err != nil {
		return err
	}
	dev, err := devs.forRecord(a, noVulkan)
	if err != nil {
		return fmt.Errorf("not zero-copy (%s), and not copied: %w", why, err)
	}
	return openCopy(a, fd, dev, init, CopyVulkan, why)
}

// mismatch says why memory of record a is not for a side named name of
// device id.
func mismatch(a bridge.Allocation, name string, id bridge.DeviceID) string {
	return fmt.Sprintf("%v: the memory is of %s; %s is %s", bridge.ErrUUIDMismatch, a.Device, name, id)
}

// hostReason is the Reason of a resource opened from host memory.
const hostReason = "the resource is in host memory"

// copyInit sets a resource up on a copy path over b, laid out as l.
type copyInit func(b backing, l bridge.HostLayout, path Path, why string) error

// copyLayout is the host layout of record a, refusing Vulkan memory whose
// texels are not laid out as it says.
func copyLayout(a bridge.Allocation) (bridge.HostLayout, error) {
	l, err := bridge.LayoutOf(a.Desc)
	if err != nil {
		return bridge.HostLayout{}, err
	}
	if !a.HostMemory {
		if err := checkImageLayout(a, l); err != nil {
			return bridge.HostLayout{}, err
		}
	}
	return l, nil
}

// openCopy sets a resource up with init to copy the memory of record a,
// fd (which the resource owns from here on success): host memory is
// mapped, Vulkan memory imported on dev.
func openCopy(a bridge.Allocation, fd int, dev *helperdev.Device, init copyInit, path Path, why string) error {
	l, err := copyLayout(a)
	if err != nil {
		return err
	}
	var b backing
	if a.HostMemory {
		b, err = openHostRecord(a, fd)
	} else {
		b, err = importBacking(dev, a, fd)
	}
	if err != nil {
		return err
	}
	if err := init(b, l, path, why); err != nil {
		b.close()
		return err
	}
	return nil
}

// createHostCopy makes a resource of fresh host memory for desc: newRes
// makes it for the record and the memory fd, which it owns on success.
func createHostCopy[R interface {
	initCopy(backing, bridge.HostLayout, Path, string) error
}](desc bridge.Desc, why string, newRes func(bridge.Allocation, int) R) (R, error) {
	var none R
	l, err := bridge.LayoutOf(desc)
	if err != nil {
		return none, fmt.Errorf("share: Create: %w", err)
	}
	b, fd, err := newHostBacking(l.Size)
	if err != nil {
		return none, fmt.Errorf("share: Create: %w", err)
	}
	r := newRes(hostAllocation(desc, l), fd)
	if err := r.initCopy(b, l, CopyHost, why); err != nil {
		b.close()
		unix.Close(fd)
		return none, fmt.Errorf("share: Create: %w", err)
	}
	return r, nil
}

// openDup opens record a with open on a duplicate of the caller's fd,
// which the resource owns on success, once live says the opener is open;
// the caller's fd stays the caller's.
func openDup[R any](live func(op string) error, a bridge.Allocation, fd int, open func(bridge.Allocation, int) (R, error)) (R, error) {
	var none R
	if err := live("Open"); err != nil {
		return none, err
	}
	dup, err := fdutil.Dup(fd)
	if err != nil {
		return none, fmt.Errorf("share: Open: %w", err)
	}
	r, err := open(a, dup)
	if err != nil {
		unix.Close(dup)
		return none, fmt.Errorf("share: Open: %w", err)
	}
	return r, nil
}

// attachOpened attaches the keyed mutex of what a broker open returned to
// the resource opened from it (or passes on the open's error).
func attachOpened[R interface {
	Attach(*broker.Client, bridge.Handle, []broker.SyncFD) error
	Close() error
	base() *resource
}](r R, err error, c *broker.Client, res broker.Resource) (R, error) {
	var none R
	if err != nil {
		return none, err
	}
	// The keyed mutex is acquired through the mutex object the
	// descriptor names, where it names one, which r then holds.
	mutex, err := openRuntimeData(c, res)
	if err != nil {
		r.Close()
		return none, err
	}
	h := res.Handle
	if mutex != 0 {
		h = mutex
	}
	if err := r.Attach(c, h, res.Syncs); err != nil {
		if mutex != 0 {
			c.CloseHandle(mutex)
		}
		r.Close()
		return none, err
	}
	r.base().mutexRef = mutex
	return r, nil
}

func (r *resource) base() *resource { return r }
