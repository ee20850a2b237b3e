package broker

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/internal/testenv"
)

// childBroker serves a broker on the socket path GLB_SOCK and says READY;
// it serves until killed. A broker of its own process is what the
// cross-process allocation test counts the fds of.
func childBroker(in *bufio.Scanner) error {
	if d, err := time.ParseDuration(os.Getenv("GLB_RETRY_OPEN")); err == nil {
		retryOpenAfter = d
	}
	l, err := Listen(os.Getenv("GLB_SOCK"))
	if err != nil {
		return err
	}
	b := &Broker{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if d, err := time.ParseDuration(os.Getenv("GLB_RESTORE_WINDOW")); err == nil {
		b.RestoreWindow = d
	}
	// "squeeze" on stdin lowers the broker's fd limit to its lowest free
	// fd, so that it cannot receive another (the out-of-fds test).
	go func() {
		for in.Scan() {
			if in.Text() == "squeeze" {
				// fds are numbered from the lowest free one, and the limit
				// bounds the numbers: the lowest free one is the limit.
				low := 0
				for fdOpen(low) {
					low++
				}
				lim := unix.Rlimit{Cur: uint64(low), Max: uint64(low) + 64}
				err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
				fmt.Println("SQUEEZED", err)
			}
		}
	}()
	fmt.Println("READY")
	return b.Serve(context.Background(), l)
}

// childAllocator has the broker allocate GLB_N textures of its own on the
// device GLB_DEVICE (the driver and device UUIDs in hex), and GLB_N host
// memory textures, says READY, and holds them (and their fds) until
// killed.
func childAllocator(c *Client, in *bufio.Scanner) error {
	id, err := parseDeviceID(os.Getenv("GLB_DEVICE"))
	if err != nil {
		return err
	}
	n := int(envU64("GLB_N"))
	for i := range n {
		desc := bridge.Texture2D(uint32(16+i), 16, bridge.FormatR8G8B8A8Unorm)
		for _, host := range []bool{false, true} {
			if _, err := c.Allocate(AllocateRequest{Desc: desc, Device: id, HostMemory: host, Data: []byte("child")}); err != nil {
				return err
			}
		}
	}
	fmt.Println("READY")
	for in.Scan() {
	}
	return nil
}

func formatDeviceID(id bridge.DeviceID) string {
	return hex.EncodeToString(id.Driver[:]) + ":" + hex.EncodeToString(id.Device[:])
}

func parseDeviceID(s string) (bridge.DeviceID, error) {
	var id bridge.DeviceID
	drv, dev, _ := strings.Cut(s, ":")
	for _, p := range []struct {
		s string
		u *bridge.UUID
	}{{drv, &id.Driver}, {dev, &id.Device}} {
		b, err := hex.DecodeString(p.s)
		if err != nil || len(b) != len(p.u) {
			return id, fmt.Errorf("bad device id %q", s)
		}
		copy(p.u[:], b)
	}
	return id, nil
}

// brokerFDs is the number of fds the broker process pid holds.
func brokerFDs(t testing.TB, pid int) int {
	t.Helper()
	n, err := testenv.CountFDs(pid)
	if err != nil {
		t.Fatalf("counting the broker's fds: %v", err)
	}
	return n
}

// waitBrokerFDs waits until the broker process pid holds want fds again,
// and shows what it holds if that does not happen.
func waitBrokerFDs(t testing.TB, pid, want int, what string) {
	t.Helper()
	n := 0
	for deadline := time.Now().Add(patience); ; time.Sleep(5 * time.Millisecond) {
		if n = brokerFDs(t, pid); n == want {
			return
		}
		if time.Now().After(deadline) {
			break
		}
	}
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		l, _ := os.Readlink(filepath.Join(dir, e.Name()))
		t.Logf("broker fd %s -> %s", e.Name(), l)
	}
	t.Fatalf("%s: the broker holds %d fds, want %d", what, n, want)
}

