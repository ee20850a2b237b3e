package glimport_test

import (
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/glimport"
	"github.com/glbridge/glbridge/headless"
	"github.com/glbridge/glbridge/internal/testenv"
)

// newContext makes a GL context with glimport loaded on it.
func newContext(t *testing.T) *headless.Context { return glimport.NewTestContext(t) }

func identity(t *testing.T, c *headless.Context) glimport.Identity {
	t.Helper()
	var id glimport.Identity
	var err error
	c.Call(func() { id, err = glimport.QueryIdentity() })
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestQueryIdentity(t *testing.T) {
	c := newContext(t)
	id := identity(t, c)
	t.Logf("%s / %s / %s / GLSL %s, %d extensions, driver %s, device %s (%d), memory fd %v, semaphore fd %v, timeline %v",
		id.Vendor, id.Renderer, id.Version, id.GLSL, len(id.Extensions), id.Device.Driver, id.Device.Device, id.NumDeviceUUIDs,
		id.MemoryObjectFD, id.SemaphoreFD, id.TimelineSemaphore)
	if id.Vendor == "" || id.Version == "" || id.GLSL == "" {
		t.Errorf("empty strings in %+v", id)
	}
	if len(id.Extensions) < 10 {
		t.Fatalf("only %d extensions", len(id.Extensions))
	}
	for i := 1; i < len(id.Extensions); i++ {
		if id.Extensions[i-1] >= id.Extensions[i] {
			t.Fatalf("extensions not sorted and unique at %d: %q, %q", i, id.Extensions[i-1], id.Extensions[i])
		}
	}
	if !id.Has("GL_ARB_texture_storage") || id.Has("GL_NOT_an_extension") {
		t.Errorf("Has: GL_ARB_texture_storage %v, GL_NOT_an_extension %v", id.Has("GL_ARB_texture_storage"), id.Has("GL_NOT_an_extension"))
	}
	if id.MemoryObjectFD != (id.Has("GL_EXT_memory_object") && id.Has("GL_EXT_memory_object_fd")) {
		t.Errorf("MemoryObjectFD = %v disagrees with the extension list", id.MemoryObjectFD)
	}
	if id.SemaphoreFD != (id.Has("GL_EXT_semaphore") && id.Has("GL_EXT_semaphore_fd")) {
		t.Errorf("SemaphoreFD = %v disagrees with the extension list", id.SemaphoreFD)
	}
	if !strings.Contains(id.Renderer, "llvmpipe") {
		t.Skipf("renderer %q is not llvmpipe; the llvmpipe expectations do not apply", id.Renderer)
	}
	if !id.MemoryObjectFD {
		t.Error("llvmpipe: MemoryObjectFD = false")
	}
	if id.Device.Driver.IsZero() || id.Device.Device.IsZero() {
		t.Errorf("llvmpipe: zero UUID: driver %s, device %s", id.Device.Driver, id.Device.Device)
	}
	if id.NumDeviceUUIDs != 1 {
		t.Errorf("llvmpipe: GL_NUM_DEVICE_UUIDS_EXT = %d, want 1", id.NumDeviceUUIDs)
	}
	if id.Device.Driver == id.Device.Device {
		t.Errorf("driver and device UUID are both %s", id.Device.Driver)
	}
}

// TestInitFromTwoContexts initialises from two context threads at once and
// checks both see the same device.
func TestInitFromTwoContexts(t *testing.T) {
	a, b := newContext(t), newContext(t)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, c := range []*headless.Context{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Call(func() { errs[i] = glimport.Init(c.ProcAddr) })
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Init on context %d: %v", i, err)
		}
	}
	ia, ib := identity(t, a), identity(t, b)
	if ia.Device.Driver != ib.Device.Driver || ia.Device.Device != ib.Device.Device {
		t.Errorf("two contexts on one device disagree: %s/%s vs %s/%s", ia.Device.Driver, ia.Device.Device, ib.Device.Driver, ib.Device.Device)
	}
}

