package share

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/glimport"
	"github.com/glbridge/glbridge/handoff"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/internal/fdutil"
	"github.com/glbridge/glbridge/vkalloc"
)

// Fence is a shared fence (ID3D11Fence, ID3D12Fence, a D3DKMT
// synchronization object): a 64-bit value that one process signals and
// others wait for, opened by KMT handle or name through the broker
// (docs/protocol.md, "Fences").
//
// It works on one of two paths, fixed when the fence is created:
//
//   - Timeline: where GL has GL_EXT_semaphore_fd and GL_NV_timeline_semaphore
//     (or the process is Vulkan's) and the Vulkan device shares timeline
//     semaphores as fds, the fence is a timeline semaphore that the broker
//     hands every opener. GPU waits and signals (WaitGL, SignalGL) run on
//     the GPU; CPU ones on the semaphore, imported into Vulkan.
//   - Service: a GL process without a Vulkan device of its own (the
//     service-allocation processes, Options.Service) whose GL has both
//     extensions gets a timeline semaphore the broker allocates and holds:
//     GL imports it for WaitGL and SignalGL, and the CPU's Signal, Wait and
//     Value are the broker's, on its semaphore. A Vulkan process opening
//     the fence uses the semaphore itself, as on the timeline path.
//   - Broker: on drivers without semaphore fds (Mesa 22.3's llvmpipe and
//     lavapipe) or under GLBRIDGE_FORCE_FALLBACK=1, the broker keeps the
//     value: Signal and Wait are broker calls, and SignalGL first waits for
//     GL to finish what it was given (handoff.FinishGL), WaitGL waits on
//     the CPU.
//
// A process that cannot use a timeline fence's semaphore cannot open it
// (an error wrapping bridge.ErrNoExternalSemaphore): both sides of a fence
// must be on one path, as a broker value cannot see GPU signals.
//
// D3D12 allows signalling a lower value than the current one; a timeline
// semaphore cannot go down. So, as vkd3d-proton does, the semaphore's
// value is the fence's plus an offset that the broker keeps and only
// raises: a lowering on the timeline path raises it (the semaphore stays
// where it is), and every GPU wait or signal asks the broker for the
// offset first. A lowering races with GPU work already queued against the
// old values, as on D3D12; order them as there.
//
// Methods without GL in their name may be called from any goroutine;
// SignalGL, WaitGL and a GL fence's Close run on the thread of the GL
// context it was made or opened on.
type Fence struct {
	c   *broker.Client
	h   bridge.Handle
	kmt bridge.Handle
	// dev is the process's Vulkan device (nil for none), whose queue
	// SignalVulkan signals on.
	dev *helperdev.Device
	// vk is the semaphore on a Vulkan device of this process (the
	// timeline path): the creator's own, or its import. gl is its import
	// into GL (a GL fence on the timeline path), which belongs to the GL
	// context.
	vk *vkalloc.Semaphore
	gl *glimport.Semaphore

	mu     sync.Mutex
	closed bool
}

// fenceTimeline says whether a process with this GL identity (nil for a
// Vulkan process) and device can use a timeline fence.
func fenceTimeline(id *glimport.Identity, dev *helperdev.Device) error {
	if err := forcedFallback(); err != nil {
		return err
	}
	switch {
	case dev == nil:
		return fmt.Errorf("%w: no Vulkan device in this process to wait for a semaphore on the CPU", bridge.ErrNoExternalSemaphore)
	case !dev.Caps().TimelineSemaphoreFD:
		return fmt.Errorf("%w: %q cannot share timeline semaphores as fds", bridge.ErrNoExternalSemaphore, dev.Caps().DeviceName)
	case id != nil:
		return glTimelineSemaphores(id)
	}
	return nil
}

// forcedFallback refuses every fence semaphore under
// GLBRIDGE_FORCE_FALLBACK=1.
func forcedFallback() error {
	if os.Getenv(handoff.ForceFallbackEnv) == "1" {
		return fmt.Errorf("%w: %s=1", bridge.ErrNoExternalSemaphore, handoff.ForceFallbackEnv)
	}
	return nil
}

