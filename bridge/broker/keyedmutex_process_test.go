package broker

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/internal/testenv"
)

// Cross-process keyed mutex tests: the child roles below run in child
// processes (see TestMain) that open a resource the test process
// created and take turns on its keyed mutex, checking through the shared
// memory that each sees the other's last write whole.

// syncSize is the shared memory of the keyed mutex tests: 16384 stamped
// words, so that a write that is not excluded by the mutex shows up as a
// mix of stamps.
const syncSize = 64 << 10

// stampWord is word i of the memory stamped with stamp.
func stampWord(stamp uint32, i int) uint32 { return stamp*0x9e3779b1 ^ uint32(i) }

// fillStamp stamps the words of m, whose first word is word base of the
// memory.
func fillStamp(m []byte, base int, stamp uint32) {
	for i := range len(m) / 4 {
		le.PutUint32(m[4*i:], stampWord(stamp, base+i))
	}
}

// checkStamp reports the first word of m (word base on) that is not
// stamped with stamp.
func checkStamp(m []byte, base int, stamp uint32) error {
	for i := range len(m) / 4 {
		if got, want := le.Uint32(m[4*i:]), stampWord(stamp, base+i); got != want {
			return fmt.Errorf("word %d is %#x, want %#x (stamp %d)", base+i, got, want, int32(stamp))
		}
	}
	return nil
}

func envU64(name string) uint64 {
	v, _ := strconv.ParseUint(os.Getenv(name), 10, 64)
	return v
}

