package broker

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/internal/fdutil"
	"github.com/glbridge/glbridge/internal/testenv"
)

// mutexResource creates a resource on c for keyed mutex tests.
func mutexResource(t testing.TB, c *Client) bridge.Handle {
	t.Helper()
	fd := memfd(t, 4096, 0x11)
	defer unix.Close(fd)
	kmt, err := c.Create(testAllocation(4096), fd, nil)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return kmt
}

// openKMT opens kmt on c and closes the fds, for a reference to acquire
// through.
func openKMT(t testing.TB, c *Client, kmt bridge.Handle) {
	t.Helper()
	r, err := c.OpenKMT(kmt)
	if err != nil {
		t.Fatalf("OpenKMT: %v", err)
	}
	closeResource(r)
}

// sharedMutex serves brk and returns its socket, two connections to it
// and a resource the first created and the second opened: two holders of
// one keyed mutex, where most keyed mutex tests start.
func sharedMutex(t testing.TB, brk *Broker) (path string, a, b *Client, kmt bridge.Handle) {
	t.Helper()
	path = testBroker(t, brk)
	a, b = dial(t, path), dial(t, path)
	kmt = mutexResource(t, a)
	openKMT(t, b, kmt)
	return path, a, b, kmt
}

func mustAcquire(t testing.TB, c *Client, h bridge.Handle, key uint64, timeout time.Duration) AcquireResult {
	t.Helper()
	r, err := c.AcquireSync(h, key, timeout)
	if err != nil {
		t.Fatalf("AcquireSync(%v, key %d): %v", h, key, err)
	}
	return r
}

func mustRelease(t testing.TB, c *Client, h bridge.Handle, key, value uint64) {
	t.Helper()
	if err := c.ReleaseSync(h, key, value); err != nil {
		t.Fatalf("ReleaseSync(%v, key %d): %v", h, key, err)
	}
}

// mutexState returns kmt's keyed mutex as List reports it.
func mutexState(t testing.TB, c *Client, kmt bridge.Handle) MutexState {
	t.Helper()
	for _, e := range mustList(t, c) {
		if e.KMT == kmt {
			return e.Mutex
		}
	}
	t.Fatalf("%v not listed", kmt)
	return MutexState{}
}

func waitWaiters(t testing.TB, c *Client, kmt bridge.Handle, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d waiters on %v", n, kmt), func() bool { return mutexState(t, c, kmt).Waiters == n })
}

type acquireOutcome struct {
	r   AcquireResult
	err error
	at  time.Time
}

// acquireAsync starts an AcquireSync and returns where its outcome arrives.
func acquireAsync(c *Client, h bridge.Handle, key uint64, timeout time.Duration) <-chan acquireOutcome {
	ch := make(chan acquireOutcome, 1)
	go func() {
		r, err := c.AcquireSync(h, key, timeout)
		ch <- acquireOutcome{r, err, time.Now()}
	}()
	return ch
}

func expectPending(t testing.TB, what string, ch <-chan acquireOutcome) {
	t.Helper()
	select {
	case o := <-ch:
		t.Fatalf("%s: returned %+v, %v; want still waiting", what, o.r, o.err)
	case <-time.After(50 * time.Millisecond):
	}
}

func expectOutcome(t testing.TB, what string, ch <-chan acquireOutcome) acquireOutcome {
	t.Helper()
	select {
	case o := <-ch:
		return o
	case <-time.After(patience):
		t.Fatalf("%s: still waiting after %v", what, patience)
	}
	return acquireOutcome{}
}

