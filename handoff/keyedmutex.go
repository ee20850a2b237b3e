package handoff

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/glimport"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/internal/fdutil"
	"github.com/glbridge/glbridge/vkalloc"
)

// KeyedMutex is one process's side of a resource's keyed mutex, with
// IDXGIKeyedMutex semantics: AcquireSync(key) succeeds once the resource
// was last released with key, ReleaseSync(key) hands it to whoever
// acquires key next. The broker keeps the mutex, so it orders accesses
// across processes and APIs; a holder's death abandons it.
//
// The GPU side follows the path: with a timeline semaphore shared through
// the broker (PathTimeline) the acquirer's GPU work waits for the value
// the releaser's GPU work signals, and nothing waits on the CPU; on
// PathFallback the releaser waits on the CPU until its GPU work is done
// before it releases, so the next holder may start at once.
//
// A KeyedMutex serves either a GL view (NewKeyedMutexGL, whose methods run
// on the GL thread) or a Vulkan view (NewKeyedMutexVulkan) of the resource.
type KeyedMutex struct {
	client *broker.Client
	handle bridge.Handle
	path   Path

	// GL view
	texture *glimport.Texture
	glSem   *glimport.Semaphore
	// Vulkan view
	vkSem *vkalloc.Semaphore

	held  bool
	value uint64 // the value the current holder waits for
}

// timelineSync returns the resource's timeline semaphore fd, if it has one.
func timelineSync(syncs []broker.SyncFD) (int, bool) {
	for _, s := range syncs {
		if s.Timeline {
			return s.FD, true
		}
	}
	return -1, false
}

// NewKeyedMutexGL sets up the keyed mutex of the resource opened through
// h, for GL accesses to tex. syncs are the semaphore fds the open returned;
// they stay the caller's (the timeline one is imported as a dup). It uses
// the timeline path when the resource carries a timeline semaphore and id
// can import it, the fallback otherwise. It must run on the GL thread.
func NewKeyedMutexGL(c *broker.Client, h bridge.Handle, tex *glimport.Texture, id glimport.Identity, syncs []broker.SyncFD) (*KeyedMutex, error) {
	m := &KeyedMutex{client: c, handle: h, path: PathFallback, texture: tex}
	if fd, ok := timelineSync(syncs); ok && id.SemaphoreFD && id.TimelineSemaphore && !forcedFallback() {
		s, err := glimport.ImportSemaphore(fd, true)
		if err != nil {
			return nil, fmt.Errorf("handoff: keyed mutex: %w", err)
		}
		m.glSem, m.path = s, PathTimeline
	}
	return m, nil
}

// NewKeyedMutexVulkan sets up the keyed mutex of the resource opened
// through h, for Vulkan accesses on dev. syncs stay the caller's.
func NewKeyedMutexVulkan(c *broker.Client, h bridge.Handle, dev *helperdev.Device, syncs []broker.SyncFD) (*KeyedMutex, error) {
	m := &KeyedMutex{client: c, handle: h, path: PathFallback}
	if fd, ok := timelineSync(syncs); ok && dev.Caps().TimelineSemaphoreFD && !forcedFallback() {
		dup, err := fdutil.Dup(fd)
		if err != nil {
			return nil, fmt.Errorf("handoff: keyed mutex: %w", err)
		}
		s, err := vkalloc.ImportSemaphore(dev, dup, true)
		if err != nil {
			unix.Close(dup)
			return nil, fmt.Errorf("handoff: keyed mutex: %w", err)
		}
		m.vkSem, m.path = s, PathTimeline
	}
	return m, nil
}

// NewTimelineSync makes the timeline semaphore a resource's keyed mutex
// uses on the GPU, for the creator to pass to broker.Client.CreateWithSync.
// It returns nothing (and no error) where the helper device cannot share
// timeline semaphores: the keyed mutex then uses the fallback path. The
// caller owns the Semaphore and the fd in the SyncFD.
func NewTimelineSync(dev *helperdev.Device) (*vkalloc.Semaphore, []broker.SyncFD, error) {
	if !dev.Caps().TimelineSemaphoreFD || forcedFallback() {
		return nil, nil, nil
	}
	s, fd, err := exportedSemaphore(dev, true)
	if err != nil {
		return nil, nil, err
	}
	return s, []broker.SyncFD{{FD: fd, Timeline: true}}, nil
}

// Path returns the path in use.
func (m *KeyedMutex) Path() Path { return m.path }