// glTimelineSemaphores says whether GL imports timeline semaphores.
func glTimelineSemaphores(id *glimport.Identity) error {
	if !(id.SemaphoreFD && id.TimelineSemaphore) {
		return fmt.Errorf("%w: GL %q lacks GL_EXT_semaphore_fd or GL_NV_timeline_semaphore", bridge.ErrNoExternalSemaphore, id.Renderer)
	}
	return nil
}

// CreateFence makes a fence of initial value, registered through c (which
// holds it through its KMT handle, Fence.KMT); share it by name with
// c.Share(f.KMT(), access, name). It is a timeline semaphore where GL and
// this process's Vulkan device can share one, else a broker value. It runs
// on the GL thread (the semaphore is imported into GL there). The caller
// owns the Fence and must Close it, on that thread, before the GL.
func (g *GL) CreateFence(c *broker.Client, initial uint64) (*Fence, error) {
	if err := g.live("CreateFence"); err != nil {
		return nil, err
	}
	if g.dev == nil && serviceFence(&g.id) == nil {
		f, err := createServiceFence(c, initial, g.id.Device)
		if err == nil || !errors.Is(err, bridge.ErrNoExternalSemaphore) && !errors.Is(err, bridge.ErrNoVulkan) {
			return f, err
		}
		// A broker without a device that shares timeline semaphores:
		// the broker keeps the value.
	}
	return createFence(c, initial, fenceTimeline(&g.id, g.dev) == nil, g.dev, true)
}

// serviceFence says whether a GL process without a Vulkan device can use
// a fence whose semaphore the broker holds (a service fence): GL imports
// it for the GPU's waits and signals, the broker does the CPU's.
func serviceFence(id *glimport.Identity) error {
	if err := forcedFallback(); err != nil {
		return err
	}
	return glTimelineSemaphores(id)
}

// createServiceFence makes a service fence on the broker's helper device
// of dev and imports its semaphore into GL.
func createServiceFence(c *broker.Client, initial uint64, dev bridge.DeviceID) (*Fence, error) {
	kmt, fd, err := c.CreateFenceService(initial, dev)
	if err != nil {
		return nil, fmt.Errorf("share: CreateFence: %w", err)
	}
	defer unix.Close(fd) // GL imports a dup
	f := &Fence{c: c, h: kmt, kmt: kmt}
	if f.gl, err = glimport.ImportSemaphore(fd, true); err != nil {
		c.CloseHandle(kmt)
		return nil, fmt.Errorf("share: CreateFence: %w", err)
	}
	return f, nil
}

// CreateFence is GL.CreateFence for a Vulkan process: a timeline semaphore
// on v's device where it shares them, else a broker value. It may be
// called from any goroutine.
func (v *Vulkan) CreateFence(c *broker.Client, initial uint64) (*Fence, error) {
	if err := v.live("CreateFence"); err != nil {
		return nil, err
	}
	return createFence(c, initial, fenceTimeline(nil, v.dev) == nil, v.dev, false)
}

func createFence(c *broker.Client, initial uint64, timeline bool, dev *helperdev.Device, withGL bool) (*Fence, error) {
	if !timeline {
		kmt, err := c.CreateFence(initial, -1)
		if err != nil {
			return nil, fmt.Errorf("share: CreateFence: %w", err)
		}
		return &Fence{c: c, h: kmt, kmt: kmt, dev: dev}, nil
	}
	sem, err := vkalloc.NewSemaphore(dev, true)
	if err != nil {
		return nil, fmt.Errorf("share: CreateFence: %w", err)
	}
	f := &Fence{c: c, vk: sem, dev: dev}
	fail := func(err error) (*Fence, error) {
		f.releaseSemaphores()
		return nil, fmt.Errorf("share: CreateFence: %w", err)
	}
	if initial > 0 {
		if err := sem.Signal(initial); err != nil {
			return fail(err)
		}
	}
	// The exported fd is ours: GL imports a dup of it and the broker
	// keeps a copy, so it is closed whatever happens.
	fd, err := sem.ExportFD()
	if err != nil {
		return fail(err)
	}
	defer unix.Close(fd)
	if withGL {
		if f.gl, err = glimport.ImportSemaphore(fd, true); err != nil {
			return fail(err)
		}
	}
	if f.kmt, err = c.CreateFence(initial, fd); err != nil {
		return fail(err)
	}
	f.h = f.kmt
	return f, nil
}

