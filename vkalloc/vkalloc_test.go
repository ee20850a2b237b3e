package vkalloc_test

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/internal/testenv"
	"github.com/glbridge/glbridge/vkalloc"
)

// openAny opens a helper device on the first Vulkan device with external
// memory, matching its own UUIDs: these tests need no GL.
func openAny(t testing.TB) *helperdev.Device {
	t.Helper()
	devs, err := helperdev.ListPhysicalDevices()
	if err != nil {
		t.Fatalf("ListPhysicalDevices: %v", err)
	}
	for _, d := range devs {
		if d.ExternalMemoryFD {
			dev, err := helperdev.Open(helperdev.Config{Device: bridge.DeviceID{Driver: d.Device.Driver, Device: d.Device.Device}, Peer: "test"})
			if err != nil {
				t.Fatalf("Open %q: %v", d.Name, err)
			}
			t.Cleanup(func() { dev.Close() })
			return dev
		}
	}
	t.Fatalf("no Vulkan device with VK_KHR_external_memory_fd among %v", devs)
	return nil
}

// openSecond opens another helper device on dev's physical device, with
// an instance and device of its own, as another process would; it is
// closed when the test ends.
func openSecond(t testing.TB, dev *helperdev.Device) *helperdev.Device {
	t.Helper()
	caps := dev.Caps()
	other, err := helperdev.Open(helperdev.Config{Device: bridge.DeviceID{Driver: caps.Device.Driver, Device: caps.Device.Device}, Peer: "second device"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	return other
}

// newImage allocates d on dev; the image is closed when the test ends.
func newImage(t testing.TB, dev *helperdev.Device, d bridge.Desc) *vkalloc.Image {
	t.Helper()
	im, err := vkalloc.NewImage(dev, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { im.Close() })
	return im
}

// exported is what vkalloc allocates and exports: an Image or a Buffer.
type exported interface {
	ExportFD() (int, error)
	Allocation() bridge.Allocation
	Close() error
}

// importOn exports x's memory and imports it on dev with imp
// (vkalloc.ImportImage or vkalloc.ImportBuffer), which takes the fd on
// success; a failed import leaves it to the caller, which closes it here.
// It returns the import, which the caller closes, and the fd it took.
func importOn[T exported](t testing.TB, dev *helperdev.Device, x exported, imp func(*helperdev.Device, bridge.Allocation, int) (T, error)) (T, int) {
	t.Helper()
	fd, err := x.ExportFD()
	if err != nil {
		t.Fatal(err)
	}
	y, err := imp(dev, x.Allocation(), fd)
	if err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	return y, fd
}

func desc2D(w, h uint32) bridge.Desc {
	return bridge.Texture2D(w, h, bridge.FormatR8G8B8A8Unorm)
}

func pattern(w, h int, seed byte) []byte {
	b := make([]byte, w*h*4)
	for i := range b {
		b[i] = byte(i*7) ^ seed
	}
	return b
}

func TestClearAndReadBack(t *testing.T) {
	dev := openAny(t)
	for _, sz := range [][2]uint32{{1, 1}, {67, 33}, {256, 256}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			im := newImage(t, dev, desc2D(sz[0], sz[1]))
			a := im.Allocation()
			if a.Size == 0 || !a.Dedicated || a.VkFormat != 37 || a.Device.Driver.IsZero() {
				t.Fatalf("allocation record incomplete: %+v", a)
			}
			if err := im.Clear([4]float32{1, 0.5, 0, 1}, vkalloc.Sync{}); err != nil {
				t.Fatal(err)
			}
			px, err := im.ReadPixels(bridge.Subresource{}, vkalloc.Sync{})
			if err != nil {
				t.Fatal(err)
			}
			if len(px) != int(sz[0]*sz[1]*4) {
				t.Fatalf("got %d bytes", len(px))
			}
			for i := 0; i < len(px); i += 4 {
				if px[i] != 255 || (px[i+1] != 127 && px[i+1] != 128) || px[i+2] != 0 || px[i+3] != 255 {
					t.Fatalf("texel %d = %v, want [255 127|128 0 255]", i/4, px[i:i+4])
				}
			}
		})
	}
}

// TestImportOnSecondDevice opens the exported memory on an independent
// instance and device, both ways.
func TestImportOnSecondDevice(t *testing.T) {
	dev := openAny(t)
	other := openSecond(t, dev)
	im := newImage(t, dev, desc2D(67, 33))
	want := pattern(67, 33, 0x5a)
	if err := im.WritePixels(bridge.Subresource{}, want, vkalloc.Sync{}); err != nil {
		t.Fatal(err)
	}
	imp, fd := importOn(t, other, im, vkalloc.ImportImage)
	defer imp.Close()
	if testenv.FDOpen(fd) {
		// The import took the fd; the number may be reused only by a
		// new open, which nothing here does.
		t.Errorf("fd %d still open after a successful import", fd)
	}
	checkPixels(t, "the second device", imp, bridge.Subresource{}, vkalloc.Sync{}, want)
	// And back: the second device writes, the first reads.
	want = pattern(67, 33, 0xa5)
	if err := imp.WritePixels(bridge.Subresource{}, want, vkalloc.Sync{}); err != nil {
		t.Fatal(err)
	}
	checkPixels(t, "the first device", im, bridge.Subresource{}, vkalloc.Sync{}, want)
}

