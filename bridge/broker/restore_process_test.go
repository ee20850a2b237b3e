package broker

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/internal/testenv"
)

// loadClient is one client of TestBrokerKill9UnderLoad: a reconnecting
// connection that makes, names, opens, locks and frees resources at random.
type loadClient struct {
	id  int
	c   *Client
	rng *rand.Rand
	// own are the resources this client created: their seeds, names and
	// the files of their memory (to check that no fd of them is left).
	own   map[bridge.Handle]*loadResource
	files []testenv.File
	ops   int
	// reconnected is when its reconnection was done.
	reconnected atomic.Int64
}

type loadResource struct {
	seed byte
	name string
	nt   bridge.Handle // the handle Share made for the name
}

// loadShared is what every client can open: the resources created and
// not yet closed, by KMT handle.
type loadShared struct {
	mu  sync.Mutex
	res map[bridge.Handle]byte // seed
}

const loadSize = 4096

// op does one random operation and checks its result.
func (lc *loadClient) op(t *testing.T, shared *loadShared) error {
	lc.ops++
	switch k := lc.rng.IntN(10); {
	case k < 3 || len(lc.own) == 0:
		if len(lc.own) >= 6 {
			return lc.closeOne(shared)
		}
		seed := byte(lc.rng.UintN(256))
		fd, err := unix.MemfdCreate("load", unix.MFD_CLOEXEC)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		unix.Ftruncate(fd, loadSize)
		unix.Pwrite(fd, pattern(loadSize, seed), 0)
		f, err := testenv.FileOf(fd)
		if err != nil {
			return err
		}
		lc.files = append(lc.files, f)
		kmt, err := lc.c.Create(testAllocation(loadSize), fd, []byte{seed})
		if err != nil {
			return fmt.Errorf("create: %w", err)
		}
		r := &loadResource{seed: seed}
		if lc.rng.IntN(2) == 0 {
			r.name = fmt.Sprintf("load %d/%d", lc.id, lc.ops)
			if r.nt, err = lc.c.Share(kmt, bridge.AccessReadWrite, r.name); err != nil {
				return fmt.Errorf("share: %w", err)
			}
		}
		lc.own[kmt] = r
		shared.mu.Lock()
		shared.res[kmt] = seed
		shared.mu.Unlock()
	case k < 6:
		shared.mu.Lock()
		var kmt bridge.Handle
		var seed byte
		for h, s := range shared.res {
			kmt, seed = h, s
			break
		}
		shared.mu.Unlock()
		if kmt == 0 {
			return nil
		}
		res, err := lc.c.OpenKMT(kmt)
		if err != nil {
			// Its creator may have closed it meanwhile.
			if _, ok := lookupShared(shared, kmt); !ok {
				return nil
			}
			return fmt.Errorf("open %v: %w", kmt, err)
		}
		got := make([]byte, loadSize)
		unix.Pread(res.FD, got, 0)
		unix.Close(res.FD)
		if !bytes.Equal(got, pattern(loadSize, seed)) || !bytes.Equal(res.Data, []byte{seed}) {
			return fmt.Errorf("open %v: other memory or data than its creator's", kmt)
		}
		return lc.c.CloseHandle(kmt)
	case k < 8:
		for kmt := range lc.own {
			if _, err := lc.c.AcquireSync(kmt, 0, InfiniteTimeout); err != nil {
				return fmt.Errorf("acquire %v: %w", kmt, err)
			}
			return lc.c.ReleaseSync(kmt, 0, uint64(lc.ops))
		}
	case k < 9:
		for kmt, r := range lc.own {
			if _, err := lc.c.Query(kmt); err != nil {
				return fmt.Errorf("query %v: %w", kmt, err)
			}
			if r.name != "" {
				res, err := lc.c.OpenName(r.name, bridge.AccessRead)
				if err != nil {
					return fmt.Errorf("open name %q: %w", r.name, err)
				}
				closeResourceFDs(res)
				return lc.c.CloseHandle(res.Handle)
			}
			return nil
		}
	default:
		return lc.closeOne(shared)
	}
	return nil
}

func lookupShared(s *loadShared, h bridge.Handle) (byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.res[h]
	return v, ok
}

func (lc *loadClient) closeOne(shared *loadShared) error {
	for kmt, r := range lc.own {
		shared.mu.Lock()
		delete(shared.res, kmt)
		shared.mu.Unlock()
		delete(lc.own, kmt)
		if r.nt != 0 {
			if err := lc.c.CloseHandle(r.nt); err != nil {
				return err
			}
		}
		return lc.c.CloseHandle(kmt)
	}
	return nil
}

