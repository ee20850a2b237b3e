package broker

import (
	"errors"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/internal/fdutil"
	"github.com/glbridge/glbridge/vkalloc"
)

// This file is the fences whose timeline semaphore the broker allocated
// (CREATE_FENCE with SERVICE, docs/protocol.md): a GL process with
// GL_EXT_semaphore_fd and GL_NV_timeline_semaphore but no Vulkan of its
// own (the GL-only processes ALLOCATE serves) gets a fence on the GPU.
// It imports the semaphore into GL for its GPU waits and signals, and its
// CPU signals, waits and reads, which GL cannot do on a semaphore, are
// the broker's, on its own VkSemaphore: SIGNAL_FENCE signals it (or, for
// a lower value, raises the offset, as a client's REBASE does),
// WAIT_FENCE waits on it, GET_FENCE reads it. So both kinds of opener
// work on one such fence: a Vulkan process imports the fd and works on
// the semaphore itself, a GL-only one through the broker.

// createFenceService is bit 0 of CREATE_FENCE's flags: the broker
// allocates the fence's timeline semaphore on its helper device of the
// request's device UUIDs.
const createFenceService = 1

// serviceWaitSlice bounds each vkWaitSemaphores of a WAIT_FENCE the
// broker waits on a semaphore for, so that a wait whose handle closed, or
// whose fence's offset moved, is noticed, and the semaphore is never
// destroyed under a wait.
const serviceWaitSlice = 50 * time.Millisecond

// serviceSemaphore is a service fence's semaphore, with the waits on it
// in progress: it is destroyed only after they have returned.
type serviceSemaphore struct {
	sem   *vkalloc.Semaphore
	waits sync.WaitGroup
}

// Close waits for the waits on s to return (they see their waiter gone
// within a slice) and destroys the semaphore.
func (s *serviceSemaphore) Close() error {
	s.waits.Wait()
	return s.sem.Close()
}

// createServiceFence is CREATE_FENCE with SERVICE. Like ALLOCATE it holds
// b.mu only to book and register, not while the device works.
func (b *Broker) createServiceFence(c *brokerConn, q request) ([]byte, []int, error) {
	b.mu.Lock()
	err := b.roomForResource(c, 0)
	b.mu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	dev, err := b.devices.open(q.Device)
	if err != nil {
		return nil, nil, err
	}
	caps := dev.Caps()
	if !caps.TimelineSemaphoreFD {
		return nil, nil, perr(CodeNoSemaphore, "%s exports no timeline semaphores as fds", caps.DeviceName)
	}
	sem, err := vkalloc.NewSemaphore(dev, true)
	if err != nil {
		return nil, nil, codeOf(err)
	}
	fd := -1
	if q.Value > 0 {
		err = sem.Signal(q.Value)
	}
	if err == nil {
		fd, err = sem.ExportFD()
	}
	if err != nil {
		sem.Close()
		return nil, nil, codeOf(err)
	}
	ss := &serviceSemaphore{sem: sem}
	_, unlock := b.lock()
	defer unlock()
	if err := b.roomForResource(c, 0); err != nil || b.closed || c.dead {
		b.graveyard = append(b.graveyard, ss)
		fdutil.CloseAll([]int{fd})
		if err == nil {
			err = perr(CodeInternal, "broker is shutting down")
		}
		return nil, nil, err
	}
	res := b.register(c, bridge.Allocation{}, -1, []syncObj{{fd: fd, kind: syncTimeline}}, nil)
	res.gl = glSection{}
	res.fence = &fenceState{value: q.Value, service: ss}
	res.owned, res.allocDevice = []io.Closer{ss}, caps.DeviceName
	fds, err := res.dupFDs()
	if err != nil {
		b.unregister(c, res)
		return nil, nil, err
	}
	c.log.Debug("service fence created", "handle", res.kmt, "value", q.Value, "device", caps.DeviceName)
	return fixedPayload(uint32(res.kmt), 0), fds, nil
}

// readService brings f's value up to its semaphore's, where the broker
// holds the semaphore: GPU signals do not pass through the broker.
func (f *fenceState) readService() {
	if f.service == nil {
		return
	}
	if p, err := f.service.sem.Value(); err == nil && p >= f.offset {
		f.value = p - f.offset
	}
}

// signalService is a SIGNAL_FENCE with HOST of a service fence: the
// semaphore goes to value (plus the offset), or, for a value below the
// current one, the offset rises by the difference and the semaphore stays.
// Only a client that asks gets it: one with the semaphore signals it
// itself, and the broker, whose read of the counter may trail that
// signal, must then not signal a value the semaphore may have passed.
func (f *fenceState) signalService(value uint64) error {
	p, err := f.service.sem.Value()
	if err != nil {
		return codeOf(err)
	}
	switch cur := p - f.offset; {
	case value > cur:
		if err := f.service.sem.Signal(value + f.offset); err != nil {
			return codeOf(err)
		}
	case value < cur:
		f.offset = p - value
	}
	return nil
}

