package broker

import (
	"slices"
	"time"

	"github.com/glbridge/glbridge/bridge"
)

// This file is the broker's side of synchronisation: semaphore fds attached
// to resources, and each resource's keyed mutex with IDXGIKeyedMutex
// semantics (docs/protocol.md, "Keyed mutex"). Everything here runs with
// b.mu held, except sendLate and the waiters' timers, which take it.

// attachSync adds fd, a semaphore of kind q.Kind, to the resource q.Handle
// names. Only the creator may, since every opener trusts the semaphore to
// order its accesses. On success the resource owns fd; on error the caller
// closes it.
func (b *Broker) attachSync(c *brokerConn, q request, fd int) ([]byte, error) {
	res, have, err := b.lookup(c, q.Handle, false)
	if err == nil {
		err = wrongType(q, res)
	}
	if err != nil {
		return nil, err
	}
	if res.creator != c {
		return nil, perr(CodeAccessDenied, "only the creator may attach sync objects to %v", res.kmt)
	}
	if err := needWrite(q.Handle, have, "ATTACH_SYNC"); err != nil {
		return nil, err
	}
	if len(res.syncs) >= MaxSyncObjects {
		return nil, perr(CodeLimit, "%v already has %d sync objects", res.kmt, len(res.syncs))
	}
	if err := checkFD(fd, "sync object"); err != nil {
		return nil, err
	}
	res.syncs = append(res.syncs, syncObj{fd: fd, kind: q.Kind})
	c.log.Debug("sync object attached", "kmt", res.kmt, "kind", q.Kind, "count", len(res.syncs))
	return fixedPayload(uint32(len(res.syncs)), 0), nil
}

// owner is who acquires through handle h of c: for a KMT handle, the
// connection's references through the resource's KMT handle.
func (b *Broker) owner(c *brokerConn, h bridge.Handle, res *resource) mutexOwner {
	if h.IsKMT() {
		h = res.kmt
	}
	return mutexOwner{c, h}
}

// acquire answers ACQUIRE_SYNC at once when the keyed mutex is free and was
// released with q.Key (or abandoned), with TIMEOUT at once for a timeout of
// 0, and otherwise parks the request as a waiter (waiting is true).
func (b *Broker) acquire(c *brokerConn, q request) (payload []byte, waiting bool, err error) {
	res, _, err := b.lookup(c, q.Handle, false)
	if err == nil {
		err = wrongType(q, res)
	}
	if err != nil {
		return nil, false, err
	}
	o := b.owner(c, q.Handle, res)
	res = res.mutexHome()
	m := &res.mutex
	if m.held && m.owner == o {
		return nil, false, perr(CodeInvalid, "keyed mutex of %v is already held through %v", res.kmt, q.Handle)
	}
	if slices.ContainsFunc(m.waiters, func(w *mutexWaiter) bool { return w.owner == o }) {
		return nil, false, perr(CodeInvalid, "an acquire of %v through %v is already waiting", res.kmt, q.Handle)
	}
	if m.grantable(q.Key) {
		return m.take(o), false, nil
	}
	if q.TimeoutMS == 0 {
		return nil, false, b.timeoutErr(res, q.Key)
	}
	w := &mutexWaiter{owner: o, key: q.Key, req: q.header}
	if q.TimeoutMS != infiniteTimeoutMS {
		w.timer = time.AfterFunc(time.Duration(q.TimeoutMS)*time.Millisecond, func() { b.expire(res, w) })
	}
	m.waiters = append(m.waiters, w)
	c.log.Debug("waiting for keyed mutex", "kmt", res.kmt, "key", q.Key, "timeout_ms", q.TimeoutMS, "waiters", len(m.waiters))
	return nil, true, nil
}

func (b *Broker) timeoutErr(res *resource, key uint64) error {
	m := &res.mutex
	if m.held {
		return perr(CodeTimeout, "keyed mutex of %v is held by pid %d; key %d not released to", res.kmt, m.owner.c.pid, key)
	}
	return perr(CodeTimeout, "keyed mutex of %v was released with key %d, not %d", res.kmt, m.lastKey, key)
}

// expire is a waiter's timer: it answers TIMEOUT unless the waiter was
// granted or removed meanwhile (Stop cannot recall a timer that already
// fired, so membership decides).
func (b *Broker) expire(res *resource, w *mutexWaiter) {
	late, unlock := b.lock()
	defer unlock()
	// A restore may have moved the waiter to res's new mutex object.
	res = res.mutexHome()
	m := &res.mutex
	i := slices.Index(m.waiters, w)
	if i < 0 {
		return
	}
	m.waiters = slices.Delete(m.waiters, i, i+1)
	be := b.timeoutErr(res, w.key).(*Error)
	b.queueLate(late, w.owner.c, errorReply(w.req, be.Code, be.Detail))
}

