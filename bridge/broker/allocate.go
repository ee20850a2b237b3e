package broker

import (
	"errors"
	"io"
	"sync"
	"time"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/internal/fdutil"
	"github.com/glbridge/glbridge/vkalloc"
)

// This file is ALLOCATE: the broker allocates a resource for a client, on
// a helper device of the client's GPU or in host memory, so that a GL
// process needs no Vulkan of its own (as Monado's service allocates its
// clients' swapchains).

// hostMemoryDevice is what glshare ls shows as the device of host memory
// the broker allocated.
const hostMemoryDevice = "host memory"

// serviceDevices are the helper devices the broker allocates on, one per
// DeviceID, opened on the first ALLOCATE that names it: a broker nobody
// asks to allocate never loads Vulkan.
type serviceDevices struct {
	mu     sync.Mutex
	devs   map[bridge.DeviceID]*serviceDevice
	closed bool
}

// serviceDevice is one helper device, or the error the last attempt to
// open it gave, kept for retryOpenAfter: a client asking again and again
// for a device that is not there costs a map lookup, not a Vulkan
// instance each time, while a device that appears later (a driver
// installed, a GPU brought up) is found without restarting the broker.
type serviceDevice struct {
	mu     sync.Mutex
	dev    *helperdev.Device
	err    error
	failed time.Time
}

// retryOpenAfter is how long a failed helper-device open is remembered; a
// variable for the tests.
var retryOpenAfter = 10 * time.Second

// open returns the helper device of id, opening it on first use.
func (s *serviceDevices) open(id bridge.DeviceID) (*helperdev.Device, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, perr(CodeInternal, "broker is shutting down")
	}
	if s.devs == nil {
		s.devs = map[bridge.DeviceID]*serviceDevice{}
	}
	d := s.devs[id]
	if d == nil {
		d = &serviceDevice{}
		s.devs[id] = d
	}
	s.mu.Unlock()
	// Opening takes a while; requests for other devices go on meanwhile,
	// and requests for this one wait for it rather than open another.
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dev == nil && (d.err == nil || time.Since(d.failed) >= retryOpenAfter) {
		if s.isClosed() {
			return nil, perr(CodeInternal, "broker is shutting down")
		}
		d.dev, d.err = helperdev.Open(helperdev.Config{Device: id, Peer: "the client's GL", AppName: "glshare serve"})
		if d.err != nil {
			d.failed = time.Now()
		}
	}
	if d.dev == nil {
		return nil, perr(CodeNoDevice, "%v", d.err)
	}
	return d.dev, nil
}

func (s *serviceDevices) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// closeAll closes the devices, once every resource allocated on them is
// freed; an open in progress finishes first.
func (s *serviceDevices) closeAll() {
	s.mu.Lock()
	s.closed = true
	devs := s.devs
	s.devs = nil
	s.mu.Unlock()
	for _, d := range devs {
		d.mu.Lock()
		if d.dev != nil {
			d.dev.Close()
			d.dev = nil
		}
		d.mu.Unlock()
	}
}

// allocation is what ALLOCATE made, before it is registered: the record,
// the fds the broker keeps, and the objects behind them.
type allocation struct {
	alloc  bridge.Allocation
	memFD  int
	syncs  []syncObj
	owned  []io.Closer
	device string
}

// release destroys what was made, for an allocation that is not
// registered after all.
func (a *allocation) release() {
	fdutil.CloseAll([]int{a.memFD})
	for _, s := range a.syncs {
		fdutil.CloseAll([]int{s.fd})
	}
	for _, o := range a.owned {
		o.Close()
	}
}

// allocate performs an ALLOCATE request: it books the resource against
// the limits and quotas, allocates it without holding b.mu, and registers
// it as c's, which then holds one reference through its KMT handle, as
// after a create. The reply is the resource's record with dups of its
// memory and semaphore fds. Nothing stays allocated when it fails.
func (b *Broker) allocate(c *brokerConn, q request) ([]byte, []int, error) {
	desc := q.Desc
	if err := desc.Validate(); err != nil {
		return nil, nil, perr(CodeInvalidDesc, "%v", err)
	}
	host := q.AllocFlags&allocateFlagHostMemory != 0
	var layout bridge.HostLayout
	if host {
		var err error
		if layout, err = bridge.LayoutOf(desc); err != nil {
			return nil, nil, codeOf(err)
		}
	}
	// Book the resource before allocating, at an estimate of its size,
	// so that concurrent allocations of one client cannot all pass the
	// quota; the booking is corrected to the real size below.
	estimate := estimateSize(desc, layout)
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, nil, perr(CodeInternal, "broker is shutting down")
	}
	if err := b.roomForResource(c, estimate); err != nil {
		b.mu.Unlock()
		return nil, nil, err
	}
	b.charge(c, c.uid, 1, estimate, true)
	b.mu.Unlock()

	var a allocation
	var err error
	if host {
		a, err = allocateHost(desc, layout)
	} else {
		a, err = b.allocateDevice(q.Device, desc, q.Kind, int(q.SyncCount))
	}

	made := err == nil
	_, unlock := b.lock()
	defer unlock()
	b.charge(c, c.uid, 1, estimate, false)
	if err == nil && (b.closed || c.dead) {
		err = perr(CodeInternal, "broker is shutting down")
	}
	if err == nil {
		err = b.roomForResource(c, a.alloc.Size)
	}
	if err != nil {
		if made {
			b.graveyard = append(b.graveyard, closerFunc(a.release))
		}
		return nil, nil, err
	}
	res := b.register(c, a.alloc, a.memFD, a.syncs, q.Data)
	res.owned, res.allocDevice = a.owned, a.device
	fds, err := res.dupFDs()
	if err != nil {
		b.unregister(c, res)
		return nil, nil, err
	}
	c.log.Debug("allocated", "handle", res.kmt, "device", a.device, "size", a.alloc.Size, "syncs", len(a.syncs))
	return res.record(res.kmt, bridge.AccessReadWrite, q.Version), fds, nil
}

