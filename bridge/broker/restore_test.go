package broker

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/internal/testenv"
)

// reconnecting dials path with Reconnect and returns the client with a
// channel of its reconnections.
func reconnecting(t testing.TB, path string) (*Client, chan ReconnectEvent) {
	t.Helper()
	events := make(chan ReconnectEvent, 16)
	d := &Dialer{Reconnect: true, MaxBackoff: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnReconnect: func(e ReconnectEvent) { events <- e }}
	if os.Getenv("GLBRIDGE_TEST_LOG") != "" {
		d.Logger = nil
	}
	c, err := d.Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	mustList(t, c)
	return c, events
}

// restart stops b (its clients see their connections end, as after a
// crash) and serves a new broker at path that takes restorations for
// window.
func restart(t testing.TB, b *Broker, path string, window time.Duration) *Broker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	nb := &Broker{RestoreWindow: window}
	serveAt(t, path, nb)
	return nb
}

func nextEvent(t testing.TB, events chan ReconnectEvent) ReconnectEvent {
	t.Helper()
	select {
	case e := <-events:
		return e
	case <-time.After(patience):
		t.Fatal("no reconnection")
	}
	return ReconnectEvent{}
}

// TestRestoreAfterRestart restarts the broker under two clients that hold
// one resource in every way there is: created with a semaphore, private
// data updated, shared by NT handle and name, opened by name and by KMT
// handle, its keyed mutex released by one and held by the other. The new
// broker must have it back as it was: same KMT handle, name, references,
// data, memory, semaphore, holder and mutex state, with the NT handles
// still valid and new ones not reusing them.
func TestRestoreAfterRestart(t *testing.T) {
	b1 := &Broker{}
	path := testBroker(t, b1)
	creator, cev := reconnecting(t, path)
	opener, oev := reconnecting(t, path)

	mem := memfd(t, 4096, 3)
	defer unix.Close(mem)
	ev, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ev)
	memFile := testenv.Watch(t, mem).File
	kmt, err := creator.CreateWithSync(testAllocation(4096), mem, []byte("first"), []SyncFD{{FD: ev, Timeline: true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := creator.UpdateData(kmt, []byte("second")); err != nil {
		t.Fatal(err)
	}
	const name = "Global\\restored texture"
	creatorNT, err := creator.Share(kmt, bridge.AccessReadWrite, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := creator.AcquireSync(kmt, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := creator.ReleaseSync(kmt, 1, 7); err != nil {
		t.Fatal(err)
	}
	byName, err := opener.OpenName(name, bridge.AccessRead)
	if err != nil {
		t.Fatal(err)
	}
	closeResourceFDs(byName)
	byKMT, err := opener.OpenKMT(kmt)
	if err != nil {
		t.Fatal(err)
	}
	closeResourceFDs(byKMT)
	if ar, err := opener.AcquireSync(byName.Handle, 1, 0); err != nil || ar.Value != 7 {
		t.Fatalf("AcquireSync(key 1) = %+v, %v; want value 7", ar, err)
	}

	restart(t, b1, path, patience)
	for _, events := range []chan ReconnectEvent{cev, oev} {
		if e := nextEvent(t, events); e.Restored != 1 || e.Refused != 0 {
			t.Errorf("reconnection %+v, want 1 resource restored", e)
		}
	}

	obs := dial(t, path)
	l := mustList(t, obs)
	if len(l) != 1 {
		t.Fatalf("after the restart the broker lists %d resources, want 1: %+v", len(l), l)
	}
	e := l[0]
	if e.KMT != kmt || len(e.Names) != 1 || e.Names[0] != name || e.Refs != 4 || !e.CreatorConnected || e.CreatorPID != int32(os.Getpid()) ||
		e.DataLen != len("second") || len(e.Syncs) != 1 || !e.Syncs[0].Timeline || len(e.Holders) != 2 {
		t.Errorf("restored resource %+v; want %v named %q with 4 references of 2 connections, the creator's, 6 bytes of data and a timeline semaphore", e, kmt, name)
	}
	if m := e.Mutex; !m.Held || m.HolderPID != int32(os.Getpid()) || m.LastValue != 7 || m.LastKey != 1 {
		t.Errorf("restored keyed mutex %+v; want held, last released with key 1 and value 7", m)
	}
	got, err := obs.OpenKMT(kmt)
	if err != nil {
		t.Fatalf("opening the old KMT handle on the new broker: %v", err)
	}
	if !bytes.Equal(readAll(t, got.FD, 4096), pattern(4096, 3)) || string(got.Data) != "second" || got.Allocation != testAllocation(4096) {
		t.Errorf("the restored resource has other memory, data %q or record %+v", got.Data, got.Allocation)
	}
	closeResourceFDs(got)
	if err := obs.CloseHandle(kmt); err != nil {
		t.Fatal(err)
	}

	// The opener's NT handle still holds the mutex; the creator's NT
	// handle still works, and a new NT handle is a new value.
	if err := opener.ReleaseSync(byName.Handle, 0, 9); err != nil {
		t.Fatalf("releasing the restored hold through %v: %v", byName.Handle, err)
	}
	if ar, err := creator.AcquireSync(creatorNT, 0, 0); err != nil || ar.Value != 9 {
		t.Fatalf("AcquireSync(%v, key 0) after the restart = %+v, %v; want value 9", creatorNT, ar, err)
	}
	if err := creator.ReleaseSync(creatorNT, 1, 10); err != nil {
		t.Fatal(err)
	}
	if nt, err := creator.Share(kmt, bridge.AccessRead, ""); err != nil || nt == creatorNT {
		t.Errorf("Share after the restart = %v, %v; want a new NT handle, not %v", nt, err, creatorNT)
	}
	if err := creator.UpdateData(kmt, []byte("third")); err != nil {
		t.Errorf("the creator may no longer update its data: %v", err)
	}

	// Closing everything frees the resource and every dup of its memory
	// the clients kept for restoring.
	creator.Close()
	opener.Close()
	waitFor(t, "the restored resource to be freed", func() bool { return len(mustList(t, obs)) == 0 })
	waitFor(t, "every dup of the memory fd to be closed", func() bool {
		n, err := testenv.CountOpen(0, memFile)
		return err == nil && n == 1
	})
}

func closeResourceFDs(r Resource) {
	unix.Close(r.FD)
	for _, s := range r.Syncs {
		unix.Close(s.FD)
	}
}

// TestRestoreWindowHoldsBack checks that while a broker takes
// restorations, nothing new gets a handle or name (a returning resource
// might have it), and that an open of what is not there yet is answered
// only after the window.
func TestRestoreWindowHoldsBack(t *testing.T) {
	const window = 300 * time.Millisecond
	b := &Broker{RestoreWindow: window}
	path := testBroker(t, b)
	c := dial(t, path)
	b.mu.Lock()
	until := b.restoreUntil
	b.mu.Unlock()
	if until.IsZero() {
		t.Fatal("no restore window")
	}
	mem := memfd(t, 64, 1)
	defer unix.Close(mem)
	kmt, err := c.Create(testAllocation(64), mem, nil)
	if err != nil {
		t.Fatal(err)
	}
	if now := time.Now(); now.Before(until) {
		t.Errorf("CREATE answered %v before the restore window closed", until.Sub(now))
	}
	if _, err := c.OpenName("nobody", bridge.AccessRead); !errors.Is(err, CodeNotFound) {
		t.Errorf("OpenName of an unknown name: %v, want NOT_FOUND", err)
	}
	// After the window, RESTORE is refused.
	r := request{header: header{Type: msgRestore}, Restore: restoreReq{KMT: bridge.GlobalHandle(kmt.GlobalIndex() ^ 1<<20), KMTRefs: 1, Alloc: testAllocation(64)}}
	_, err = c.roundTrip("restore", r, []int{mem})
	if !errors.Is(err, CodeRestoreRefused) {
		t.Errorf("RESTORE after the window: %v, want RESTORE_REFUSED", err)
	}
}

// TestRestoreRefused restarts the broker without a restore window: the
// client's resources are refused, forgotten (their dups closed), and the
// client goes on working.
func TestRestoreRefused(t *testing.T) {
	b1 := &Broker{}
	path := testBroker(t, b1)
	c, events := reconnecting(t, path)
	mem := memfd(t, 64, 1)
	defer unix.Close(mem)
	memFile := testenv.Watch(t, mem).File
	kmt, err := c.Create(testAllocation(64), mem, nil)
	if err != nil {
		t.Fatal(err)
	}
	restart(t, b1, path, 0)
	if e := nextEvent(t, events); e.Restored != 0 || e.Refused != 1 {
		t.Errorf("reconnection %+v, want 1 resource refused", e)
	}
	if n, err := testenv.CountOpen(0, memFile); err != nil || n != 1 {
		t.Errorf("%d fds of the memory are open after its restore was refused, want the caller's only (%v)", n, err)
	}
	if err := c.CloseHandle(kmt); !errors.Is(err, CodeNotFound) {
		t.Errorf("CloseHandle of a refused resource: %v, want NOT_FOUND", err)
	}
	if _, err := c.Create(testAllocation(64), mem, nil); err != nil {
		t.Errorf("Create after the reconnection: %v", err)
	}
}

// TestRestorePendingCalls restarts the broker while one client waits for
// the keyed mutex another holds: the wait is sent again to the new
// broker and ends when the holder, restored, releases to it. A call made
// while the broker is away waits for it.
func TestRestorePendingCalls(t *testing.T) {
	b1 := &Broker{}
	path := testBroker(t, b1)
	holder, hev := reconnecting(t, path)
	waiter, wev := reconnecting(t, path)
	mem := memfd(t, 64, 1)
	defer unix.Close(mem)
	kmt, err := holder.Create(testAllocation(64), mem, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := waiter.OpenKMT(kmt); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.AcquireSync(kmt, 0, 0); err != nil {
		t.Fatal(err)
	}
	acquired := make(chan error, 1)
	go func() {
		ar, err := waiter.AcquireSync(kmt, 5, InfiniteTimeout)
		if err == nil && ar.Value != 55 {
			err = errors.New("wrong value")
		}
		acquired <- err
	}()
	waitWaiters(t, holder, kmt, 1)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	b1.Shutdown(ctx)
	// A call made while no broker serves waits for the next one.
	queried := make(chan error, 1)
	go func() {
		_, err := holder.Query(kmt)
		queried <- err
	}()
	serveAt(t, path, &Broker{RestoreWindow: patience})
	nextEvent(t, hev)
	nextEvent(t, wev)
	if err := <-queried; err != nil {
		t.Errorf("Query made while the broker was away: %v", err)
	}
	waitWaiters(t, holder, kmt, 1)
	if err := holder.ReleaseSync(kmt, 5, 55); err != nil {
		t.Fatal(err)
	}
	if err := <-acquired; err != nil {
		t.Errorf("the acquire waiting across the restart: %v", err)
	}
}

// TestRestoreLaterClaimWakesWaiter restores one resource from two
// connections in the order that once left a waiter stuck: the first
// restorer's view of the keyed mutex is older (released with key 1), and
// the acquire of key 0 it sends again waits; the second restorer's newer
// view (released with key 0, one event later) must hand the mutex to it.
func TestRestoreLaterClaimWakesWaiter(t *testing.T) {
	path := testBroker(t, &Broker{RestoreWindow: patience})
	first, second := dial(t, path), dial(t, path)
	mem := memfd(t, 64, 1)
	defer unix.Close(mem)
	kmt := bridge.GlobalHandle(0x123456)
	restore := func(c *Client, key uint64, events uint32) {
		t.Helper()
		q := request{header: header{Type: msgRestore}, Restore: restoreReq{KMT: kmt, KMTRefs: 1, Alloc: testAllocation(64),
			Flags: restoreMutexReleased, MutexKey: key, MutexValue: uint64(events), MutexEvents: events}}
		r, err := c.roundTrip("restore", q, []int{mem})
		if err != nil || len(r.payload) != 8 || le.Uint32(r.payload[4:]) != 0 {
			t.Fatalf("RESTORE: %v (%x)", err, r.payload)
		}
	}
	restore(first, 1, 5)
	acquired := make(chan AcquireResult, 1)
	go func() {
		ar, err := first.AcquireSync(kmt, 0, InfiniteTimeout)
		if err != nil {
			t.Error(err)
		}
		acquired <- ar
	}()
	waitWaiters(t, second, kmt, 1)
	restore(second, 0, 6)
	select {
	case ar := <-acquired:
		if ar.Value != 6 {
			t.Errorf("the waiter got value %d, want the newer release's 6", ar.Value)
		}
	case <-time.After(patience):
		t.Fatal("the newer claim did not wake the waiter")
	}
}