// openShared opens GLB_KMT and maps its memory; it checks that the sync
// fd stand-in came along.
func openShared(c *Client) (Resource, []byte, error) {
	r, err := c.OpenKMT(bridge.Handle(envU64("GLB_KMT")))
	if err != nil {
		return r, nil, err
	}
	if len(r.Syncs) != 1 || !r.Syncs[0].Timeline {
		return r, nil, fmt.Errorf("opened with syncs %+v, want one timeline", r.Syncs)
	}
	b := make([]byte, 12)
	if n, err := unix.Pread(r.Syncs[0].FD, b, 0); err != nil || string(b[:n]) != "sync-standin" {
		return r, nil, fmt.Errorf("sync fd reads %q, %v", b[:n], err)
	}
	m, err := unix.Mmap(r.FD, 0, syncSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	return r, m, err
}

// childPingPong takes GLB_ROUNDS turns: acquire GLB_KEY, check that the
// memory holds the other process's last stamp and the value it released
// with, stamp 2*round+GLB_PARITY, release to GLB_NEXT with that stamp+1.
func childPingPong(c *Client, _ *bufio.Scanner) error {
	r, m, err := openShared(c)
	if err != nil {
		return err
	}
	key, next, parity, rounds := envU64("GLB_KEY"), envU64("GLB_NEXT"), uint32(envU64("GLB_PARITY")), int(envU64("GLB_ROUNDS"))
	fmt.Println("OPENED")
	for round := range rounds {
		stamp := uint32(2*round) + parity
		res, err := c.AcquireSync(r.Handle, key, 10*time.Second)
		if err != nil {
			return fmt.Errorf("round %d: %w", round, err)
		}
		if res.Abandoned || res.Value != uint64(stamp) {
			return fmt.Errorf("round %d: acquired %+v, want value %d", round, res, stamp)
		}
		if err := checkStamp(m, 0, stamp-1); err != nil {
			return fmt.Errorf("round %d (key %d): %w", round, key, err)
		}
		fillStamp(m, 0, stamp)
		if err := c.ReleaseSync(r.Handle, next, uint64(stamp)+1); err != nil {
			return fmt.Errorf("round %d: %w", round, err)
		}
	}
	fmt.Println("DONE", rounds)
	return nil
}

// childHold acquires GLB_KEY, writes half of a stamp (as a holder killed
// mid-frame would), says HELD and holds until killed.
func childHold(c *Client, stdin *bufio.Scanner) error {
	r, m, err := openShared(c)
	if err != nil {
		return err
	}
	res, err := c.AcquireSync(r.Handle, envU64("GLB_KEY"), 10*time.Second)
	if err != nil {
		return err
	}
	fillStamp(m[:syncSize/2], 0, 0xdead)
	fmt.Println("HELD", res.Value)
	for stdin.Scan() {
	}
	return nil
}

// childAcquire acquires GLB_KEY with GLB_TIMEOUT_MS and reports TIMEOUT
// with the elapsed milliseconds, or ACQUIRED with the value and the
// abandoned flag (one word); after an acquire it checks that the resource is still
// usable (query, a second open, the memory) and releases to GLB_RELEASE.
func childAcquire(c *Client, _ *bufio.Scanner) error {
	r, m, err := openShared(c)
	if err != nil {
		return err
	}
	fmt.Println("OPENED")
	start := time.Now()
	res, err := c.AcquireSync(r.Handle, envU64("GLB_KEY"), time.Duration(envU64("GLB_TIMEOUT_MS"))*time.Millisecond)
	if errors.Is(err, CodeTimeout) {
		fmt.Println("TIMEOUT", time.Since(start).Milliseconds())
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Printf("ACQUIRED value=%d,abandoned=%v\n", res.Value, res.Abandoned)
	q, err := c.Query(r.KMT)
	if err != nil || q.Allocation != testAllocation(syncSize) || len(q.Syncs) != 1 {
		return fmt.Errorf("query after acquire: %+v, %v", q, err)
	}
	again, m2, err := openShared(c)
	if err != nil {
		return fmt.Errorf("second open after acquire: %w", err)
	}
	if err := checkStamp(m2[:syncSize/2], 0, 0xdead); err != nil {
		return fmt.Errorf("first half through a new open: %w", err)
	}
	if err := checkStamp(m[syncSize/2:], syncSize/8, 999); err != nil {
		return fmt.Errorf("second half: %w", err)
	}
	fillStamp(m, 0, 1000)
	if err := c.CloseHandle(again.Handle); err != nil {
		return err
	}
	if err := c.ReleaseSync(r.Handle, envU64("GLB_RELEASE"), 1001); err != nil {
		return err
	}
	fmt.Println("RELEASED")
	return nil
}

// TestCrossProcessKeyedMutex: two processes alternate keys 0 -> 1 -> 0 for
// 500 rounds, each checking the other's last stamp over the whole memory; a
// third process's wrong key times out; a holder killed with SIGKILL leaves
// the mutex abandoned to the next acquirer (who asked for another key), and
// the resource stays usable.
func TestCrossProcessKeyedMutex(t *testing.T) {
	path := testBroker(t, &Broker{})
	creator := dial(t, path)
	mem := memfd(t, syncSize, 0)
	defer unix.Close(mem)
	m, err := unix.Mmap(mem, 0, syncSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	fillStamp(m, 0, 0xffffffff) // "stamp -1": what round 0 expects
	standin := memfd(t, 12, 0)
	defer unix.Close(standin)
	unix.Pwrite(standin, []byte("sync-standin"), 0)
	kmt, err := creator.CreateWithSync(testAllocation(syncSize), mem, nil, []SyncFD{{standin, true}})
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"GLB_SOCK=" + path, fmt.Sprintf("GLB_KMT=%d", uint32(kmt))}

	const rounds = 500
	start := time.Now()
	a := testenv.StartChild(t, "pingpong", append(env, "GLB_KEY=0", "GLB_NEXT=1", "GLB_PARITY=0", fmt.Sprintf("GLB_ROUNDS=%d", rounds))...)
	b := testenv.StartChild(t, "pingpong", append(env, "GLB_KEY=1", "GLB_NEXT=0", "GLB_PARITY=1", fmt.Sprintf("GLB_ROUNDS=%d", rounds))...)
	a.ExpectNext(t, "OPENED", patience)
	b.ExpectNext(t, "OPENED", patience)
	a.ExpectNext(t, "DONE", patience)
	b.ExpectNext(t, "DONE", patience)
	t.Logf("%d rounds of two processes alternating keys 0 and 1 in %v", rounds, time.Since(start))
	if err := checkStamp(m, 0, 2*rounds-1); err != nil {
		t.Fatalf("memory after the ping-pong: %v", err)
	}
	if st := mutexState(t, creator, kmt); st.Held || st.Abandoned || st.LastKey != 0 || st.LastValue != 2*rounds {
		t.Fatalf("mutex after the ping-pong: %+v", st)
	}
	a.Wait(t, patience)
	b.Wait(t, patience)

	t.Run("wrong key times out", func(t *testing.T) {
		h := testenv.StartChild(t, "acquire", append(env, "GLB_KEY=7", "GLB_TIMEOUT_MS=300")...)
		h.ExpectNext(t, "OPENED", patience)
		ms, _ := strconv.Atoi(h.ExpectNext(t, "TIMEOUT", patience))
		if ms < 300 || ms > 300+750 {
			t.Fatalf("timed out after %d ms, want 300 (+750)", ms)
		}
		t.Logf("key 7 timed out after %d ms", ms)
	})

	t.Run("holder killed", func(t *testing.T) {
		holder := testenv.StartChild(t, "hold", append(env, "GLB_KEY=0")...)
		if v := holder.ExpectNext(t, "HELD", patience); v != strconv.Itoa(2*rounds) {
			t.Fatalf("holder acquired value %s, want %d", v, 2*rounds)
		}
		l := mustList(t, creator)
		if len(l) != 1 || !l[0].Mutex.Held || l[0].Mutex.HolderPID != int32(holder.Cmd.Process.Pid) || len(l[0].Syncs) != 1 {
			t.Fatalf("List while held = %+v", l)
		}
		next := testenv.StartChild(t, "acquire", append(env, "GLB_KEY=1", "GLB_TIMEOUT_MS=10000", "GLB_RELEASE=0")...)
		next.ExpectNext(t, "OPENED", patience)
		waitWaiters(t, creator, kmt, 1)
		holder.Kill()
		// The waiter asked for key 1; the holder had acquired key 0 and
		// never released. The waiter gets the mutex anyway, abandoned,
		// with the value of the last real release.
		if got, want := next.ExpectNext(t, "ACQUIRED", patience), fmt.Sprintf("value=%d,abandoned=true", 2*rounds); got != want {
			t.Fatalf("acquire after the holder was killed: %s, want %s", got, want)
		}
		next.ExpectNext(t, "RELEASED", patience)
		next.Wait(t, patience)
		// Abandoned for good, as on Windows: the next acquirer is told
		// so too.
		if st := mutexState(t, creator, kmt); st.Held || !st.Abandoned || st.LastKey != 0 || st.LastValue != 1001 {
			t.Fatalf("mutex after the abandoned acquirer released: %+v", st)
		}
		r := mustAcquire(t, creator, kmt, 0, time.Second)
		if !r.Abandoned || r.Value != 1001 {
			t.Fatalf("creator's acquire after recovery = %+v, want abandoned", r)
		}
		if err := checkStamp(m, 0, 1000); err != nil {
			t.Fatalf("memory after recovery: %v", err)
		}
		mustRelease(t, creator, kmt, 0, 1002)
	})
}