// releaseSync is RELEASE_SYNC: only the holder, through the handle it
// acquired with, may release; the mutex then goes to the first waiter
// for q.Key.
func (b *Broker) releaseSync(c *brokerConn, q request, late *[]lateReply) error {
	res, _, err := b.lookup(c, q.Handle, false)
	if err == nil {
		err = wrongType(q, res)
	}
	if err != nil {
		return err
	}
	o := b.owner(c, q.Handle, res)
	res = res.mutexHome()
	m := &res.mutex
	switch {
	case !m.held:
		return perr(CodeAccessDenied, "keyed mutex of %v is not held", res.kmt)
	case m.owner != o:
		return perr(CodeAccessDenied, "keyed mutex of %v is held by pid %d through another handle, not by %v of this connection", res.kmt, m.owner.c.pid, q.Handle)
	}
	m.held, m.owner = false, mutexOwner{}
	m.lastKey, m.lastValue = q.Key, q.Value
	m.events++
	b.signalMutexSync(res, q.Value, late)
	b.grant(res, late)
	return nil
}

// leaveMutex ends what the owners gone picks have to do with res's keyed
// mutex, for a handle closed or a connection ended (why says which):
// their waits end, answered NOT_FOUND, and a hold ends as abandonment.
// The waits go first, so that the mutex is abandoned to a live waiter
// rather than to another wait of an owner that is going.
func (b *Broker) leaveMutex(res *resource, gone func(mutexOwner) bool, why string, late *[]lateReply) {
	b.leaveFence(res, gone, why, late)
	m := &res.mutex
	m.waiters = slices.DeleteFunc(m.waiters, func(w *mutexWaiter) bool {
		if !gone(w.owner) {
			return false
		}
		w.stop()
		b.queueLate(late, w.owner.c, errorReply(w.req, CodeNotFound, why+" while waiting"))
		return true
	})
	if m.held && gone(m.owner) {
		m.owner.c.log.Info("keyed mutex abandoned: "+why, "kmt", res.kmt, "key", m.lastKey)
		b.abandon(res, late)
	}
}

// abandon ends a hold whose owner went without releasing: from then on
// the mutex is abandoned for good, as on Windows, where every later
// AcquireSync returns WAIT_ABANDONED: each acquirer, with any key, gets
// it in turn and is told so (the keys' hand-off order is lost with the
// holder).
func (b *Broker) abandon(res *resource, late *[]lateReply) {
	m := &res.mutex
	m.held, m.owner, m.abandoned = false, mutexOwner{}, true
	m.events++
	b.grant(res, late)
}

// grant hands a free keyed mutex to its first waiter that may take it.
func (b *Broker) grant(res *resource, late *[]lateReply) {
	m := &res.mutex
	for i, w := range m.waiters {
		if !m.grantable(w.key) {
			continue
		}
		w.stop()
		m.waiters = slices.Delete(m.waiters, i, i+1)
		b.queueLate(late, w.owner.c, replyTo(w.req, 0, m.take(w.owner), 0))
		return
	}
}

// grantable reports whether an acquire of key may take the mutex now:
// it is free and was released with key, or is abandoned (any key).
func (m *keyedMutex) grantable(key uint64) bool {
	return !m.held && (m.abandoned || m.lastKey == key)
}

// take gives the mutex, which must be grantable, to o, and returns the
// ACQUIRE_SYNC reply's payload: the last release's value, and whether
// the mutex is abandoned (which it stays).
func (m *keyedMutex) take(o mutexOwner) []byte {
	m.held, m.owner = true, o
	return appendAcquireReply(nil, acquireReply{Value: m.lastValue, Abandoned: m.abandoned, Events: m.events})
}

// stop cancels the waiter's timer; expire checks membership for a timer
// that already fired.
func (w *mutexWaiter) stop() {
	if w.timer != nil {
		w.timer.Stop()
	}
}

// lock takes b.mu and returns where to queue the late replies meant to
// go out once it is released, and what releases it and sends them.
func (b *Broker) lock() (late *[]lateReply, unlock func()) {
	late = new([]lateReply)
	b.mu.Lock()
	return late, func() {
		dead := b.graveyard
		b.graveyard = nil
		b.mu.Unlock()
		for _, o := range dead {
			o.Close()
		}
		b.sendLate(*late)
	}
}

// queueLate records a reply for c to send after b.mu is unlocked. The
// WaitGroup is counted here, under b.mu, while c is alive: its serve
// goroutine, counted too, has then not finished, so the count is not 0.
func (b *Broker) queueLate(late *[]lateReply, c *brokerConn, msg []byte) {
	if c.dead {
		return
	}
	b.wg.Add(1)
	*late = append(*late, lateReply{c, msg})
}

// sendLate writes late replies, each from a goroutine of its own so that a
// client that does not read blocks only its own replies. Call it without
// b.mu.
func (b *Broker) sendLate(late []lateReply) {
	for _, r := range late {
		go func() {
			defer b.wg.Done()
			if err := r.c.write(r.msg, nil); err != nil {
				r.c.log.Debug("late reply not delivered", "err", err)
			}
		}()
	}
}