// notOpenFD is a descriptor number no process has open (beyond any
// RLIMIT_NOFILE), so that the fd checks meet a closed descriptor without
// racing whatever else in the process opens fds.
const notOpenFD = 1<<31 - 1

// refused is a descriptor of a kind no driver exports, made for a test and
// closed when it ends, and what a refusal must say it is.
type refused struct {
	name, want string
	fd         int
}

// aPipe is the read end of a pipe whose writer stays open: a driver
// reading it would block.
func aPipe(t *testing.T) refused {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
	return refused{"pipe", "is a pipe", p[0]}
}

func aSocket(t *testing.T) refused {
	t.Helper()
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(sp[0]); unix.Close(sp[1]) })
	return refused{"socket", "is a socket", sp[0]}
}

// opened opens path (a file, a directory or a device) for a test.
func opened(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return int(f.Fd())
}

// aFile is a regular file of size bytes, made for a test and closed when
// it ends.
func aFile(t *testing.T, size int64) int {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "file")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return int(f.Fd())
}

func devNull(t *testing.T) refused {
	t.Helper()
	return refused{"/dev/null", "character device 1:3", opened(t, "/dev/null")}
}

func aDirectory(t *testing.T) refused {
	t.Helper()
	return refused{"directory", "is a directory", opened(t, t.TempDir())}
}

// checkFDNumbers checks, on c's thread, that an import (imp) refuses fd
// -1 saying so, and a descriptor that is not open with EBADF.
func checkFDNumbers(t *testing.T, c *headless.Context, imp func(fd int) error) {
	t.Helper()
	c.Call(func() {
		if err := imp(-1); err == nil || !strings.Contains(err.Error(), "invalid fd -1") {
			t.Errorf("fd -1: err = %v", err)
		}
		if err := imp(notOpenFD); !errors.Is(err, unix.EBADF) {
			t.Errorf("fd %d, which is not open: err = %v, want EBADF", notOpenFD, err)
		}
	})
}

func alloc2D(size uint64) bridge.Allocation {
	return bridge.Allocation{
		Desc: bridge.Desc{Dimension: bridge.DimensionTexture2D, Width: 16, Height: 16, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1, Format: bridge.FormatR8G8B8A8Unorm},
		Size: size, Dedicated: true,
	}
}

// TestImportRefusesNonMemory hands ImportMemory descriptors that are not
// memory. Each must fail naming glImportMemoryFdEXT, leave the caller's fd
// open and close the duplicate it made.
func TestImportRefusesNonMemory(t *testing.T) {
	c := newContext(t)
	for _, tc := range []refused{
		aPipe(t),
		devNull(t),
		{"100-byte file", "file of 100 bytes, smaller than the allocation's 4096", aFile(t, 100)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := testenv.Watch(t, tc.fd)
			var m *glimport.Memory
			var err error
			c.Call(func() { m, err = glimport.ImportMemory(alloc2D(4096), tc.fd) })
			if err == nil {
				c.Call(func() { m.Close() })
				t.Fatal("ImportMemory succeeded")
			}
			t.Log(err)
			if !strings.Contains(err.Error(), "glImportMemoryFdEXT") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name glImportMemoryFdEXT and %q", err, tc.want)
			}
			w.Kept(t, "the import")
		})
	}
}

func TestImportBadArguments(t *testing.T) {
	c := newContext(t)
	fd := aFile(t, 0)
	w := testenv.Watch(t, fd)
	c.Call(func() {
		if _, err := glimport.ImportMemory(alloc2D(0), fd); err == nil || !strings.Contains(err.Error(), "size is 0") {
			t.Errorf("zero size: err = %v", err)
		}
	})
	w.Kept(t, "the import")
	checkFDNumbers(t, c, func(fd int) error {
		m, err := glimport.ImportMemory(alloc2D(4096), fd)
		if err == nil {
			m.Close()
		}
		return err
	})
}
