package handoff_test

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/handoff"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/internal/glutil"
	"github.com/glbridge/glbridge/testpattern"
	"github.com/glbridge/glbridge/vkalloc"
)

// TestPeerDevice orders GL, the helper device and a second Vulkan device
// of its own instance (the DXVK role) that imported the same memory:
// GL draws a frame and the peer reads it; the helper device writes the
// next and the peer reads that; GL reads it back. Every frame must arrive
// whole and in order at every reader, on every path the drivers offer
// (on Mesa 22.3, the fallback path: no semaphore fds).
func TestPeerDevice(t *testing.T) {
	f := newFixture(t)
	caps := f.env.Dev.Caps()
	second, err := helperdev.Open(helperdev.Config{Device: bridge.DeviceID{Driver: caps.Device.Driver, Device: caps.Device.Device}, Peer: "peer device"})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	fd, err := f.img.ExportFD()
	if err != nil {
		t.Fatal(err)
	}
	peerImg, err := vkalloc.ImportImage(second, f.img.Allocation(), fd)
	if err != nil {
		t.Fatal(err)
	}
	defer peerImg.Close()
	best := handoff.BestPath(f.env.ID, caps)
	for _, path := range []handoff.Path{handoff.PathTimeline, handoff.PathBinary, handoff.PathFallback} {
		t.Run(path.String(), func(t *testing.T) {
			var r *handoff.Resource
			f.env.GL.Call(func() {
				r, err = handoff.New(handoff.Config{Device: f.env.Dev, Image: f.img, Texture: f.tex, GL: f.env.ID, Path: path})
			})
			if errors.Is(err, bridge.ErrPathUnavailable) && path < best {
				t.Skipf("the drivers here lack it: %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer f.env.GL.Call(func() { r.Close() })
			p, err := r.NewPeer(second)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			peerRead := func(frame int) {
				t.Helper()
				s, err := p.BeginVulkan(bridge.AccessRead)
				if err != nil {
					t.Fatal(err)
				}
				px, err := peerImg.ReadPixels(bridge.Subresource{}, s)
				p.EndVulkan(err)
				if err != nil {
					t.Fatalf("frame %d: peer: %v", frame, err)
				}
				checkFrame(t, "the peer device", px, frame)
			}
			const frames = 200
			for frame := 0; frame < frames; frame += 2 {
				if err := glAccess(f, r, bridge.AccessReadWrite, func() error {
					return testpattern.Draw(f.tex.Name(), f.tex.Target(), w, h, frame)
				}); err != nil {
					t.Fatalf("frame %d: %v", frame, err)
				}
				peerRead(frame)
				if err := vkAccess(r, bridge.AccessReadWrite, func(s vkalloc.Sync) error {
					return f.img.WritePixels(bridge.Subresource{}, testpattern.Expected(w, h, frame+1), s)
				}); err != nil {
					t.Fatalf("frame %d: %v", frame+1, err)
				}
				peerRead(frame + 1)
				var px []byte
				if err := glAccess(f, r, bridge.AccessRead, func() (err error) {
					px, err = glutil.ReadRGBA8(f.tex.Name(), f.tex.Target(), 0, w, h)
					return err
				}); err != nil {
					t.Fatalf("frame %d: %v", frame+1, err)
				}
				checkFrame(t, "GL", px, frame+1)
			}
			if g, v := r.Stats(); g != frames || v != 3*frames/2 {
				t.Errorf("stats: %d GL and %d Vulkan accesses, want %d and %d", g, v, frames, 3*frames/2)
			}
			fds, timeline, err := r.SemaphoreFDs()
			if err != nil {
				t.Fatal(err)
			}
			want := map[handoff.Path]int{handoff.PathTimeline: 1, handoff.PathBinary: 2, handoff.PathFallback: 0}[path]
			if len(fds) != want || timeline != (path == handoff.PathTimeline) {
				t.Errorf("SemaphoreFDs on %s: %d fds, timeline %v", path, len(fds), timeline)
			}
			for _, fd := range fds {
				closeFD(fd)
			}
		})
	}
}

func closeFD(fd int) { unix.Close(fd) }