// TestCrossProcessAllocate runs the broker in a process of its own, and
// in another a client that has it allocate Vulkan textures and host
// memory and is then killed (kill -9): the broker frees everything the
// client had it allocate, and is left with exactly the fds it had before
// the client came. Then 200 allocate/free cycles from this process leave
// the broker's fds and list as they were, and no fd of them open here.
func TestCrossProcessAllocate(t *testing.T) {
	td := vulkanDevice(t)
	dir, err := os.MkdirTemp("", "glb")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "broker.sock")
	brokerChild := testenv.StartChild(t, "broker", "GLB_SOCK="+path)
	brokerChild.ExpectNext(t, "READY", patience)
	bpid := brokerChild.Cmd.Process.Pid
	c := dial(t, path)

	texture := AllocateRequest{Desc: bridge.Texture2D(64, 64, bridge.FormatR8G8B8A8Unorm), Device: td.id}
	kinds := []AllocateRequest{texture, {Desc: texture.Desc, HostMemory: true}}
	if td.caps.TimelineSemaphoreFD {
		kinds = append(kinds, AllocateRequest{Desc: texture.Desc, Device: td.id, Sync: TimelineSync})
	}
	if td.caps.ExternalSemaphoreFD {
		kinds = append(kinds, AllocateRequest{Desc: texture.Desc, Device: td.id, Sync: BinarySync})
	}
	// The broker opens its helper device on the first allocation and keeps
	// it: allocate once of each kind first, so that the baseline counts
	// the device's fds.
	for _, req := range kinds {
		r := mustAllocate(t, c, req)
		closeResource(r)
		closeRefs(t, "warm-up: ", ref{c, r.KMT})
	}
	if l := mustList(t, c); len(l) != 0 {
		t.Fatalf("List after the warm-up = %+v", l)
	}
	// The round trip above came after the broker closed the dups of its
	// last reply: nothing is in flight.
	base := brokerFDs(t, bpid)

	const n = 8
	client := testenv.StartChild(t, "allocator", "GLB_SOCK="+path, "GLB_DEVICE="+formatDeviceID(td.id), fmt.Sprintf("GLB_N=%d", n))
	client.ExpectNext(t, "READY", patience)
	cpid := int32(client.Cmd.Process.Pid)
	l := mustList(t, c)
	onDevice, inHost := 0, 0
	for _, e := range l {
		if e.CreatorPID != cpid || !e.CreatorConnected || e.Refs != 1 || e.DataLen != len("child") {
			t.Fatalf("List entry %+v, want one the client (pid %d) allocated and holds", e, cpid)
		}
		switch e.AllocatedOn {
		case td.caps.DeviceName:
			onDevice++
		case hostMemoryDevice:
			inHost++
		}
	}
	if onDevice != n || inHost != n {
		t.Fatalf("List has %d resources, %d on %q, %d in host memory; want %d of each", len(l), onDevice, td.caps.DeviceName, inHost, n)
	}
	if got := brokerFDs(t, bpid); got < base+2*n+1 {
		t.Fatalf("holding %d resources for the client, the broker has %d fds, %d before", 2*n, got, base)
	}

	client.Kill()
	waitFor(t, "the broker to free the killed client's allocations", func() bool { return len(mustList(t, c)) == 0 })
	waitBrokerFDs(t, bpid, base, "after the allocating client was killed")

	// 200 allocate/free cycles leave the broker as they found it, and
	// nothing open here: each fd a reply brought is closed once closed.
	for i := range 200 {
		r := mustAllocate(t, c, kinds[i%len(kinds)])
		links := map[int]string{}
		for _, fd := range append([]int{r.FD}, syncFDsOf(r)...) {
			l, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
			if err != nil {
				t.Fatalf("cycle %d: fd %d of the reply: %v", i, fd, err)
			}
			links[fd] = l
		}
		// Memory that is a file of its own (lavapipe's and host memory):
		// after the close, no fd of this process refers to it, although
		// the broker still holds it.
		f, own := memfdFile(t, r.FD)
		closeResource(r)
		for fd, was := range links {
			// Closed; or, if something else of this process opened a
			// file since and got the number, not the same file.
			if l, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd)); testenv.FDOpen(fd) && err == nil && l == was {
				t.Fatalf("cycle %d: fd %d (%s) still open after its close", i, fd, l)
			}
		}
		if own && openCount(t, f) != 0 {
			t.Fatalf("cycle %d: the memory is still open in this process", i)
		}
		closeRefs(t, fmt.Sprintf("cycle %d: ", i), ref{c, r.KMT})
	}
	if l := mustList(t, c); len(l) != 0 {
		t.Fatalf("List after the cycles = %+v", l)
	}
	waitBrokerFDs(t, bpid, base, "after 200 allocate/free cycles")
}

