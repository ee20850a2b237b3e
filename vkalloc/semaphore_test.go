package vkalloc_test

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/vkalloc"
)

// TestSemaphoresAcrossDevices shares binary and timeline semaphores
// between two devices, or, where the driver has no semaphore fds, checks
// that asking for one says so.
func TestSemaphoresAcrossDevices(t *testing.T) {
	dev := openAny(t)
	caps := dev.Caps()
	for _, timeline := range []bool{false, true} {
		kind, have := "binary", caps.ExternalSemaphoreFD
		if timeline {
			kind, have = "timeline", caps.TimelineSemaphoreFD
		}
		t.Run(kind, func(t *testing.T) {
			s, err := vkalloc.NewSemaphore(dev, timeline)
			if !have {
				if !errors.Is(err, bridge.ErrNoExternalSemaphore) {
					t.Fatalf("timeline=%v on a device without semaphore fds: %v, want ErrNoExternalSemaphore", timeline, err)
				}
				t.Logf("%q has no %s semaphore fds: %v", caps.DeviceName, kind, err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			other := openSecond(t, dev)
			fd, err := s.ExportFD()
			if err != nil {
				t.Fatal(err)
			}
			imp, err := vkalloc.ImportSemaphore(other, fd, timeline)
			if err != nil {
				unix.Close(fd)
				t.Fatal(err)
			}
			defer imp.Close()
			img := newImage(t, dev, desc2D(8, 8))
			img2, _ := importOn(t, other, img, vkalloc.ImportImage)
			defer img2.Close()
			want := pattern(8, 8, 0x77)
			// The first device writes and signals; the second waits on the GPU
			// before reading.
			if err := img.WritePixels(bridge.Subresource{}, want, vkalloc.Sync{Signal: []vkalloc.SemaphoreValue{{Semaphore: s, Value: 1}}}); err != nil {
				t.Fatal(err)
			}
			checkPixels(t, "the second device, waiting", img2, bridge.Subresource{}, vkalloc.Sync{Wait: []vkalloc.SemaphoreValue{{Semaphore: imp, Value: 1}}}, want)
			if timeline {
				if v, err := imp.Value(); err != nil || v != 1 {
					t.Fatalf("imported timeline value %d, %v; want 1", v, err)
				}
				// A host wait on the other device, begun before the host
				// signal, returns once it comes.
				waited := make(chan error, 1)
				go func() { waited <- imp.Wait(5, uint64(30*time.Second)) }()
				// Until the signal a wait for 5 times out, however short
				// its timeout and however loaded the machine: nothing has
				// signalled 5.
				if err := imp.Wait(5, uint64(10*time.Millisecond)); err == nil {
					t.Error("wait for 5 before any signal of it succeeded")
				}
				serr := s.Signal(5)
				werr := <-waited // at once after the signal; after its timeout without one
				if serr != nil {
					t.Fatal(serr)
				}
				if werr != nil {
					t.Fatalf("host wait for a host signal on the other device: %v", werr)
				}
				if err := imp.Wait(6, uint64(10*time.Millisecond)); err == nil {
					t.Fatal("wait for a value never signalled succeeded")
				}
			}
			s.Close()
			s.Close()
			if _, err := s.ExportFD(); err == nil {
				t.Fatal("ExportFD after Close succeeded")
			}
		})
	}
}