// closerFunc makes a function an io.Closer, for the graveyard.
type closerFunc func()

func (f closerFunc) Close() error { f(); return nil }

// estimateSize is what a resource of desc will take, before the device
// says: the texels of its host layout, or a buffer's bytes.
func estimateSize(desc bridge.Desc, layout bridge.HostLayout) uint64 {
	if desc.Dimension == bridge.DimensionBuffer {
		return uint64(desc.Width)
	}
	if layout.Size > 0 {
		return layout.Size
	}
	if l, err := bridge.LayoutOf(desc); err == nil {
		return l.Size
	}
	return 0
}

// allocateHost makes host memory for desc laid out as layout: a sealed
// memfd of exactly its size.
func allocateHost(desc bridge.Desc, layout bridge.HostLayout) (allocation, error) {
	fd, err := fdutil.SealedMemfd("glbridge-shared-resource", layout.Size)
	if err != nil {
		return allocation{}, perr(CodeInternal, "host memory: %v", err)
	}
	return allocation{
		alloc: bridge.Allocation{Desc: desc, Size: layout.Size, HostMemory: true},
		memFD: fd, device: hostMemoryDevice,
	}, nil
}

// allocateDevice allocates desc, and count semaphores of kind, on the
// helper device of id, exported as opaque fds.
func (b *Broker) allocateDevice(id bridge.DeviceID, desc bridge.Desc, kind syncKind, count int) (allocation, error) {
	dev, err := b.devices.open(id)
	if err != nil {
		return allocation{}, err
	}
	caps := dev.Caps()
	switch {
	case kind == syncTimeline && !caps.TimelineSemaphoreFD:
		return allocation{}, perr(CodeNoSemaphore, "%s exports no timeline semaphores as fds", caps.DeviceName)
	case kind == syncBinary && !caps.ExternalSemaphoreFD:
		return allocation{}, perr(CodeNoSemaphore, "%s exports no semaphores as fds", caps.DeviceName)
	}
	a := allocation{memFD: -1, device: caps.DeviceName}
	fail := func(what string, err error) (allocation, error) {
		a.release()
		e := codeOf(err)
		e.Detail = what + ": " + e.Detail
		return allocation{}, e
	}
	var mem interface {
		io.Closer
		ExportFD() (int, error)
		Allocation() bridge.Allocation
	}
	if desc.Dimension == bridge.DimensionBuffer {
		mem, err = vkalloc.NewBuffer(dev, desc)
	} else {
		mem, err = vkalloc.NewImage(dev, desc)
	}
	if err != nil {
		return fail("allocating", err)
	}
	a.owned = append(a.owned, mem)
	if a.memFD, err = mem.ExportFD(); err != nil {
		return fail("exporting the memory", err)
	}
	a.alloc = mem.Allocation()
	for range count {
		s, err := vkalloc.NewSemaphore(dev, kind == syncTimeline)
		if err != nil {
			return fail("making a semaphore", err)
		}
		a.owned = append(a.owned, s)
		fd, err := s.ExportFD()
		if err != nil {
			return fail("exporting a semaphore", err)
		}
		a.syncs = append(a.syncs, syncObj{fd: fd, kind: kind})
	}
	return a, nil
}

// codeOf is the broker error for an error of the layers below: a code
// that matches the bridge error it wraps, CodeInternal otherwise.
func codeOf(err error) *Error {
	for _, m := range [...]struct {
		err  error
		code Code
	}{
		{bridge.ErrInvalidDesc, CodeInvalidDesc},
		{bridge.ErrUnsupportedFormat, CodeUnsupportedFormat},
		{bridge.ErrNoExternalSemaphore, CodeNoSemaphore},
		{bridge.ErrUUIDMismatch, CodeNoDevice},
		{bridge.ErrNoVulkan, CodeNoDevice},
	} {
		if errors.Is(err, m.err) {
			return perr(m.code, "%v", err)
		}
	}
	return perr(CodeInternal, "%v", err)
}