// TestKeyedMutexSequence walks the keyed mutex through acquire/release with
// changing keys between two connections, checking values and List's view.
func TestKeyedMutexSequence(t *testing.T) {
	path, a, b, kmt := sharedMutex(t, &Broker{})

	if m := mutexState(t, a, kmt); m != (MutexState{}) {
		t.Fatalf("fresh mutex = %+v, want free with key 0", m)
	}
	if r := mustAcquire(t, a, kmt, 0, 0); r != (AcquireResult{}) {
		t.Fatalf("first acquire of key 0 = %+v, want value 0, not abandoned", r)
	}
	m := mutexState(t, b, kmt)
	if !m.Held || m.HolderPID != int32(os.Getpid()) || m.Abandoned || m.Waiters != 0 {
		t.Fatalf("held mutex = %+v", m)
	}
	if _, err := b.AcquireSync(kmt, 0, 0); !errors.Is(err, CodeTimeout) {
		t.Fatalf("try-acquire of a held mutex: %v, want CodeTimeout", err)
	}
	mustRelease(t, a, kmt, 1, 100)
	if m := mutexState(t, b, kmt); m.Held || m.LastKey != 1 || m.LastValue != 100 {
		t.Fatalf("after release(1, 100): %+v", m)
	}
	if _, err := b.AcquireSync(kmt, 0, 0); !errors.Is(err, CodeTimeout) {
		t.Fatalf("acquire of key 0 after release with key 1: %v, want CodeTimeout", err)
	}
	if _, err := a.AcquireSync(kmt, 0, 0); !errors.Is(err, CodeTimeout) {
		t.Fatalf("releaser re-acquiring its old key: %v, want CodeTimeout", err)
	}
	for round := range uint64(20) {
		c, key := b, uint64(1)
		if round%2 == 1 {
			c, key = a, 0
		}
		if r := mustAcquire(t, c, kmt, key, time.Second); r.Value != 100+round || r.Abandoned {
			t.Fatalf("round %d: acquire = %+v, want value %d", round, r, 100+round)
		}
		mustRelease(t, c, kmt, 1-key, 101+round)
	}

	// An NT handle opened by name on a third connection is a handle like
	// any other.
	nt, err := a.Share(kmt, bridge.AccessRead, "mutex-seq")
	if err != nil {
		t.Fatal(err)
	}
	third := dial(t, path)
	byName, err := third.OpenName("mutex-seq", bridge.AccessRead)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(byName.FD)
	if r := mustAcquire(t, third, byName.Handle, 1, time.Second); r.Value != 120 {
		t.Fatalf("acquire through a read-only NT handle = %+v", r)
	}
	mustRelease(t, third, byName.Handle, 7, 121)
	if r := mustAcquire(t, a, nt, 7, time.Second); r.Value != 121 {
		t.Fatalf("acquire through the creator's NT handle = %+v", r)
	}
	mustRelease(t, a, nt, 0, 0)
	if m := mutexState(t, a, kmt); m.Held || m.LastKey != 0 || m.LastValue != 0 {
		t.Fatalf("final state %+v", m)
	}
}

// TestKeyedMutexTimeout: a key nobody releases to times out with CodeTimeout
// after about the timeout; a 0 timeout only tries; waits do not block the
// connection's other requests.
func TestKeyedMutexTimeout(t *testing.T) {
	_, a, b, kmt := sharedMutex(t, &Broker{})
	// The slack is below the timeouts, so a wait of twice the timeout
	// fails too.
	const slack = 300 * time.Millisecond

	start := time.Now()
	_, err := b.AcquireSync(kmt, 1, 400*time.Millisecond)
	elapsed := time.Since(start)
	if !errors.Is(err, CodeTimeout) || errors.Is(err, bridge.ErrClosed) {
		t.Fatalf("acquire of an unreleased key: %v, want CodeTimeout", err)
	}
	if elapsed < 400*time.Millisecond || elapsed > 400*time.Millisecond+slack {
		t.Fatalf("timed out after %v, want 400ms (+%v)", elapsed, slack)
	}
	t.Logf("wrong key: %v after %v", err, elapsed)

	start = time.Now()
	if _, err := b.AcquireSync(kmt, 1, 0); !errors.Is(err, CodeTimeout) {
		t.Fatalf("try-acquire of the wrong key: %v, want CodeTimeout", err)
	}
	if elapsed := time.Since(start); elapsed > 100*time.Millisecond {
		t.Fatalf("try-acquire took %v", elapsed)
	}

	// Several timed waits on one connection, through different handles,
	// each ends at its own time.
	hs := []bridge.Handle{kmt}
	for range 2 {
		nt, err := b.Share(kmt, bridge.AccessRead, "")
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, nt)
	}
	timeouts := []time.Duration{600 * time.Millisecond, 400 * time.Millisecond, 500 * time.Millisecond}
	start = time.Now()
	var chs []<-chan acquireOutcome
	for i, h := range hs {
		chs = append(chs, acquireAsync(b, h, 9, timeouts[i]))
	}
	for i, ch := range chs {
		o := expectOutcome(t, "timed wait", ch)
		got := o.at.Sub(start)
		if !errors.Is(o.err, CodeTimeout) || got < timeouts[i] || got > timeouts[i]+slack {
			t.Errorf("wait %d of %v: %v after %v", i, timeouts[i], o.err, got)
		}
	}

	// An infinite wait holds up nothing else on its connection, and a
	// matching release ends it.
	mustAcquire(t, a, kmt, 0, 0)
	ch := acquireAsync(b, kmt, 5, InfiniteTimeout)
	waitWaiters(t, b, kmt, 1)
	for i := range 20 {
		if _, err := b.Query(kmt); err != nil {
			t.Fatalf("query %d while an acquire waits: %v", i, err)
		}
		openKMT(t, b, kmt)
		if err := b.CloseHandle(kmt); err != nil {
			t.Fatal(err)
		}
	}
	expectPending(t, "infinite wait", ch)
	mustRelease(t, a, kmt, 5, 55)
	if o := expectOutcome(t, "infinite wait after release", ch); o.err != nil || o.r.Value != 55 {
		t.Fatalf("woken acquire = %+v, %v", o.r, o.err)
	}
}

