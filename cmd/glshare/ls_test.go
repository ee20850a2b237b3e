package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/internal/testenv/testbroker"
)

// captureLs runs `glshare ls` with args and returns what it printed.
func captureLs(t *testing.T, args ...string) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	err = runLs(args)
	os.Stdout = old
	w.Close()
	out, _ := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatalf("ls %v: %v", args, err)
	}
	return string(out)
}

// lsResource starts a broker and dials it, and makes the memory and
// allocation record of a 16x16 texture to register: the broker's socket,
// the client, the memfd and the record, all released when t ends.
func lsResource(t *testing.T) (string, *broker.Client, int, bridge.Allocation) {
	t.Helper()
	sock := testbroker.Start(t)
	c, err := broker.Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fd, err := unix.MemfdCreate("ls-test", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Ftruncate(fd, 4096); err != nil {
		t.Fatal(err)
	}
	alloc := bridge.Allocation{
		Desc: bridge.Desc{Dimension: bridge.DimensionTexture2D, Width: 16, Height: 16, DepthOrArraySize: 1, MipLevels: 1,
			SampleCount: 1, Format: bridge.FormatR8G8B8A8Unorm},
		VkFormat: 37, Size: 4096,
	}
	return sock, c, fd, alloc
}

// TestLsSyncState: ls shows each resource's sync fds and keyed mutex
// (free or held by a pid, last key, waiters), as text and as JSON.
func TestLsSyncState(t *testing.T) {
	sock, c, fd, alloc := lsResource(t)
	held, err := c.CreateWithSync(alloc, fd, nil, []broker.SyncFD{{FD: fd, Timeline: true}, {FD: fd}})
	if err != nil {
		t.Fatal(err)
	}
	free, err := c.Create(alloc, fd, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AcquireSync(held, 0, 0); err != nil {
		t.Fatal(err)
	}
	// A second handle waits for key 3.
	nt, err := c.Share(held, bridge.AccessRead, "")
	if err != nil {
		t.Fatal(err)
	}
	go c.AcquireSync(nt, 3, 10*time.Second)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		l, err := c.List()
		if err != nil {
			t.Fatal(err)
		}
		if len(l) == 2 && l[0].Mutex.Waiters == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the waiter never showed: %+v", l)
		}
	}
	if err := c.ReleaseSync(free, 0, 0); err == nil {
		t.Fatal("release of a free mutex succeeded")
	}

	text := captureLs(t, "--socket", sock)
	t.Logf("glshare ls:\n%s", text)
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "SYNC") || !strings.Contains(lines[0], "MUTEX") {
		t.Fatalf("ls printed %q", text)
	}
	wantHeld := fmt.Sprintf("timeline semaphore (2: timeline,binary)  held by pid %d, last key 0, 1 waiting", os.Getpid())
	if !strings.HasSuffix(lines[1], wantHeld) || !strings.HasPrefix(lines[1], held.String()) {
		t.Errorf("held resource: %q, want it to end with %q", lines[1], wantHeld)
	}
	if f := strings.Fields(lines[2]); len(f) < 5 || strings.Join(f[len(f)-5:], " ") != "(fences) free, last key 0" || !strings.Contains(lines[2], "vulkan (zero-copy on its device)") {
		t.Errorf("free resource: %q, want vulkan memory, the fallback path and a free mutex", lines[2])
	}

	var entries []lsEntry
	if err := json.Unmarshal([]byte(captureLs(t, "--socket", sock, "--json")), &entries); err != nil {
		t.Fatal(err)
	}
	want := lsMutex{State: "held", HolderPID: int32(os.Getpid()), HolderConn: entries[0].Mutex.HolderConn, Waiters: 1}
	if len(entries) != 2 || entries[0].SyncFDs != 2 || strings.Join(entries[0].SyncKinds, ",") != "timeline,binary" ||
		entries[0].Memory != "vulkan" || entries[0].SyncPath != "timeline semaphore" || entries[1].SyncPath != "fallback (fences)" ||
		entries[0].Mutex != want || entries[0].Mutex.HolderConn == 0 {
		t.Errorf("ls --json entry 0: %+v", entries[0])
	}
	if e := entries[1]; e.SyncFDs != 0 || len(e.SyncKinds) != 0 || e.Mutex != (lsMutex{State: "free"}) {
		t.Errorf("ls --json entry 1: %+v", e)
	}
}