// OpenFence opens what c.OpenFenceKMT, OpenFenceName or OpenFenceDuplicate
// returned; bf.FD stays the caller's (OpenFence imports dups). The fence
// holds bf.Handle, which Close closes. It runs on the GL thread.
func (g *GL) OpenFence(c *broker.Client, bf broker.Fence) (*Fence, error) {
	if err := g.live("OpenFence"); err != nil {
		return nil, err
	}
	if g.dev == nil && bf.FD >= 0 && bf.Service && serviceFence(&g.id) == nil {
		// The broker holds the semaphore: GL imports it for the GPU, the
		// broker does the CPU's signals and waits on it.
		f := &Fence{c: c, h: bf.Handle, kmt: bf.KMT}
		var err error
		if f.gl, err = glimport.ImportSemaphore(bf.FD, true); err != nil {
			return nil, fmt.Errorf("share: OpenFence %v: %w", bf.KMT, err)
		}
		return f, nil
	}
	return openFence(c, bf, func() error { return fenceTimeline(&g.id, g.dev) }, g.dev, true)
}

// OpenFence is GL.OpenFence for a Vulkan process.
func (v *Vulkan) OpenFence(c *broker.Client, bf broker.Fence) (*Fence, error) {
	if err := v.live("OpenFence"); err != nil {
		return nil, err
	}
	return openFence(c, bf, func() error { return fenceTimeline(nil, v.dev) }, v.dev, false)
}

// OpenFenceByName opens the fence shared under name with access through
// c (see broker.Client.OpenFenceName), on the GL thread.
func (g *GL) OpenFenceByName(c *broker.Client, name string, access bridge.Access) (*Fence, error) {
	bf, err := c.OpenFenceName(name, access)
	if err != nil {
		return nil, fmt.Errorf("share: OpenFence: %w", err)
	}
	return openedFence(c, bf, g.OpenFence)
}

// OpenFenceByName is GL.OpenFenceByName for a Vulkan process.
func (v *Vulkan) OpenFenceByName(c *broker.Client, name string, access bridge.Access) (*Fence, error) {
	bf, err := c.OpenFenceName(name, access)
	if err != nil {
		return nil, fmt.Errorf("share: OpenFence: %w", err)
	}
	return openedFence(c, bf, v.OpenFence)
}

// openedFence opens bf and then closes its fd, and its handle on failure.
func openedFence(c *broker.Client, bf broker.Fence, open func(*broker.Client, broker.Fence) (*Fence, error)) (*Fence, error) {
	if bf.FD >= 0 {
		defer unix.Close(bf.FD)
	}
	f, err := open(c, bf)
	if err != nil {
		c.CloseHandle(bf.Handle)
	}
	return f, err
}

func openFence(c *broker.Client, bf broker.Fence, can func() error, dev *helperdev.Device, withGL bool) (*Fence, error) {
	f := &Fence{c: c, h: bf.Handle, kmt: bf.KMT, dev: dev}
	if bf.FD < 0 {
		return f, nil
	}
	if err := can(); err != nil {
		return nil, fmt.Errorf("share: OpenFence %v: it is a timeline semaphore, which this process cannot use: %w", bf.KMT, err)
	}
	fail := func(err error) (*Fence, error) {
		f.releaseSemaphores()
		return nil, fmt.Errorf("share: OpenFence %v: %w", bf.KMT, err)
	}
	dup, err := fdutil.Dup(bf.FD)
	if err != nil {
		return fail(err)
	}
	if f.vk, err = vkalloc.ImportSemaphore(dev, dup, true); err != nil {
		unix.Close(dup) // ImportSemaphore takes it only on success
		return fail(err)
	}
	if withGL {
		if f.gl, err = glimport.ImportSemaphore(bf.FD, true); err != nil {
			return fail(err)
		}
	}
	return f, nil
}

// KMT returns the fence's global handle.
func (f *Fence) KMT() bridge.Handle { return f.kmt }

// Handle returns the handle this process holds the fence through.
func (f *Fence) Handle() bridge.Handle { return f.h }

// Timeline reports whether the fence is a timeline semaphore (the GPU
// path) rather than a value the broker keeps.
func (f *Fence) Timeline() bool { return f.vk != nil || f.gl != nil }

func (f *Fence) live(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return fmt.Errorf("share: Fence.%s: %w", op, bridge.ErrClosed)
	}
	return nil
}