// TestKeyedMutexWake: a release wakes the waiter of its key and no other.
func TestKeyedMutexWake(t *testing.T) {
	path := testBroker(t, &Broker{})
	a, w2, w3 := dial(t, path), dial(t, path), dial(t, path)
	kmt := mutexResource(t, a)
	openKMT(t, w2, kmt)
	openKMT(t, w3, kmt)
	mustAcquire(t, a, kmt, 0, 0)
	ch2 := acquireAsync(w2, kmt, 2, 10*time.Second)
	waitWaiters(t, a, kmt, 1)
	ch3 := acquireAsync(w3, kmt, 3, 10*time.Second)
	waitWaiters(t, a, kmt, 2)
	mustRelease(t, a, kmt, 3, 30)
	if o := expectOutcome(t, "key 3 waiter", ch3); o.err != nil || o.r.Value != 30 || o.r.Abandoned {
		t.Fatalf("key 3 waiter = %+v, %v", o.r, o.err)
	}
	expectPending(t, "key 2 waiter after a release to key 3", ch2)
	if m := mutexState(t, a, kmt); !m.Held || m.Waiters != 1 {
		t.Fatalf("state %+v", m)
	}
	mustRelease(t, w3, kmt, 2, 31)
	if o := expectOutcome(t, "key 2 waiter", ch2); o.err != nil || o.r.Value != 31 {
		t.Fatalf("key 2 waiter = %+v, %v", o.r, o.err)
	}
	// A release to a key nobody waits for leaves the mutex free.
	mustRelease(t, w2, kmt, 4, 32)
	if m := mutexState(t, a, kmt); m.Held || m.Waiters != 0 || m.LastKey != 4 {
		t.Fatalf("state after a release nobody waits for: %+v", m)
	}
}

// TestKeyedMutexFIFO: waiters for the same key get the mutex in the order
// they asked, across connections and handles of one connection.
func TestKeyedMutexFIFO(t *testing.T) {
	path := testBroker(t, &Broker{})
	holder, shared := dial(t, path), dial(t, path)
	kmt := mutexResource(t, holder)
	mustAcquire(t, holder, kmt, 0, 0)

	type waiter struct {
		name string
		c    *Client
		h    bridge.Handle
		key  uint64
		ch   <-chan acquireOutcome
	}
	var ws []*waiter
	for i := range 5 {
		w := &waiter{name: fmt.Sprintf("conn%d", i), key: 5}
		if i < 3 {
			w.c = dial(t, path)
			openKMT(t, w.c, kmt)
			w.h = kmt
		} else {
			// Two handles of one connection wait separately.
			w.c = shared
			if _, err := holder.Share(kmt, bridge.AccessRead, fmt.Sprintf("fifo-%d", i)); err != nil {
				t.Fatal(err)
			}
			r, err := shared.OpenName(fmt.Sprintf("fifo-%d", i), bridge.AccessRead)
			if err != nil {
				t.Fatal(err)
			}
			unix.Close(r.FD)
			w.h = r.Handle
			w.name = fmt.Sprintf("shared-nt%d", i)
		}
		ws = append(ws, w)
	}
	// A waiter for another key in the middle of the queue is skipped.
	other := &waiter{name: "other-key", c: dial(t, path), h: kmt, key: 6}
	openKMT(t, other.c, kmt)
	order := []*waiter{ws[0], ws[3], other, ws[1], ws[4], ws[2]}
	for i, w := range order {
		w.ch = acquireAsync(w.c, w.h, w.key, 30*time.Second)
		waitWaiters(t, holder, kmt, i+1)
	}
	// woken returns the waiter whose acquire returns first, waiting up to
	// wait for one (0: taking only one that has returned already), or nil.
	woken := func(wait time.Duration) (*waiter, acquireOutcome) {
		var pending []*waiter
		var cases []reflect.SelectCase
		for _, w := range order {
			if w.ch != nil {
				pending = append(pending, w)
				cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(w.ch)})
			}
		}
		if wait > 0 {
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(time.After(wait))})
		} else {
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectDefault})
		}
		i, v, _ := reflect.Select(cases)
		if i == len(pending) {
			return nil, acquireOutcome{}
		}
		pending[i].ch = nil
		return pending[i], v.Interface().(acquireOutcome)
	}
	prevC, prevH := holder, kmt
	var got []string
	for range 5 {
		mustRelease(t, prevC, prevH, 5, uint64(len(got)))
		woke, o := woken(patience)
		if woke == nil {
			t.Fatalf("release %d woke nobody", len(got))
		}
		if o.err != nil || o.r.Value != uint64(len(got)) {
			t.Fatalf("%s: %+v, %v", woke.name, o.r, o.err)
		}
		// The broker hands the mutex over before it answers the waiter: with
		// the answer in, List shows whatever else the release woke.
		if m, left := mutexState(t, holder, kmt), len(order)-len(got)-1; !m.Held || m.Waiters != left {
			t.Fatalf("release %d woke %s and left %+v, want the mutex held and %d waiting", len(got), woke.name, m, left)
		}
		if also, _ := woken(0); also != nil {
			t.Fatalf("one release woke %s and %s", woke.name, also.name)
		}
		got = append(got, woke.name)
		prevC, prevH = woke.c, woke.h
	}
	want := []string{"conn0", "shared-nt3", "conn1", "shared-nt4", "conn2"}
	if !slices.Equal(got, want) {
		t.Fatalf("wake order %v, want %v", got, want)
	}
	expectPending(t, "other key", other.ch)
	mustRelease(t, prevC, prevH, 6, 99)
	if o := expectOutcome(t, "other key", other.ch); o.err != nil || o.r.Value != 99 {
		t.Fatalf("other key: %+v, %v", o.r, o.err)
	}
}