// TestBrokerKill9UnderLoad kills the broker process with SIGKILL while 32
// clients work on it, and starts another: every resource a client holds
// must be back under its old KMT handle and names, with its memory and
// data, and the load goes on as if nothing happened; when the clients
// close everything, nothing is left in the broker and no fd of any
// resource's memory is left open in the clients' process.
func TestBrokerKill9UnderLoad(t *testing.T) {
	dir, err := os.MkdirTemp("", "glb")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "broker.sock")
	const window = 3 * time.Second
	start := func() (*testenv.Child, time.Time) {
		b := testenv.StartChild(t, "broker", "GLB_SOCK="+path, "GLB_RESTORE_WINDOW="+window.String())
		b.Expect(t, "READY", patience)
		return b, time.Now()
	}
	first, _ := start()
	baseFDs := brokerFDs(t, first.Cmd.Process.Pid)

	const clients, opsBefore, opsAfter = 32, 40, 40
	shared := &loadShared{res: map[bridge.Handle]byte{}}
	var (
		paused  atomic.Bool
		resume  = make(chan struct{})
		stopped sync.WaitGroup
		atPause sync.WaitGroup
	)
	lcs := make([]*loadClient, clients)
	errs := make(chan error, clients)
	for i := range lcs {
		lc := &loadClient{id: i, rng: rand.New(rand.NewPCG(uint64(i), 16)), own: map[bridge.Handle]*loadResource{}}
		d := &Dialer{Reconnect: true, CallWait: patience, MaxBackoff: 50 * time.Millisecond,
			Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
			OnReconnect: func(ReconnectEvent) { lc.reconnected.Store(time.Now().UnixNano()) }}
		if lc.c, err = d.Dial(path); err != nil {
			t.Fatal(err)
		}
		defer lc.c.Close()
		lcs[i] = lc
	}
	atPause.Add(clients)
	for _, lc := range lcs {
		stopped.Add(1)
		go func() {
			defer stopped.Done()
			didPause := false
			for lc.ops < opsBefore+opsAfter {
				if paused.Load() && !didPause {
					didPause = true
					atPause.Done()
					<-resume
				}
				if err := lc.op(t, shared); err != nil {
					errs <- fmt.Errorf("client %d, op %d: %w", lc.id, lc.ops, err)
					if !didPause {
						atPause.Done()
					}
					return
				}
			}
			if !didPause {
				atPause.Done()
			}
		}()
	}

	// Kill the broker while the clients are in the middle of their work.
	waitFor(t, "the clients to get going", func() bool {
		shared.mu.Lock()
		defer shared.mu.Unlock()
		return len(shared.res) >= clients
	})
	first.Kill()
	paused.Store(true)
	second, started := start()
	atPause.Wait()

	// Every client is between operations: what they hold is what the new
	// broker must have.
	want := map[bridge.Handle][]string{}
	for _, lc := range lcs {
		for kmt, r := range lc.own {
			want[kmt] = nil
			if r.name != "" {
				want[kmt] = []string{r.name}
			}
		}
	}
	obs := dial(t, path)
	got := map[bridge.Handle][]string{}
	for _, e := range mustList(t, obs) {
		got[e.KMT] = e.Names
	}
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	if len(got) != len(want) {
		t.Errorf("after the restart the broker has %d resources, the clients hold %d", len(got), len(want))
	}
	for kmt, names := range want {
		if g, ok := got[kmt]; !ok || !slices.Equal(g, names) {
			t.Errorf("%v: want names %q, the broker has %q (present %v)", kmt, names, g, ok)
		}
	}
	var last time.Time
	for _, lc := range lcs {
		if ns := lc.reconnected.Load(); ns == 0 {
			t.Errorf("client %d never reconnected", lc.id)
		} else if at := time.Unix(0, ns); at.After(last) {
			last = at
		}
	}
	took := last.Sub(started)
	t.Logf("%d resources of %d clients restored %v after the new broker was ready", len(want), clients, took.Round(time.Millisecond))
	// Restoring is a round trip per resource; the clients' backoff is at
	// most 50 ms here. A second is many times what it takes, even on a
	// loaded machine, and what the issue asks.
	if took > time.Second {
		t.Errorf("restoring took %v, more than a second", took)
	}
	// An old handle opened after the restart has the right contents.
	for _, lc := range lcs {
		for kmt, r := range lc.own {
			res, err := obs.OpenKMT(kmt)
			if err != nil {
				t.Fatalf("opening %v after the restart: %v", kmt, err)
			}
			if !bytes.Equal(readAll(t, res.FD, loadSize), pattern(loadSize, r.seed)) {
				t.Errorf("%v has other memory after the restart", kmt)
			}
			closeResourceFDs(res)
			if err := obs.CloseHandle(kmt); err != nil {
				t.Fatal(err)
			}
		}
	}

	close(resume)
	stopped.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, lc := range lcs {
		for len(lc.own) > 0 {
			if err := lc.closeOne(shared); err != nil {
				t.Error(err)
			}
		}
	}
	waitFor(t, "the broker to free everything", func() bool { return len(mustList(t, obs)) == 0 })
	obs.Close()
	total := 0
	for _, lc := range lcs {
		lc.c.Close()
		total += lc.ops
	}
	for _, lc := range lcs {
		if n, err := testenv.CountOpen(0, lc.files...); err != nil || n != 0 {
			t.Errorf("client %d: %d fds of its resources' memory still open (%v)", lc.id, n, err)
		}
	}
	t.Logf("%d operations in all", total)
	// The new broker's fds are back to what the first had when it was
	// ready: its listener and stdio.
	waitBrokerFDs(t, second.Cmd.Process.Pid, baseFDs, "after every client closed")
}
