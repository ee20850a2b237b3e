package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/internal/fdutil"
	"github.com/glbridge/glbridge/internal/testenv"
)

// testBroker runs a broker in this process on a fresh socket, so that the
// tests can count its fds, and stops it when the test ends. Set
// GLBRIDGE_TEST_LOG=1 to see its log.
func testBroker(t testing.TB, b *Broker) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "glb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "broker.sock")
	serveAt(t, path, b)
	return path
}

// serveAt serves b at path until the test ends, as testBroker does; a
// second broker at a path serves after the first was shut down (a
// restart).
func serveAt(t testing.TB, path string, b *Broker) {
	t.Helper()
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	if b.Logger == nil {
		var w io.Writer = io.Discard
		if os.Getenv("GLBRIDGE_TEST_LOG") != "" {
			w = os.Stderr
		}
		b.Logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	served := make(chan error, 1)
	go func() { served <- b.Serve(context.Background(), l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, bridge.ErrBrokerClosed) {
			t.Errorf("Serve returned %v, want bridge.ErrBrokerClosed", err)
		}
	})
}

func dial(t testing.TB, path string) *Client {
	t.Helper()
	c, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// A round trip makes sure the broker has accepted the connection, so
	// that fd counts taken next include the broker's end of it.
	mustList(t, c)
	return c
}

// memfd makes a memory fd standing in for exported GPU memory, filled with
// pattern(i) at byte i.
func memfd(t testing.TB, size int, seed byte) int {
	t.Helper()
	fd, err := unix.MemfdCreate("glbridge-test", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatalf("memfd_create: %v", err)
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Pwrite(fd, pattern(size, seed), 0); err != nil {
		t.Fatal(err)
	}
	return fd
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ byte(i>>8) ^ seed
	}
	return b
}

func readAll(t testing.TB, fd, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if got, err := unix.Pread(fd, b, 0); err != nil || got != n {
		t.Fatalf("pread fd %d: %d, %v", fd, got, err)
	}
	return b
}

// patience bounds every wait for what the broker, a client or a child
// process does in its own time. It only says when to give up on a test
// that has failed already, so it is generous: a loaded machine running the
// tests under -race is slow, not wrong.
const patience = 30 * time.Second