// TestKeyedMutexAbandoned: the holder's connection ends without releasing;
// the next acquirer, with any key, is told the mutex was abandoned, and so
// is every later one; the resource stays usable.
func TestKeyedMutexAbandoned(t *testing.T) {
	brk := &Broker{}
	path, creator, next, kmt := sharedMutex(t, brk)
	mem := resourceFiles(t, brk, kmt)
	var holders []testenv.File

	t.Run("waiter present", func(t *testing.T) {
		holder, files := dialWatched(t, brk, path)
		holders = append(holders, files...)
		openKMT(t, holder, kmt)
		mustAcquire(t, holder, kmt, 0, 0)
		mustRelease(t, holder, kmt, 0, 42)
		mustAcquire(t, holder, kmt, 0, 0)
		ch := acquireAsync(next, kmt, 9, 10*time.Second) // not the key released
		waitWaiters(t, creator, kmt, 1)
		holder.Close()
		o := expectOutcome(t, "waiter after the holder died", ch)
		if o.err != nil || !o.r.Abandoned || o.r.Value != 42 {
			t.Fatalf("acquire after abandonment = %+v, %v; want abandoned, value 42", o.r, o.err)
		}
		if m := mutexState(t, creator, kmt); !m.Held || !m.Abandoned {
			t.Fatalf("state after the abandoned acquire: %+v, want held and abandoned", m)
		}
		// Abandoned for good, as on Windows: still exclusive, but every
		// later acquire, of any key, is told so.
		mustRelease(t, next, kmt, 4, 43)
		if r := mustAcquire(t, creator, kmt, 4, time.Second); !r.Abandoned || r.Value != 43 {
			t.Fatalf("acquire after the abandoned holder released = %+v, want abandoned", r)
		}
		mustRelease(t, creator, kmt, 0, 44)
	})
	t.Run("no waiter", func(t *testing.T) {
		holder, files := dialWatched(t, brk, path)
		holders = append(holders, files...)
		openKMT(t, holder, kmt)
		mustAcquire(t, holder, kmt, 0, 0)
		holder.Close()
		waitFor(t, "the mutex to be abandoned", func() bool {
			m := mutexState(t, creator, kmt)
			return !m.Held && m.Abandoned
		})
		r := mustAcquire(t, next, kmt, 77, 0)
		if !r.Abandoned || r.Value != 44 {
			t.Fatalf("acquire of an abandoned mutex = %+v", r)
		}
		if _, err := creator.AcquireSync(kmt, 77, 0); !errors.Is(err, CodeTimeout) {
			t.Fatalf("second acquire after abandonment: %v, want CodeTimeout (held)", err)
		}
		// The resource is intact.
		res, err := creator.OpenKMT(kmt)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, res.FD, 64); !bytes.Equal(got, pattern(64, 0x11)) {
			t.Fatalf("memory after abandonment: %x", got)
		}
		unix.Close(res.FD)
		creator.CloseHandle(kmt)
		mustRelease(t, next, kmt, 0, 45)
	})
	// The broker's own copy of the memory is all that is left of it.
	waitFor(t, "the holders' fds to go", func() bool {
		return openCount(t, holders...) == 0 && openCount(t, mem...) == 1
	})
}