// TestLsAllocatedBy: ls says who allocated each resource: a glshare serve
// (the real binary) allocating Vulkan memory on lavapipe ("service: " and
// the device's name as Vulkan lists it), the same broker allocating host
// memory ("service: host memory"), and a client registering memory of its
// own ("client"), with the creator's pid beside each; as text and JSON.
func TestLsAllocatedBy(t *testing.T) {
	sock, log := startServe(t)
	dev := lavapipe(t)
	c := dial(t, sock)
	desc := bridge.Texture2D(64, 32, bridge.FormatR8G8B8A8Unorm)
	onDev, err := allocate(c, broker.AllocateRequest{Desc: desc, Device: dev.Device})
	if err != nil {
		t.Fatalf("Allocate on %s: %v\n%s", dev.Name, err, log.String())
	}
	onHost, err := allocate(c, broker.AllocateRequest{Desc: desc, HostMemory: true})
	if err != nil {
		t.Fatalf("Allocate in host memory: %v", err)
	}
	own, err := createOwn(t, c)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	want := map[bridge.Handle]string{onDev: "service: " + dev.Name, onHost: "service: host memory", own: "client"}

	text := captureLs(t, "--socket", sock)
	t.Logf("glshare ls:\n%s", text)
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) != 4 || !strings.Contains(strings.Join(strings.Fields(lines[0]), " "), "MEMORY ALLOCATED BY SIZE PID") {
		t.Fatalf("ls printed %q, want a header with ALLOCATED BY and three resources", text)
	}
	pid := fmt.Sprint(os.Getpid())
	for _, l := range lines[1:] {
		h := bridge.Handle(0)
		for k := range want {
			if strings.HasPrefix(l, k.String()+" ") {
				h = k
			}
		}
		if h == 0 {
			t.Fatalf("line %q names none of the resources %v", l, want)
		}
		// The column is followed by SIZE (a number) and the creator's pid.
		_, rest, ok := strings.Cut(l, "  "+want[h]+"  ")
		if f := strings.Fields(rest); !ok || len(f) < 2 || f[1] != pid {
			t.Errorf("resource %v: %q, want %q followed by the size and creator pid %s", h, l, want[h], pid)
		}
		delete(want, h)
	}

	var entries []lsEntry
	if err := json.Unmarshal([]byte(captureLs(t, "--socket", sock, "--json")), &entries); err != nil {
		t.Fatal(err)
	}
	type who struct{ by, on, memory string }
	wantJSON := map[bridge.Handle]who{onDev: {"service", dev.Name, "vulkan"}, onHost: {"service", "host memory", "host"}, own: {"client", "", "vulkan"}}
	if len(entries) != 3 {
		t.Fatalf("ls --json: %d entries, want 3: %+v", len(entries), entries)
	}
	for _, e := range entries {
		w, ok := wantJSON[bridge.Handle(e.KMT)]
		if got := (who{e.AllocatedBy, e.AllocatedOn, e.Memory}); !ok || got != w || e.CreatorPID != int32(os.Getpid()) {
			t.Errorf("ls --json entry %s: allocated_by %q, allocated_on %q, memory %q, creator %d; want %+v, creator %s", e.KMTHex, e.AllocatedBy, e.AllocatedOn, e.Memory, e.CreatorPID, w, pid)
		}
	}
	m, _ := printedJSON(t, entries[0])
	for _, k := range []string{"allocated_by", "allocated_on"} {
		if _, ok := m[k]; !ok {
			t.Errorf("ls --json lacks %q: %v", k, m)
		}
	}
}