func (m *KeyedMutex) acquire(key uint64, timeout time.Duration) (abandoned bool, err error) {
	if m.held {
		panic("handoff: AcquireSync while this KeyedMutex holds the mutex")
	}
	r, err := m.client.AcquireSync(m.handle, key, timeout)
	if err != nil {
		return false, fmt.Errorf("handoff: AcquireSync(%d): %w", key, err)
	}
	m.held, m.value = true, r.Value
	return r.Abandoned, nil
}

func (m *KeyedMutex) release(key, value uint64) error {
	if !m.held {
		panic("handoff: ReleaseSync without AcquireSync")
	}
	m.held = false
	if err := m.client.ReleaseSync(m.handle, key, value); err != nil {
		return fmt.Errorf("handoff: ReleaseSync(%d): %w", key, err)
	}
	return nil
}

// AcquireGL acquires the mutex with key for a GL access, waiting up to
// timeout (broker.InfiniteTimeout for ever); a timeout is an error
// wrapping bridge.ErrTimeout. abandoned reports that the last holder died
// holding it. On the timeline path GL then waits, on the GPU, for the
// previous holder's work. It must run on the GL thread.
func (m *KeyedMutex) AcquireGL(key uint64, timeout time.Duration) (abandoned bool, err error) {
	if m.texture == nil {
		panic("handoff: AcquireGL on a Vulkan KeyedMutex")
	}
	if abandoned, err = m.acquire(key, timeout); err != nil {
		return false, err
	}
	if m.path == PathTimeline && m.value > 0 {
		if err := m.glSem.Wait(m.value, nil, []glimport.TextureLayout{{Texture: m.texture, Layout: glimport.LayoutGeneral}}); err != nil {
			// The GPU wait was not queued; give the mutex back unchanged.
			m.release(key, m.value)
			return false, fmt.Errorf("handoff: AcquireGL: %w", err)
		}
	}
	return abandoned, nil
}

// ReleaseGL ends the GL access and releases the mutex with key. On the
// timeline path GL signals the next value (and flushes) and the broker
// passes it to the next holder; on the fallback path ReleaseGL first waits
// until GL has finished. It must run on the GL thread.
func (m *KeyedMutex) ReleaseGL(key uint64) error {
	if m.texture == nil {
		panic("handoff: ReleaseGL on a Vulkan KeyedMutex")
	}
	next := m.value
	switch m.path {
	case PathTimeline:
		if err := m.glSem.Signal(m.value+1, nil, []glimport.TextureLayout{{Texture: m.texture, Layout: glimport.LayoutGeneral}}); err != nil {
			m.release(key, m.value)
			return fmt.Errorf("handoff: ReleaseGL: %w", err)
		}
		next = m.value + 1
	case PathFallback:
		if err := FinishGL(); err != nil {
			m.release(key, m.value)
			return fmt.Errorf("handoff: ReleaseGL: %w", err)
		}
	}
	return m.release(key, next)
}

// AcquireVulkan acquires the mutex with key for one Vulkan operation and
// returns the Sync to give it. Call ReleaseVulkan with the operation's
// error afterwards.
func (m *KeyedMutex) AcquireVulkan(key uint64, timeout time.Duration) (sync vkalloc.Sync, abandoned bool, err error) {
	if m.texture != nil {
		panic("handoff: AcquireVulkan on a GL KeyedMutex")
	}
	if abandoned, err = m.acquire(key, timeout); err != nil {
		return vkalloc.Sync{}, false, err
	}
	if m.path == PathTimeline {
		if m.value > 0 {
			sync.Wait = []vkalloc.SemaphoreValue{{Semaphore: m.vkSem, Value: m.value}}
		}
		sync.Signal = []vkalloc.SemaphoreValue{{Semaphore: m.vkSem, Value: m.value + 1}}
	}
	return sync, abandoned, nil
}

// ReleaseVulkan releases the mutex with key after the Vulkan operation
// that used AcquireVulkan's Sync; opErr is its error (a failed operation
// signalled nothing, so the next holder waits for the old value).
func (m *KeyedMutex) ReleaseVulkan(key uint64, opErr error) error {
	if m.texture != nil {
		panic("handoff: ReleaseVulkan on a GL KeyedMutex")
	}
	next := m.value
	if m.path == PathTimeline && opErr == nil {
		next = m.value + 1
	}
	// vkalloc operations complete before they return, so the fallback
	// path has nothing left to wait for.
	return m.release(key, next)
}

// Close releases the semaphore this side imported; the caller closes the
// handle and the broker.Client. On the GL side it must run on the GL
// thread. It is idempotent.
func (m *KeyedMutex) Close() error {
	if m.glSem != nil {
		m.glSem.Close()
		m.glSem = nil
	}
	if m.vkSem != nil {
		m.vkSem.Close()
		m.vkSem = nil
	}
	return nil
}