// TestKeyedMutexMisuse: double acquire, release by a non-holder, and
// handles that name nothing are errors that leave the mutex intact.
func TestKeyedMutexMisuse(t *testing.T) {
	path, a, b, kmt := sharedMutex(t, &Broker{})
	nt, err := a.Share(kmt, bridge.AccessReadWrite, "")
	if err != nil {
		t.Fatal(err)
	}

	if err := a.ReleaseSync(kmt, 0, 0); !errors.Is(err, CodeAccessDenied) {
		t.Errorf("release of a free mutex: %v, want CodeAccessDenied", err)
	}
	mustAcquire(t, a, kmt, 0, 0)
	if _, err := a.AcquireSync(kmt, 0, time.Second); !errors.Is(err, CodeInvalid) {
		t.Errorf("acquire of a mutex this handle holds: %v, want CodeInvalid", err)
	}
	if err := b.ReleaseSync(kmt, 1, 0); !errors.Is(err, CodeAccessDenied) {
		t.Errorf("release by another connection: %v, want CodeAccessDenied", err)
	}
	if err := a.ReleaseSync(nt, 1, 0); !errors.Is(err, CodeAccessDenied) {
		t.Errorf("release through another handle of the holder's connection: %v, want CodeAccessDenied", err)
	}
	ch := acquireAsync(b, kmt, 1, 10*time.Second)
	waitWaiters(t, a, kmt, 1)
	if _, err := b.AcquireSync(kmt, 2, time.Second); !errors.Is(err, CodeInvalid) {
		t.Errorf("second acquire through a waiting handle: %v, want CodeInvalid", err)
	}
	other := dial(t, path)
	if _, err := other.AcquireSync(kmt, 0, 0); !errors.Is(err, CodeNotFound) {
		t.Errorf("acquire without a reference: %v, want CodeNotFound", err)
	}
	if err := other.ReleaseSync(kmt, 0, 0); !errors.Is(err, CodeNotFound) {
		t.Errorf("release without a reference: %v, want CodeNotFound", err)
	}
	if _, err := other.AcquireSync(0x12345677, 0, 0); !errors.Is(err, CodeBadHandle) {
		t.Errorf("acquire of a malformed handle: %v, want CodeBadHandle", err)
	}
	if _, err := other.AcquireSync(bridge.GlobalHandle(1<<16|500), 0, 0); !errors.Is(err, CodeNotFound) {
		t.Errorf("acquire of an unknown KMT handle: %v, want CodeNotFound", err)
	}
	// Nothing above disturbed the mutex.
	if m := mutexState(t, a, kmt); !m.Held || m.Waiters != 1 {
		t.Fatalf("state after misuse: %+v", m)
	}
	mustRelease(t, a, kmt, 1, 8)
	if o := expectOutcome(t, "waiter", ch); o.err != nil || o.r.Value != 8 {
		t.Fatalf("waiter = %+v, %v", o.r, o.err)
	}
}

// TestKeyedMutexWaiterDies: a waiter whose connection ends is removed; the
// release it waited for then leaves the mutex free for others.
func TestKeyedMutexWaiterDies(t *testing.T) {
	brk := &Broker{}
	path, a, b, kmt := sharedMutex(t, brk)
	mem := resourceFiles(t, brk, kmt)
	w, waiter := dialWatched(t, brk, path)
	openKMT(t, w, kmt)
	mustAcquire(t, a, kmt, 0, 0)
	ch := acquireAsync(w, kmt, 1, InfiniteTimeout)
	waitWaiters(t, a, kmt, 1)
	w.Close()
	if o := expectOutcome(t, "dead waiter", ch); !errors.Is(o.err, bridge.ErrClosed) {
		t.Fatalf("acquire on a closed client: %v, want ErrClosed", o.err)
	}
	waitWaiters(t, a, kmt, 0)
	mustRelease(t, a, kmt, 1, 10)
	if m := mutexState(t, a, kmt); m.Held || m.Abandoned || m.LastKey != 1 {
		t.Fatalf("after releasing to a dead waiter's key: %+v, want free", m)
	}
	if r := mustAcquire(t, b, kmt, 1, 0); r.Value != 10 || r.Abandoned {
		t.Fatalf("acquire after the dead waiter = %+v", r)
	}
	// The waiter's connection is gone, and so is the copy of the memory
	// its open carried (the broker's own is all that is left of it).
	waitFor(t, "the waiter's fds to go", func() bool {
		return openCount(t, waiter...) == 0 && openCount(t, mem...) == 1
	})
}

// TestKeyedMutexCloseHandle: closing the handle a wait goes through ends the
// wait with CodeNotFound; closing the last reference through the holding
// handle abandons the mutex, while an earlier close of one of several
// references does not.
func TestKeyedMutexCloseHandle(t *testing.T) {
	_, a, b, kmt := sharedMutex(t, &Broker{})
	openKMT(t, b, kmt) // b holds two references through kmt

	mustAcquire(t, a, kmt, 0, 0)
	nt, err := b.Share(kmt, bridge.AccessRead, "")
	if err != nil {
		t.Fatal(err)
	}
	ch := acquireAsync(b, nt, 3, InfiniteTimeout)
	waitWaiters(t, a, kmt, 1)
	if err := b.CloseHandle(nt); err != nil {
		t.Fatal(err)
	}
	if o := expectOutcome(t, "wait through a closed handle", ch); !errors.Is(o.err, CodeNotFound) {
		t.Fatalf("wait through a closed handle: %v, want CodeNotFound", o.err)
	}
	if m := mutexState(t, a, kmt); m.Waiters != 0 || !m.Held {
		t.Fatalf("state %+v", m)
	}
	mustRelease(t, a, kmt, 1, 1)

	mustAcquire(t, b, kmt, 1, 0)
	if err := b.CloseHandle(kmt); err != nil {
		t.Fatal(err)
	}
	if m := mutexState(t, a, kmt); !m.Held || m.Abandoned {
		t.Fatalf("after closing one of two references: %+v, want still held", m)
	}
	if err := b.CloseHandle(kmt); err != nil {
		t.Fatal(err)
	}
	if m := mutexState(t, a, kmt); m.Held || !m.Abandoned {
		t.Fatalf("after closing the last reference: %+v, want abandoned", m)
	}
	if r := mustAcquire(t, a, kmt, 8, 0); !r.Abandoned || r.Value != 1 {
		t.Fatalf("acquire after the holder closed its handle = %+v", r)
	}
}