// waitFor polls cond: the broker notices a vanished client asynchronously.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(patience); !cond(); {
		if time.Now().After(deadline) {
			ents, _ := os.ReadDir("/proc/self/fd")
			for _, e := range ents {
				l, _ := os.Readlink("/proc/self/fd/" + e.Name())
				t.Logf("fd %s -> %s", e.Name(), l)
			}
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func mustList(t testing.TB, c *Client) []ResourceInfo {
	t.Helper()
	l, err := c.List()
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return l
}

// ref is a handle and the connection that holds a reference through it.
type ref struct {
	c *Client
	h bridge.Handle
}

// closeRefs closes refs in turn; a failure names the caller's step with
// what.
func closeRefs(t testing.TB, what string, refs ...ref) {
	t.Helper()
	for _, r := range refs {
		if err := r.c.CloseHandle(r.h); err != nil {
			t.Fatalf("%sCloseHandle(%v): %v", what, r.h, err)
		}
	}
}

// closeResource closes the fds an open returned: its memory and its
// semaphores.
func closeResource(r Resource) {
	unix.Close(r.FD)
	for _, s := range r.Syncs {
		unix.Close(s.FD)
	}
}

// leakCycles runs the 1000 cycles of a leak test and checks through c
// that they left no resource behind; each cycle checks its own fds.
func leakCycles(t *testing.T, c *Client, cycle func(i int)) {
	t.Helper()
	for i := range 1000 {
		cycle(i)
	}
	if l := mustList(t, c); len(l) != 0 {
		t.Fatalf("resources left: %+v", l)
	}
}

func TestBrokerShareOpenQuery(t *testing.T) {
	path := testBroker(t, &Broker{})
	prod, cons := dial(t, path), dial(t, path)

	const size = 8192
	fd := memfd(t, size, 0x5a)
	alloc := testAllocation(size)
	blob := bytes.Repeat([]byte("d3d11 private data "), 100)
	kmt, err := prod.Create(alloc, fd, blob)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if !kmt.IsKMT() {
		t.Fatalf("Create returned %v, not a KMT handle", kmt)
	}
	// Create sent a copy: the producer's fd stays its own.
	unix.Close(fd)

	r, err := cons.OpenKMT(kmt)
	if err != nil {
		t.Fatalf("OpenKMT: %v", err)
	}
	defer unix.Close(r.FD)
	if r.Handle != kmt || r.KMT != kmt || r.Access != bridge.AccessReadWrite || r.Allocation != alloc || !bytes.Equal(r.Data, blob) {
		t.Fatalf("OpenKMT = %+v", r)
	}
	if got := readAll(t, r.FD, size); !bytes.Equal(got, pattern(size, 0x5a)) {
		t.Fatalf("bytes read through the opened fd differ from what the producer wrote")
	}

	// The memory is shared, not copied: a write through a mapping of the
	// consumer's fd shows through the producer's.
	m, err := unix.Mmap(r.FD, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	copy(m[100:], "written by the consumer")
	unix.Munmap(m)

	nt, err := prod.Share(kmt, bridge.AccessRead, "Global\\glbridge-test")
	if err != nil {
		t.Fatalf("Share: %v", err)
	}
	if !nt.IsNT() {
		t.Fatalf("Share returned %v, not an NT handle", nt)
	}
	third := dial(t, path)
	byName, err := third.OpenName("Global\\glbridge-test", bridge.AccessRead)
	if err != nil {
		t.Fatalf("OpenName: %v", err)
	}
	defer unix.Close(byName.FD)
	if !byName.Handle.IsNT() || byName.KMT != kmt || byName.Access != bridge.AccessRead || byName.Allocation != alloc {
		t.Fatalf("OpenName = %+v", byName)
	}
	if got := readAll(t, byName.FD, size)[100:123]; string(got) != "written by the consumer" {
		t.Fatalf("read %q through the fd opened by name", got)
	}

	// Query needs no reference for a KMT handle and hands out no fd.
	fourth := dial(t, path)
	q, err := fourth.Query(kmt)
	if err != nil || q.FD != -1 || q.Allocation != alloc || !bytes.Equal(q.Data, blob) {
		t.Fatalf("Query = %+v, %v", q, err)
	}
	// UPDATE_DATA modifies the resource: a read-only NT handle may not,
	// even the creator's; its KMT handle (read and write) may.
	if err := prod.UpdateData(nt, []byte("v2")); !errors.Is(err, CodeAccessDenied) {
		t.Fatalf("creator UpdateData through its read-only NT handle: %v, want CodeAccessDenied", err)
	}
	if err := prod.UpdateData(kmt, []byte("v2")); err != nil {
		t.Fatalf("creator UpdateData through its KMT handle: %v", err)
	}
	if q, err := third.Query(byName.Handle); err != nil || string(q.Data) != "v2" || q.Access != bridge.AccessRead {
		t.Fatalf("Query after update = %+v, %v", q, err)
	}
	if err := cons.UpdateData(kmt, []byte("nope")); !errors.Is(err, CodeAccessDenied) {
		t.Fatalf("UpdateData by a non-creator: %v, want CodeAccessDenied", err)
	}

	l := mustList(t, fourth)
	if len(l) != 1 {
		t.Fatalf("List = %+v", l)
	}
	e := l[0]
	pid := int32(os.Getpid())
	if e.KMT != kmt || !slices.Equal(e.Names, []string{"Global\\glbridge-test"}) || e.Refs != 4 || e.CreatorPID != pid ||
		!e.CreatorConnected || e.DataLen != 2 || e.Allocation != alloc || len(e.Holders) != 3 {
		t.Fatalf("List entry = %+v", e)
	}
	sum := 0
	for _, h := range e.Holders {
		sum += h.Refs
		if h.PID != pid {
			t.Errorf("holder %+v: pid, want %d", h, pid)
		}
	}
	if sum != e.Refs {
		t.Errorf("holders' refs sum to %d, resource says %d", sum, e.Refs)
	}

	// The resource lives until the last handle closes.
	for _, r := range []ref{{prod, kmt}, {prod, nt}, {cons, kmt}} {
		closeRefs(t, "", r)
		if l := mustList(t, fourth); len(l) != 1 {
			t.Fatalf("resource freed early, after closing %v", r.h)
		}
	}
	if err := prod.CloseHandle(kmt); !errors.Is(err, CodeNotFound) {
		t.Fatalf("second CloseHandle(%v): %v, want CodeNotFound", kmt, err)
	}
	if err := third.CloseHandle(byName.Handle); err != nil {
		t.Fatal(err)
	}
	if l := mustList(t, fourth); len(l) != 0 {
		t.Fatalf("List after the last close = %+v", l)
	}
	if _, err := fourth.OpenName("Global\\glbridge-test", bridge.AccessRead); !errors.Is(err, CodeNotFound) {
		t.Fatalf("name outlived its resource: %v", err)
	}
	if _, err := fourth.OpenKMT(kmt); !errors.Is(err, CodeNotFound) {
		t.Fatalf("KMT handle outlived its resource: %v", err)
	}
}

func TestBrokerAccessRights(t *testing.T) {
	path := testBroker(t, &Broker{})
	prod, cons := dial(t, path), dial(t, path)
	fd := memfd(t, 4096, 1)
	defer unix.Close(fd)
	kmt, err := prod.Create(testAllocation(4096), fd, nil)
	if err != nil {
		t.Fatal(err)
	}
	ro, err := prod.Share(kmt, bridge.AccessRead, "ro")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prod.Share(kmt, bridge.AccessReadWrite, "rw"); err != nil {
		t.Fatal(err)
	}
	// The sharer's read-only handle does not cap its name: a name grants
	// what is asked, as the named object's default security does on
	// Windows.
	for _, a := range []bridge.Access{bridge.AccessReadWrite, bridge.AccessWrite} {
		r, err := cons.OpenName("ro", a)
		if err != nil || r.Access != a {
			t.Errorf("OpenName(ro, %v) of a read-only share = %v, %v; want %v", a, r.Access, err, a)
			continue
		}
		closeResource(r)
		if err := cons.CloseHandle(r.Handle); err != nil {
			t.Fatal(err)
		}
	}
	r, err := cons.OpenName("rw", bridge.AccessWrite)
	if err != nil || r.Access != bridge.AccessWrite {
		t.Fatalf("OpenName(rw, write) = %+v, %v", r, err)
	}
	unix.Close(r.FD)
	if err := cons.CloseHandle(r.Handle); err != nil {
		t.Fatal(err)
	}
	// A read-only NT handle cannot be re-shared with more rights.
	if _, err := prod.Share(ro, bridge.AccessReadWrite, ""); !errors.Is(err, CodeAccessDenied) {
		t.Errorf("escalating share: %v, want CodeAccessDenied", err)
	}
	if h, err := prod.Share(ro, bridge.AccessRead, ""); err != nil || !h.IsNT() {
		t.Errorf("read share of a read handle = %v, %v", h, err)
	}
	// Bits no shared resource right has are INVALID; access 0 asks for
	// nothing, which Windows' open by name answers STATUS_ACCESS_DENIED.
	for _, a := range []bridge.Access{2, bridge.AccessRead | 4, 0x01000000, 0x8000} {
		if _, err := prod.Share(kmt, a, ""); !errors.Is(err, CodeInvalid) {
			t.Errorf("Share with access %v: %v, want CodeInvalid", a, err)
		}
		if _, err := cons.OpenName("rw", a); !errors.Is(err, CodeInvalid) {
			t.Errorf("OpenName with access %v: %v, want CodeInvalid", a, err)
		}
	}
	if _, err := prod.Share(kmt, 0, ""); !errors.Is(err, CodeAccessDenied) {
		t.Errorf("Share with access 0: %v, want CodeAccessDenied", err)
	}
	if _, err := cons.OpenName("rw", 0); !errors.Is(err, CodeAccessDenied) {
		t.Errorf("OpenName with access 0: %v, want CodeAccessDenied", err)
	}
	// A connection cannot share a resource it holds no handle to.
	if _, err := cons.Share(kmt, bridge.AccessRead, ""); !errors.Is(err, CodeNotFound) {
		t.Errorf("Share without holding %v: %v, want CodeNotFound", kmt, err)
	}
	// NT handles are per connection.
	if _, err := cons.Query(ro); !errors.Is(err, CodeNotFound) {
		t.Errorf("Query of another connection's NT handle: %v, want CodeNotFound", err)
	}
}

func TestBrokerNames(t *testing.T) {
	path := testBroker(t, &Broker{})
	a, b := dial(t, path), dial(t, path)
	fd := memfd(t, 64, 1)
	defer unix.Close(fd)
	k1, err := a.Create(testAllocation(64), fd, nil)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := b.Create(testAllocation(64), fd, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Share(k1, bridge.AccessRead, "taken"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Share(k2, bridge.AccessRead, "taken"); !errors.Is(err, CodeNameTaken) {
		t.Errorf("second share under a taken name: %v, want CodeNameTaken", err)
	}
	for _, bad := range []string{"bell\a", "\xc3\x28", "zero\x00width", "rtl\u202eoverride", string(make([]byte, MaxNameLen+1))} {
		if _, err := b.Share(k2, bridge.AccessRead, bad); !errors.Is(err, CodeBadName) {
			t.Errorf("Share(%q): %v, want CodeBadName", bad, err)
		}
		if _, err := b.OpenName(bad, bridge.AccessRead); !errors.Is(err, CodeBadName) {
			t.Errorf("OpenName(%q): %v, want CodeBadName", bad, err)
		}
	}
	if _, err := b.OpenName("", bridge.AccessRead); !errors.Is(err, CodeBadName) {
		t.Errorf("OpenName(\"\"): %v, want CodeBadName", err)
	}
	for i := range maxNamesPerResource - 1 {
		if _, err := b.Share(k2, bridge.AccessRead, fmt.Sprintf("n%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Share(k2, bridge.AccessRead, "one too many"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Share(k2, bridge.AccessRead, "two too many"); !errors.Is(err, CodeLimit) {
		t.Errorf("name beyond the per-resource limit: %v, want CodeLimit", err)
	}
}

// TestBrokerForgedAndStaleHandles frees and makes resources under a limit
// of one, so that a new resource always replaces a freed one: no handle may
// come back (with 8-bit generations, one did after 255 frees of a slot, so
// with --max-resources 3 after 765), and the freed ones must not name
// anything.
func TestBrokerForgedAndStaleHandles(t *testing.T) {
	path := testBroker(t, &Broker{MaxResources: 1})
	c := dial(t, path)
	fd := memfd(t, 64, 1)
	defer unix.Close(fd)
	old, err := c.Create(testAllocation(64), fd, nil)
	if err != nil {
		t.Fatal(err)
	}
	bad := testAllocation(64)
	bad.Desc.Width = 0
	if _, err := c.Create(bad, fd, nil); !errors.Is(err, CodeInvalidDesc) || !errors.Is(err, bridge.ErrInvalidDesc) || !strings.Contains(err.Error(), "Width = 0") {
		t.Fatalf("create with an invalid Desc: %v, want CodeInvalidDesc naming the field", err)
	}
	bad = testAllocation(64)
	bad.Offset = 64
	if _, err := c.Create(bad, fd, nil); !errors.Is(err, CodeInvalid) {
		t.Fatalf("create with offset == size: %v, want CodeInvalid", err)
	}
	if _, err := c.Create(testAllocation(64), fd, nil); !errors.Is(err, CodeLimit) {
		t.Fatalf("create beyond MaxResources: %v, want CodeLimit", err)
	}
	if err := c.CloseHandle(old); err != nil {
		t.Fatal(err)
	}
	cur, err := c.Create(testAllocation(64), fd, []byte("new"))
	if err != nil {
		t.Fatal(err)
	}
	if cur == old {
		t.Fatalf("a new resource got the freed one's handle %v", old)
	}
	seen := map[bridge.Handle]bool{old: true, cur: true}
	for range 2000 {
		if err := c.CloseHandle(cur); err != nil {
			t.Fatal(err)
		}
		if cur, err = c.Create(testAllocation(64), fd, []byte("new")); err != nil {
			t.Fatal(err)
		}
		if seen[cur] {
			t.Fatalf("handle %v came back after %d frees", cur, len(seen)-1)
		}
		seen[cur] = true
	}
	other := dial(t, path)
	if _, err := other.OpenKMT(old); !errors.Is(err, CodeNotFound) {
		t.Errorf("OpenKMT(stale %v): %v, want CodeNotFound", old, err)
	}
	if _, err := other.Query(old); !errors.Is(err, CodeNotFound) {
		t.Errorf("Query(stale %v): %v, want CodeNotFound", old, err)
	}
	i := cur.GlobalIndex()
	for _, forged := range []bridge.Handle{bridge.GlobalHandle((i + 1) & bridge.MaxGlobalIndex), bridge.GlobalHandle(i ^ 1<<20), bridge.GlobalHandle(0)} {
		if _, err := other.OpenKMT(forged); !errors.Is(err, CodeNotFound) {
			t.Errorf("OpenKMT(forged %v): %v, want CodeNotFound", forged, err)
		}
	}
	for _, malformed := range []bridge.Handle{0, 1, cur | 4, cur | 0x80000000, 0x12345677} {
		if _, err := other.OpenKMT(malformed); !errors.Is(err, CodeBadHandle) {
			t.Errorf("OpenKMT(malformed %v): %v, want CodeBadHandle", malformed, err)
		}
		if err := other.CloseHandle(malformed); !errors.Is(err, CodeBadHandle) && !errors.Is(err, CodeNotFound) {
			t.Errorf("CloseHandle(malformed %v): %v", malformed, err)
		}
	}
	if err := other.CloseHandle(cur); !errors.Is(err, CodeNotFound) {
		t.Errorf("closing a handle this connection never opened: %v, want CodeNotFound", err)
	}
	if err := other.CloseHandle(0x100); !errors.Is(err, CodeNotFound) {
		t.Errorf("closing an unknown NT handle: %v, want CodeNotFound", err)
	}
	if r, err := other.OpenKMT(cur); err != nil || string(r.Data) != "new" {
		t.Fatalf("OpenKMT(current) = %+v, %v", r, err)
	} else {
		unix.Close(r.FD)
	}
}

// rawConn is a client that speaks bytes, for feeding the broker what the
// Client never sends.
type rawConn struct {
	t  *testing.T
	uc *net.UnixConn
	// files are the connection's sockets: the client's and the broker's
	// end of it.
	files []testenv.File
}

// dialRaw connects to brk, listening at path, and waits for brk to admit
// the connection.
func dialRaw(t *testing.T, brk *Broker, path string) *rawConn {
	t.Helper()
	prev := lastConn(brk)
	uc, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { uc.Close() })
	waitFor(t, "the broker to admit a raw connection", func() bool { return lastConn(brk) != prev })
	return &rawConn{t: t, uc: uc, files: []testenv.File{socketFile(t, uc), admitted(t, brk, prev)}}
}

func (r *rawConn) send(msg []byte, fds ...int) {
	r.t.Helper()
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if _, _, err := r.uc.WriteMsgUnix(msg, oob, nil); err != nil {
		r.t.Fatalf("send: %v", err)
	}
}

// recv reads one message; ok is false at end of connection.
func (r *rawConn) recv() (h header, payload []byte, ok bool) {
	r.t.Helper()
	r.uc.SetReadDeadline(time.Now().Add(patience))
	buf, oob := make([]byte, maxMessageSize), make([]byte, 1024)
	msg, fds, _, _, eof, err := readMsg(r.uc, buf, oob)
	fdutil.CloseAll(fds)
	if eof || errors.Is(err, unix.ECONNRESET) {
		return h, nil, false
	}
	if err != nil {
		r.t.Fatalf("recv: %v", err)
	}
	h, err = decodeHeader(msg)
	if err != nil {
		r.t.Fatalf("broker sent a malformed message: %v", err)
	}
	return h, msg[headerSize:], true
}

func (r *rawConn) expect(what string, id uint32, code Code) {
	r.t.Helper()
	h, p, ok := r.recv()
	if !ok {
		r.t.Fatalf("%s: connection closed, want error %d", what, code)
	}
	if h.Status != code || h.ID != id || h.Type&replyBit == 0 {
		r.t.Fatalf("%s: reply type %v id %d status %d (%q), want id %d status %d", what, h.Type, h.ID, h.Status, p, id, code)
	}
}

func (r *rawConn) expectDropped(what string) {
	r.t.Helper()
	for {
		h, _, ok := r.recv()
		if !ok {
			return
		}
		if h.Type != msgFatal {
			r.t.Fatalf("%s: got %v, want the connection dropped", what, h.Type)
		}
	}
}

// TestBrokerBadInput throws malformed and hostile messages at the broker.
// Each gets an error reply or a dropped connection; a well-behaved client
// is served throughout, and no fd stays behind.
func TestBrokerBadInput(t *testing.T) {
	brk := &Broker{}
	path := testBroker(t, brk)
	good := dial(t, path)
	fd := memfd(t, 4096, 9)
	defer unix.Close(fd)
	kmt, err := good.Create(testAllocation(4096), fd, []byte("good"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := good.Share(kmt, bridge.AccessRead, "taken"); err != nil {
		t.Fatal(err)
	}
	stillServed := func(what string) {
		t.Helper()
		r, err := good.OpenKMT(kmt)
		if err != nil {
			t.Fatalf("after %s, the good client is not served: %v", what, err)
		}
		unix.Close(r.FD)
		if err := good.CloseHandle(kmt); err != nil {
			t.Fatal(err)
		}
	}
	stillServed("warm-up")
	// The bad clients' connections, and the fds they send (copies of fd
	// and of their own sockets), are what must be gone in the end.
	var bad []testenv.File
	dialBad := func(t *testing.T) *rawConn {
		r := dialRaw(t, brk, path)
		bad = append(bad, r.files...)
		return r
	}

	create := encodeRequest(request{header: header{Type: msgCreate, ID: 77}, Alloc: testAllocation(4096)})
	rng := rand.New(rand.NewPCG(1, 2))

	t.Run("random bytes", func(t *testing.T) {
		for i := range 20 {
			r := dialBad(t)
			junk := make([]byte, 1+rng.IntN(3000))
			for j := range junk {
				junk[j] = byte(rng.Uint32())
			}
			r.send(junk)
			r.expectDropped(fmt.Sprintf("junk %d", i))
		}
		stillServed("random bytes")
	})
	t.Run("truncated", func(t *testing.T) {
		r := dialBad(t)
		r.send(create[:10])
		r.expect("short header", 0, CodeBadMessage)
		r.send(create[:headerSize+50], fd)
		r.expect("cut payload, length unchanged", 77, CodeBadMessage)
		short := bytes.Clone(create[:headerSize+50])
		le.PutUint32(short[12:], 50)
		r.send(short, fd)
		r.expect("cut payload, length adjusted", 77, CodeBadMessage)
		// The connection survives a bad message.
		r.send(encodeRequest(request{header: header{Type: msgList, ID: 78}}))
		r.expect("list after bad messages", 78, 0)
		stillServed("truncated messages")
	})
	t.Run("fds", func(t *testing.T) {
		r := dialBad(t)
		many := make([]int, 20)
		for i := range many {
			many[i] = fd
		}
		r.send(create, many...)
		r.expect("20 fds", 77, CodeBadFDs)
		r.send(create, fd, fd)
		r.expect("2 fds on create", 77, CodeBadFDs)
		r.send(create)
		r.expect("create without an fd", 77, CodeBadFDs)
		r.send(encodeRequest(request{header: header{Type: msgQuery, ID: 5}, Handle: kmt}), fd)
		r.expect("fd on a query", 5, CodeBadFDs)
		sync := bytes.Clone(create)
		le.PutUint32(sync[headerSize+4:], 1)
		sync[16] = 2
		r.send(sync, fd, fd)
		r.expect("sync count without its kind", 77, CodeBadMessage)
		withSync := encodeRequest(request{header: header{Type: msgCreate, ID: 78}, Alloc: testAllocation(4096), SyncCount: 1, Kinds: []syncKind{syncBinary}})
		r.send(withSync, fd)
		r.expect("sync count 1 with only the memory fd", 78, CodeBadFDs)
		r.send(withSync, fd, int(r.uc2fd()))
		r.expect("socket as a semaphore", 78, CodeBadFDs)
		r.send(encodeRequest(request{header: header{Type: msgAttachSync, ID: 6}, Handle: kmt, Kind: syncBinary}))
		r.expect("attach-sync without an fd", 6, CodeBadFDs)
		r.send(encodeRequest(request{header: header{Type: msgAttachSync, ID: 7}, Handle: kmt, Kind: syncBinary}), fd)
		r.expect("attach-sync to a handle not held", 7, CodeNotFound)
		r.send(create, int(r.uc2fd()))
		r.expect("socket as memory", 77, CodeBadFDs)
		stillServed("bad fds")
	})
	t.Run("oversized", func(t *testing.T) {
		r := dialBad(t)
		big := append(bytes.Clone(create), make([]byte, 100<<10)...)
		le.PutUint32(big[12:], uint32(len(big)-headerSize))
		r.send(big, fd)
		r.expect("100 KiB message", 77, CodeTooLarge)
		blob := encodeRequest(request{header: header{Type: msgCreate, ID: 79}, Alloc: testAllocation(64), Data: make([]byte, MaxPrivateData+1)})
		r.send(blob, fd)
		r.expect("blob over 64 KiB", 79, CodeTooLarge)
		full := encodeRequest(request{header: header{Type: msgCreate, ID: 80}, Alloc: testAllocation(64), Data: make([]byte, MaxPrivateData)})
		r.send(full, fd)
		r.expect("blob of exactly 64 KiB", 80, 0)
		stillServed("oversized messages")
	})
	t.Run("header fields", func(t *testing.T) {
		r := dialBad(t)
		v3 := bytes.Clone(create)
		v3[4] = 3
		r.send(v3, fd)
		r.expect("version 3", 77, CodeBadVersion)
		unknown := encodeRequest(request{header: header{Type: msgList, ID: 81}})
		unknown[6] = 0x42
		r.send(unknown)
		r.expect("unknown type", 81, CodeUnknownType)
		r.send(encodeRequest(request{header: header{Type: msgShare, ID: 82}, Handle: kmt, Access: bridge.AccessRead, Name: "taken"}))
		r.expect("share of a handle not held", 82, CodeNotFound)
		r.send(encodeRequest(request{header: header{Type: msgOpenName, ID: 83}, Access: bridge.AccessRead, Name: "taken"}))
		h, p, _ := r.recv()
		if h.Status != 0 || h.NumFDs != 1 {
			t.Fatalf("open-name reply: status %d, %d fds", h.Status, h.NumFDs)
		}
		nt := bridge.Handle(le.Uint32(p))
		r.send(encodeRequest(request{header: header{Type: msgShare, ID: 84}, Handle: nt, Access: bridge.AccessRead, Name: "taken"}))
		r.expect("name already taken", 84, CodeNameTaken)
		stillServed("bad header fields")
	})
	t.Run("bad magic after good messages", func(t *testing.T) {
		r := dialBad(t)
		r.send(encodeRequest(request{header: header{Type: msgList, ID: 1}}))
		r.expect("list", 1, 0)
		bad := encodeRequest(request{header: header{Type: msgList, ID: 2}})
		bad[3] = 'X'
		r.send(bad)
		r.expectDropped("bad magic")
		stillServed("bad magic")
	})

	// Every fd the bad clients sent, and every resource they made, is gone
	// once their connections are: of fd, only the test's and the good
	// resource's copies are left.
	mem := fileOf(t, fd)
	waitFor(t, "the broker to release the bad clients' fds", func() bool {
		return openCount(t, bad...) == 0 && openCount(t, mem) == 2
	})
	if l := mustList(t, good); len(l) != 1 || l[0].KMT != kmt {
		t.Fatalf("List after bad input = %+v", l)
	}
}

// uc2fd returns the raw conn's socket fd, to offer the broker a socket
// where memory belongs.
func (r *rawConn) uc2fd() uintptr {
	raw, err := r.uc.SyscallConn()
	if err != nil {
		r.t.Fatal(err)
	}
	var fd uintptr
	raw.Control(func(f uintptr) { fd = f })
	return fd
}

// TestBrokerFDLeak runs 1000 create/open/close cycles and checks that none
// leaves an fd of its memory open, in the broker or in its clients.
func TestBrokerFDLeak(t *testing.T) {
	path := testBroker(t, &Broker{})
	prod, cons := dial(t, path), dial(t, path)
	leakCycles(t, cons, func(i int) {
		fd := memfd(t, 4096, byte(i))
		mem := fileOf(t, fd)
		kmt, err := prod.Create(testAllocation(4096), fd, []byte{byte(i)})
		unix.Close(fd)
		if err != nil {
			t.Fatalf("cycle %d: Create: %v", i, err)
		}
		nt, err := prod.Share(kmt, bridge.AccessRead, fmt.Sprintf("leak-%d", i))
		if err != nil {
			t.Fatalf("cycle %d: Share: %v", i, err)
		}
		r1, err := cons.OpenKMT(kmt)
		if err != nil {
			t.Fatalf("cycle %d: OpenKMT: %v", i, err)
		}
		r2, err := cons.OpenName(fmt.Sprintf("leak-%d", i), bridge.AccessRead)
		if err != nil {
			t.Fatalf("cycle %d: OpenName: %v", i, err)
		}
		if got := readAll(t, r2.FD, 16); !bytes.Equal(got, pattern(16, byte(i))) {
			t.Fatalf("cycle %d: wrong bytes %x", i, got)
		}
		closeResource(r1)
		closeResource(r2)
		closeRefs(t, fmt.Sprintf("cycle %d: ", i), ref{prod, kmt}, ref{prod, nt}, ref{cons, kmt}, ref{cons, r2.Handle})
		// No wait: the broker closed its copy before answering the last
		// close, and the dups of cons's opens before reading its next
		// request.
		if n := openCount(t, mem); n != 0 {
			t.Fatalf("cycle %d left %d fds of its memory open", i, n)
		}
	})
}

// TestBrokerConnectionDeathReleases closes a client that holds handles of
// every kind, without closing them: the broker must release them all.
func TestBrokerConnectionDeathReleases(t *testing.T) {
	brk := &Broker{}
	path := testBroker(t, brk)
	watcher := dial(t, path)
	c, files := dialWatched(t, brk, path)
	fd := memfd(t, 4096, 3)
	files = append(files, fileOf(t, fd))
	kmt, err := c.Create(testAllocation(4096), fd, nil)
	unix.Close(fd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Share(kmt, bridge.AccessReadWrite, "dies"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		r, err := c.OpenKMT(kmt)
		if err != nil {
			t.Fatal(err)
		}
		unix.Close(r.FD)
	}
	if l := mustList(t, watcher); len(l) != 1 || l[0].Refs != 5 {
		t.Fatalf("List = %+v, want one resource with 5 refs", l)
	}
	c.Close()
	if _, err := c.Query(kmt); !errors.Is(err, bridge.ErrClosed) {
		t.Errorf("Query on a closed client: %v, want ErrClosed", err)
	}
	waitFor(t, "the resource to be freed", func() bool { return len(mustList(t, watcher)) == 0 })
	waitFor(t, "the broker to close the connection and the memory", func() bool { return openCount(t, files...) == 0 })
	if _, err := watcher.OpenName("dies", bridge.AccessRead); !errors.Is(err, CodeNotFound) {
		t.Errorf("name of a freed resource: %v, want CodeNotFound", err)
	}
}

// TestBrokerConcurrent runs 32 clients of 500 operations each, plus 8
// goroutines sharing one client, under -race in CI.
func TestBrokerConcurrent(t *testing.T) {
	brk := &Broker{}
	path := testBroker(t, brk)
	const clients, ops = 32, 500
	watcher := dial(t, path)
	shared, files := dialWatched(t, brk, path)
	all := []*Client{shared}

	var wg sync.WaitGroup
	errs := make(chan error, clients+8)
	// mems are the workers' memory, which the broker must let go of too.
	var memMu sync.Mutex
	var mems []testenv.File
	worker := func(id int, c *Client, ops int) {
		defer wg.Done()
		fail := func(format string, args ...any) {
			errs <- fmt.Errorf("client %d: "+format, append([]any{id}, args...)...)
		}
		fd, err := unix.MemfdCreate("w", unix.MFD_CLOEXEC)
		if err != nil {
			fail("memfd: %v", err)
			return
		}
		// fd is replaced below: close the last one, not the first
		// (whose number the broker may have been given since).
		defer func() { unix.Close(fd) }()
		unix.Ftruncate(fd, 64)
		type held struct {
			kmt, nt bridge.Handle
			name    string
			seed    byte
		}
		var mine []held
		for i := 0; i < ops; {
			switch {
			case len(mine) < 3: // create + share: 2 ops
				seed := byte(id*31 + i)
				unix.Pwrite(fd, []byte{seed}, 0)
				mem, err := testenv.FileOf(fd)
				if err != nil {
					fail("%v", err)
					return
				}
				memMu.Lock()
				mems = append(mems, mem)
				memMu.Unlock()
				kmt, err := c.Create(testAllocation(64), fd, []byte{seed})
				if err != nil {
					fail("Create: %v", err)
					return
				}
				name := fmt.Sprintf("c%d-%d", id, i)
				nt, err := c.Share(kmt, bridge.AccessRead, name)
				if err != nil {
					fail("Share: %v", err)
					return
				}
				// The fd is reused for the next create; give this
				// resource memory of its own so its byte stays put.
				mine = append(mine, held{kmt, nt, name, seed})
				unix.Close(fd)
				fd, _ = unix.MemfdCreate("w", unix.MFD_CLOEXEC)
				unix.Ftruncate(fd, 64)
				i += 2
			default:
				h := mine[i%len(mine)]
				switch i % 4 {
				case 0:
					r, err := c.OpenName(h.name, bridge.AccessRead)
					if err != nil {
						fail("OpenName: %v", err)
						return
					}
					b := make([]byte, 1)
					unix.Pread(r.FD, b, 0)
					unix.Close(r.FD)
					if b[0] != h.seed {
						fail("read %#x through %q, want %#x", b[0], h.name, h.seed)
					}
					if err := c.CloseHandle(r.Handle); err != nil {
						fail("CloseHandle: %v", err)
					}
					i += 2
				case 1:
					q, err := c.Query(h.nt)
					if err != nil || q.KMT != h.kmt || q.Data[0] != h.seed {
						fail("Query = %+v, %v", q, err)
						return
					}
					i++
				case 2:
					if err := c.UpdateData(h.kmt, []byte{h.seed}); err != nil {
						fail("UpdateData: %v", err)
						return
					}
					if _, err := c.List(); err != nil {
						fail("List: %v", err)
						return
					}
					i += 2
				case 3: // drop the oldest resource entirely
					if err := c.CloseHandle(h.kmt); err != nil {
						fail("CloseHandle(kmt): %v", err)
						return
					}
					if err := c.CloseHandle(h.nt); err != nil {
						fail("CloseHandle(nt): %v", err)
						return
					}
					mine = slices.DeleteFunc(mine, func(x held) bool { return x.kmt == h.kmt })
					i += 2
				}
			}
		}
		for _, h := range mine {
			if err := c.CloseHandle(h.kmt); err != nil {
				fail("final CloseHandle: %v", err)
			}
			if err := c.CloseHandle(h.nt); err != nil {
				fail("final CloseHandle: %v", err)
			}
		}
	}
	for id := range clients {
		c, cf := dialWatched(t, brk, path)
		files = append(files, cf...)
		all = append(all, c)
		wg.Add(1)
		go worker(id, c, ops)
	}
	for id := range 8 {
		wg.Add(1)
		go worker(clients+id, shared, ops/4)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if l := mustList(t, watcher); len(l) != 0 {
		t.Fatalf("%d resources left after every handle was closed", len(l))
	}
	for _, c := range all {
		c.Close()
	}
	files = append(files, mems...)
	waitFor(t, "the broker to close every connection and memory fd", func() bool { return openCount(t, files...) == 0 })
}

// TestBrokerListPaging fills more than one list message.
func TestBrokerListPaging(t *testing.T) {
	path := testBroker(t, &Broker{})
	c := dial(t, path)
	fd := memfd(t, 64, 0)
	defer unix.Close(fd)
	// Entries with 8 long names are ~2.2 KiB: 60 of them need two pages.
	want := map[bridge.Handle]bool{}
	for i := range 60 {
		k, err := c.Create(testAllocation(64), fd, nil)
		if err != nil {
			t.Fatal(err)
		}
		want[k] = true
		for j := range maxNamesPerResource {
			name := fmt.Sprintf("%03d-%d-%s", i, j, bytes.Repeat([]byte("n"), 240))
			if _, err := c.Share(k, bridge.AccessRead, name); err != nil {
				t.Fatal(err)
			}
		}
	}
	e := listEntry{Names: make([]string, maxNamesPerResource), Holders: make([]Holder, 1)}
	for i := range e.Names {
		e.Names[i] = string(make([]byte, 246))
	}
	if per := maxMessageSize / e.size(); per >= 60 {
		t.Fatalf("test does not page: %d entries fit one message", per)
	}
	l := mustList(t, c)
	if len(l) != 60 {
		t.Fatalf("List returned %d resources, want 60", len(l))
	}
	for _, e := range l {
		if !want[e.KMT] || len(e.Names) != maxNamesPerResource || e.Refs != 1+maxNamesPerResource {
			t.Fatalf("entry %+v", e)
		}
		delete(want, e.KMT)
	}
	keys := make([]int, 0)
	for _, e := range l {
		keys = append(keys, int(e.KMT.GlobalIndex()))
	}
	if !sort.IntsAreSorted(keys) {
		t.Errorf("List is not in index order: %v", keys)
	}
}

// TestBrokerPeerUID connects as another uid, which the broker refuses unless
// --allow-uid admits it.
func TestBrokerPeerUID(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("connecting as another uid needs root; running as uid", os.Getuid())
	}
	const nobody = 65534
	for _, allow := range []bool{false, true} {
		b := &Broker{}
		if allow {
			b.AllowUIDs = []uint32{nobody}
		}
		path := testBroker(t, b)
		os.Chmod(filepath.Dir(path), 0o755)
		os.Chmod(path, 0o777)
		err := runAs(t, nobody, path)
		if allow && err != nil {
			t.Errorf("allowed uid %d: %v", nobody, err)
		}
		if !allow && (err == nil || !strings.Contains(err.Error(), "access denied")) {
			t.Errorf("foreign uid %d: %v, want access denied", nobody, err)
		}
		if !allow && err != nil {
			t.Logf("foreign uid refused as expected: %v", err)
		}
	}
}

// TestListenSocketDir checks the socket directory rules: created 0700; an
// existing one never changed, used when only its owner may write it,
// refused when group or others may (unless sticky) or someone else owns
// it; and a stale socket replaced while a live one is kept.
func TestListenSocketDir(t *testing.T) {
	base, err := os.MkdirTemp("", "glb")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	t.Setenv("XDG_RUNTIME_DIR", base)
	path := DefaultSocketPath()
	if want := filepath.Join(base, "glbridge", "broker.sock"); path != want {
		t.Fatalf("DefaultSocketPath = %q, want %q", path, want)
	}
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Dir(path)); err != nil || st.Mode().Perm() != 0o700 || !st.IsDir() {
		t.Fatalf("socket directory: %v, %v; want a 0700 directory", st.Mode(), err)
	}
	if _, err := Listen(path); err == nil || !strings.Contains(err.Error(), "already serving") {
		t.Fatalf("second Listen on a live socket: %v, want refused", err)
	}
	// A broker killed without cleanup leaves its socket file behind.
	l.SetUnlinkOnClose(false)
	l.Close()
	os.Chmod(filepath.Dir(path), 0o755)
	l, err = Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket in a 0755 directory: %v", err)
	}
	l.Close()
	if st, _ := os.Stat(filepath.Dir(path)); st.Mode().Perm() != 0o755 {
		t.Errorf("directory changed to %v; an existing directory is left as it is", st.Mode().Perm())
	}
	for _, mode := range []os.FileMode{0o777, 0o775, 0o757} {
		os.Chmod(filepath.Dir(path), mode)
		if _, err := Listen(path); err == nil || !strings.Contains(err.Error(), "writable by group or others") {
			t.Errorf("Listen in a %v directory: %v, want refused", mode, err)
		}
		if st, _ := os.Stat(filepath.Dir(path)); st.Mode().Perm() != mode {
			t.Errorf("refused directory changed from %v to %v", mode, st.Mode().Perm())
		}
	}
	os.Chmod(filepath.Dir(path), 0o700)

	// A sticky shared directory (what /tmp is) is used as it is, never
	// tightened.
	shared := filepath.Join(base, "shared")
	os.Mkdir(shared, 0o755)
	os.Chmod(shared, 0o777|os.ModeSticky)
	l, err = Listen(filepath.Join(shared, "broker.sock"))
	if err != nil {
		t.Fatalf("Listen in a sticky directory: %v", err)
	}
	l.Close()
	if st, _ := os.Stat(shared); st.Mode().Perm() != 0o777 || st.Mode()&os.ModeSticky == 0 {
		t.Errorf("sticky directory changed to %v, want drwxrwxrwt left alone", st.Mode())
	}

	t.Setenv("XDG_RUNTIME_DIR", "")
	if want := filepath.Join(os.TempDir(), fmt.Sprintf("glbridge-%d", os.Getuid()), "broker.sock"); DefaultSocketPath() != want {
		t.Errorf("fallback DefaultSocketPath = %q, want %q", DefaultSocketPath(), want)
	}
	if os.Getuid() != 0 {
		t.Log("not root: cannot make a directory owned by someone else; skipping the ownership check")
		return
	}
	foreign := filepath.Join(base, "foreign")
	os.Mkdir(foreign, 0o700)
	os.Chown(foreign, 65534, 65534)
	if _, err := Listen(filepath.Join(foreign, "broker.sock")); err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
		t.Errorf("Listen in a directory owned by another uid: %v, want refused", err)
	}
	link := filepath.Join(base, "link")
	os.Symlink(filepath.Join(base, "glbridge"), link)
	if _, err := Listen(filepath.Join(link, "broker.sock")); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Listen through a symlinked directory: %v, want refused", err)
	}
}

// TestNoReplyLooksFatal: a request of type 0x7fff (whose reply type would
// be 0xffff), or of a type with the reply bit set (0xffff included), with
// request id 0, is answered UNKNOWN_TYPE with type 0x8000, never with
// FATAL's type 0xffff, and the connection goes on: only a real FATAL has
// that type and id.
func TestNoReplyLooksFatal(t *testing.T) {
	b := &Broker{}
	path := testBroker(t, b)
	r := dialRaw(t, b, path)
	for _, typ := range []uint16{0x7fff, 0xffff, 0x8001, 0x8000} {
		msg := encodeRequest(request{header: header{Type: msgList, ID: 0}})
		le.PutUint16(msg[6:], typ)
		r.send(msg)
		h, _, ok := r.recv()
		if !ok {
			t.Fatalf("type %#x: no reply", typ)
		}
		if h.Type == msgFatal || h.Type != replyBit || h.Status != CodeUnknownType || h.ID != 0 {
			t.Errorf("type %#x id 0: reply type %#x id %d status %v, want type 0x8000 UNKNOWN_TYPE", typ, uint16(h.Type), h.ID, h.Status)
		}
	}
	r.send(encodeRequest(request{header: header{Type: msgList, ID: 9}}))
	r.expect("list after the odd types", 9, 0)
}

// TestSpecifiedAnswers: what protocol.md now says for the cases it left to
// guess. OPEN_KMT of a value that is not KMT-shaped (an NT handle) is
// BAD_HANDLE; of a KMT-shaped one naming nothing, NOT_FOUND. LIST accepts
// any cursor: one past the last slot gives an empty page that ends the
// listing.
func TestSpecifiedAnswers(t *testing.T) {
	b := &Broker{}
	c := dial(t, testBroker(t, b))
	fd := memfd(t, 64, 3)
	kmt, err := c.Create(testAllocation(64), fd, nil)
	if err != nil {
		t.Fatal(err)
	}
	nt, err := c.Share(kmt, bridge.AccessRead, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.OpenKMT(nt); !errors.Is(err, CodeBadHandle) {
		t.Errorf("OPEN_KMT of NT handle %v: %v, want BAD_HANDLE", nt, err)
	}
	if _, err := c.OpenKMT(bridge.GlobalHandle(kmt.GlobalIndex() ^ 1<<20)); !errors.Is(err, CodeNotFound) {
		t.Errorf("OPEN_KMT of a made-up KMT handle: %v, want NOT_FOUND", err)
	}
	for _, cursor := range []uint32{kmt.GlobalIndex() + 1, kmt.GlobalIndex() + 1000, 0xffffffff} {
		r, err := c.roundTrip("list", request{header: header{Type: msgList}, Cursor: cursor}, nil)
		if err != nil {
			t.Fatalf("LIST from cursor %d: %v", cursor, err)
		}
		next, entries, err := decodeListReply(r.payload, false, protocolVersion)
		if err != nil || next != 0 || len(entries) != 0 {
			t.Errorf("LIST from cursor %d (past the one resource): next %d, %d entries, %v; want an empty, final page", cursor, next, len(entries), err)
		}
	}
}
