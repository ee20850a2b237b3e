package broker

import (
	"errors"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
)

// fenceWaiters is the number of WaitFence calls waiting on the fence kmt,
// as ListFences reports it.
func fenceWaiters(t testing.TB, c *Client, kmt bridge.Handle) int {
	t.Helper()
	l, err := c.ListFences()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range l {
		if f.KMT == kmt {
			return f.Waiters
		}
	}
	return -1
}

type waitResult struct {
	v   FenceValue
	err error
}

// waitAsync starts WaitFence on its own goroutine and returns once the
// broker has parked it (ListFences counts it), so that what the test does
// next happens while it waits.
func waitAsync(t testing.TB, c, obs *Client, h, kmt bridge.Handle, value uint64, timeout time.Duration) chan waitResult {
	t.Helper()
	before := fenceWaiters(t, obs, kmt)
	ch := make(chan waitResult, 1)
	go func() {
		v, err := c.WaitFence(h, value, timeout)
		ch <- waitResult{v, err}
	}()
	waitFor(t, "the wait to be parked", func() bool { return fenceWaiters(t, obs, kmt) == before+1 })
	return ch
}

func result(t testing.TB, ch chan waitResult) waitResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(patience):
		t.Fatal("the wait was never answered")
	}
	return waitResult{}
}