// syncFDsOf returns the semaphore fds of r.
func syncFDsOf(r Resource) []int {
	var fds []int
	for _, s := range r.Syncs {
		fds = append(fds, s.FD)
	}
	return fds
}

// fdOpen reports whether fd is open in this process.
func fdOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}

// mapsVulkan reports whether process pid has the Vulkan loader mapped.
func mapsVulkan(t testing.TB, pid int) bool {
	t.Helper()
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(maps), "libvulkan")
}

// TestBrokerLoadsVulkanLazily: a broker process nobody asks to allocate
// Vulkan memory never loads Vulkan, however much else it serves (a
// client's CREATE, opens, host memory it allocates); the first device
// ALLOCATE loads it. And a broker on a machine without a Vulkan driver
// (VK_DRIVER_FILES naming none) serves everything else, answering a
// device ALLOCATE with CodeNoDevice (bridge.ErrNoVulkan) each time.
func TestBrokerLoadsVulkanLazily(t *testing.T) {
	td := vulkanDevice(t)
	desc := bridge.Texture2D(16, 16, bridge.FormatR8G8B8A8Unorm)
	start := func(env ...string) (*Client, int) {
		path := filepath.Join(t.TempDir(), "broker.sock")
		b := testenv.StartChild(t, "broker", append(env, "GLB_SOCK="+path)...)
		b.ExpectNext(t, "READY", patience)
		return dial(t, path), b.Cmd.Process.Pid
	}
	c, pid := start()
	fd := memfd(t, 1024, 1)
	kmt, err := c.Create(testAllocation(1024), fd, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.OpenKMT(kmt)
	if err != nil {
		t.Fatal(err)
	}
	closeResource(r)
	host := mustAllocate(t, c, AllocateRequest{Desc: desc, HostMemory: true})
	closeResource(host)
	if mapsVulkan(t, pid) {
		t.Fatal("the broker loaded Vulkan before any device ALLOCATE")
	}
	dev := mustAllocate(t, c, AllocateRequest{Desc: desc, Device: td.id})
	closeResource(dev)
	if !mapsVulkan(t, pid) {
		t.Fatal("a device ALLOCATE succeeded without the broker loading Vulkan")
	}

	c, _ = start("VK_DRIVER_FILES=" + filepath.Join(t.TempDir(), "no-such-icd.json"))
	for range 2 {
		_, err := c.Allocate(AllocateRequest{Desc: desc, Device: td.id})
		if !errors.Is(err, CodeNoDevice) || !errors.Is(err, bridge.ErrNoVulkan) {
			t.Fatalf("device ALLOCATE with no Vulkan driver: %v, want CodeNoDevice", err)
		}
	}
	host = mustAllocate(t, c, AllocateRequest{Desc: desc, HostMemory: true})
	closeResource(host)
	if l := mustList(t, c); len(l) != 1 || l[0].AllocatedOn != hostMemoryDevice {
		t.Fatalf("a broker without Vulkan lists %+v, want the host memory", l)
	}
}

// TestBrokerFindsLateDevice: a device that was not there when a client
// asked for it (no Vulkan driver yet) is found by a later ALLOCATE once
// it is, without restarting the broker; until the retry time has passed
// the broker answers from what it remembers.
func TestBrokerFindsLateDevice(t *testing.T) {
	td := vulkanDevice(t)
	// The driver this process uses, handed to the broker late: the one
	// VK_DRIVER_FILES names (as on the NVIDIA machine), or lavapipe's.
	icds := filepath.SplitList(os.Getenv("VK_DRIVER_FILES"))
	if len(icds) == 0 || icds[0] == "" {
		icds, _ = filepath.Glob("/usr/share/vulkan/icd.d/lvp_icd*.json")
	}
	if len(icds) == 0 {
		t.Skip("no ICD file of this process's driver to hand the broker later")
	}
	icd := filepath.Join(t.TempDir(), "late-icd.json")
	path := filepath.Join(t.TempDir(), "broker.sock")
	b := testenv.StartChild(t, "broker", "GLB_SOCK="+path, "VK_DRIVER_FILES="+icd, "GLB_RETRY_OPEN=300ms")
	b.ExpectNext(t, "READY", patience)
	c := dial(t, path)
	req := AllocateRequest{Desc: bridge.Texture2D(16, 16, bridge.FormatR8G8B8A8Unorm), Device: td.id}
	if _, err := c.Allocate(req); !errors.Is(err, CodeNoDevice) {
		t.Fatalf("ALLOCATE before the driver is there: %v, want CodeNoDevice", err)
	}
	if err := os.Symlink(icds[0], icd); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(patience); ; time.Sleep(50 * time.Millisecond) {
		r, err := c.Allocate(req)
		if err == nil {
			closeResource(r)
			break
		}
		if !errors.Is(err, CodeNoDevice) || time.Now().After(deadline) {
			t.Fatalf("ALLOCATE once the driver is there: %v", err)
		}
	}
}

// TestBrokerOutOfFDs: a broker with no fd free to receive a message's fd
// into answers INTERNAL (retrying may succeed), not BAD_FDS, whose text
// blames the client for sending more than 8; it goes on serving requests
// that carry none.
func TestBrokerOutOfFDs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "broker.sock")
	b := testenv.StartChild(t, "broker", "GLB_SOCK="+path)
	b.ExpectNext(t, "READY", patience)
	c := dial(t, path)
	if _, err := c.List(); err != nil {
		t.Fatal(err)
	}
	// A resource made while the broker has fds to spare, to open when it
	// has none.
	mem := memfd(t, 4096, 2)
	kmt, err := c.Create(testAllocation(4096), mem, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Send(t, "squeeze")
	if got := b.ExpectNext(t, "SQUEEZED", patience); got != "<nil>" {
		t.Fatalf("squeezing the broker's fd limit: %s", got)
	}
	fd := memfd(t, 4096, 1)
	_, err = c.Create(testAllocation(4096), fd, nil)
	if !errors.Is(err, CodeInternal) || !strings.Contains(err.Error(), "out of file descriptors") {
		t.Fatalf("CREATE into a broker out of fds: %v, want CodeInternal saying so", err)
	}
	// An open whose reply the broker has no fd to dup for fails, and
	// takes no reference: the broker dups after it unlocks, and undoes
	// the open's reference when that fails.
	if _, err := c.OpenKMT(kmt); !errors.Is(err, CodeInternal) {
		t.Fatalf("OPEN_KMT in a broker out of fds: %v, want CodeInternal", err)
	}
	l, err := c.List()
	if err != nil {
		t.Fatalf("LIST after: %v", err)
	}
	if len(l) != 1 || l[0].KMT != kmt || l[0].Refs != 1 {
		t.Errorf("after the failed open: %+v, want %v with its creator's one reference", l, kmt)
	}
}
