package vkalloc_test

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/vkalloc"
)

// TestSemaphoresAcrossDevices shares binary and timeline semaphores
// between two devices, or, where the driver has no semaphore fds, checks
// that asking for one says so.
func TestSemaphoresAcrossDevices(t *testing.T) {
	dev := openAny(t)
	caps := dev.Caps()
	for _, timeline := range []bool{false, true} {
		have := caps.ExternalSemaphoreFD
		if timeline {
			have = caps.TimelineSemaphoreFD
		}
		s, err := vkalloc.NewSemaphore(dev, timeline)
		if !have {
			if !errors.Is(err, bridge.ErrNoExternalSemaphore) {
				t.Fatalf("timeline=%v on a device without semaphore fds: %v, want ErrNoExternalSemaphore", timeline, err)
			}
			t.Logf("%q has no %s semaphore fds: %v", caps.DeviceName, map[bool]string{false: "binary", true: "timeline"}[timeline], err)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		other, err := helperdev.Open(helperdev.Config{Device: bridge.DeviceID{Driver: caps.Device.Driver, Device: caps.Device.Device}})
		if err != nil {
			t.Fatal(err)
		}
		fd, err := s.ExportFD()
		if err != nil {
			t.Fatal(err)
		}
		imp, err := vkalloc.ImportSemaphore(other, fd, timeline)
		if err != nil {
			unix.Close(fd)
			t.Fatal(err)
		}
		img, err := vkalloc.NewImage(dev, desc2D(8, 8))
		if err != nil {
			t.Fatal(err)
		}
		img2fd, err := img.ExportFD()
		if err != nil {
			t.Fatal(err)
		}
		img2, err := vkalloc.ImportImage(other, img.Allocation(), img2fd)
		if err != nil {
			t.Fatal(err)
		}
		want := pattern(8, 8, 0x77)
		// The first device writes and signals; the second waits on the GPU
		// before reading.
		if err := img.WritePixels(bridge.Subresource{}, want, vkalloc.Sync{Signal: []vkalloc.SemaphoreValue{{Semaphore: s, Value: 1}}}); err != nil {
			t.Fatal(err)
		}
		got, err := img2.ReadPixels(bridge.Subresource{}, vkalloc.Sync{Wait: []vkalloc.SemaphoreValue{{Semaphore: imp, Value: 1}}})
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("timeline=%v: second device read other bytes", timeline)
		}
		if timeline {
			if v, err := imp.Value(); err != nil || v != 1 {
				t.Fatalf("imported timeline value %d, %v; want 1", v, err)
			}
			go func() { time.Sleep(20 * time.Millisecond); s.Signal(5) }()
			if err := imp.Wait(5, uint64(5*time.Second)); err != nil {
				t.Fatalf("host wait for a host signal on the other device: %v", err)
			}
			if err := imp.Wait(6, uint64(10*time.Millisecond)); err == nil {
				t.Fatal("wait for a value never signalled succeeded")
			}
		}
		img2.Close()
		img.Close()
		imp.Close()
		s.Close()
		s.Close()
		other.Close()
		if _, err := s.ExportFD(); err == nil {
			t.Fatal("ExportFD after Close succeeded")
		}
	}
}