// eventfd makes an eventfd, a stand-in for an opaque semaphore fd that
// shows identity by carrying a counter.
func eventfd(t testing.TB) int {
	t.Helper()
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		t.Fatalf("eventfd: %v", err)
	}
	return fd
}

// sameEventfd checks that a and b are one eventfd: what is written through
// one is read through the other.
func sameEventfd(t testing.TB, a, b int, v uint64) {
	t.Helper()
	buf := le.AppendUint64(nil, v)
	if _, err := unix.Write(a, buf); err != nil {
		t.Fatalf("eventfd write: %v", err)
	}
	got := make([]byte, 8)
	if _, err := unix.Read(b, got); err != nil || le.Uint64(got) != v {
		t.Fatalf("eventfd read through the other fd: %d, %v; want %d", le.Uint64(got), err, v)
	}
}

// TestSyncFDs: semaphore fds given at create and by ATTACH_SYNC arrive with
// every open, memory fd first, with their kinds; Query and List report the
// kinds; only the creator attaches, at most MaxSyncObjects.
func TestSyncFDs(t *testing.T) {
	path := testBroker(t, &Broker{})
	prod, cons := dial(t, path), dial(t, path)

	mem := memfd(t, 4096, 0x21)
	timeline := memfd(t, 16, 0x99) // stand-in with an inode of its own
	binary := eventfd(t)
	// What the broker keeps must go with the resources; the memfds' files
	// outlive the test's fds, the eventfds' only while open.
	memfds := []testenv.File{fileOf(t, mem), fileOf(t, timeline)}
	kmt, err := prod.CreateWithSync(testAllocation(4096), mem, []byte("synced"), []SyncFD{{timeline, true}, {binary, false}})
	if err != nil {
		t.Fatalf("CreateWithSync: %v", err)
	}
	ntSynced, err := prod.Share(kmt, bridge.AccessRead, "synced")
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, r Resource, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		defer unix.Close(r.FD)
		if len(r.Syncs) != 2 || !r.Syncs[0].Timeline || r.Syncs[1].Timeline {
			t.Fatalf("%s: syncs %+v, want timeline then binary", what, r.Syncs)
		}
		for _, s := range r.Syncs {
			defer unix.Close(s.FD)
			if s.FD == timeline || s.FD == binary || s.FD < 0 {
				t.Fatalf("%s: sync fd %d is not a new fd", what, s.FD)
			}
		}
		if !bytes.Equal(readAll(t, r.FD, 64), pattern(64, 0x21)) {
			t.Fatalf("%s: memory fd has the wrong bytes", what)
		}
		if fileOf(t, r.Syncs[0].FD) != fileOf(t, timeline) || !bytes.Equal(readAll(t, r.Syncs[0].FD, 16), pattern(16, 0x99)) {
			t.Fatalf("%s: first sync fd is not the timeline stand-in", what)
		}
		sameEventfd(t, binary, r.Syncs[1].FD, 7)
		sameEventfd(t, r.Syncs[1].FD, binary, 9)
	}
	r, err := cons.OpenKMT(kmt)
	check("OpenKMT", r, err)
	r, err = cons.OpenName("synced", bridge.AccessRead)
	check("OpenName", r, err)
	if err := cons.CloseHandle(r.Handle); err != nil {
		t.Fatal(err)
	}
	// The broker keeps its own copies: the creator's fds may go.
	unix.Close(timeline)
	unix.Close(mem)
	if q, err := cons.Query(kmt); err != nil || !slices.Equal(q.Syncs, []SyncFD{{-1, true}, {-1, false}}) {
		t.Fatalf("Query = %+v, %v", q.Syncs, err)
	}
	if l := mustList(t, cons); len(l) != 1 || !slices.Equal(l[0].Syncs, []SyncFD{{-1, true}, {-1, false}}) {
		t.Fatalf("List syncs = %+v", l)
	}
	if err := prod.AttachSync(kmt, SyncFD{binary, false}); !errors.Is(err, CodeLimit) {
		t.Fatalf("third sync object: %v, want CodeLimit", err)
	}
	if _, err := prod.CreateWithSync(testAllocation(64), binary, nil, make([]SyncFD, 3)); !errors.Is(err, CodeInvalid) {
		t.Fatalf("create with 3 sync objects: %v, want CodeInvalid", err)
	}

	// A resource created before its semaphores.
	mem2 := memfd(t, 4096, 0x22)
	memfds = append(memfds, fileOf(t, mem2))
	late, err := prod.Create(testAllocation(4096), mem2, nil)
	unix.Close(mem2)
	if err != nil {
		t.Fatal(err)
	}
	openKMT(t, cons, late)
	if r, err := cons.OpenKMT(late); err != nil || len(r.Syncs) != 0 {
		t.Fatalf("open before attach = %+v, %v", r.Syncs, err)
	} else {
		unix.Close(r.FD)
	}
	ev := eventfd(t)
	if err := cons.AttachSync(late, SyncFD{ev, false}); !errors.Is(err, CodeAccessDenied) {
		t.Fatalf("attach by a non-creator: %v, want CodeAccessDenied", err)
	}
	if err := cons.AttachSync(bridge.GlobalHandle(1<<16|900), SyncFD{ev, false}); !errors.Is(err, CodeNotFound) {
		t.Fatalf("attach to an unknown handle: %v, want CodeNotFound", err)
	}
	ntLate, err := prod.Share(late, bridge.AccessReadWrite, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := prod.AttachSync(ntLate, SyncFD{ev, true}); err != nil {
		t.Fatalf("AttachSync through the creator's NT handle: %v", err)
	}
	tl2 := memfd(t, 16, 0x77)
	memfds = append(memfds, fileOf(t, tl2))
	if err := prod.AttachSync(late, SyncFD{tl2, false}); err != nil {
		t.Fatalf("second AttachSync: %v", err)
	}
	r, err = cons.OpenKMT(late)
	if err != nil || len(r.Syncs) != 2 || !r.Syncs[0].Timeline || r.Syncs[1].Timeline {
		t.Fatalf("open after attach = %+v, %v", r.Syncs, err)
	}
	sameEventfd(t, ev, r.Syncs[0].FD, 3)
	if fileOf(t, r.Syncs[1].FD) != fileOf(t, tl2) {
		t.Fatal("attached memfd stand-in arrived as another file")
	}
	unix.Close(r.FD)
	fdutil.CloseAll([]int{r.Syncs[0].FD, r.Syncs[1].FD, tl2})

	// Freeing both resources closes every fd the broker kept.
	closeRefs(t, "", ref{prod, kmt}, ref{prod, ntSynced}, ref{cons, kmt}, ref{prod, late}, ref{prod, ntLate}, ref{cons, late}, ref{cons, late}, ref{cons, late})
	if l := mustList(t, cons); len(l) != 0 {
		t.Fatalf("resources left: %+v", l)
	}
	// No wait: the broker closed its copies before answering the last
	// close, and the dups of cons's opens before reading its next request.
	if n := openCount(t, memfds...); n != 0 {
		t.Fatalf("%d fds of the freed resources' memfds are open", n)
	}
	if n := openCount(t, fileOf(t, binary), fileOf(t, ev)); n != 2 {
		t.Fatalf("%d fds of the eventfds are open, want the test's own 2", n)
	}
	fdutil.CloseAll([]int{binary, ev})
}

