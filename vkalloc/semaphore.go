package vkalloc

import (
	"fmt"
	"sync"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/internal/vk"
	"github.com/glbridge/glbridge/internal/vkdevice"
)

// Semaphore is a binary or timeline semaphore that crosses API and process
// boundaries as an opaque fd: GL imports it with GL_EXT_semaphore_fd,
// other Vulkan devices with VK_KHR_external_semaphore_fd.
type Semaphore struct {
	dev      *helperdev.Device
	vkd      vk.Device
	sem      vk.Semaphore
	timeline bool

	mu     sync.Mutex
	closed bool
}

func checkSemaphoreCaps(dev *helperdev.Device, timeline bool) error {
	c := dev.Caps()
	if timeline && !c.TimelineSemaphoreFD {
		return fmt.Errorf("vkalloc: %w: %q cannot share timeline semaphores as fds", bridge.ErrNoExternalSemaphore, c.DeviceName)
	}
	if !timeline && !c.ExternalSemaphoreFD {
		return fmt.Errorf("vkalloc: %w: %q cannot share semaphores as fds", bridge.ErrNoExternalSemaphore, c.DeviceName)
	}
	return nil
}

// NewSemaphore creates an exportable semaphore; a timeline one starts at
// value 0. The caller owns it and must Close it.
func NewSemaphore(dev *helperdev.Device, timeline bool) (*Semaphore, error) {
	if err := checkSemaphoreCaps(dev, timeline); err != nil {
		return nil, err
	}
	vkd, _, err := binding(dev)
	if err != nil {
		return nil, fmt.Errorf("vkalloc: %w", err)
	}
	s, err := vkd.CreateSemaphore(vk.ExternalSemaphoreHandleTypeOpaqueFDBit, timeline, 0)
	if err != nil {
		return nil, fmt.Errorf("vkalloc: %w", err)
	}
	return &Semaphore{dev: dev, vkd: vkd, sem: s, timeline: timeline}, nil
}

// ImportSemaphore opens on dev a semaphore exported elsewhere. On success
// the Semaphore owns fd; on failure the caller still does.
func ImportSemaphore(dev *helperdev.Device, fd int, timeline bool) (*Semaphore, error) {
	if err := checkSemaphoreCaps(dev, timeline); err != nil {
		return nil, err
	}
	vkd, _, err := binding(dev)
	if err != nil {
		return nil, fmt.Errorf("vkalloc: %w", err)
	}
	s, err := vkd.CreateSemaphore(0, timeline, 0)
	if err != nil {
		return nil, fmt.Errorf("vkalloc: %w", err)
	}
	if err := vkd.ImportSemaphoreFD(s, vk.ExternalSemaphoreHandleTypeOpaqueFDBit, 0, fd); err != nil {
		vkd.DestroySemaphore(s)
		return nil, fmt.Errorf("vkalloc: %w", err)
	}
	return &Semaphore{dev: dev, vkd: vkd, sem: s, timeline: timeline}, nil
}

// Timeline reports whether s is a timeline semaphore.
func (s *Semaphore) Timeline() bool { return s.timeline }

func (s *Semaphore) live() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("vkalloc: semaphore: %w", bridge.ErrClosed)
	}
	return nil
}

// ExportFD returns a new opaque fd for s; the caller owns it.
func (s *Semaphore) ExportFD() (int, error) {
	if err := s.live(); err != nil {
		return -1, err
	}
	fd, err := s.vkd.GetSemaphoreFD(s.sem, vk.ExternalSemaphoreHandleTypeOpaqueFDBit)
	if err != nil {
		return -1, fmt.Errorf("vkalloc: %w", err)
	}
	return fd, nil
}

// Value returns a timeline semaphore's current value.
func (s *Semaphore) Value() (uint64, error) {
	if err := s.live(); err != nil {
		return 0, err
	}
	v, err := s.vkd.SemaphoreValue(s.sem)
	if err != nil {
		return 0, fmt.Errorf("vkalloc: %w", err)
	}
	return v, nil
}

// Wait blocks until a timeline semaphore reaches value, or timeoutNs
// passes (an error wrapping bridge.ErrTimeout).
func (s *Semaphore) Wait(value, timeoutNs uint64) error {
	if err := s.live(); err != nil {
		return err
	}
	if err := s.vkd.WaitSemaphore(s.sem, value, timeoutNs); err != nil {
		return fmt.Errorf("vkalloc: %w", err)
	}
	return nil
}

// Signal sets a timeline semaphore to value from the host.
func (s *Semaphore) Signal(value uint64) error {
	if err := s.live(); err != nil {
		return err
	}
	if err := s.vkd.SignalSemaphore(s.sem, value); err != nil {
		return fmt.Errorf("vkalloc: %w", err)
	}
	return nil
}

// Close destroys s. It is idempotent; the semaphore must not be pending in
// a submission (glbridge's submissions complete before they return).
func (s *Semaphore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.vkd.DestroySemaphore(s.sem)
	return nil
}

// Handle returns the VkSemaphore, a non-dispatchable handle on the device
// it was made or imported on, for the caller's own submissions. It stays
// the Semaphore's: Close destroys it.
func (s *Semaphore) Handle() uint64 { return uint64(s.sem) }

// SubmitSync submits to dev's queue a batch of no commands that waits for
// and signals what sync says, and returns once it completed. A signal in
// it is ordered after all the work submitted to the queue before (a
// semaphore signal's first synchronisation scope is everything earlier in
// submission order), which is ID3D12CommandQueue::Signal on a queue the
// caller shares with glbridge (helperdev.Adopt).
func SubmitSync(dev *helperdev.Device, sync Sync) error {
	wait, signal, timeline := sync.ops(dev)
	if err := vkdevice.Of(dev).Submit(func(vkdevice.Commands) {}, wait, signal, timeline); err != nil {
		return fmt.Errorf("vkalloc: SubmitSync: %w", err)
	}
	return nil
}

// SemaphoreValue names one semaphore wait or signal of an access: Value
// is the timeline value and is ignored for binary semaphores.
type SemaphoreValue struct {
	Semaphore *Semaphore
	Value     uint64
}

// Sync is what one Vulkan access waits for before it starts and signals
// when it is done. The zero Sync waits for and signals nothing: the
// fallback path, where the other side has finished before the access
// begins and every access here completes before it returns.
type Sync struct {
	Wait   []SemaphoreValue
	Signal []SemaphoreValue
}

func (sy Sync) ops(dev *helperdev.Device) (wait, signal []vk.SemaphoreSubmit, timeline bool) {
	kinds := map[bool]bool{}
	for _, w := range sy.Wait {
		if w.Semaphore.dev != dev {
			panic("vkalloc: Sync semaphore of another device")
		}
		kinds[w.Semaphore.timeline] = true
		wait = append(wait, vk.SemaphoreSubmit{Semaphore: w.Semaphore.sem, Value: w.Value, Stage: vk.PipelineStageAllCommandsBit})
	}
	for _, s := range sy.Signal {
		if s.Semaphore.dev != dev {
			panic("vkalloc: Sync semaphore of another device")
		}
		kinds[s.Semaphore.timeline] = true
		signal = append(signal, vk.SemaphoreSubmit{Semaphore: s.Semaphore.sem, Value: s.Value})
	}
	if len(kinds) > 1 {
		panic("vkalloc: Sync mixes binary and timeline semaphores")
	}
	return wait, signal, kinds[true]
}