// waitService parks w, a WAIT_FENCE of res (a service fence) that its
// value does not meet yet, and waits on the semaphore for it on a
// goroutine of its own, in slices, until the value is reached (answered
// with it), the deadline passes (TIMEOUT), or w is taken off the waiters
// (its handle closed: leaveFence answered it).
func (b *Broker) waitService(res *resource, w *fenceWaiter, timeoutMS uint32) {
	f := res.fence
	ss := f.service
	ss.waits.Add(1)
	deadline := time.Time{}
	if timeoutMS != infiniteTimeoutMS {
		deadline = time.Now().Add(time.Duration(timeoutMS) * time.Millisecond)
	}
	go func() {
		defer ss.waits.Done()
		for {
			b.mu.Lock()
			if !slices.Contains(f.waiters, w) {
				b.mu.Unlock()
				return
			}
			target := w.value + f.offset
			b.mu.Unlock()
			slice := serviceWaitSlice
			if !deadline.IsZero() {
				slice = min(slice, max(time.Until(deadline), 0))
			}
			err := ss.sem.Wait(target, uint64(slice))
			if err != nil && !errors.Is(err, bridge.ErrTimeout) {
				b.answerServiceWait(res, w, err)
				return
			}
			if b.answerServiceWait(res, w, nil) {
				return
			}
			if !deadline.IsZero() && !time.Now().Before(deadline) {
				b.answerServiceWait(res, w, fenceTimeout(res, w.value))
				return
			}
		}
	}()
}

// answerServiceWait answers w with err, or, for nil, with the fence's
// value if it reached w's (reporting whether it did); nothing if w is no
// longer waiting.
func (b *Broker) answerServiceWait(res *resource, w *fenceWaiter, err error) bool {
	late, unlock := b.lock()
	defer unlock()
	f := res.fence
	if !slices.Contains(f.waiters, w) {
		return true
	}
	if err == nil {
		f.readService()
		if f.value < w.value {
			return false
		}
	}
	f.dropWaiter(w)
	if err != nil {
		be, ok := err.(*Error)
		if !ok {
			be = codeOf(err)
		}
		b.queueLate(late, w.owner.c, errorReply(w.req, be.Code, be.Detail))
	} else {
		b.queueLate(late, w.owner.c, replyTo(w.req, 0, f.valueReply(), 0))
	}
	return true
}

// dropWaiter takes w off f's waiters and its connection's count, and
// reports whether it was waiting (a timer or a wait that fired after its
// answer finds it gone).
func (f *fenceState) dropWaiter(w *fenceWaiter) bool {
	i := slices.Index(f.waiters, w)
	if i < 0 {
		return false
	}
	f.waiters = slices.Delete(f.waiters, i, i+1)
	w.owner.c.fenceWaits--
	return true
}

// adoptServiceFence makes res, a fence restored with its semaphore,
// a service fence again: the broker imports the semaphore on its helper
// device of id. It runs under b.mu, in the restore window (opening the
// device takes a moment, once). A broker that cannot leaves it a client's
// timeline fence, which Vulkan holders use as before; a process without
// Vulkan then has the broker's value only, and is told in the log.
func (b *Broker) adoptServiceFence(res *resource, id bridge.DeviceID) {
	dev, err := b.devices.open(id)
	if err == nil {
		var fd int
		if fd, err = fdutil.Dup(res.syncs[0].fd); err == nil {
			var sem *vkalloc.Semaphore
			if sem, err = vkalloc.ImportSemaphore(dev, fd, true); err != nil {
				fdutil.CloseAll([]int{fd})
			} else {
				ss := &serviceSemaphore{sem: sem}
				res.fence.service = ss
				res.owned = append(res.owned, ss)
				res.allocDevice = dev.Caps().DeviceName
				return
			}
		}
	}
	b.logger().Warn("a restored service fence's semaphore could not be imported: CPU signals and waits of processes without Vulkan see the broker's value only", "kmt", res.kmt, "err", err)
}

// CreateFenceService registers a fence of value initial whose timeline
// semaphore the broker allocates on its helper device of dev (the GL
// context's UUIDs), for a process without Vulkan: import fd, a new fd the
// caller owns, into GL (GL_EXT_semaphore_fd) for GPU waits and signals;
// SignalFence, WaitFence and GetFence then work on the semaphore through
// the broker. It returns the KMT handle, which this connection holds. A
// broker without such a device is CodeNoDevice, one whose device shares
// no timeline semaphores CodeNoSemaphore.
func (c *Client) CreateFenceService(initial uint64, dev bridge.DeviceID) (kmt bridge.Handle, fd int, err error) {
	q := request{header: header{Type: msgCreateFence}, FenceFlags: createFenceService, Kind: syncTimeline, Value: initial, Device: dev}
	r, err := c.roundTrip("create service fence", q, nil)
	if err != nil {
		return 0, -1, err
	}
	if err := r.checkFDs(1); err != nil {
		return 0, -1, r.fail("create service fence", err)
	}
	if len(r.payload) != 8 {
		return 0, -1, r.fail("create service fence", perr(CodeBadMessage, "reply of %d bytes, want 8", len(r.payload)))
	}
	return bridge.Handle(le.Uint32(r.payload)), r.fds[0], nil
}
