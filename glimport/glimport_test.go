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

func newContext(t *testing.T) *headless.Context {
	t.Helper()
	c, err := headless.New(headless.Options{})
	if errors.Is(err, bridge.ErrPlatformUnavailable) {
		t.Skipf("no headless EGL platform: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	c.Call(func() {
		if err := glimport.Init(c.ProcAddr); err != nil {
			t.Fatal(err)
		}
	})
	return c
}

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

// openFDs returns the number of this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	n, err := testenv.CountFDs(0)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func isOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
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
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1]) // the writer stays open: a driver reading the pipe would block
	null, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	small, err := os.CreateTemp(t.TempDir(), "small")
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	if _, err := small.Write(make([]byte, 100)); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, want string
		fd         int
	}{
		{"pipe", "is a pipe", p[0]},
		{"/dev/null", "character device 1:3", int(null.Fd())},
		{"100-byte file", "file of 100 bytes, smaller than the allocation's 4096", int(small.Fd())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := openFDs(t)
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
			if !isOpen(tc.fd) {
				t.Errorf("the caller's fd %d was closed", tc.fd)
			}
			if after := openFDs(t); after != before {
				t.Errorf("%d fds open before, %d after: the duplicate leaked", before, after)
			}
		})
	}
}

func TestImportBadArguments(t *testing.T) {
	c := newContext(t)
	f, err := os.CreateTemp(t.TempDir(), "mem")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	before := openFDs(t)
	c.Call(func() {
		if _, err := glimport.ImportMemory(alloc2D(0), int(f.Fd())); err == nil || !strings.Contains(err.Error(), "size is 0") {
			t.Errorf("zero size: err = %v", err)
		}
		if _, err := glimport.ImportMemory(alloc2D(4096), -1); err == nil || !strings.Contains(err.Error(), "invalid fd -1") {
			t.Errorf("fd -1: err = %v", err)
		}
		// A closed descriptor number: dup fails with EBADF.
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		unix.Close(p[0])
		unix.Close(p[1])
		if _, err := glimport.ImportMemory(alloc2D(4096), p[0]); !errors.Is(err, unix.EBADF) {
			t.Errorf("closed fd: err = %v, want EBADF", err)
		}
	})
	if !isOpen(int(f.Fd())) {
		t.Error("the caller's fd was closed")
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d fds open before, %d after", before, after)
	}
}
