package interop_test

// Wine's D3DKMT shared-object tests (dlls/win32u/tests/d3dkmt.c), ported to
// the broker and run across real processes: the test process creates,
// shares and closes through its own connection, and child processes (the
// "d3dkmt-peer" role below, this test binary run again) open, read, write,
// query and close through theirs, so that every handle value, name and fd
// really crosses a process boundary, and an exit or a kill -9 really ends
// a process that holds references. The broker runs in the test process
// (kmtBroker), so that the test can see what it holds: its live count and,
// through testenv.CountOpen, its copies of the fds under test.
//
// What each ported behaviour of d3dkmt.c is asserted by:
//
//   - check_d3dkmt_global: a global (KMT) handle has (h & 0xc0000000) set and
//     (h & 0x3f) == 2; glbridge's are (h & 0xc000003f) == 0x40000002, which
//     implies both. Resources: TestD3DKMTProcessGlobalHandle; sync objects:
//     TestD3DKMTProcessSyncObjects; the keyed-mutex and sync handles inside
//     a D3D11 runtime descriptor (check_dxgi_runtime_desc):
//     TestD3DKMTProcessQueryThenOpen.
//   - test_D3DKMTShareObjects, D3DKMTOpenNtHandleFromName and
//     D3DKMTOpenSyncObjectNtHandleFromName: NT handles are not D3DKMT
//     handles, !(h & 0xc0000000) (glbridge: a non-zero multiple of 4 below
//     0x40000000). TestD3DKMTProcessGlobalHandle, TestD3DKMTProcessNames,
//     TestD3DKMTProcessDuplicate, TestD3DKMTProcessSyncObjects.
//   - test_D3DKMTCreateSynchronizationObject with its run_in_process child:
//     a global handle opens in another process; the child "leaks the
//     object" (exits holding it); after the creator destroyed its own, the
//     global handle is destroyed with the last reference and opening it
//     fails (STATUS_INVALID_PARAMETER; glbridge NOT_FOUND, protocol.md
//     "Handles": a stale KMT handle). Sync objects:
//     TestD3DKMTProcessSyncObjects; the same for resources, the holder
//     exiting or killed with SIGKILL, and the creator killed while another
//     process holds the resource: TestD3DKMTProcessGlobalHandle.
//   - "cannot destroy the global D3DKMT_HANDLE" (a process that holds no
//     reference through it cannot close it, NOT_FOUND) and "destroying
//     multiple times fails" (a second close, NOT_FOUND):
//     TestD3DKMTProcessGlobalHandle, TestD3DKMTProcessSyncObjects; "the
//     D3DKMT object can still be opened" after one opener closed:
//     TestD3DKMTProcessSyncObjects.
//   - D3DKMTOpenSynchronizationObject of 0x1eadbeed and of 0, and
//     D3DKMTQueryResourceInfo/D3DKMTOpenResource of a handle that is not a
//     global one (all STATUS_INVALID_PARAMETER): BAD_HANDLE for a value of
//     neither shape (0x1eadbeed, 0 and an NT handle as a global handle;
//     TestD3DKMTProcessGlobalHandle for resources,
//     TestD3DKMTProcessSyncObjects for fences), INVALID for OPEN_FENCE's
//     kmt 0 (it names no way to open: TestD3DKMTProcessSyncObjects), and
//     NOT_FOUND for another process's NT handle value, which names nothing
//     here (TestD3DKMTProcessGlobalHandle).
//   - test_D3DKMTCreateAllocation, get_d3dkmt_resource_desc and
//     test_shared_resources: D3DKMTQueryResourceInfo of a global handle,
//     which needs no reference, gives the exact size of the private runtime
//     data before any open, and no allocation; D3DKMTOpenResource2 then
//     gives the same data and one allocation (one memory fd); the
//     descriptors' fields (check_dxgi_runtime_desc, check_d3d9_runtime_desc,
//     check_d3d11_runtime_desc, check_d3d12_runtime_desc) for a D3D9
//     texture (case 0:2:0), D3D11 textures (2:2:0, 2:2:2 with a keyed
//     mutex, 2:2:3 NT-shared and named __winetest_d3d11_image) and a D3D12
//     texture (3:2:0, an unnamed NT handle duplicated into the child); for
//     the NT-shared ones, check_object_type ("DxgkSharedResource") and
//     D3DKMTQueryResourceInfoFromNtHandle through the NT handle:
//     TestD3DKMTProcessQueryThenOpen. The child decodes the descriptors
//     with bridge/d3d.
//   - test_D3DKMTShareObjects, names: \BaseNamedObjects\__WineTest_D3DKMT
//     opens as \BaseNamedObjects\__winetest_d3dkmt; __winetest_invalid is
//     STATUS_OBJECT_NAME_NOT_FOUND (NOT_FOUND); access 0 is
//     STATUS_ACCESS_DENIED; check_object_type and check_object_name
//     (QUERY_OBJECT) in the opening process; a sync object opened by name
//     can be shared again under another name (__WineTest_D3DKMT_2) and
//     opens by it elsewhere. Resources: TestD3DKMTProcessNames; sync
//     objects: TestD3DKMTProcessSyncObjects. CreateSharedHandle's plain
//     name is \Sessions\1\BaseNamedObjects\X, and Global\, Local\ and the
//     full path open what they name: TestD3DKMTProcessNames.
//   - test_D3DKMTShareObjects, access: GENERIC_ALL opens a name, even one
//     shared with STANDARD_RIGHTS_READ (the named object's security
//     decides, not the sharer's handle), STANDARD_RIGHTS_* are accepted,
//     access 0 is ACCESS_DENIED: TestD3DKMTProcessAccess,
//     TestD3DKMTProcessNames.
//   - test_D3DKMTShareObjects, name lifetime: once every NT handle to the
//     named object is closed the name is OBJECT_NAME_NOT_FOUND (NOT_FOUND)
//     though the object lives on, and it may be shared again:
//     TestD3DKMTProcessNames, TestD3DKMTProcessSyncObjects.
//   - test_D3DKMTCreateKeyedMutex: a keyed mutex made with private runtime
//     data has a global handle; D3DKMTOpenKeyedMutex2 of it in another
//     process gets the data; 0x1eadbeed opens nothing; the global handle
//     is destroyed with the last reference; and, from
//     check_dxgi_runtime_desc and DXVK's OpenSharedResource, a D3D11
//     keyed-mutex resource's descriptor names its mutex object and sync
//     object, which open in another process and are its mutex:
//     TestD3DKMTProcessKeyedMutexObject.
//   - NT handles are handles: DuplicateHandle into another process
//     (DUPLICATE for its pid, redeemed with OPEN_DUPLICATE), which d3dkmt.c
//     does not call but which is how Windows hands an NT handle over;
//     QUERY_OBJECT of the duplicate in the child ("DxgkSharedResource", the
//     name); DUPLICATE_CLOSE_SOURCE; closing the duplicate leaves the
//     source working: TestD3DKMTProcessDuplicate, and for sync objects
//     ("DxgkSharedSyncObject") TestD3DKMTProcessSyncObjects.
//   - A handle of the other kind of object (Windows'
//     STATUS_OBJECT_TYPE_MISMATCH; d3dkmt.c's nearest are
//     D3DKMTShareObjects' STATUS_INVALID_PARAMETER for keyed mutexes and
//     allocations): WRONG_TYPE, TestD3DKMTProcessSyncObjects.
//   - Not in d3dkmt.c, but Windows' IDXGIKeyedMutex semantics: a holder
//     killed with SIGKILL abandons the keyed mutex for good, and each later
//     acquire in another process is told so (WAIT_ABANDONED):
//     TestD3DKMTProcessKeyedMutexAbandoned. bridge/broker's
//     TestCrossProcessKeyedMutex ("holder killed") covers the first
//     acquire after the kill in another process and one more in the test
//     process; this one makes four in one other process, with keys nobody
//     released to, through a holder that held by an NT handle from a name.
//
// What of d3dkmt.c does not apply to glbridge, and why:
//
//   - Adapters, devices and displays (D3DKMTOpenAdapterFrom*,
//     D3DKMTEnumAdapters2, D3DKMTCloseAdapter, D3DKMTCreateDevice,
//     D3DKMTDestroyDevice, D3DKMTQueryAdapterInfo,
//     D3DKMTQueryVideoMemoryInfo, the VidPn ownership and occlusion tests,
//     the GPU device properties): the broker has no adapter or device
//     objects; a resource names its device by UUIDs in its record.
//   - Local D3DKMT handles (check_d3dkmt_local, handles growing by 0x40):
//     an opener holds the global handle itself (a counted reference) or an
//     NT handle; there is no third kind of per-process handle.
//   - Allocations (D3DKMTCreateAllocation/2, D3DKMTDestroyAllocation/2,
//     standard and existing-system-memory allocations, hResource,
//     NumAllocations other than 1, the private driver data, the resource
//     and total driver data buffers): a resource is one memory fd with one
//     Allocation record; the only opaque data is the runtime data.
//   - Buffer-size and NULL-pointer checks (PrivateRuntimeDataSize must
//     match exactly, STATUS_NO_MEMORY, STATUS_ACCESS_VIOLATION): the Go
//     client sizes every buffer from the reply.
//   - Sync object types and creation flags (MUTEX, SEMAPHORE, FENCE,
//     CPU_NOTIFICATION, MONITORED_FENCE, Shared, NtSecuritySharing): a
//     fence is one kind, a 64-bit value with an optional timeline
//     semaphore, and every fence and resource has a global handle; NT
//     handles come from SHARE.
//   - D3DKMTShareObjects of resource, mutex and sync object together and
//     the hKeyedMutex/hSyncObject D3DKMTOpenResourceFromNtHandle returns:
//     a keyed-mutex object is shared by its global handle, and a resource's
//     NT handle reaches its mutex directly (its acquires are the mutex's);
//     KeyedMutex NtSecuritySharing (no global handle) likewise, as every
//     glbridge object has one; and the size checks of
//     D3DKMTOpenKeyedMutex2's data buffer (the reply carries it whole).
//   - The runtimes' open rules (OpenSharedResource/1/ByName,
//     ID3D12Device::OpenSharedHandle/ByName) and the Vulkan and GL imports
//     of the Win32 KMT and NT handle types: they are the D3D layer's
//     (d3d.RuntimeDesc.CheckOpen, tested single-process by bridge/d3d's
//     TestCheckOpen; the GL and Vulkan imports of broker fds by this
//     package's other tests); Linux has fds, not Win32 handle types.
//
// Where glbridge differs from what d3dkmt.c expects (the tests assert
// glbridge's documented behaviour):
//
//   - NT-only sharing. Windows gives an NtSecuritySharing resource or sync
//     object no global handle (hGlobalShare 0); every glbridge object has
//     one, NT-shared or not (the runtime descriptor's nt_shared records
//     what the runtime asked). TestD3DKMTProcessQueryThenOpen.
//   - D3DKMTQueryResourceInfo writes no runtime data ("runtime data
//     doesn't get updated ?"); QUERY returns it too.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/bridge/d3d"
	"github.com/glbridge/glbridge/internal/testenv"
)

// kmtSize is the resources' memory, Wine's resource_size: a 64×4096 RGBA8
// texture (Wine's width_2d × height_2d).
const kmtSize = 0x100000

// Vulkan formats of the resources' records.
const (
	vkR8G8B8A8Unorm = 37
	vkB8G8R8A8Unorm = 44
)

// kmtBroker serves a broker in this process on a fresh socket until the
// test ends. Its transfers wait longer than the default 30 s, so that a
// loaded machine's slow child cannot outlast one.
func kmtBroker(t *testing.T) (string, *broker.Broker) {
	t.Helper()
	dir, err := os.MkdirTemp("", "glb-d3dkmt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "broker.sock")
	l, err := broker.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	b := &broker.Broker{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), DuplicateTimeout: 10 * time.Minute}
	go b.Serve(context.Background(), l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		b.Shutdown(ctx)
	})
	return sock, b
}

func kmtDial(t *testing.T, sock string) *broker.Client {
	t.Helper()
	c, err := broker.Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// kmtPattern is n bytes that seed tells apart.
func kmtPattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*13) ^ byte(i>>9) ^ seed
	}
	return b
}

func kmtSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// kmtMemfd is a memfd of size bytes holding kmtPattern(size, seed), closed
// when the test ends, and the file it is, to count its fds by.
func kmtMemfd(t *testing.T, size int, seed byte) (int, testenv.File) {
	t.Helper()
	fd, err := unix.MemfdCreate("glbridge-d3dkmt", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Pwrite(fd, kmtPattern(size, seed), 0); err != nil {
		t.Fatal(err)
	}
	f, err := testenv.FileOf(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fd, f
}

// kmtRead is the first n bytes of the memory fd refers to.
func kmtRead(t *testing.T, fd, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if got, err := unix.Pread(fd, b, 0); err != nil || got != n {
		t.Fatalf("pread of fd %d: %d, %v", fd, got, err)
	}
	return b
}

// kmtAllocation is the record of a resource of d in size bytes of memory
// made on some device.
func kmtAllocation(d bridge.Desc, vkFormat uint32) bridge.Allocation {
	return bridge.Allocation{
		Desc: d, VkFormat: vkFormat, ImageUsage: 0x1f, Size: kmtSize, Dedicated: true,
		Device: bridge.DeviceID{Driver: bridge.UUID{0xd3, 0xd}, Device: bridge.UUID{0x1e, 0xad, 0xbe, 0xed}},
	}
}

// kmtTexture is the resources' 64×4096 texture of format f.
func kmtTexture(f bridge.Format, bind, misc uint32) bridge.Desc {
	d := bridge.Texture2D(64, 4096, f)
	d.BindFlags, d.MiscFlags = bind, misc
	return d
}

// checkKMTShape fails unless h has the shape of a D3DKMT global handle, as
// Wine's check_d3dkmt_global checks it and glbridge makes it.
func checkKMTShape(t *testing.T, what string, h bridge.Handle) {
	t.Helper()
	if uint32(h)&0xc0000000 == 0 || uint32(h)&0x3f != 2 || uint32(h)&0xc000003f != 0x40000002 || !h.IsKMT() {
		t.Errorf("%s: %v is not a global handle ((h & 0xc000003f) == 0x40000002)", what, h)
	}
}

// checkNTShape fails unless h has the shape of an NT handle: not a D3DKMT
// one (Wine: !(h & 0xc0000000)), a non-zero multiple of 4.
func checkNTShape(t *testing.T, what string, h bridge.Handle) {
	t.Helper()
	if h == 0 || uint32(h)&0xc0000000 != 0 || uint32(h)&3 != 0 || !h.IsNT() {
		t.Errorf("%s: %v is not an NT handle", what, h)
	}
}

// checkFDs fails unless process pid (0 for this one) holds n fds of f.
func checkFDs(t *testing.T, what string, pid int, f testenv.File, n int) {
	t.Helper()
	if got, err := testenv.CountOpen(pid, f); err != nil || got != n {
		t.Errorf("%s: %d fds of the object under test (%v), want %d", what, got, err, n)
	}
}

// waitFDs waits until this process (the test and its broker) holds n fds
// of f: the broker closes its copies when it frees the object, which it
// does in its own time after a client's connection ends.
func waitFDs(t *testing.T, what string, f testenv.File, n int) {
	t.Helper()
	waitFor(t, what, childStep, func() (bool, string) {
		got, err := testenv.CountOpen(0, f)
		return err == nil && got == n, fmt.Sprintf("%d fds (%v), want %d", got, err, n)
	})
}

// waitLive waits until the broker holds n live objects.
func waitLive(t *testing.T, what string, b *broker.Broker, n int) {
	t.Helper()
	waitFor(t, what, childStep, func() (bool, string) {
		got := b.Live()
		return got == n, fmt.Sprintf("%d live objects, want %d", got, n)
	})
}

// --- the child ---

// kmtPeer is a child process's side: a connection to the broker and the
// fds its opens received, a group per open (memory and semaphores, or a
// fence's semaphore), by handle, the latest last.
type kmtPeer struct {
	c   *broker.Client
	fds map[bridge.Handle][][]int
}

// svcD3DKMTPeer is the "d3dkmt-peer" role. It connects to the broker at
// GLB_SOCK and answers each command line with one line, "R" and
// space-separated key=value fields; a broker's refusal is the field
// err=<code>. The commands (numbers decimal or 0x-hex, access masks as
// numbers):
//
//	open-kmt K | open-name ACCESS NAME | open-dup TOKEN | query H
//	                              → handle kmt access fds datalen data rt.*…
//	close H | share H ACCESS NAME|- | update H HEX|- | qobj H
//	dup H ACCESS OPTIONS PID      → token access
//	read H SIZE                   → sum (SHA-256 of the memory, mapped)
//	fill H SIZE SEED              (writes kmtPattern through a mapping)
//	create SEED                   → kmt (a 64×4096 RGBA8 texture in a memfd)
//	fence-kmt K | fence-name ACCESS NAME | fence-dup TOKEN
//	                              → handle kmt access mask name value fds
//	signal H V | wait H V MS | get H → value
//	acquire H KEY MS | release H KEY VALUE (MS < 0: wait for ever)
//	EXIT
//
// EXIT ends the process with every handle and fd still open, as Wine's
// child "leaks the object": the exit ends the connection.
func svcD3DKMTPeer(in *bufio.Scanner) error {
	c, err := broker.Dial(os.Getenv("GLB_SOCK"))
	if err != nil {
		return err
	}
	p := &kmtPeer{c: c, fds: map[bridge.Handle][][]int{}}
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		if f[0] == "EXIT" {
			return nil
		}
		out, err := p.run(f[0], f[1:])
		if err != nil {
			return fmt.Errorf("%q: %w", in.Text(), err)
		}
		fmt.Println("R " + strings.Join(out, " "))
	}
	return in.Err()
}

// fields is a reply's key=value fields.
type fields []string

func (f *fields) set(key, format string, args ...any) {
	*f = append(*f, key+"="+fmt.Sprintf(format, args...))
}

// refused is the reply to a request the broker refused.
func refused(err error) fields {
	var e *broker.Error
	if errors.As(err, &e) {
		return fields{fmt.Sprintf("err=%d", uint32(e.Code))}
	}
	return fields{"err=-1", "msg=" + strings.ReplaceAll(err.Error(), " ", "_")}
}

func num(s string) (uint64, error) { return strconv.ParseUint(s, 0, 64) }

// args parses the numeric arguments of a command.
func args(a []string, n int) ([]uint64, error) {
	if len(a) < n {
		return nil, fmt.Errorf("want %d arguments, got %q", n, a)
	}
	v := make([]uint64, n)
	for i := range v {
		var err error
		if v[i], err = num(a[i]); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func msTimeout(s string) (time.Duration, error) {
	ms, err := strconv.ParseInt(s, 10, 64)
	if ms < 0 {
		return broker.InfiniteTimeout, err
	}
	return time.Duration(ms) * time.Millisecond, err
}

// keep records the fds of an open through h.
func (p *kmtPeer) keep(h bridge.Handle, fds ...int) int {
	var g []int
	for _, fd := range fds {
		if fd >= 0 {
			g = append(g, fd)
		}
	}
	p.fds[h] = append(p.fds[h], g)
	return len(g)
}

// memFD is the memory fd of the latest open through h.
func (p *kmtPeer) memFD(h bridge.Handle) (int, error) {
	g := p.fds[h]
	if len(g) == 0 || len(g[len(g)-1]) == 0 {
		return -1, fmt.Errorf("no fd was opened through %v", h)
	}
	return g[len(g)-1][0], nil
}

func (p *kmtPeer) run(cmd string, a []string) (fields, error) {
	c := p.c
	switch cmd {
	case "open-kmt", "query", "open-dup":
		v, err := args(a, 1)
		if err != nil {
			return nil, err
		}
		var r broker.Resource
		switch cmd {
		case "open-kmt":
			r, err = c.OpenKMT(bridge.Handle(v[0]))
		case "query":
			r, err = c.Query(bridge.Handle(v[0]))
		default:
			r, err = c.OpenDuplicate(v[0])
		}
		return p.resource(r, err, cmd != "query"), nil
	case "open-name":
		v, err := args(a, 1)
		if err != nil || len(a) != 2 {
			return nil, fmt.Errorf("want ACCESS NAME (%v)", err)
		}
		r, err := c.OpenName(a[1], bridge.Access(v[0]))
		return p.resource(r, err, true), nil
	case "close":
		v, err := args(a, 1)
		if err != nil {
			return nil, err
		}
		h := bridge.Handle(v[0])
		if err := c.CloseHandle(h); err != nil {
			return refused(err), nil
		}
		if g := p.fds[h]; len(g) > 0 {
			for _, fd := range g[len(g)-1] {
				unix.Close(fd)
			}
			p.fds[h] = g[:len(g)-1]
		}
		return fields{"closed=1"}, nil
	case "share":
		v, err := args(a, 2)
		if err != nil || len(a) != 3 {
			return nil, fmt.Errorf("want H ACCESS NAME (%v)", err)
		}
		name := a[2]
		if name == "-" {
			name = ""
		}
		nt, err := c.Share(bridge.Handle(v[0]), bridge.Access(v[1]), name)
		if err != nil {
			return refused(err), nil
		}
		var out fields
		out.set("handle", "%d", uint32(nt))
		return out, nil
	case "update":
		v, err := args(a, 1)
		if err != nil || len(a) != 2 {
			return nil, fmt.Errorf("want H HEX (%v)", err)
		}
		var data []byte
		if a[1] != "-" {
			if data, err = hex.DecodeString(a[1]); err != nil {
				return nil, err
			}
		}
		if err := c.UpdateData(bridge.Handle(v[0]), data); err != nil {
			return refused(err), nil
		}
		return fields{"updated=1"}, nil
	case "qobj":
		v, err := args(a, 1)
		if err != nil {
			return nil, err
		}
		o, err := c.QueryObject(bridge.Handle(v[0]))
		if err != nil {
			return refused(err), nil
		}
		var out fields
		out.set("handle", "%d", uint32(o.Handle))
		out.set("kmt", "%d", uint32(o.KMT))
		out.set("access", "%#x", uint32(o.Access))
		out.set("mask", "%#x", uint32(o.Mask))
		out.set("type", "%s", o.Type)
		out.set("name", "%s", orDash(o.Name))
		return out, nil
	case "dup":
		v, err := args(a, 4)
		if err != nil {
			return nil, err
		}
		d, err := c.Duplicate(bridge.Handle(v[0]), bridge.Access(v[1]), broker.DuplicateOptions(v[2]), int(v[3]))
		if err != nil {
			return refused(err), nil
		}
		var out fields
		out.set("token", "%d", d.Token)
		out.set("access", "%#x", uint32(d.Access))
		return out, nil
	case "read", "fill":
		n := 2
		if cmd == "fill" {
			n = 3
		}
		v, err := args(a, n)
		if err != nil {
			return nil, err
		}
		fd, err := p.memFD(bridge.Handle(v[0]))
		if err != nil {
			return nil, err
		}
		prot := unix.PROT_READ
		if cmd == "fill" {
			prot |= unix.PROT_WRITE
		}
		m, err := unix.Mmap(fd, 0, int(v[1]), prot, unix.MAP_SHARED)
		if err != nil {
			return nil, err
		}
		defer unix.Munmap(m)
		var out fields
		if cmd == "fill" {
			copy(m, kmtPattern(len(m), byte(v[2])))
			out.set("filled", "%d", len(m))
		} else {
			out.set("sum", "%s", kmtSum(m))
		}
		return out, nil
	case "create":
		v, err := args(a, 1)
		if err != nil {
			return nil, err
		}
		fd, err := unix.MemfdCreate("glbridge-d3dkmt-child", unix.MFD_CLOEXEC)
		if err != nil {
			return nil, err
		}
		// The broker keeps its own copy: the creator keeps none, so
		// that the memory lives only as long as the resource and its
		// openers' fds.
		defer unix.Close(fd)
		if err := unix.Ftruncate(fd, kmtSize); err != nil {
			return nil, err
		}
		if _, err := unix.Pwrite(fd, kmtPattern(kmtSize, byte(v[0])), 0); err != nil {
			return nil, err
		}
		kmt, err := c.Create(kmtAllocation(kmtTexture(bridge.FormatR8G8B8A8Unorm, d3d.D3D11BindShaderResource, d3d.D3D11ResourceMiscShared), vkR8G8B8A8Unorm), fd, []byte("child"))
		if err != nil {
			return refused(err), nil
		}
		var out fields
		out.set("kmt", "%d", uint32(kmt))
		return out, nil
	case "fence-kmt", "fence-dup":
		v, err := args(a, 1)
		if err != nil {
			return nil, err
		}
		var f broker.Fence
		if cmd == "fence-kmt" {
			f, err = c.OpenFenceKMT(bridge.Handle(v[0]))
		} else {
			f, err = c.OpenFenceDuplicate(v[0])
		}
		return p.fence(f, err), nil
	case "fence-name":
		v, err := args(a, 1)
		if err != nil || len(a) != 2 {
			return nil, fmt.Errorf("want ACCESS NAME (%v)", err)
		}
		f, err := c.OpenFenceName(a[1], bridge.Access(v[0]))
		return p.fence(f, err), nil
	case "signal", "get", "wait":
		n := map[string]int{"signal": 2, "get": 1, "wait": 2}[cmd]
		v, err := args(a, n)
		if err != nil {
			return nil, err
		}
		h := bridge.Handle(v[0])
		var fv broker.FenceValue
		switch cmd {
		case "signal":
			fv, err = c.SignalFence(h, v[1])
		case "get":
			fv, err = c.GetFence(h)
		default:
			if len(a) != 3 {
				return nil, errors.New("want H VALUE MS")
			}
			timeout, perr := msTimeout(a[2])
			if perr != nil {
				return nil, perr
			}
			fv, err = c.WaitFence(h, v[1], timeout)
		}
		if err != nil {
			return refused(err), nil
		}
		var out fields
		out.set("value", "%d", fv.Value)
		out.set("signals", "%d", fv.Signals)
		return out, nil
	case "acquire":
		v, err := args(a, 2)
		if err != nil || len(a) != 3 {
			return nil, fmt.Errorf("want H KEY MS (%v)", err)
		}
		timeout, err := msTimeout(a[2])
		if err != nil {
			return nil, err
		}
		r, err := c.AcquireSync(bridge.Handle(v[0]), v[1], timeout)
		if err != nil {
			return refused(err), nil
		}
		var out fields
		out.set("value", "%d", r.Value)
		out.set("abandoned", "%d", b2i(r.Abandoned))
		return out, nil
	case "open-km":
		v, err := args(a, 1)
		if err != nil {
			return nil, err
		}
		m, err := c.OpenKeyedMutex(bridge.Handle(v[0]))
		if err != nil {
			return refused(err), nil
		}
		var out fields
		out.set("kmt", "%d", uint32(m.KMT))
		out.set("resource", "%d", uint32(m.Resource))
		out.set("sync", "%d", uint32(m.Sync))
		out.set("data", "%s", orDash(hex.EncodeToString(m.Data)))
		return out, nil
	case "release":
		v, err := args(a, 3)
		if err != nil {
			return nil, err
		}
		if err := c.ReleaseSync(bridge.Handle(v[0]), v[1], v[2]); err != nil {
			return refused(err), nil
		}
		return fields{"released=1"}, nil
	}
	return nil, fmt.Errorf("unknown command %q", cmd)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// resource is the reply about r: what an open, a query or a redeemed
// duplicate says, and the runtime descriptor in its data as this process
// decodes it (D3DKMTOpenResource2's, D3DKMTQueryResourceInfo's caller's
// view). An open's fds are kept.
func (p *kmtPeer) resource(r broker.Resource, err error, open bool) fields {
	if err != nil {
		return refused(err)
	}
	var out fields
	out.set("handle", "%d", uint32(r.Handle))
	out.set("kmt", "%d", uint32(r.KMT))
	out.set("access", "%#x", uint32(r.Access))
	if open {
		fds := []int{r.FD}
		for _, s := range r.Syncs {
			fds = append(fds, s.FD)
		}
		out.set("fds", "%d", p.keep(r.Handle, fds...))
	} else {
		n := 0
		if r.FD >= 0 {
			n++
		}
		for _, s := range r.Syncs {
			if s.FD >= 0 {
				n++
			}
		}
		out.set("fds", "%d", n)
	}
	d := r.Allocation.Desc
	out.set("size", "%d", r.Allocation.Size)
	out.set("dim", "%d", uint32(d.Dimension))
	out.set("width", "%d", d.Width)
	out.set("height", "%d", d.Height)
	out.set("format", "%d", uint32(d.Format))
	out.set("datalen", "%d", len(r.Data))
	out.set("data", "%s", orDash(hex.EncodeToString(r.Data)))
	if len(r.Data) == 0 {
		return out
	}
	rt, err := d3d.ParseRuntimeDesc(r.Data)
	if err != nil {
		out.set("rt", "invalid")
		return out
	}
	h := rt.Header()
	out.set("rt.api", "%s", rt.API)
	out.set("rt.size", "%#x", h.Size)
	out.set("rt.version", "%d", h.Version)
	out.set("rt.width", "%d", h.Width)
	out.set("rt.height", "%d", h.Height)
	out.set("rt.format", "%d", uint32(h.Format))
	out.set("rt.unknown0", "%d", h.Unknown0)
	out.set("rt.keyed_mutex", "%d", b2i(h.KeyedMutex))
	out.set("rt.mutex", "%d", uint32(h.KeyedMutexHandle))
	out.set("rt.sync", "%d", uint32(h.SyncHandle))
	out.set("rt.nt_shared", "%d", b2i(h.NTShared))
	switch rt.API {
	case d3d.APID3D9:
		out.set("rt.d3d9.format", "%d", uint32(rt.D3D9.Format))
		out.set("rt.d3d9.type", "%d", uint32(rt.D3D9.Type))
		out.set("rt.d3d9.usage", "%#x", rt.D3D9.Usage)
		out.set("rt.d3d9.width", "%d", rt.D3D9.Width)
		out.set("rt.d3d9.height", "%d", rt.D3D9.Height)
		out.set("rt.d3d9.levels", "%d", rt.D3D9.Levels)
	case d3d.APID3D11:
		out.set("rt.d3d11.dimension", "%d", uint32(rt.D3D11.Resource.Dimension))
		out.set("rt.d3d11.misc", "%#x", rt.D3D11.Resource.Texture2D.MiscFlags)
	case d3d.APID3D12:
		out.set("rt.d3d12.size", "%#x", rt.D3D12.ResourceSize)
		out.set("rt.d3d12.align", "%#x", rt.D3D12.ResourceAlign)
		out.set("rt.d3d12.dimension", "%d", uint32(rt.D3D12.Resource.Dimension))
	}
	if rd, err := rt.Desc(); err == nil {
		out.set("rt.desc", "%dx%d/%d", rd.Width, rd.Height, uint32(rd.Format))
	} else {
		out.set("rt.desc", "invalid")
	}
	return out
}

// fence is the reply about an open of f; its fd is kept.
func (p *kmtPeer) fence(f broker.Fence, err error) fields {
	if err != nil {
		return refused(err)
	}
	var out fields
	out.set("handle", "%d", uint32(f.Handle))
	out.set("kmt", "%d", uint32(f.KMT))
	out.set("access", "%#x", uint32(f.Access))
	out.set("mask", "%#x", uint32(f.Mask))
	out.set("name", "%s", orDash(f.Name))
	out.set("value", "%d", f.Value.Value)
	out.set("fds", "%d", p.keep(f.Handle, f.FD))
	return out
}

// --- the test's side ---

// kmtChild is a running d3dkmt-peer.
type kmtChild struct {
	*testenv.Child
	pid int
}

func startKMTChild(t *testing.T, sock string) *kmtChild {
	t.Helper()
	c := testenv.StartChild(t, "d3dkmt-peer", "GLB_SOCK="+sock)
	return &kmtChild{Child: c, pid: c.Cmd.Process.Pid}
}

// do sends a command and returns its reply. The first command's wait
// includes the child's start.
func (c *kmtChild) do(t *testing.T, format string, args ...any) peerReply {
	t.Helper()
	c.Send(t, fmt.Sprintf(format, args...))
	return c.reply(t)
}

// reply waits for the reply to a command sent before.
func (c *kmtChild) reply(t *testing.T) peerReply {
	t.Helper()
	line := c.ExpectNext(t, "R", childStart)
	r := peerReply{line: line, m: map[string]string{}}
	for _, f := range strings.Fields(line) {
		k, v, _ := strings.Cut(f, "=")
		r.m[k] = v
	}
	return r
}

// exit has the child exit by itself, leaving its handles to the exit,
// and checks it exited cleanly.
func (c *kmtChild) exit(t *testing.T) {
	t.Helper()
	c.Send(t, "EXIT")
	c.Wait(t, childStep)
}

// peerReply is a child's reply.
type peerReply struct {
	line string
	m    map[string]string
}

// ok fails the test if the broker refused the command.
func (r peerReply) ok(t *testing.T, what string) peerReply {
	t.Helper()
	if e, bad := r.m["err"]; bad {
		t.Fatalf("%s: the broker refused it, code %s (%s)", what, e, r.line)
	}
	return r
}

// fails checks that the broker refused the command with an error code
// that is want (a broker.Code, or a bridge error value a code means).
func (r peerReply) fails(t *testing.T, what string, want error) {
	t.Helper()
	e, bad := r.m["err"]
	if !bad {
		t.Errorf("%s succeeded (%s); want %v", what, r.line, want)
		return
	}
	n, err := strconv.ParseInt(e, 10, 64)
	if err != nil || n <= 0 {
		t.Errorf("%s failed outside the broker (%s); want %v", what, r.line, want)
		return
	}
	if code := broker.Code(n); !errors.Is(code, want) {
		t.Errorf("%s: %v (code %d); want %v", what, code, n, want)
	}
}

func (r peerReply) str(t *testing.T, key string) string {
	t.Helper()
	v, ok := r.m[key]
	if !ok {
		t.Fatalf("the reply %q has no %s", r.line, key)
	}
	return v
}

func (r peerReply) num(t *testing.T, key string) uint64 {
	t.Helper()
	v, err := num(r.str(t, key))
	if err != nil {
		t.Fatalf("the reply %q: %s: %v", r.line, key, err)
	}
	return v
}

func (r peerReply) handle(t *testing.T, key string) bridge.Handle {
	t.Helper()
	return bridge.Handle(r.num(t, key))
}

// want checks that the reply's key is value, both formatted by %v.
func (r peerReply) want(t *testing.T, what, key string, value any) {
	t.Helper()
	if got, want := r.str(t, key), fmt.Sprint(value); got != want {
		t.Errorf("%s: %s = %s, want %s (%s)", what, key, got, want, r.line)
	}
}

// wantNum checks that the reply's numeric key is value.
func (r peerReply) wantNum(t *testing.T, what, key string, value uint64) {
	t.Helper()
	if got := r.num(t, key); got != value {
		t.Errorf("%s: %s = %#x, want %#x (%s)", what, key, got, value, r.line)
	}
}

const rw = uint64(bridge.AccessReadWrite)

// checkKMTOpen checks an open by KMT handle kmt with nfds fds.
func checkKMTOpen(t *testing.T, what string, r peerReply, kmt bridge.Handle, nfds uint64) {
	t.Helper()
	r.wantNum(t, what, "handle", uint64(kmt))
	r.wantNum(t, what, "kmt", uint64(kmt))
	r.wantNum(t, what, "access", rw)
	r.wantNum(t, what, "fds", nfds)
}

// --- the tests ---

// TestD3DKMTProcessGlobalHandle: a KMT handle made in this process opens
// in a child process as the same memory, both ways; it dies with its last
// reference, whether its last holder exits leaving it open or is killed.
// A process that holds no reference cannot close it, and another
// process's NT handle value names nothing.
func TestD3DKMTProcessGlobalHandle(t *testing.T) {
	for _, end := range []string{"exit", "kill"} {
		t.Run("holder "+end, func(t *testing.T) { kmtLastReference(t, end) })
	}
	t.Run("creator killed", kmtCreatorKilled)
}

func kmtLastReference(t *testing.T, end string) {
	sock, brk := kmtBroker(t)
	c := kmtDial(t, sock)
	mem, file := kmtMemfd(t, kmtSize, 0x31)
	kmt, err := c.Create(kmtAllocation(kmtTexture(bridge.FormatR8G8B8A8Unorm, d3d.D3D11BindShaderResource, d3d.D3D11ResourceMiscShared), vkR8G8B8A8Unorm), mem, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkKMTShape(t, "CREATE's handle", kmt)
	nt, err := c.Share(kmt, bridge.AccessGenericAll, "")
	if err != nil {
		t.Fatal(err)
	}
	checkNTShape(t, "SHARE's handle", nt)
	checkFDs(t, "the test process (its memfd and the broker's copy)", 0, file, 2)

	a, b := startKMTChild(t, sock), startKMTChild(t, sock)
	checkKMTOpen(t, "child A's OPEN_KMT", a.do(t, "open-kmt %d", kmt).ok(t, "child A's OPEN_KMT"), kmt, 1)
	checkFDs(t, "child A after its open", a.pid, file, 1)
	// The same memory: what this process wrote, child A reads; what
	// child A writes, this process reads.
	a.do(t, "read %d %d", kmt, kmtSize).ok(t, "child A's read").want(t, "child A's read", "sum", kmtSum(kmtPattern(kmtSize, 0x31)))
	a.do(t, "fill %d %d %d", kmt, kmtSize, 0x32).ok(t, "child A's write")
	if got := kmtRead(t, mem, kmtSize); !bytes.Equal(got, kmtPattern(kmtSize, 0x32)) {
		t.Error("this process does not read what child A wrote through its fd")
	}
	// Each open is a reference with an fd of its own, released by its
	// close.
	checkKMTOpen(t, "child A's second OPEN_KMT", a.do(t, "open-kmt %d", kmt).ok(t, "child A's second OPEN_KMT"), kmt, 1)
	checkFDs(t, "child A after two opens", a.pid, file, 2)
	a.do(t, "close %d", kmt).ok(t, "child A's close of one open")
	checkFDs(t, "child A after one close", a.pid, file, 1)

	// Child B holds nothing: it cannot destroy the global handle, and
	// this process's NT handle is no handle of its; it may query the
	// global handle all the same (D3DKMTQueryResourceInfo needs no
	// reference), which hands out no fd.
	b.do(t, "close %d", kmt).fails(t, "child B's close of a global handle it holds no reference through", broker.CodeNotFound)
	b.do(t, "query %d", nt).fails(t, "child B's query of this process's NT handle", broker.CodeNotFound)
	q := b.do(t, "query %d", kmt).ok(t, "child B's query")
	q.wantNum(t, "child B's query", "kmt", uint64(kmt))
	q.wantNum(t, "child B's query", "fds", 0)
	q.wantNum(t, "child B's query", "size", kmtSize)
	checkFDs(t, "child B after its query", b.pid, file, 0)

	// This process lets go; child A's open keeps the resource.
	if err := c.CloseHandle(nt); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseHandle(kmt); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Query(kmt); err != nil || brk.Live() != 1 {
		t.Fatalf("after this process closed its handles: query %v, %d live; want the resource alive through child A", err, brk.Live())
	}
	checkFDs(t, "the test process while child A holds the resource", 0, file, 2)

	// Child A goes with its open still open: by exiting (Wine's child
	// leaks the object) or killed.
	if end == "exit" {
		a.exit(t)
	} else {
		a.Kill()
	}
	waitLive(t, "the broker to free the resource with its last reference", brk, 0)
	waitFDs(t, "the broker to close its copy of the memory fd", file, 1)
	b.do(t, "open-kmt %d", kmt).fails(t, "child B's open of the dead global handle", bridge.ErrNotFound)
	b.do(t, "query %d", kmt).fails(t, "child B's query of the dead global handle", broker.CodeNotFound)
	// Values of neither shape are no handles at all.
	b.do(t, "open-kmt %d", 0x1eadbeed).fails(t, "child B's open of 0x1eadbeed", broker.CodeBadHandle)
	b.do(t, "open-kmt 0").fails(t, "child B's open of 0", broker.CodeBadHandle)
	b.exit(t)
}

// kmtCreatorKilled: a resource a child created opens in this process and
// in another child; its creator killed, the resource lives on with this
// process's reference (nobody may update its data now), and goes with it.
func kmtCreatorKilled(t *testing.T) {
	sock, brk := kmtBroker(t)
	c := kmtDial(t, sock)
	creator, b := startKMTChild(t, sock), startKMTChild(t, sock)
	kmt := creator.do(t, "create %d", 0x41).ok(t, "the child's CREATE").handle(t, "kmt")
	checkKMTShape(t, "the child's CREATE's handle", kmt)
	r, err := c.OpenKMT(kmt)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(r.FD)
	if r.Handle != kmt || r.KMT != kmt || string(r.Data) != "child" || r.Allocation.Size != kmtSize {
		t.Errorf("this process's open of the child's resource = %+v", r)
	}
	file, err := testenv.FileOf(r.FD)
	if err != nil {
		t.Fatal(err)
	}
	want := kmtPattern(kmtSize, 0x41)
	if !bytes.Equal(kmtRead(t, r.FD, kmtSize), want) {
		t.Error("this process does not read what the creating child wrote")
	}
	checkKMTOpen(t, "child B's OPEN_KMT", b.do(t, "open-kmt %d", kmt).ok(t, "child B's OPEN_KMT"), kmt, 1)
	b.do(t, "read %d %d", kmt, kmtSize).ok(t, "child B's read").want(t, "child B's read", "sum", kmtSum(want))
	b.do(t, "close %d", kmt).ok(t, "child B's close")
	checkFDs(t, "child B after its close", b.pid, file, 0)
	b.do(t, "close %d", kmt).fails(t, "child B's second close", broker.CodeNotFound)

	creator.Kill()
	waitFor(t, "the broker to see the creator go", childStep, func() (bool, string) {
		l, err := c.List()
		return err == nil && len(l) == 1 && !l[0].CreatorConnected && l[0].Refs == 1, fmt.Sprintf("%+v, %v", l, err)
	})
	if _, err := c.Query(kmt); err != nil {
		t.Errorf("query after the creator was killed: %v", err)
	}
	if err := c.UpdateData(kmt, []byte("x")); !errors.Is(err, bridge.ErrAccessDenied) {
		t.Errorf("UpdateData after the creator was killed: %v, want ACCESS_DENIED", err)
	}
	if !bytes.Equal(kmtRead(t, r.FD, kmtSize), want) {
		t.Error("the memory changed when its creator was killed")
	}
	// Keep a copy of the fd, so that the file stays what the count looks
	// for while the broker closes its own.
	keep, err := unix.Dup(r.FD)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(keep)
	if err := c.CloseHandle(kmt); err != nil {
		t.Fatal(err)
	}
	waitLive(t, "the broker to free the resource", brk, 0)
	waitFDs(t, "the broker to close its copy of the memory fd", file, 2)
	b.do(t, "open-kmt %d", kmt).fails(t, "child B's open after the last reference went", bridge.ErrNotFound)
	b.exit(t)
}

// kmtCase is a resource created with a runtime descriptor, and what Wine's
// tests expect of that descriptor.
type kmtCase struct {
	name string
	api  d3d.API
	desc bridge.Desc
	vk   uint32
	opts d3d.RuntimeOptions
	// objName, when set, is the name the resource is shared under with
	// GENERIC_ALL, and path its object's path; dup shares it unnamed and
	// duplicates the NT handle into the child. Either way the child takes
	// the NT handle's path too (check_object_type, then
	// D3DKMTQueryResourceInfoFromNtHandle), as Wine does for NT-shared
	// resources.
	objName, path string
	dup           bool
	// The DXGI header Wine's struct dxgi_runtime_desc checks, and the
	// blob's length.
	size, version, width, height uint64
	format                       bridge.Format
	unknown0                     uint64
	keyedMutex, ntShared         uint64
	dataLen                      uint64
	// extra are the API's own fields the child decodes.
	extra map[string]uint64
}

// TestD3DKMTProcessQueryThenOpen: a child queries a resource this process
// created with a runtime descriptor (D3D9, D3D11 with and without a keyed
// mutex or NT sharing, D3D12), learns the descriptor's exact size before
// opening and gets no fd, then opens it and decodes the same descriptor
// (size, version, width, height, format, keyed_mutex, nt_shared and the
// API's own fields), as D3DKMTQueryResourceInfo then D3DKMTOpenResource2
// do in Wine's get_d3dkmt_resource_desc.
func TestD3DKMTProcessQueryThenOpen(t *testing.T) {
	sock, brk := kmtBroker(t)
	c := kmtDial(t, sock)
	// The keyed mutex's and its sync object's global handles, which a
	// D3D11 keyed-mutex descriptor records: sync objects of this
	// process's, which the child opens by them.
	var km [2]bridge.Handle
	for i := range km {
		h, err := c.CreateFence(0, -1)
		if err != nil {
			t.Fatal(err)
		}
		km[i] = h
	}
	rgba, bgra := bridge.FormatR8G8B8A8Unorm, bridge.FormatB8G8R8A8Unorm
	cases := []kmtCase{{
		// Wine 0:2:0, IDirect3DDevice9Ex_CreateTexture(64, 4096, 1, 0, A8R8G8B8).
		name: "D3D9 texture", api: d3d.APID3D9, desc: kmtTexture(bgra, d3d.D3D11BindShaderResource, d3d.D3D11ResourceMiscShared), vk: vkB8G8R8A8Unorm,
		size: 0x58, version: 1, width: 64, height: 4096, format: bgra, unknown0: 1, dataLen: 0x58,
		extra: map[string]uint64{"rt.d3d9.format": uint64(d3d.D3DFmtA8R8G8B8), "rt.d3d9.type": uint64(d3d.D3DRTypeTexture),
			"rt.d3d9.usage": d3d.D3DUsageSurface, "rt.d3d9.width": 64, "rt.d3d9.height": 4096, "rt.d3d9.levels": 1},
	}, {
		// Wine 2:2:0 (but without CPU read access, which bridge.Desc
		// cannot express with binds).
		name: "D3D11 texture", api: d3d.APID3D11, desc: kmtTexture(rgba, d3d.D3D11BindRenderTarget, d3d.D3D11ResourceMiscShared), vk: vkR8G8B8A8Unorm,
		size: 0x68, version: 4, dataLen: 0x68,
		extra: map[string]uint64{"rt.d3d11.dimension": uint64(d3d.ResourceDimensionTexture2D), "rt.d3d11.misc": d3d.D3D11ResourceMiscShared},
	}, {
		// Wine 2:2:2: D3D11_RESOURCE_MISC_SHARED_KEYEDMUTEX.
		name: "D3D11 keyed mutex", api: d3d.APID3D11, desc: kmtTexture(rgba, d3d.D3D11BindShaderResource, d3d.D3D11ResourceMiscSharedKeyedMutex), vk: vkR8G8B8A8Unorm,
		opts: d3d.RuntimeOptions{KeyedMutex: km[0], SyncObject: km[1]},
		size: 0x68, version: 4, keyedMutex: 1, dataLen: 0x68,
		extra: map[string]uint64{"rt.d3d11.dimension": uint64(d3d.ResourceDimensionTexture2D), "rt.d3d11.misc": d3d.D3D11ResourceMiscSharedKeyedMutex,
			"rt.mutex": uint64(km[0]), "rt.sync": uint64(km[1])},
	}, {
		// Wine 2:2:3: NT-shared, CreateSharedHandle(L"__winetest_d3d11_image").
		name: "D3D11 NT handle", api: d3d.APID3D11, desc: kmtTexture(rgba, d3d.D3D11BindRenderTarget, d3d.D3D11ResourceMiscShared|d3d.D3D11ResourceMiscSharedNTHandle), vk: vkR8G8B8A8Unorm,
		objName: "__winetest_d3d11_image", path: `\Sessions\1\BaseNamedObjects\__winetest_d3d11_image`,
		size: 0x68, version: 4, ntShared: 1, dataLen: 0x68,
		extra: map[string]uint64{"rt.d3d11.dimension": uint64(d3d.ResourceDimensionTexture2D), "rt.d3d11.misc": d3d.D3D11ResourceMiscShared | d3d.D3D11ResourceMiscSharedNTHandle},
	}, {
		// Wine 3:2:0: a committed D3D12 texture of 1 MiB aligned on 64 KiB,
		// shared by an unnamed NT handle (CreateSharedHandle(NULL)).
		name: "D3D12 texture", api: d3d.APID3D12, desc: kmtTexture(rgba, 0, 0), vk: vkR8G8B8A8Unorm,
		opts: d3d.RuntimeOptions{ResourceSize: kmtSize, ResourceAlign: 0x10000}, dup: true, path: "-",
		size: 0x68, version: 0, ntShared: 1, dataLen: 0x108,
		extra: map[string]uint64{"rt.d3d12.size": kmtSize, "rt.d3d12.align": 0x10000, "rt.d3d12.dimension": uint64(d3d.ResourceDimensionTexture2D)},
	}}

	child := startKMTChild(t, sock)
	for i, kc := range cases {
		t.Run(kc.name, func(t *testing.T) {
			rd, err := d3d.RuntimeDescFor(kc.api, kc.desc, kc.opts)
			if err != nil {
				t.Fatal(err)
			}
			data, err := rd.MarshalBinary()
			if err != nil || uint64(len(data)) != kc.dataLen {
				t.Fatalf("the %v descriptor: %d bytes, %v; want %#x", kc.api, len(data), err, kc.dataLen)
			}
			seed := byte(0x60 + i)
			mem, file := kmtMemfd(t, kmtSize, seed)
			kmt, err := c.Create(kmtAllocation(kc.desc, kc.vk), mem, data)
			if err != nil {
				t.Fatal(err)
			}
			checkKMTShape(t, "CREATE's handle", kmt)
			var shared bridge.Handle
			if kc.objName != "" || kc.dup {
				if shared, err = c.Share(kmt, bridge.AccessGenericAll, kc.objName); err != nil {
					t.Fatal(err)
				}
			}
			check := func(what string, r peerReply) {
				t.Helper()
				r.wantNum(t, what, "kmt", uint64(kmt))
				r.wantNum(t, what, "size", kmtSize)
				r.wantNum(t, what, "dim", uint64(kc.desc.Dimension))
				r.wantNum(t, what, "width", uint64(kc.desc.Width))
				r.wantNum(t, what, "height", uint64(kc.desc.Height))
				r.wantNum(t, what, "format", uint64(kc.desc.Format))
				r.wantNum(t, what, "datalen", kc.dataLen)
				r.want(t, what, "data", hex.EncodeToString(data))
				r.want(t, what, "rt.api", kc.api)
				r.wantNum(t, what, "rt.size", kc.size)
				r.wantNum(t, what, "rt.version", kc.version)
				r.wantNum(t, what, "rt.width", kc.width)
				r.wantNum(t, what, "rt.height", kc.height)
				r.wantNum(t, what, "rt.format", uint64(kc.format))
				r.wantNum(t, what, "rt.unknown0", kc.unknown0)
				r.wantNum(t, what, "rt.keyed_mutex", kc.keyedMutex)
				r.wantNum(t, what, "rt.nt_shared", kc.ntShared)
				for k, v := range kc.extra {
					r.wantNum(t, what, k, v)
				}
				if kc.keyedMutex == 0 {
					r.wantNum(t, what, "rt.mutex", 0)
					r.wantNum(t, what, "rt.sync", 0)
				} else {
					checkKMTShape(t, what+": the descriptor's keyed-mutex handle", r.handle(t, "rt.mutex"))
					checkKMTShape(t, what+": the descriptor's sync handle", r.handle(t, "rt.sync"))
				}
				r.want(t, what, "rt.desc", fmt.Sprintf("%dx%d/%d", kc.desc.Width, kc.desc.Height, uint32(kc.desc.Format)))
			}

			// D3DKMTQueryResourceInfo: the size of the runtime data before
			// any open, and no memory.
			q := child.do(t, "query %d", kmt).ok(t, "the child's QUERY")
			q.wantNum(t, "the child's QUERY", "handle", uint64(kmt))
			q.wantNum(t, "the child's QUERY", "fds", 0)
			check("the child's QUERY", q)
			checkFDs(t, "the child after its QUERY", child.pid, file, 0)

			// D3DKMTOpenResource2: the same data, one allocation.
			o := child.do(t, "open-kmt %d", kmt).ok(t, "the child's OPEN_KMT")
			checkKMTOpen(t, "the child's OPEN_KMT", o, kmt, 1)
			check("the child's OPEN_KMT", o)
			checkFDs(t, "the child after its OPEN_KMT", child.pid, file, 1)
			child.do(t, "read %d %d", kmt, kmtSize).ok(t, "the child's read").want(t, "the child's read", "sum", kmtSum(kmtPattern(kmtSize, seed)))

			if kc.keyedMutex != 0 {
				// The sync object's global handle is one the child opens
				// (DXVK opens it whenever the descriptor has one).
				s := child.do(t, "fence-kmt %d", o.handle(t, "rt.sync")).ok(t, "the child's open of the descriptor's sync handle")
				s.wantNum(t, "the descriptor's sync object", "kmt", uint64(km[1]))
				child.do(t, "close %d", km[1]).ok(t, "the child's close of the sync object")
			}
			if shared != 0 {
				// The NT path: an NT handle to a DxgkSharedResource, then
				// D3DKMTQueryResourceInfoFromNtHandle through it.
				var n peerReply
				what := "the child's OPEN_NAME"
				if kc.dup {
					d, err := c.Duplicate(shared, 0, broker.DuplicateSameAccess, child.pid)
					if err != nil {
						t.Fatal(err)
					}
					what = "the child's OPEN_DUPLICATE"
					n = child.do(t, "open-dup %d", d.Token).ok(t, what)
				} else {
					n = child.do(t, "open-name %#x %s", uint32(bridge.AccessGenericAll), kc.objName).ok(t, what)
				}
				nh := n.handle(t, "handle")
				checkNTShape(t, what, nh)
				n.wantNum(t, what, "access", rw)
				n.wantNum(t, what, "fds", 1)
				check(what, n)
				ob := child.do(t, "qobj %d", nh).ok(t, "the child's QUERY_OBJECT")
				ob.want(t, "the child's QUERY_OBJECT", "type", "DxgkSharedResource")
				ob.want(t, "the child's QUERY_OBJECT", "name", kc.path)
				nq := child.do(t, "query %d", nh).ok(t, "the child's QUERY through its NT handle")
				nq.wantNum(t, "the child's QUERY through its NT handle", "fds", 0)
				check("the child's QUERY through its NT handle", nq)
				child.do(t, "close %d", nh).ok(t, "the child's close of its NT handle")
				if err := c.CloseHandle(shared); err != nil {
					t.Fatal(err)
				}
			}
			child.do(t, "close %d", kmt).ok(t, "the child's close")
			checkFDs(t, "the child after its closes", child.pid, file, 0)
			if err := c.CloseHandle(kmt); err != nil {
				t.Fatal(err)
			}
			waitFDs(t, "the broker to close its copy of the memory fd", file, 1)
		})
	}
	child.exit(t)
	for _, h := range km {
		if err := c.CloseHandle(h); err != nil {
			t.Fatal(err)
		}
	}
	waitLive(t, "every object to be freed", brk, 0)
}

// TestD3DKMTProcessNames: names across processes. A child opens what this
// process shared by name, in every spelling of the namespace that names
// it, and not by an unknown name or access 0; QUERY_OBJECT gives the path.
// A name another process's object has cannot be taken, either way; it
// lives as long as its resource.
func TestD3DKMTProcessNames(t *testing.T) {
	sock, brk := kmtBroker(t)
	c := kmtDial(t, sock)
	mem, file := kmtMemfd(t, kmtSize, 0x71)
	kmt, err := c.Create(kmtAllocation(kmtTexture(bridge.FormatR8G8B8A8Unorm, d3d.D3D11BindShaderResource, d3d.D3D11ResourceMiscShared), vkR8G8B8A8Unorm), mem, nil)
	if err != nil {
		t.Fatal(err)
	}
	// D3DKMTShareObjects(\BaseNamedObjects\__WineTest_D3DKMT,
	// STANDARD_RIGHTS_READ), and CreateSharedHandle(GENERIC_ALL) of a
	// plain name.
	const kmtName, imageName = `\BaseNamedObjects\__WineTest_D3DKMT`, `__winetest_d3d11_image`
	var shared []bridge.Handle
	for _, s := range []struct {
		name   string
		access bridge.Access
	}{{kmtName, bridge.AccessStandardRightsRead}, {imageName, bridge.AccessGenericAll}} {
		nt, err := c.Share(kmt, s.access, s.name)
		if err != nil {
			t.Fatal(err)
		}
		checkNTShape(t, "SHARE "+s.name, nt)
		shared = append(shared, nt)
	}

	child, other := startKMTChild(t, sock), startKMTChild(t, sock)
	child.do(t, `open-name %#x \BaseNamedObjects\__winetest_invalid`, uint32(bridge.AccessGenericAll)).fails(t, "OPEN_NAME of an unknown name", bridge.ErrNotFound)
	child.do(t, `open-name 0 \BaseNamedObjects\__winetest_d3dkmt`).fails(t, "OPEN_NAME with access 0", bridge.ErrAccessDenied)
	// Wine: D3DKMTOpenNtHandleFromName(GENERIC_ALL) of this name succeeds,
	// though it was shared with STANDARD_RIGHTS_READ: the named object's
	// security decides, not the sharer's handle.
	ga := child.do(t, `open-name %#x \BaseNamedObjects\__winetest_d3dkmt`, uint32(bridge.AccessGenericAll)).ok(t, "OPEN_NAME with GENERIC_ALL of a name shared read-only")
	ga.wantNum(t, "OPEN_NAME with GENERIC_ALL", "access", uint64(bridge.AccessReadWrite))
	child.do(t, "close %d", ga.handle(t, "handle")).ok(t, "the child's close of its GENERIC_ALL handle")
	for _, o := range []struct {
		name       string
		mask, want bridge.Access
		path       string
	}{
		{`\BaseNamedObjects\__winetest_d3dkmt`, bridge.AccessStandardRightsRead, bridge.AccessRead, kmtName},
		{`Global\__WINETEST_D3DKMT`, bridge.AccessRead, bridge.AccessRead, kmtName},
		{`\Sessions\1\BaseNamedObjects\__winetest_d3d11_image`, bridge.AccessGenericAll, bridge.AccessReadWrite, `\Sessions\1\BaseNamedObjects\__winetest_d3d11_image`},
		{`Local\__WineTest_D3D11_Image`, bridge.AccessGenericAll, bridge.AccessReadWrite, `\Sessions\1\BaseNamedObjects\__winetest_d3d11_image`},
		{`__WINETEST_D3D11_IMAGE`, bridge.AccessGenericRead, bridge.AccessRead, `\Sessions\1\BaseNamedObjects\__winetest_d3d11_image`},
	} {
		what := "the child's OPEN_NAME " + o.name
		r := child.do(t, "open-name %#x %s", uint32(o.mask), o.name).ok(t, what)
		h := r.handle(t, "handle")
		checkNTShape(t, what, h)
		r.wantNum(t, what, "kmt", uint64(kmt))
		r.wantNum(t, what, "access", uint64(o.want))
		r.wantNum(t, what, "fds", 1)
		ob := child.do(t, "qobj %d", h).ok(t, what+": QUERY_OBJECT")
		ob.want(t, what+": QUERY_OBJECT", "type", "DxgkSharedResource")
		ob.want(t, what+": QUERY_OBJECT", "name", o.path)
		ob.wantNum(t, what+": QUERY_OBJECT", "mask", uint64(o.mask))
		child.do(t, "read %d %d", h, kmtSize).ok(t, what+": read").want(t, what+": read", "sum", kmtSum(kmtPattern(kmtSize, 0x71)))
		child.do(t, "close %d", h).ok(t, what+": close")
	}
	checkFDs(t, "the child after closing what it opened by name", child.pid, file, 0)
	// The session's name is not the global namespace's.
	child.do(t, `open-name %#x Global\__winetest_d3d11_image`, uint32(bridge.AccessRead)).fails(t, "OPEN_NAME of the session's name in the global namespace", bridge.ErrNotFound)

	// A name this process's resource has cannot be taken by the child's,
	// in any spelling; nor the child's by this process's.
	theirs := child.do(t, "create %d", 0x72).ok(t, "the child's CREATE").handle(t, "kmt")
	for _, n := range []string{`Global\__winetest_d3dkmt`, `\Sessions\1\BaseNamedObjects\__WINETEST_D3D11_IMAGE`, `Local\__winetest_d3d11_image`} {
		child.do(t, "share %d %#x %s", theirs, rw, n).fails(t, "the child's SHARE of this process's name "+n, bridge.ErrNameTaken)
	}
	childName := child.do(t, `share %d %#x Local\__winetest_child`, theirs, uint32(bridge.AccessGenericAll)).ok(t, "the child's SHARE of a name of its own").handle(t, "handle")
	if _, err := c.Share(kmt, bridge.AccessRead, `\Sessions\1\BaseNamedObjects\__WINETEST_CHILD`); !errors.Is(err, bridge.ErrNameTaken) || !errors.Is(err, broker.CodeNameTaken) {
		t.Errorf("this process's SHARE of the child's name: %v, want NAME_TAKEN", err)
	}
	r, err := c.OpenName(`__winetest_child`, bridge.AccessGenericAll)
	if err != nil || r.KMT != theirs || r.Access != bridge.AccessReadWrite {
		t.Fatalf("this process's OPEN_NAME of the child's name = %+v, %v", r, err)
	}
	if !bytes.Equal(kmtRead(t, r.FD, kmtSize), kmtPattern(kmtSize, 0x72)) {
		t.Error("this process does not read, by the child's name, what the child wrote")
	}
	unix.Close(r.FD)
	if err := c.CloseHandle(r.Handle); err != nil {
		t.Fatal(err)
	}

	// The name lives as long as the named object's NT handles (Wine's
	// test: OBJECT_NAME_NOT_FOUND once they are closed), not as the
	// resource: while another child's handle opened by name is open the
	// name opens; with the last closed it is gone, though the resource
	// lives on through the child's KMT handle, and free to share again.
	byName := other.do(t, `open-name %#x __winetest_child`, uint32(bridge.AccessRead)).ok(t, "another child's OPEN_NAME")
	child.do(t, "close %d", childName).ok(t, "the child's close of its named handle")
	again := other.do(t, `open-name %#x __winetest_child`, uint32(bridge.AccessRead)).ok(t, "another child's OPEN_NAME while its first handle to the named object is open")
	again.wantNum(t, "another child's OPEN_NAME", "kmt", uint64(theirs))
	other.do(t, "close %d", again.handle(t, "handle")).ok(t, "the other child's close")
	other.do(t, "close %d", byName.handle(t, "handle")).ok(t, "the other child's close of its last handle to the named object")
	other.do(t, `open-name %#x __winetest_child`, uint32(bridge.AccessRead)).fails(t, "OPEN_NAME after the named object's last handle closed", bridge.ErrNotFound)
	renamed := child.do(t, `share %d %#x __WINETEST_CHILD`, theirs, rw).ok(t, "the child's SHARE again of the freed name")
	child.do(t, "close %d", renamed.handle(t, "handle")).ok(t, "the child's close of its new named handle")
	// The child gone, its resource goes with it, and the name is
	// anyone's.
	child.Kill()
	waitLive(t, "the child's resource to be freed", brk, 1)
	if _, err := c.OpenName(`Local\__winetest_child`, bridge.AccessRead); !errors.Is(err, bridge.ErrNotFound) {
		t.Errorf("OPEN_NAME of a freed resource's name: %v, want NOT_FOUND", err)
	}
	if nt, err := c.Share(kmt, bridge.AccessRead, `Local\__winetest_child`); err != nil {
		t.Errorf("SHARE of a freed resource's name: %v", err)
	} else if o := other.do(t, `open-name %#x __winetest_child`, uint32(bridge.AccessRead)).ok(t, "the other child's OPEN_NAME of the name's new owner"); o.handle(t, "kmt") != kmt {
		t.Errorf("the name opens %v, want its new owner %v", o.handle(t, "kmt"), kmt)
	} else {
		c.CloseHandle(nt)
	}
	other.exit(t)
	for _, h := range append(shared, kmt) {
		if err := c.CloseHandle(h); err != nil {
			t.Fatal(err)
		}
	}
	waitLive(t, "every resource to be freed", brk, 0)
	waitFDs(t, "the broker to close its copy of the memory fd", file, 1)
}

// TestD3DKMTProcessAccess: access masks across processes. A child opening
// with access 0 is ACCESS_DENIED; GENERIC_ALL opens a name shared with it;
// the standard rights are accepted (read); a read-only NT handle of the
// creator's cannot UPDATE_DATA, a GENERIC_ALL one can, and another process
// sees the new data; a writable handle of another process's cannot,
// since only the creator may.
func TestD3DKMTProcessAccess(t *testing.T) {
	sock, brk := kmtBroker(t)
	c := kmtDial(t, sock)
	mem, file := kmtMemfd(t, kmtSize, 0x81)
	kmt, err := c.Create(kmtAllocation(kmtTexture(bridge.FormatR8G8B8A8Unorm, d3d.D3D11BindShaderResource, d3d.D3D11ResourceMiscShared), vkR8G8B8A8Unorm), mem, []byte{9, 8, 7, 6})
	if err != nil {
		t.Fatal(err)
	}
	roNT, err := c.Share(kmt, bridge.AccessStandardRightsRead, `Local\__winetest_ro`)
	if err != nil {
		t.Fatal(err)
	}
	allNT, err := c.Share(kmt, bridge.AccessGenericAll, `Local\__winetest_all`)
	if err != nil {
		t.Fatal(err)
	}
	child := startKMTChild(t, sock)
	for _, o := range []struct {
		name       string
		mask, want bridge.Access
	}{
		{`__winetest_all`, bridge.AccessGenericAll, bridge.AccessReadWrite},
		{`__winetest_all`, bridge.AccessSharedAllocationAllAccess, bridge.AccessReadWrite},
		{`__winetest_all`, bridge.AccessStandardRightsWrite, bridge.AccessRead},
		{`__winetest_all`, bridge.AccessStandardRightsAll, bridge.AccessRead},
		{`__winetest_ro`, bridge.AccessStandardRightsRead, bridge.AccessRead},
		{`__winetest_ro`, bridge.AccessStandardRightsExecute, bridge.AccessRead},
		{`__winetest_ro`, bridge.AccessStandardRightsRequired, bridge.AccessRead},
		{`__winetest_ro`, bridge.AccessSynchronize, bridge.AccessRead},
		// A name grants what is asked, whatever its sharer's handle
		// had: Windows checks the named object's security.
		{`__winetest_ro`, bridge.AccessMaximumAllowed, bridge.AccessReadWrite},
		{`__winetest_ro`, bridge.AccessGenericAll, bridge.AccessReadWrite},
		{`__winetest_ro`, bridge.AccessGenericWrite, bridge.AccessWrite},
	} {
		what := fmt.Sprintf("the child's OPEN_NAME %s with %#x", o.name, uint32(o.mask))
		r := child.do(t, "open-name %#x %s", uint32(o.mask), o.name).ok(t, what)
		r.wantNum(t, what, "access", uint64(o.want))
		r.wantNum(t, what, "kmt", uint64(kmt))
		child.do(t, "close %d", r.handle(t, "handle")).ok(t, what+": close")
	}
	for _, o := range []struct {
		name string
		mask bridge.Access
		want error
	}{
		{`__winetest_all`, 0, bridge.ErrAccessDenied},
		{`__winetest_ro`, 0, bridge.ErrAccessDenied},
		{`__winetest_ro`, 0x40, broker.CodeInvalid}, // a specific right no shared resource has
	} {
		child.do(t, "open-name %#x %s", uint32(o.mask), o.name).fails(t, fmt.Sprintf("the child's OPEN_NAME %s with %#x", o.name, uint32(o.mask)), o.want)
	}
	checkFDs(t, "the child after its opens and closes", child.pid, file, 0)

	// UPDATE_DATA needs write access and the creator: this process's
	// read-only NT handle may not, its GENERIC_ALL one may, and the child
	// sees the new data; the child's writable handle may not either.
	if err := c.UpdateData(roNT, []byte{1}); !errors.Is(err, bridge.ErrAccessDenied) {
		t.Errorf("UPDATE_DATA through a read-only NT handle: %v, want ACCESS_DENIED", err)
	}
	child.do(t, "query %d", kmt).ok(t, "the child's QUERY").want(t, "the data after the refused update", "data", "09080706")
	if err := c.UpdateData(allNT, []byte{7, 8, 9, 10}); err != nil {
		t.Fatalf("UPDATE_DATA through a GENERIC_ALL NT handle: %v", err)
	}
	child.do(t, "query %d", kmt).ok(t, "the child's QUERY").want(t, "the data after the update", "data", "0708090a")
	w := child.do(t, "open-name %#x __winetest_all", uint32(bridge.AccessGenericAll)).ok(t, "the child's GENERIC_ALL open")
	child.do(t, "update %d 01", w.handle(t, "handle")).fails(t, "the child's UPDATE_DATA of a resource it did not create", bridge.ErrAccessDenied)
	child.do(t, "update %d 01", kmt).fails(t, "the child's UPDATE_DATA through a KMT handle it holds no reference through", bridge.ErrNotFound)
	child.exit(t)
	for _, h := range []bridge.Handle{roNT, allNT, kmt} {
		if err := c.CloseHandle(h); err != nil {
			t.Fatal(err)
		}
	}
	waitLive(t, "the resource to be freed", brk, 0)
	waitFDs(t, "the broker to close its copy of the memory fd", file, 1)
}

// TestD3DKMTProcessDuplicate: an NT handle duplicated into a child's
// process (DuplicateHandle with the child as the target) is redeemed
// there, once, by that process only; QUERY_OBJECT in the child gives the
// object's type and name; closing the duplicate leaves this process's
// handle working; DUPLICATE_CLOSE_SOURCE closes the source, the transfer
// holding the resource until the child redeems it.
func TestD3DKMTProcessDuplicate(t *testing.T) {
	sock, brk := kmtBroker(t)
	c := kmtDial(t, sock)
	mem, file := kmtMemfd(t, kmtSize, 0x91)
	kmt, err := c.Create(kmtAllocation(kmtTexture(bridge.FormatR8G8B8A8Unorm, d3d.D3D11BindShaderResource, d3d.D3D11ResourceMiscShared), vkR8G8B8A8Unorm), mem, []byte("dup"))
	if err != nil {
		t.Fatal(err)
	}
	nt, err := c.Share(kmt, bridge.AccessGenericAll, `Global\__winetest_dup`)
	if err != nil {
		t.Fatal(err)
	}
	target, stranger := startKMTChild(t, sock), startKMTChild(t, sock)
	sum := kmtSum(kmtPattern(kmtSize, 0x91))

	d, err := c.Duplicate(nt, bridge.AccessGenericRead, 0, target.pid)
	if err != nil || d.Token == 0 || d.Access != bridge.AccessRead {
		t.Fatalf("DUPLICATE for the child = %+v, %v", d, err)
	}
	stranger.do(t, "open-dup %d", d.Token).fails(t, "OPEN_DUPLICATE by another process than the target", bridge.ErrAccessDenied)
	r := target.do(t, "open-dup %d", d.Token).ok(t, "the target's OPEN_DUPLICATE")
	dh := r.handle(t, "handle")
	checkNTShape(t, "the target's duplicate", dh)
	r.wantNum(t, "the target's duplicate", "kmt", uint64(kmt))
	r.wantNum(t, "the target's duplicate", "access", uint64(bridge.AccessRead))
	r.wantNum(t, "the target's duplicate", "fds", 1)
	r.want(t, "the target's duplicate", "data", hex.EncodeToString([]byte("dup")))
	checkFDs(t, "the target after its OPEN_DUPLICATE", target.pid, file, 1)
	target.do(t, "read %d %d", dh, kmtSize).ok(t, "the target's read").want(t, "the target's read", "sum", sum)
	o := target.do(t, "qobj %d", dh).ok(t, "the target's QUERY_OBJECT")
	o.want(t, "the target's QUERY_OBJECT", "type", "DxgkSharedResource")
	o.want(t, "the target's QUERY_OBJECT", "name", `\BaseNamedObjects\__winetest_dup`)
	o.wantNum(t, "the target's QUERY_OBJECT", "mask", uint64(bridge.AccessGenericRead))
	o.wantNum(t, "the target's QUERY_OBJECT", "kmt", uint64(kmt))
	target.do(t, "open-dup %d", d.Token).fails(t, "a second OPEN_DUPLICATE of one token", bridge.ErrNotFound)
	target.do(t, "dup %d %#x 0 0", dh, uint32(bridge.AccessGenericAll)).fails(t, "the target's DUPLICATE of its read-only handle with more access", bridge.ErrAccessDenied)

	// The two handles close on their own: the duplicate's close leaves
	// the source working.
	target.do(t, "close %d", dh).ok(t, "the target's close of its duplicate")
	checkFDs(t, "the target after closing its duplicate", target.pid, file, 0)
	target.do(t, "qobj %d", dh).fails(t, "the target's QUERY_OBJECT of its closed duplicate", bridge.ErrNotFound)
	if ob, err := c.QueryObject(nt); err != nil || ob.Type != "DxgkSharedResource" || ob.Name != `\BaseNamedObjects\__winetest_dup` || ob.Mask != bridge.AccessGenericAll {
		t.Errorf("the source's QUERY_OBJECT after the duplicate closed = %+v, %v", ob, err)
	}
	if q, err := c.Query(nt); err != nil || q.Access != bridge.AccessReadWrite {
		t.Errorf("the source's QUERY after the duplicate closed = %+v, %v", q, err)
	}

	// DUPLICATE_CLOSE_SOURCE: the source is closed once the transfer is
	// made, which holds the resource, this process's creator reference
	// gone too, until the target redeems it.
	d, err = c.Duplicate(nt, 0, broker.DuplicateCloseSource|broker.DuplicateSameAccess, target.pid)
	if err != nil || d.Access != bridge.AccessReadWrite {
		t.Fatalf("DUPLICATE_CLOSE_SOURCE = %+v, %v", d, err)
	}
	if _, err := c.Query(nt); !errors.Is(err, bridge.ErrNotFound) {
		t.Errorf("the source after DUPLICATE_CLOSE_SOURCE: %v, want NOT_FOUND", err)
	}
	if err := c.CloseHandle(kmt); err != nil {
		t.Fatal(err)
	}
	if n := brk.Live(); n != 1 {
		t.Fatalf("%d live resources with only the transfer holding it, want 1", n)
	}
	r = target.do(t, "open-dup %d", d.Token).ok(t, "the target's OPEN_DUPLICATE of the moved handle")
	dh = r.handle(t, "handle")
	r.wantNum(t, "the moved handle", "access", rw)
	target.do(t, "read %d %d", dh, kmtSize).ok(t, "the target's read").want(t, "the target's read", "sum", sum)
	target.do(t, "qobj %d", dh).ok(t, "the target's QUERY_OBJECT of the moved handle").wantNum(t, "the moved handle", "mask", uint64(bridge.AccessGenericAll))
	// The target's handle is the last reference: the resource goes with
	// the target.
	target.Kill()
	waitLive(t, "the resource to be freed with the target", brk, 0)
	waitFDs(t, "the broker to close its copy of the memory fd", file, 1)
	stranger.do(t, "open-kmt %d", kmt).fails(t, "an open of the freed resource", bridge.ErrNotFound)
	stranger.exit(t)
}

// TestD3DKMTProcessSyncObjects: shared fences (D3DKMT synchronization
// objects) across processes, as test_D3DKMTCreateSynchronizationObject and
// test_D3DKMTShareObjects use them: created here with a global handle, an
// NT handle and a name, each opened in a child; QUERY_OBJECT gives
// "DxgkSharedSyncObject"; signals and waits cross; the fence's semaphore fd
// reaches every opener; a fence is no resource and a resource no fence;
// the global handle dies with its last reference, a child's that exits
// holding it.
func TestD3DKMTProcessSyncObjects(t *testing.T) {
	sock, brk := kmtBroker(t)
	c := kmtDial(t, sock)
	// An eventfd stands in for the fence's timeline semaphore: the broker
	// never looks inside, and its fds can be counted.
	sem, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(sem)
	semFile, err := testenv.FileOf(sem)
	if err != nil {
		t.Fatal(err)
	}
	kmt, err := c.CreateFence(7, sem)
	if err != nil {
		t.Fatal(err)
	}
	checkKMTShape(t, "CREATE_FENCE's handle", kmt)
	const name = `\BaseNamedObjects\__WineTest_D3DKMT`
	nt, err := c.Share(kmt, bridge.AccessStandardRightsWrite, name)
	if err != nil {
		t.Fatal(err)
	}
	checkNTShape(t, "SHARE of the fence", nt)
	if o, err := c.QueryObject(nt); err != nil || o.Type != "DxgkSharedSyncObject" || o.Name != name || o.Access != bridge.AccessRead {
		t.Errorf("QUERY_OBJECT of the fence's NT handle = %+v, %v", o, err)
	}
	all, err := c.Share(kmt, bridge.AccessGenericAll, "")
	if err != nil {
		t.Fatal(err)
	}
	checkFDs(t, "the test process (its eventfd and the broker's copy)", 0, semFile, 2)

	child, other := startKMTChild(t, sock), startKMTChild(t, sock)
	// By name: not an unknown one, not with access 0.
	child.do(t, `fence-name %#x \BaseNamedObjects\__winetest_invalid`, uint32(bridge.AccessStandardRightsWrite)).fails(t, "the child's open of an unknown fence name", bridge.ErrNotFound)
	child.do(t, `fence-name 0 \BaseNamedObjects\__winetest_d3dkmt`).fails(t, "the child's open of the fence's name with access 0", bridge.ErrAccessDenied)
	byName := child.do(t, `fence-name %#x \BaseNamedObjects\__winetest_d3dkmt`, uint32(bridge.AccessStandardRightsWrite)).ok(t, "the child's open by name")
	nh := byName.handle(t, "handle")
	checkNTShape(t, "the child's fence NT handle", nh)
	byName.wantNum(t, "the child's open by name", "kmt", uint64(kmt))
	byName.wantNum(t, "the child's open by name", "access", uint64(bridge.AccessRead))
	byName.want(t, "the child's open by name", "name", name)
	byName.wantNum(t, "the child's open by name", "value", 7)
	byName.wantNum(t, "the child's open by name", "fds", 1)
	ob := child.do(t, "qobj %d", nh).ok(t, "the child's QUERY_OBJECT of its fence handle")
	ob.want(t, "the child's QUERY_OBJECT", "type", "DxgkSharedSyncObject")
	ob.want(t, "the child's QUERY_OBJECT", "name", name)
	ob.wantNum(t, "the child's QUERY_OBJECT", "mask", uint64(bridge.AccessStandardRightsWrite))
	// By the global handle (D3DKMTOpenSynchronizationObject in Wine's
	// child process).
	checkKMTOpen(t, "the child's open by global handle", child.do(t, "fence-kmt %d", kmt).ok(t, "the child's open by global handle"), kmt, 1)
	// By a duplicate of this process's NT handle.
	d, err := c.Duplicate(all, 0, broker.DuplicateSameAccess, child.pid)
	if err != nil {
		t.Fatal(err)
	}
	child.do(t, "open-dup %d", d.Token).fails(t, "OPEN_DUPLICATE of a fence's duplicate", broker.CodeWrongType)
	byDup := child.do(t, "fence-dup %d", d.Token).ok(t, "the child's open of the duplicate")
	dh := byDup.handle(t, "handle")
	checkNTShape(t, "the child's duplicate", dh)
	byDup.wantNum(t, "the child's duplicate", "access", rw)
	byDup.wantNum(t, "the child's duplicate", "mask", uint64(bridge.AccessGenericAll))
	byDup.want(t, "the child's duplicate", "name", "-")
	child.do(t, "qobj %d", dh).ok(t, "the child's QUERY_OBJECT of its duplicate").want(t, "the duplicate's object", "type", "DxgkSharedSyncObject")
	checkFDs(t, "the child with three opens", child.pid, semFile, 3)

	// Values cross: a signal through one process's handle is what the
	// other waits for; a read-only handle waits but does not signal.
	child.do(t, "signal %d 9", kmt).ok(t, "the child's signal through the global handle").wantNum(t, "the child's signal", "value", 9)
	if v, err := c.GetFence(kmt); err != nil || v.Value != 9 {
		t.Errorf("GET_FENCE after the child's signal = %+v, %v", v, err)
	}
	child.do(t, "signal %d 10", nh).fails(t, "the child's signal through a read-only handle", bridge.ErrAccessDenied)
	if _, err := c.SignalFence(all, 12); err != nil {
		t.Fatal(err)
	}
	child.do(t, "wait %d 12 0", nh).ok(t, "the child's wait through its read-only handle").wantNum(t, "the child's wait", "value", 12)
	child.do(t, "get %d", dh).ok(t, "the child's GET_FENCE").wantNum(t, "the child's GET_FENCE", "value", 12)

	// A sync object opened by name is shared again under another name
	// (no more access than it has), which opens in this process.
	child.do(t, `share %d %#x \BaseNamedObjects\__WineTest_D3DKMT_2`, nh, uint32(bridge.AccessGenericAll)).fails(t, "the child's GENERIC_ALL SHARE of its read-only handle", bridge.ErrAccessDenied)
	name2 := child.do(t, `share %d %#x \BaseNamedObjects\__WineTest_D3DKMT_2`, nh, uint32(bridge.AccessStandardRightsRead)).ok(t, "the child's SHARE under a second name").handle(t, "handle")
	checkNTShape(t, "the child's SHARE under a second name", name2)
	child.do(t, "qobj %d", name2).ok(t, "the child's QUERY_OBJECT of its second name").want(t, "the second name's object", "name", `\BaseNamedObjects\__WineTest_D3DKMT_2`)
	f2, err := c.OpenFenceName(`Global\__winetest_d3dkmt_2`, bridge.AccessStandardRightsRead)
	if err != nil || f2.KMT != kmt || f2.Name != `\BaseNamedObjects\__WineTest_D3DKMT_2` {
		t.Fatalf("OPEN_FENCE of the child's second name = %+v, %v", f2, err)
	}
	unix.Close(f2.FD)
	if err := c.CloseHandle(f2.Handle); err != nil {
		t.Fatal(err)
	}

	// A fence is no resource, and a resource no fence.
	mem, _ := kmtMemfd(t, kmtSize, 0xa1)
	res, err := c.Create(kmtAllocation(kmtTexture(bridge.FormatR8G8B8A8Unorm, d3d.D3D11BindShaderResource, d3d.D3D11ResourceMiscShared), vkR8G8B8A8Unorm), mem, nil)
	if err != nil {
		t.Fatal(err)
	}
	resNT, err := c.Share(res, bridge.AccessGenericAll, `Local\__winetest_resource`)
	if err != nil {
		t.Fatal(err)
	}
	for what, r := range map[string]peerReply{
		"OPEN_KMT of the fence":           child.do(t, "open-kmt %d", kmt),
		"OPEN_NAME of the fence's name":   child.do(t, `open-name %#x \BaseNamedObjects\__winetest_d3dkmt`, uint32(bridge.AccessStandardRightsRead)),
		"QUERY of the fence":              child.do(t, "query %d", kmt),
		"ACQUIRE_SYNC of the fence":       child.do(t, "acquire %d 0 0", kmt),
		"OPEN_FENCE of the resource":      child.do(t, "fence-kmt %d", res),
		"OPEN_FENCE of the resource name": child.do(t, `fence-name %#x __winetest_resource`, uint32(bridge.AccessGenericAll)),
	} {
		r.fails(t, "the child's "+what, broker.CodeWrongType)
	}
	checkKMTOpen(t, "the child's OPEN_KMT of the resource", child.do(t, "open-kmt %d", res).ok(t, "the child's OPEN_KMT of the resource"), res, 1)
	child.do(t, "signal %d 1", res).fails(t, "the child's SIGNAL_FENCE of the resource", broker.CodeWrongType)
	child.do(t, "wait %d 1 0", res).fails(t, "the child's WAIT_FENCE of the resource", broker.CodeWrongType)
	child.do(t, "close %d", res).ok(t, "the child's close of the resource")
	if err := c.CloseHandle(resNT); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseHandle(res); err != nil {
		t.Fatal(err)
	}

	// Values of neither shape, and no way to open at all.
	child.do(t, "fence-kmt %d", 0x1eadbeed).fails(t, "the child's open of 0x1eadbeed", broker.CodeBadHandle)
	child.do(t, "fence-kmt %d", nh).fails(t, "the child's open of its NT handle as a global handle", broker.CodeBadHandle)
	child.do(t, "fence-kmt 0").fails(t, "the child's open of 0", broker.CodeInvalid)

	// Closing: a process that holds no reference through the global
	// handle cannot destroy it; one close per open; then the object still
	// opens.
	other.do(t, "close %d", kmt).fails(t, "another child's close of the global handle it never opened", bridge.ErrNotFound)
	child.do(t, "close %d", kmt).ok(t, "the child's close of its global handle")
	child.do(t, "close %d", kmt).fails(t, "the child's second close", bridge.ErrNotFound)
	checkKMTOpen(t, "the child's open again", child.do(t, "fence-kmt %d", kmt).ok(t, "the child's open again"), kmt, 1)

	// Name lifetime: with every NT handle to the named object closed,
	// the name is forgotten (Wine's test: OBJECT_NAME_NOT_FOUND), though
	// the fence lives on, and may be shared again.
	child.do(t, "close %d", nh).ok(t, "the child's close of its handle by name")
	if err := c.CloseHandle(nt); err != nil {
		t.Fatal(err)
	}
	other.do(t, `fence-name %#x \BaseNamedObjects\__winetest_d3dkmt`, uint32(bridge.AccessStandardRightsRead)).fails(t, "another child's open by name after the named object's handles closed", bridge.ErrNotFound)
	if again, err := c.Share(kmt, bridge.AccessStandardRightsRead, name); err != nil {
		t.Errorf("SHARE again of the fence's freed name: %v", err)
	} else if err := c.CloseHandle(again); err != nil {
		t.Fatal(err)
	}

	// The global handle dies with the last reference. This process lets
	// go of everything; the child exits holding its global handle and its
	// duplicate, as Wine's child leaks the object.
	if err := c.CloseHandle(all); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseHandle(kmt); err != nil {
		t.Fatal(err)
	}
	if l, err := c.ListFences(); err != nil || len(l) != 1 || !l[0].CreatorConnected || l[0].Refs != 3 {
		t.Errorf("the fence held by the child alone: %+v, %v; want 3 references (its global handle, its duplicate and its second name's handle)", l, err)
	}
	child.exit(t)
	waitLive(t, "the fence to be freed with its last reference", brk, 0)
	waitFDs(t, "the broker to close its copy of the semaphore fd", semFile, 1)
	other.do(t, "fence-kmt %d", kmt).fails(t, "an open of the dead global handle", bridge.ErrNotFound)
	other.do(t, `fence-name %#x \BaseNamedObjects\__winetest_d3dkmt`, uint32(bridge.AccessStandardRightsRead)).fails(t, "an open of the dead fence's name", bridge.ErrNotFound)
	other.exit(t)
}

// TestD3DKMTProcessKeyedMutexAbandoned: a child holds a resource's keyed
// mutex through an NT handle it opened by name and is killed with SIGKILL
// while another child waits for a key nobody releases to. The waiter gets
// the mutex, abandoned, with the memory as the holder left it; the mutex
// stays abandoned for good (WAIT_ABANDONED): three more acquires in that
// process, for keys nobody released to, get it at once, each told so.
func TestD3DKMTProcessKeyedMutexAbandoned(t *testing.T) {
	sock, brk := kmtBroker(t)
	c := kmtDial(t, sock)
	desc := kmtTexture(bridge.FormatR8G8B8A8Unorm, d3d.D3D11BindShaderResource|d3d.D3D11BindRenderTarget, d3d.D3D11ResourceMiscSharedKeyedMutex)
	rd, err := d3d.RuntimeDescFor(d3d.APID3D11, desc, d3d.RuntimeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := rd.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	mem, file := kmtMemfd(t, kmtSize, 0xb1)
	kmt, err := c.Create(kmtAllocation(desc, vkR8G8B8A8Unorm), mem, data)
	if err != nil {
		t.Fatal(err)
	}
	nt, err := c.Share(kmt, bridge.AccessGenericAll, `Local\__winetest_keyed_mutex`)
	if err != nil {
		t.Fatal(err)
	}
	mutex := func() broker.MutexState {
		t.Helper()
		l, err := c.List()
		if err != nil || len(l) != 1 {
			t.Fatalf("List = %+v, %v", l, err)
		}
		return l[0].Mutex
	}

	holder, waiter := startKMTChild(t, sock), startKMTChild(t, sock)
	h := holder.do(t, "open-name %#x __winetest_keyed_mutex", uint32(bridge.AccessGenericAll)).ok(t, "the holder's OPEN_NAME")
	hh := h.handle(t, "handle")
	h.wantNum(t, "the holder's OPEN_NAME", "rt.keyed_mutex", 1)
	a := holder.do(t, "acquire %d 0 0", hh).ok(t, "the holder's acquire of key 0")
	a.wantNum(t, "the holder's acquire", "abandoned", 0)
	// A frame half written when the holder dies.
	holder.do(t, "fill %d %d %d", hh, kmtSize/2, 0xb2).ok(t, "the holder's write")
	checkKMTOpen(t, "the waiter's OPEN_KMT", waiter.do(t, "open-kmt %d", kmt).ok(t, "the waiter's OPEN_KMT"), kmt, 1)
	waiter.Send(t, fmt.Sprintf("acquire %d 1 -1", kmt))
	waitFor(t, "the waiter's acquire to be parked", childStep, func() (bool, string) {
		m := mutex()
		return m.Held && m.HolderPID == int32(holder.pid) && m.Waiters == 1, fmt.Sprintf("%+v", m)
	})

	holder.Kill()
	w := waiter.reply(t).ok(t, "the waiter's acquire of key 1 after the holder was killed")
	w.wantNum(t, "the waiter's first acquire", "abandoned", 1)
	w.wantNum(t, "the waiter's first acquire", "value", 0)
	want := append(kmtPattern(kmtSize/2, 0xb2), kmtPattern(kmtSize, 0xb1)[kmtSize/2:]...)
	waiter.do(t, "read %d %d", kmt, kmtSize).ok(t, "the waiter's read").want(t, "what the killed holder left", "sum", kmtSum(want))
	if m := mutex(); !m.Held || !m.Abandoned || m.HolderPID != int32(waiter.pid) {
		t.Errorf("the mutex after the waiter got it: %+v", m)
	}
	waiter.do(t, "release %d 5 11", kmt).ok(t, "the waiter's release to key 5")
	// Abandoned for good: whichever key, the mutex is had at once (a
	// try, timeout 0), and each acquire says it was abandoned.
	value := uint64(11)
	for i, key := range []uint64{7, 5, 2} {
		what := fmt.Sprintf("the waiter's acquire %d (key %d)", i+2, key)
		r := waiter.do(t, "acquire %d %d 0", kmt, key).ok(t, what)
		r.wantNum(t, what, "abandoned", 1)
		r.wantNum(t, what, "value", value)
		value++
		waiter.do(t, "release %d %d %d", kmt, key+100, value).ok(t, what+": release")
	}
	if m := mutex(); m.Held || !m.Abandoned || m.LastValue != value {
		t.Errorf("the mutex after the waiter's acquires: %+v", m)
	}
	// The killed holder's references are gone; the resource lives on.
	waitFor(t, "the broker to drop the killed holder's references", childStep, func() (bool, string) {
		l, err := c.List()
		if err != nil || len(l) != 1 {
			return false, fmt.Sprintf("%+v, %v", l, err)
		}
		for _, hd := range l[0].Holders {
			if hd.PID == int32(holder.pid) {
				return false, fmt.Sprintf("holders %+v", l[0].Holders)
			}
		}
		return true, ""
	})
	waiter.exit(t)
	for _, h := range []bridge.Handle{nt, kmt} {
		if err := c.CloseHandle(h); err != nil {
			t.Fatal(err)
		}
	}
	waitLive(t, "the resource to be freed", brk, 0)
	waitFDs(t, "the broker to close its copy of the memory fd", file, 1)
}

// TestD3DKMTProcessKeyedMutexObject ports test_D3DKMTCreateKeyedMutex to
// keyed-mutex objects across processes: one made with private runtime
// data (D3DKMTCreateKeyedMutex2) has a global handle; another process's
// open of it (D3DKMTOpenKeyedMutex2) gets the data; it is one mutex across
// the processes; it is no resource, no fence, and 0x1eadbeed names none;
// its global handle is destroyed with its last reference. Then a D3D11
// keyed-mutex resource's mutex object, as a descriptor names it: the
// child opens the resource and its mutex by the descriptor's handles,
// holds the mutex through the mutex's own handle and is killed; the
// resource's acquire in this process is abandoned.
func TestD3DKMTProcessKeyedMutexObject(t *testing.T) {
	sock, brk := kmtBroker(t)
	c := kmtDial(t, sock)
	child, other := startKMTChild(t, sock), startKMTChild(t, sock)

	m, err := c.CreateKeyedMutex(0, 0, []byte{1, 2, 3, 4, 5, 6})
	if err != nil {
		t.Fatal(err)
	}
	if uint32(m.KMT)&0xc000003f != 0x40000002 {
		t.Errorf("keyed mutex handle %v: not a global handle", m.KMT)
	}
	o := child.do(t, "open-km %d", m.KMT).ok(t, "the child's OPEN_KEYED_MUTEX")
	o.wantNum(t, "the child's OPEN_KEYED_MUTEX", "kmt", uint64(m.KMT))
	o.wantNum(t, "the child's OPEN_KEYED_MUTEX", "resource", 0)
	o.want(t, "the child's OPEN_KEYED_MUTEX", "data", "010203040506")
	child.do(t, "open-km %d", 0x1eadbeed).fails(t, "OPEN_KEYED_MUTEX of 0x1eadbeed", broker.CodeBadHandle)
	child.do(t, "open-kmt %d", m.KMT).fails(t, "OPEN_KMT of a keyed mutex", broker.CodeWrongType)
	child.do(t, "fence-kmt %d", m.KMT).fails(t, "OPEN_FENCE of a keyed mutex", broker.CodeWrongType)

	child.do(t, "acquire %d 0 0", m.KMT).ok(t, "the child's acquire")
	if _, err := c.AcquireSync(m.KMT, 0, 0); !errors.Is(err, bridge.ErrTimeout) {
		t.Errorf("this process's acquire while the child holds it: %v, want a timeout", err)
	}
	child.do(t, "release %d 1 5", m.KMT).ok(t, "the child's release to key 1")
	if r, err := c.AcquireSync(m.KMT, 1, childStep); err != nil || r.Value != 5 || r.Abandoned {
		t.Errorf("this process's acquire of key 1 = %+v, %v; want value 5", r, err)
	}
	if err := c.ReleaseSync(m.KMT, 0, 6); err != nil {
		t.Fatal(err)
	}
	// The global handle lives while anyone holds it: the creator's close
	// leaves the child's, and the child's close is the last.
	if err := c.CloseHandle(m.KMT); err != nil {
		t.Fatal(err)
	}
	other.do(t, "open-km %d", m.KMT).ok(t, "another child's open while the child holds it")
	other.do(t, "close %d", m.KMT).ok(t, "the other child's close")
	child.do(t, "close %d", m.KMT).ok(t, "the child's close, the last reference")
	other.do(t, "open-km %d", m.KMT).fails(t, "OPEN_KEYED_MUTEX after the last reference", bridge.ErrNotFound)
	waitLive(t, "the keyed mutex to be freed", brk, 0)

	// A keyed-mutex resource, its mutex bound to it and to a sync object,
	// the handles in its D3D11 descriptor.
	desc := kmtTexture(bridge.FormatR8G8B8A8Unorm, d3d.D3D11BindShaderResource, d3d.D3D11ResourceMiscSharedKeyedMutex)
	mem, _ := kmtMemfd(t, kmtSize, 0xc1)
	kmt, err := c.Create(kmtAllocation(desc, vkR8G8B8A8Unorm), mem, nil)
	if err != nil {
		t.Fatal(err)
	}
	sync, err := c.CreateFence(0, -1)
	if err != nil {
		t.Fatal(err)
	}
	bm, err := c.CreateKeyedMutex(kmt, sync, nil)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := d3d.RuntimeDescFor(d3d.APID3D11, desc, d3d.RuntimeOptions{KeyedMutex: bm.KMT, SyncObject: sync})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := rd.MarshalBinary()
	if err := c.UpdateData(kmt, data); err != nil {
		t.Fatal(err)
	}
	for _, h := range []bridge.Handle{bm.KMT, sync} {
		if err := c.CloseHandle(h); err != nil {
			t.Fatal(err)
		}
	}
	r := child.do(t, "open-kmt %d", kmt).ok(t, "the child's OPEN_KMT of the resource")
	r.wantNum(t, "the child's OPEN_KMT", "rt.keyed_mutex", 1)
	r.wantNum(t, "the child's OPEN_KMT", "rt.mutex", uint64(bm.KMT))
	r.wantNum(t, "the child's OPEN_KMT", "rt.sync", uint64(sync))
	km := child.do(t, "open-km %d", bm.KMT).ok(t, "the child's OPEN_KEYED_MUTEX of the descriptor's mutex")
	km.wantNum(t, "the descriptor's mutex", "resource", uint64(kmt))
	km.wantNum(t, "the descriptor's mutex", "sync", uint64(sync))
	child.do(t, "fence-kmt %d", sync).ok(t, "the child's open of the descriptor's sync object")
	child.do(t, "acquire %d 0 0", bm.KMT).ok(t, "the child's acquire through the mutex's handle")
	if _, err := c.AcquireSync(kmt, 0, 0); !errors.Is(err, bridge.ErrTimeout) {
		t.Errorf("acquire through the resource while the child holds its mutex: %v, want a timeout", err)
	}
	child.Kill()
	for i := range 3 {
		r, err := c.AcquireSync(kmt, uint64(10+i), childStep)
		if err != nil || !r.Abandoned {
			t.Fatalf("acquire %d through the resource after the holder was killed = %+v, %v; want abandoned", i, r, err)
		}
		if err := c.ReleaseSync(kmt, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	other.exit(t)
	if err := c.CloseHandle(kmt); err != nil {
		t.Fatal(err)
	}
	waitLive(t, "the resource, its mutex and its sync object to be freed", brk, 0)
}