// TestSyncFDLeak runs 1000 cycles of create with sync fds, attach, opens,
// keyed mutex use (with a timed-out wait now and then) and close: no cycle
// leaves an fd of its memory or semaphore open, in the broker or in its
// clients.
func TestSyncFDLeak(t *testing.T) {
	path := testBroker(t, &Broker{})
	prod, cons := dial(t, path), dial(t, path)
	leakCycles(t, cons, func(i int) {
		mem, sem := memfd(t, 4096, byte(i)), eventfd(t)
		files := []testenv.File{fileOf(t, mem), fileOf(t, sem)}
		kmt, err := prod.CreateWithSync(testAllocation(4096), mem, nil, []SyncFD{{sem, true}})
		if err != nil {
			t.Fatalf("cycle %d: CreateWithSync: %v", i, err)
		}
		if err := prod.AttachSync(kmt, SyncFD{mem, false}); err != nil {
			t.Fatalf("cycle %d: AttachSync: %v", i, err)
		}
		unix.Close(mem)
		nt, err := prod.Share(kmt, bridge.AccessRead, fmt.Sprintf("sync-leak-%d", i))
		if err != nil {
			t.Fatalf("cycle %d: Share: %v", i, err)
		}
		r1, err := cons.OpenKMT(kmt)
		if err != nil || len(r1.Syncs) != 2 {
			t.Fatalf("cycle %d: OpenKMT: %+v, %v", i, r1.Syncs, err)
		}
		r2, err := cons.OpenName(fmt.Sprintf("sync-leak-%d", i), bridge.AccessRead)
		if err != nil || len(r2.Syncs) != 2 {
			t.Fatalf("cycle %d: OpenName: %+v, %v", i, r2.Syncs, err)
		}
		sameEventfd(t, sem, r2.Syncs[0].FD, uint64(i+2))
		closeResource(r1)
		closeResource(r2)
		mustAcquire(t, prod, kmt, 0, 0)
		if i%100 == 0 {
			if _, err := cons.AcquireSync(kmt, 1, time.Millisecond); !errors.Is(err, CodeTimeout) {
				t.Fatalf("cycle %d: %v, want CodeTimeout", i, err)
			}
		}
		mustRelease(t, prod, kmt, 1, uint64(i))
		if r := mustAcquire(t, cons, r2.Handle, 1, time.Second); r.Value != uint64(i) {
			t.Fatalf("cycle %d: acquire = %+v", i, r)
		}
		// The last close abandons the mutex cons holds through r2.Handle.
		closeRefs(t, fmt.Sprintf("cycle %d: ", i), ref{prod, kmt}, ref{prod, nt}, ref{cons, kmt}, ref{cons, r2.Handle})
		// No wait, as in TestBrokerFDLeak. The test still holds sem, so
		// that its file names it alone.
		if n := openCount(t, files...); n != 1 {
			t.Fatalf("cycle %d left %d fds of its memory and semaphore open besides the test's", i, n-1)
		}
		unix.Close(sem)
	})
}