// TestFenceSignalWait covers a fence's life on the fallback path, where the
// broker keeps the value: created with an initial value, shared by name,
// opened by name (read only) and by KMT handle, waits answered at once, on
// a signal, by a timeout and by a close; a lower signal sets the value
// without waking a waiter for a higher one, as D3D12 allows; a read-only
// handle cannot signal; the object type and name; and the fence is freed
// with the last reference.
func TestFenceSignalWait(t *testing.T) {
	b := &Broker{}
	path := testBroker(t, b)
	prod, cons, obs := dial(t, path), dial(t, path), dial(t, path)

	kmt, err := prod.CreateFence(5, -1)
	if err != nil {
		t.Fatal(err)
	}
	if !kmt.IsKMT() {
		t.Fatalf("fence handle %v is not KMT-shaped", kmt)
	}
	const name = "Local\\frame fence"
	nt, err := prod.Share(kmt, bridge.AccessReadWrite, name)
	if err != nil {
		t.Fatal(err)
	}
	ro, err := cons.OpenFenceName("frame fence", bridge.AccessRead)
	if err != nil {
		t.Fatal(err)
	}
	if ro.FD != -1 || ro.KMT != kmt || ro.Access != bridge.AccessRead || ro.Value.Value != 5 || ro.Name != `\Sessions\1\BaseNamedObjects\frame fence` {
		t.Errorf("OpenFenceName = %+v", ro)
	}
	rw, err := cons.OpenFenceKMT(kmt)
	if err != nil {
		t.Fatal(err)
	}
	if rw.Handle != kmt || rw.Access != bridge.AccessReadWrite {
		t.Errorf("OpenFenceKMT = %+v", rw)
	}
	if o, err := cons.QueryObject(ro.Handle); err != nil || o.Type != "DxgkSharedSyncObject" || o.KMT != kmt || o.Name != ro.Name {
		t.Errorf("QueryObject = %+v, %v; want a DxgkSharedSyncObject named %s", o, err, ro.Name)
	}

	if v, err := cons.WaitFence(ro.Handle, 5, 0); err != nil || v.Value != 5 {
		t.Errorf("WaitFence(5) at 5 = %+v, %v", v, err)
	}
	if _, err := cons.WaitFence(ro.Handle, 6, 0); !errors.Is(err, bridge.ErrTimeout) {
		t.Errorf("WaitFence(6, 0) at 5: %v, want a timeout", err)
	}
	if _, err := cons.WaitFence(ro.Handle, 6, 20*time.Millisecond); !errors.Is(err, bridge.ErrTimeout) {
		t.Errorf("WaitFence(6, 20ms) at 5: %v, want a timeout", err)
	}
	if _, err := cons.SignalFence(ro.Handle, 9); !errors.Is(err, bridge.ErrAccessDenied) {
		t.Errorf("SignalFence through a read-only handle: %v, want ACCESS_DENIED", err)
	}

	w := waitAsync(t, cons, obs, ro.Handle, kmt, 10, InfiniteTimeout)
	// A lower value is a signal too (ID3D12Fence::Signal allows it): the
	// value goes down, and the waiter for 10 keeps waiting.
	if v, err := prod.SignalFence(kmt, 2); err != nil || v.Value != 2 || v.Signals != 1 {
		t.Fatalf("SignalFence(2) = %+v, %v", v, err)
	}
	if v, err := cons.GetFence(rw.Handle); err != nil || v.Value != 2 {
		t.Errorf("GetFence after the lowering = %+v, %v; want 2", v, err)
	}
	if n := fenceWaiters(t, obs, kmt); n != 1 {
		t.Errorf("%d waiters after the lowering, want 1", n)
	}
	if v, err := prod.SignalFence(nt, 9); err != nil || v.Value != 9 {
		t.Fatalf("SignalFence(9) = %+v, %v", v, err)
	}
	if n := fenceWaiters(t, obs, kmt); n != 1 {
		t.Errorf("%d waiters at 9, want 1 (waiting for 10)", n)
	}
	if v, err := prod.SignalFence(kmt, 12); err != nil || v.Signals != 3 {
		t.Fatalf("SignalFence(12) = %+v, %v", v, err)
	}
	if r := result(t, w); r.err != nil || r.v.Value != 12 {
		t.Errorf("the wait for 10 returned %+v", r)
	}

	// A wait whose handle is closed is answered NOT_FOUND.
	w = waitAsync(t, cons, obs, ro.Handle, kmt, 100, time.Minute)
	if err := cons.CloseHandle(ro.Handle); err != nil {
		t.Fatal(err)
	}
	if r := result(t, w); !errors.Is(r.err, bridge.ErrNotFound) {
		t.Errorf("the wait through a closed handle returned %+v, want NOT_FOUND", r)
	}

	// The fence is no resource, and a resource no fence.
	mem := memfd(t, 4096, 1)
	defer unix.Close(mem)
	res, err := prod.Create(testAllocation(4096), mem, nil)
	if err != nil {
		t.Fatal(err)
	}
	for what, err := range map[string]error{
		"OpenKMT(fence)":   errOnly(cons.OpenKMT(kmt)),
		"Query(fence)":     errOnly(cons.Query(kmt)),
		"AcquireSync":      errOnly(prod.AcquireSync(kmt, 0, 0)),
		"OpenName(fence)":  errOnly(cons.OpenName(name, bridge.AccessRead)),
		"OpenFenceKMT(rs)": errOnly(cons.OpenFenceKMT(res)),
		"SignalFence(rs)":  errOnly(prod.SignalFence(res, 1)),
		"WaitFence(rs)":    errOnly(prod.WaitFence(res, 1, 0)),
	} {
		if !errors.Is(err, CodeWrongType) {
			t.Errorf("%s: %v, want WRONG_TYPE", what, err)
		}
	}
	if l := mustList(t, obs); len(l) != 1 || l[0].KMT != res {
		t.Errorf("List shows %+v, want the resource alone", l)
	}
	if err := prod.CloseHandle(res); err != nil {
		t.Fatal(err)
	}

	l, err := obs.ListFences()
	if err != nil || len(l) != 1 {
		t.Fatalf("ListFences = %+v, %v", l, err)
	}
	if f := l[0]; f.KMT != kmt || f.Refs != 3 || f.NTHandles != 1 || f.Value.Value != 12 || f.Timeline || !f.CreatorConnected ||
		f.CreatorPID != int32(os.Getpid()) || len(f.Names) != 1 || f.Names[0] != name {
		t.Errorf("ListFences entry %+v", f)
	}
	// The fence lives while a reference does: the creator's going leaves
	// it to the opener, whose closing frees it.
	prod.Close()
	if v, err := cons.SignalFence(rw.Handle, 13); err != nil || v.Value != 13 {
		t.Errorf("SignalFence after the creator left = %+v, %v", v, err)
	}
	if err := cons.CloseHandle(rw.Handle); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the fence to be freed", func() bool { return b.Live() == 0 })
	if _, err := obs.OpenFenceKMT(kmt); !errors.Is(err, bridge.ErrNotFound) {
		t.Errorf("OpenFenceKMT of a freed fence: %v, want NOT_FOUND", err)
	}
}