// offset is the broker's offset of the semaphore over the fence's value.
func (f *Fence) offset() (uint64, error) {
	v, err := f.c.GetFence(f.h)
	return v.Offset, err
}

// Value returns the fence's value (ID3D12Fence::GetCompletedValue).
func (f *Fence) Value() (uint64, error) {
	if err := f.live("Value"); err != nil {
		return 0, err
	}
	if f.vk == nil {
		v, err := f.c.GetFence(f.h)
		return v.Value, wrapFence("Value", err)
	}
	off, err := f.offset()
	if err != nil {
		return 0, wrapFence("Value", err)
	}
	p, err := f.vk.Value()
	return p - off, wrapFence("Value", err)
}

// Signal sets the fence to value from the CPU (ID3D12Fence::Signal): a
// lower value than the current one is allowed and sets it. Waiters the
// value reaches return.
func (f *Fence) Signal(value uint64) error {
	if err := f.live("Signal"); err != nil {
		return err
	}
	if f.vk == nil {
		signal := f.c.SignalFence
		if f.gl != nil {
			// A service fence: the broker signals its semaphore.
			signal = f.c.HostSignalFence
		}
		_, err := signal(f.h, value)
		return wrapFence("Signal", err)
	}
	off, err := f.offset()
	if err != nil {
		return wrapFence("Signal", err)
	}
	p, err := f.vk.Value()
	if err != nil {
		return wrapFence("Signal", err)
	}
	switch cur := p - off; {
	case value > cur:
		if err := f.vk.Signal(value + off); err != nil {
			return wrapFence("Signal", err)
		}
		_, err = f.c.SignalFence(f.h, value)
	case value < cur:
		// The semaphore stays at p: the offset grows by what the value
		// went down.
		_, err = f.c.RebaseFence(f.h, value, p-value)
	default:
		_, err = f.c.SignalFence(f.h, value)
	}
	return wrapFence("Signal", err)
}

// Wait blocks until the fence's value is value or more, for at most
// timeout (negative: for ever), and fails with an error wrapping
// bridge.ErrTimeout after it (SetEventOnCompletion and a wait on the
// event).
func (f *Fence) Wait(value uint64, timeout time.Duration) error {
	if err := f.live("Wait"); err != nil {
		return err
	}
	if f.vk == nil {
		_, err := f.c.WaitFence(f.h, value, timeout)
		return wrapFence("Wait", err)
	}
	off, err := f.offset()
	if err != nil {
		return wrapFence("Wait", err)
	}
	ns := uint64(math.MaxUint64)
	if timeout >= 0 {
		ns = uint64(timeout)
	}
	return wrapFence("Wait", f.vk.Wait(value+off, ns))
}

// VulkanSemaphore returns the fence's timeline semaphore on the Vulkan
// device of this process (the helper device, or the caller's own under
// helperdev.Adopt), a VkSemaphore for the caller's own queue submissions:
// ID3D12CommandQueue::Wait and Signal are a wait and a signal of it in a
// VkTimelineSemaphoreSubmitInfo, as vkd3d-proton submits them, of
// VulkanValue(v), not v. ok is false on the broker path, which has no
// semaphore: there use Wait, and SignalVulkan or Signal. The handle stays
// the Fence's and is valid until Close.
func (f *Fence) VulkanSemaphore() (handle uint64, ok bool) {
	if f.vk == nil {
		return 0, false
	}
	return f.vk.Handle(), true
}

// VulkanValue is the semaphore value a GPU wait for or signal of the
// fence's value must use on the timeline path: value plus the offset the
// fence's lowerings added (see Fence). Ask for it before each submission
// that follows a possible lowering. On the broker path it is value.
func (f *Fence) VulkanValue(value uint64) (uint64, error) {
	if err := f.live("VulkanValue"); err != nil {
		return 0, err
	}
	if f.vk == nil {
		return value, nil
	}
	off, err := f.offset()
	return value + off, wrapFence("VulkanValue", err)
}