// TestKeyedMutexConcurrent: 32 clients, 8 on each of 4 resources, in two
// teams that acquire with their own key and release with the other team's,
// so that each resource alternates strictly between the teams. Every
// acquire must succeed within a generous bound (a lost wake-up would hang
// it), the alternation and the released values must come out exactly, and
// no two clients may ever hold one resource at once.
func TestKeyedMutexConcurrent(t *testing.T) {
	brk := &Broker{}
	path := testBroker(t, brk)
	const clients, resources, rounds = 32, 4, 250
	creator := dial(t, path)
	type state struct {
		kmt    bridge.Handle
		inside atomic.Int32
		seq    atomic.Uint64 // acquisitions so far; the value released last
	}
	res := make([]*state, resources)
	var mems, conns []testenv.File
	for i := range res {
		res[i] = &state{kmt: mutexResource(t, creator)}
		mems = append(mems, resourceFiles(t, brk, res[i].kmt)...)
	}
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	var all []*Client
	for id := range clients {
		c, files := dialWatched(t, brk, path)
		conns = append(conns, files...)
		all = append(all, c)
		openKMT(t, c, res[id%resources].kmt)
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := res[id%resources]
			team := uint64(id / resources % 2)
			for round := range rounds {
				start := time.Now()
				r, err := c.AcquireSync(s.kmt, team, 60*time.Second)
				if err != nil {
					errs <- fmt.Errorf("client %d round %d: acquire after %v: %w", id, round, time.Since(start), err)
					return
				}
				if n := s.inside.Add(1); n != 1 {
					errs <- fmt.Errorf("client %d: %d holders at once", id, n)
				}
				seq := s.seq.Load()
				if r.Value != seq || r.Abandoned {
					errs <- fmt.Errorf("client %d: acquired %+v, want value %d", id, r, seq)
				}
				// Team 0 takes the even acquisitions, team 1 the odd.
				if seq%2 != team {
					errs <- fmt.Errorf("client %d (team %d) got acquisition %d", id, team, seq)
				}
				s.seq.Store(seq + 1)
				s.inside.Add(-1)
				if err := c.ReleaseSync(s.kmt, 1-team, seq+1); err != nil {
					errs <- fmt.Errorf("client %d: release: %w", id, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, s := range res {
		want := uint64(clients / resources * rounds)
		if got := s.seq.Load(); got != want {
			t.Errorf("resource %d: %d acquisitions, want %d", i, got, want)
		}
		if m := mutexState(t, creator, s.kmt); m.Held || m.Waiters != 0 || m.LastKey != 0 || m.LastValue != want {
			t.Errorf("resource %d: final state %+v", i, m)
		}
	}
	for _, c := range all {
		c.Close()
	}
	// Of each resource's memory, only the broker's own copy is left.
	waitFor(t, "the clients' fds to go", func() bool {
		return openCount(t, conns...) == 0 && openCount(t, mems...) == resources
	})
}

// TestKeyedMutexAbandonmentPersists: once its holder died, every later
// acquire reports abandoned, as Windows' AcquireSync goes on returning
// WAIT_ABANDONED: abandonment persists across 3 later acquires, of keys
// nobody released, by connections that were not involved; the mutex stays
// exclusive meanwhile, and LIST says abandoned while it is held too.
func TestKeyedMutexAbandonmentPersists(t *testing.T) {
	brk := &Broker{}
	path, a, b, kmt := sharedMutex(t, brk)
	holder := dial(t, path)
	openKMT(t, holder, kmt)
	mustAcquire(t, holder, kmt, 0, 0)
	holder.Close()
	waitFor(t, "the mutex to be abandoned", func() bool { m := mutexState(t, a, kmt); return !m.Held && m.Abandoned })
	for i, c := range []*Client{a, b, a} {
		key := uint64(100 + i)
		r := mustAcquire(t, c, kmt, key, time.Second)
		if !r.Abandoned || r.Value != uint64(i) {
			t.Fatalf("acquire %d after abandonment (key %d) = %+v, want abandoned, value %d", i+1, key, r, i)
		}
		if m := mutexState(t, b, kmt); !m.Held || !m.Abandoned {
			t.Fatalf("state while acquire %d holds: %+v, want held and abandoned", i+1, m)
		}
		other := b
		if c == b {
			other = a
		}
		if _, err := other.AcquireSync(kmt, key, 0); !errors.Is(err, CodeTimeout) {
			t.Fatalf("acquire while held after abandonment: %v, want CodeTimeout", err)
		}
		mustRelease(t, c, kmt, 0, uint64(i+1))
	}
}