func errOnly[T any](_ T, err error) error { return err }

// TestFenceSemaphoreAndDuplicate: a fence created with a timeline
// semaphore fd hands every opener a copy of it (an eventfd stands in for
// the semaphore), a duplicate of its NT handle is redeemed by OPEN_FENCE
// (OPEN_DUPLICATE refuses it, leaving it waiting), RebaseFence raises the
// offset and refuses lowering it, and the broker closes its fd with the
// fence.
func TestFenceSemaphoreAndDuplicate(t *testing.T) {
	b := &Broker{}
	path := testBroker(t, b)
	a, o := dial(t, path), dial(t, path)
	sem, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(sem)
	var want unix.Stat_t
	unix.Fstat(sem, &want)
	kmt, err := a.CreateFence(0, sem)
	if err != nil {
		t.Fatal(err)
	}
	nt, err := a.Share(kmt, bridge.AccessGenericAll, "")
	if err != nil {
		t.Fatal(err)
	}
	d, err := a.Duplicate(nt, 0, DuplicateSameAccess, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.OpenDuplicate(d.Token); !errors.Is(err, CodeWrongType) {
		t.Errorf("OpenDuplicate of a fence: %v, want WRONG_TYPE", err)
	}
	f, err := o.OpenFenceDuplicate(d.Token)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(f.FD)
	var got unix.Stat_t
	if f.FD < 0 || unix.Fstat(f.FD, &got) != nil || got.Ino != want.Ino || f.Mask != bridge.AccessGenericAll || f.Access != bridge.AccessReadWrite {
		t.Errorf("OpenFenceDuplicate = %+v (inode %d, want %d)", f, got.Ino, want.Ino)
	}
	if v, err := o.SignalFence(f.Handle, 10); err != nil || v.Offset != 0 {
		t.Fatalf("SignalFence = %+v, %v", v, err)
	}
	if v, err := o.RebaseFence(f.Handle, 4, 6); err != nil || v.Value != 4 || v.Offset != 6 {
		t.Errorf("RebaseFence(4, 6) = %+v, %v", v, err)
	}
	if _, err := o.RebaseFence(f.Handle, 4, 5); !errors.Is(err, CodeInvalid) {
		t.Errorf("RebaseFence lowering the offset: %v, want INVALID", err)
	}
	byKMT, err := o.OpenFenceKMT(kmt)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(byKMT.FD)
	if byKMT.Value != (FenceValue{Value: 4, Signals: 2, Offset: 6}) {
		t.Errorf("the opener learns %+v", byKMT.Value)
	}
	if l, _ := o.ListFences(); len(l) != 1 || !l[0].Timeline {
		t.Errorf("ListFences = %+v, want one timeline fence", l)
	}
	a.Close()
	o.Close()
	waitFor(t, "the fence to be freed", func() bool { return b.Live() == 0 })
}

// TestFenceLimits: fences count against the resource quotas, and a
// connection's parked waits are bounded.
func TestFenceLimits(t *testing.T) {
	path := testBroker(t, &Broker{MaxResourcesPerConn: 2})
	c, obs := dial(t, path), dial(t, path)
	kmt, err := c.CreateFence(0, -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateFence(0, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateFence(0, -1); !errors.Is(err, bridge.ErrQuota) {
		t.Errorf("a third fence: %v, want QUOTA", err)
	}
	var ws []chan waitResult
	for i := range maxFenceWaitsPerConn {
		ch := make(chan waitResult, 1)
		go func() {
			v, err := c.WaitFence(kmt, uint64(i+1), InfiniteTimeout)
			ch <- waitResult{v, err}
		}()
		ws = append(ws, ch)
	}
	waitFor(t, "every wait to be parked", func() bool { return fenceWaiters(t, obs, kmt) == maxFenceWaitsPerConn })
	if _, err := c.WaitFence(kmt, 1, time.Minute); !errors.Is(err, bridge.ErrLimit) {
		t.Errorf("wait %d: %v, want LIMIT", maxFenceWaitsPerConn+1, err)
	}
	if _, err := c.SignalFence(kmt, maxFenceWaitsPerConn); err != nil {
		t.Fatal(err)
	}
	for _, ch := range ws {
		if r := result(t, ch); r.err != nil {
			t.Errorf("a wait returned %v", r.err)
		}
	}
}

// TestFenceRestore restarts the broker under two reconnecting clients that
// hold a fence with a semaphore, a name and NT handles. The value after
// the restart is the latest either knew by signal count, not the largest:
// the opener signalled 50, then the creator lowered it to 3 (a rebase,
// raising the offset), so 3 comes back, with the offset. A wait in flight
// across the restart is sent again and answered by a later signal.
func TestFenceRestore(t *testing.T) {
	b1 := &Broker{}
	path := testBroker(t, b1)
	cr, cev := reconnecting(t, path)
	op, oev := reconnecting(t, path)
	sem, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(sem)
	kmt, err := cr.CreateFence(1, sem)
	if err != nil {
		t.Fatal(err)
	}
	const name = "Global\\restored fence"
	if _, err := cr.Share(kmt, bridge.AccessGenericAll, name); err != nil {
		t.Fatal(err)
	}
	f, err := op.OpenFenceName(name, bridge.AccessReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(f.FD)
	if _, err := op.SignalFence(f.Handle, 50); err != nil {
		t.Fatal(err)
	}
	if v, err := cr.RebaseFence(kmt, 3, 47); err != nil || v.Signals != 2 {
		t.Fatalf("RebaseFence = %+v, %v", v, err)
	}
	w := make(chan waitResult, 1)
	obs0 := dial(t, path)
	before := fenceWaiters(t, obs0, kmt)
	go func() {
		v, err := op.WaitFence(f.Handle, 60, time.Minute)
		w <- waitResult{v, err}
	}()
	waitFor(t, "the wait to be parked", func() bool { return fenceWaiters(t, obs0, kmt) == before+1 })
	obs0.Close()

	b2 := restart(t, b1, path, patience)
	for _, events := range []chan ReconnectEvent{cev, oev} {
		if e := nextEvent(t, events); e.Restored != 1 || e.Refused != 0 {
			t.Errorf("reconnection %+v, want 1 fence restored", e)
		}
	}
	obs := dial(t, path)
	waitFor(t, "the wait to be sent again", func() bool { return fenceWaiters(t, obs, kmt) == 1 })
	l, err := obs.ListFences()
	if err != nil || len(l) != 1 {
		t.Fatalf("ListFences after the restart = %+v, %v", l, err)
	}
	if e := l[0]; e.KMT != kmt || e.Value != (FenceValue{Value: 3, Signals: 2, Offset: 47}) || !e.Timeline || e.Refs != 3 ||
		e.NTHandles != 2 || len(e.Names) != 1 || e.Names[0] != name || !e.CreatorConnected {
		t.Errorf("restored fence %+v", e)
	}
	if o, err := op.QueryObject(f.Handle); err != nil || o.Name != `\BaseNamedObjects\restored fence` || o.Type != objectTypeFence {
		t.Errorf("QueryObject after the restart = %+v, %v", o, err)
	}
	if v, err := cr.SignalFence(kmt, 60); err != nil || v.Value != 60 {
		t.Fatalf("SignalFence after the restart = %+v, %v", v, err)
	}
	if r := result(t, w); r.err != nil || r.v.Value != 60 {
		t.Errorf("the wait across the restart returned %+v", r)
	}
	cr.Close()
	op.Close()
	waitFor(t, "the fence to be freed", func() bool { return b2.Live() == 0 })
}