// SignalVulkan signals value on the Vulkan device's queue once the work
// submitted to it before is done (ID3D12CommandQueue::Signal). On the
// timeline path the GPU signals the semaphore, ordered after that work;
// on the broker path the queue's work is waited for and the broker
// signalled. A value at or below the semaphore's on the timeline path is
// an error: lower a fence with Signal. It returns once the signal is
// done. A process without a Vulkan device gets an error wrapping
// bridge.ErrNoVulkan.
func (f *Fence) SignalVulkan(value uint64) error {
	if err := f.live("SignalVulkan"); err != nil {
		return err
	}
	if f.dev == nil {
		return fmt.Errorf("share: Fence.SignalVulkan: %w", bridge.ErrNoVulkan)
	}
	if f.vk == nil {
		if err := vkalloc.SubmitSync(f.dev, vkalloc.Sync{}); err != nil {
			return wrapFence("SignalVulkan", err)
		}
		return f.Signal(value)
	}
	off, err := f.offset()
	if err != nil {
		return wrapFence("SignalVulkan", err)
	}
	if cur, err := f.vk.Value(); err != nil || value+off <= cur {
		return wrapFence("SignalVulkan", cmp.Or(err, fmt.Errorf("value %d is not above the semaphore's %d (offset %d): lower a fence with Signal", value, cur-off, off)))
	}
	sig := vkalloc.Sync{Signal: []vkalloc.SemaphoreValue{{Semaphore: f.vk, Value: value + off}}}
	return wrapFence("SignalVulkan", vkalloc.SubmitSync(f.dev, sig))
}

// glTextures are the textures a GL semaphore operation names: the
// zero-copy ones among res, in the layout glbridge's images rest in.
func glTextures(res []*GLResource) []glimport.TextureLayout {
	var out []glimport.TextureLayout
	for _, r := range res {
		if r != nil && r.ztex != nil {
			out = append(out, glimport.TextureLayout{Texture: r.ztex, Layout: glimport.LayoutGeneral})
		}
	}
	return out
}

// SignalGL signals value once the GL commands issued so far are done
// (ID3D11DeviceContext4::Signal), naming res, the shared textures they
// wrote, so that the waiter sees their writes. On the timeline path it is
// glSignalSemaphoreEXT (and a flush), and the CPU does not wait; on the
// broker path it waits for GL to finish (handoff.FinishGL) and then
// signals through the broker. A value at or below the semaphore's on the
// timeline path is an error: lower a fence with Signal. It runs on the GL
// thread.
func (f *Fence) SignalGL(value uint64, res ...*GLResource) error {
	if err := f.live("SignalGL"); err != nil {
		return err
	}
	if f.gl == nil {
		if err := handoff.FinishGL(); err != nil {
			return wrapFence("SignalGL", err)
		}
		return f.Signal(value)
	}
	off, err := f.offset()
	if err != nil {
		return wrapFence("SignalGL", err)
	}
	return wrapFence("SignalGL", f.gl.Signal(value+off, nil, glTextures(res)))
}

// WaitGL makes GL's later commands wait for value or more
// (ID3D11DeviceContext4::Wait), naming res, the shared textures the other
// side wrote. On the timeline path it is glWaitSemaphoreEXT and the CPU
// does not block; on the broker path the CPU waits, for at most
// handoff.FenceTimeout. It runs on the GL thread.
func (f *Fence) WaitGL(value uint64, res ...*GLResource) error {
	if err := f.live("WaitGL"); err != nil {
		return err
	}
	if f.gl == nil {
		return f.Wait(value, handoff.FenceTimeout)
	}
	off, err := f.offset()
	if err != nil {
		return wrapFence("WaitGL", err)
	}
	return wrapFence("WaitGL", f.gl.Wait(value+off, nil, glTextures(res)))
}

func wrapFence(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("share: Fence.%s: %w", op, err)
}

// releaseSemaphores destroys what the fence imported or made.
func (f *Fence) releaseSemaphores() {
	if f.gl != nil {
		f.gl.Close()
	}
	if f.vk != nil {
		f.vk.Close()
	}
}

// Close releases the fence's handle on the broker (the fence lives on in
// its other holders) and its semaphores. A GL fence's Close runs on the
// GL thread. It is idempotent.
func (f *Fence) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	f.mu.Unlock()
	f.releaseSemaphores()
	if err := f.c.CloseHandle(f.h); err != nil && !errors.Is(err, bridge.ErrClosed) {
		return fmt.Errorf("share: Fence.Close: %w", err)
	}
	return nil
}