// checkPixels reads subresource sub of im with sync and checks it holds
// want; who names the reader in the failure.
func checkPixels(t *testing.T, who string, im *vkalloc.Image, sub bridge.Subresource, sync vkalloc.Sync, want []byte) {
	t.Helper()
	got, err := im.ReadPixels(sub, sync)
	if err != nil {
		t.Fatalf("%s: %v", who, err)
	}
	if string(got) != string(want) {
		t.Fatalf("%s read different bytes (first diff at %d of %d)", who, firstDiff(got, want), len(want))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestImportRefusesOtherDevice(t *testing.T) {
	dev := openAny(t)
	im := newImage(t, dev, desc2D(4, 4))
	a := im.Allocation()
	a.Device.Device[15] ^= 0xff
	fd, err := im.ExportFD()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	_, err = vkalloc.ImportImage(dev, a, fd)
	if !errors.Is(err, bridge.ErrUUIDMismatch) {
		t.Fatalf("ImportImage with a foreign record: %v, want ErrUUIDMismatch", err)
	}
	if !testenv.FDOpen(fd) {
		t.Fatal("a failed import closed the caller's fd")
	}
}

func TestBadInput(t *testing.T) {
	dev := openAny(t)
	d := desc2D(4, 4)
	d.Format = 9999
	if _, err := vkalloc.NewImage(dev, d); !errors.Is(err, bridge.ErrUnsupportedFormat) {
		t.Errorf("unknown format: %v", err)
	}
	d = desc2D(4, 4)
	d.Dimension = bridge.DimensionBuffer
	if _, err := vkalloc.NewImage(dev, d); !errors.Is(err, bridge.ErrUnsupportedFormat) {
		t.Errorf("buffer as image: %v", err)
	}
	im := newImage(t, dev, desc2D(4, 4))
	if err := im.WritePixels(bridge.Subresource{}, make([]byte, 3), vkalloc.Sync{}); err == nil {
		t.Error("WritePixels with 3 bytes succeeded")
	}
	if _, err := im.ReadPixels(bridge.Subresource{Level: 1}, vkalloc.Sync{}); err == nil {
		t.Error("ReadPixels of a missing level succeeded")
	}
	im.Close()
	im.Close()
	if _, err := im.ExportFD(); !errors.Is(err, bridge.ErrClosed) {
		t.Errorf("ExportFD after Close: %v", err)
	}
	if err := im.Clear([4]float32{}, vkalloc.Sync{}); !errors.Is(err, bridge.ErrClosed) {
		t.Errorf("Clear after Close: %v", err)
	}
}

// TestNoFDLeak: 200 cycles of allocating, exporting, importing on another
// device and closing both leave no more fds of the images' memory open
// than one cycle did. It counts the fds that refer to the exported memory
// (a memfd of each image's own on Mesa; elsewhere perhaps a device file
// the driver holds anyway), not the process's, which other goroutines
// change; the first cycle runs before the count, so that what a driver
// opens lazily on first use is not taken for a leak.
func TestNoFDLeak(t *testing.T) {
	dev := openAny(t)
	other := openSecond(t, dev)
	cycle := func(i int) testenv.File {
		im, err := vkalloc.NewImage(dev, desc2D(16, 16))
		if err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		defer im.Close()
		fd, err := im.ExportFD()
		if err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		f, err := testenv.FileOf(fd)
		if err != nil {
			unix.Close(fd)
			t.Fatalf("cycle %d: %v", i, err)
		}
		imp, err := vkalloc.ImportImage(other, im.Allocation(), fd)
		if err != nil {
			unix.Close(fd)
			t.Fatalf("cycle %d: %v", i, err)
		}
		imp.Close()
		return f
	}
	files := []testenv.File{cycle(0)}
	before, err := testenv.CountOpen(0, files...)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		files = append(files, cycle(i+1))
	}
	if after, err := testenv.CountOpen(0, files...); err != nil || after != before {
		t.Fatalf("%d fds of the images' memory open after one cycle, %d after 200 more (%v)", before, after, err)
	}
}

func TestMain(m *testing.M) { os.Exit(m.Run()) }

func TestCopyTo(t *testing.T) {
	dev := openAny(t)
	src := newImage(t, dev, desc2D(67, 33))
	dst := newImage(t, dev, desc2D(67, 33))
	want := pattern(67, 33, 0x33)
	if err := src.WritePixels(bridge.Subresource{}, want, vkalloc.Sync{}); err != nil {
		t.Fatal(err)
	}
	if err := src.CopyTo(dst, vkalloc.Sync{}); err != nil {
		t.Fatal(err)
	}
	checkPixels(t, "the copy", dst, bridge.Subresource{}, vkalloc.Sync{}, want)
	small := newImage(t, dev, desc2D(8, 8))
	if err := src.CopyTo(small, vkalloc.Sync{}); err == nil {
		t.Fatal("CopyTo of 67x33 into 8x8 succeeded")
	}
}