// TestLsHandlesAndAbandoned: ls counts the NT handles to each resource and
// the duplicates waiting to be opened, and says a keyed mutex is abandoned
// for good, held or free, once a holder went without releasing.
func TestLsHandlesAndAbandoned(t *testing.T) {
	sock, c, fd, alloc := lsResource(t)
	kmt, err := c.Create(alloc, fd, nil)
	if err != nil {
		t.Fatal(err)
	}
	nt, err := c.Share(kmt, bridge.AccessGenericAll, "Global\\ls handles")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Share(kmt, bridge.AccessRead, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Duplicate(nt, 0, broker.DuplicateSameAccess, 0); err != nil {
		t.Fatal(err)
	}
	// A holder that goes without releasing abandons the mutex for good.
	holder, err := broker.Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	r, err := holder.OpenKMT(kmt)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(r.FD)
	if _, err := holder.AcquireSync(kmt, 0, 0); err != nil {
		t.Fatal(err)
	}
	holder.Close()
	// The broker drops the holder's connection in its own time; the
	// abandoned acquire waits for it.
	if ar, err := c.AcquireSync(nt, 5, 10*time.Second); err != nil || !ar.Abandoned {
		t.Fatalf("acquire after the holder left = %+v, %v; want abandoned", ar, err)
	}

	text := captureLs(t, "--socket", sock)
	t.Logf("glshare ls:\n%s", text)
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], " NT ") {
		t.Fatalf("ls printed %q, want an NT column and one resource", text)
	}
	if want := fmt.Sprintf("held by pid %d (abandoned), last key 0", os.Getpid()); !strings.HasSuffix(lines[1], want) || !strings.Contains(lines[1], " 2 (+1 duplicating) ") {
		t.Errorf("resource line %q, want 2 NT handles, 1 duplicating, and %q", lines[1], want)
	}
	var entries []lsEntry
	if err := json.Unmarshal([]byte(captureLs(t, "--socket", sock, "--json")), &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].NTHandles != 2 || entries[0].Duplicates != 1 || entries[0].Refs != 4 ||
		entries[0].Mutex.State != "held" || !entries[0].Mutex.Abandoned {
		t.Errorf("ls --json: %+v", entries)
	}
}

// TestLsFences: ls --fences shows each fence's name, how it is kept, its
// value and signals and who waits, as text and as JSON.
func TestLsFences(t *testing.T) {
	sock := testbroker.Start(t)
	c, err := broker.Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	kmt, err := c.CreateFence(3, -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Share(kmt, bridge.AccessReadWrite, "ls fence"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SignalFence(kmt, 7); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() {
		_, err := c.WaitFence(kmt, 10, time.Minute)
		waited <- err
	}()
	var f []map[string]any
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		f = nil
		if err := json.Unmarshal([]byte(captureLs(t, "--socket", sock, "--fences", "--json")), &f); err != nil {
			t.Fatal(err)
		}
		if len(f) == 1 && f[0]["waiters"] == float64(1) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ls --fences --json never showed the waiter: %v", f)
		}
	}
	if e := f[0]; e["kmt_hex"] != kmt.String() || e["value"] != float64(7) || e["signals"] != float64(1) || e["timeline"] != false ||
		fmt.Sprint(e["names"]) != "[ls fence]" || e["nt_handles"] != float64(1) {
		t.Errorf("ls --fences --json: %v", e)
	}
	text := captureLs(t, "--socket", sock, "--fences")
	if !strings.Contains(text, "ls fence") || !strings.Contains(text, "broker (CPU waits)") || !strings.Contains(text, kmt.String()) {
		t.Errorf("ls --fences:\n%s", text)
	}
	if _, err := c.SignalFence(kmt, 10); err != nil {
		t.Fatal(err)
	}
	if err := <-waited; err != nil {
		t.Errorf("the wait: %v", err)
	}
}

// TestLsKeyedMutexes: ls --keyed-mutexes shows each keyed-mutex object,
// the resource and sync object it is bound to, and its holder, as text and
// as JSON.
func TestLsKeyedMutexes(t *testing.T) {
	sock := testbroker.Start(t)
	c, err := broker.Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sync, err := c.CreateFence(0, -1)
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.CreateKeyedMutex(0, sync, []byte("km"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AcquireSync(m.KMT, 0, 0); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(captureLs(t, "--socket", sock, "--keyed-mutexes", "--json")), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("ls --keyed-mutexes --json: %v", got)
	}
	mutex, _ := got[0]["mutex"].(map[string]any)
	if e := got[0]; e["kmt_hex"] != m.KMT.String() || e["resource"] != float64(0) || e["sync"] != float64(sync) || e["refs"] != float64(1) ||
		e["data_len"] != float64(2) || mutex["state"] != "held" || mutex["holder_pid"] != float64(os.Getpid()) {
		t.Errorf("ls --keyed-mutexes --json: %v", e)
	}
	text := captureLs(t, "--socket", sock, "--keyed-mutexes")
	if !strings.Contains(text, m.KMT.String()) || !strings.Contains(text, sync.String()) || !strings.Contains(text, fmt.Sprintf("held by pid %d", os.Getpid())) {
		t.Errorf("ls --keyed-mutexes:\n%s", text)
	}
	if l := captureLs(t, "--socket", sock, "--json"); strings.TrimSpace(l) != "[]" {
		t.Errorf("ls lists a keyed mutex or a fence as a resource: %s", l)
	}
}
