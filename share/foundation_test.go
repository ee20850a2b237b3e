package share_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/internal/glutil"
	"github.com/glbridge/glbridge/internal/testenv"
	"github.com/glbridge/glbridge/share"
)

// pair is one resource made by GL and opened by the Vulkan side.
type pair struct {
	e  *glEnv
	gr *share.GLResource
	vr *share.VulkanResource
}

func openPair(e *glEnv, v *share.Vulkan, d bridge.Desc) (*pair, error) {
	p := &pair{e: e}
	var fd int
	var err error
	e.ctx.Call(func() {
		if p.gr, err = e.g.Create(d); err == nil {
			if fd, err = p.gr.ExportFD(); err != nil {
				p.gr.Close()
			}
		}
	})
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd) // Open keeps a duplicate
	if p.vr, err = v.Open(p.gr.Allocation(), fd); err != nil {
		e.ctx.Call(func() { p.gr.Close() })
		return nil, err
	}
	return p, nil
}

func newPair(t testing.TB, m mode, e *glEnv, v *share.Vulkan, d bridge.Desc) *pair {
	t.Helper()
	p, err := openPair(e, v, d)
	if err != nil {
		t.Fatal(err)
	}
	if p.gr.Path() != m.wantGL || p.vr.Path() != m.wantVK {
		p.close()
		t.Fatalf("paths GL %v (%s), Vulkan %v (%s); want %v, %v", p.gr.Path(), p.gr.Reason(), p.vr.Path(), p.vr.Reason(), m.wantGL, m.wantVK)
	}
	if host := p.gr.Allocation().HostMemory; host != (m.wantGL == share.CopyHost) {
		p.close()
		t.Fatalf("record HostMemory = %v on GL path %v", host, m.wantGL)
	}
	return p
}

func (p *pair) close() {
	p.vr.Close()
	p.e.ctx.Call(func() { p.gr.Close() })
}

func forEachMode(t *testing.T, f func(t *testing.T, m mode, e *glEnv, v *share.Vulkan)) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			f(t, m, testGL(t, m.gl), testVulkan(t, m.vk))
		})
	}
}

var sizes = [][2]int{{1, 1}, {67, 33}, {256, 256}}

func near(a, b byte) bool { return a-b <= 1 || b-a <= 1 }

// TestVulkanWritesGLReads: the Vulkan side clears the image; GL reads that
// colour (±1: 0.5 rounds either way) at every size, on every path.
func TestVulkanWritesGLReads(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode, e *glEnv, v *share.Vulkan) {
		colours := [][4]float32{{1, 0.5, 0, 1}, {0.2, 0.4, 0.6, 0.8}}
		for _, sz := range sizes {
			t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
				p := newPair(t, m, e, v, desc2D(sz[0], sz[1], bridge.FormatR8G8B8A8Unorm))
				defer p.close()
				for _, c := range colours {
					err := p.vr.Access(bridge.AccessReadWrite, func() error { return p.vr.Clear(c) })
					if err != nil {
						t.Fatal(err)
					}
					var px []byte
					e.ctx.Call(func() {
						err = p.gr.Access(bridge.AccessRead, func() (err error) {
							name, target := p.gr.Texture()
							px, err = glutil.ReadRGBA8(name, target, 0, sz[0], sz[1])
							return err
						})
					})
					if err != nil {
						t.Fatal(err)
					}
					var want [4]byte
					for i := range want {
						want[i] = byte(c[i]*255 + 0.5)
					}
					for i := 0; i < len(px); i += 4 {
						for ch := range 4 {
							if !near(px[i+ch], want[ch]) {
								t.Fatalf("clear %v: GL texel %d = %v, want %v ±1", c, i/4, px[i:i+4], want)
							}
						}
					}
				}
			})
		}
	})
}

// TestGLDrawsVulkanReads: GL draws four quadrants; the Vulkan side reads
// every texel back, on every path.
func TestGLDrawsVulkanReads(t *testing.T) {
	colors := [4][4]float32{
		glutil.TopLeft:     {1, 0, 0, 1},
		glutil.TopRight:    {0, 1, 0, 1},
		glutil.BottomLeft:  {0, 0, 1, 1},
		glutil.BottomRight: {1, 1, 1, 0},
	}
	forEachMode(t, func(t *testing.T, m mode, e *glEnv, v *share.Vulkan) {
		for _, sz := range sizes {
			t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
				w, h := sz[0], sz[1]
				p := newPair(t, m, e, v, desc2D(w, h, bridge.FormatR8G8B8A8Unorm))
				defer p.close()
				var err error
				e.ctx.Call(func() {
					err = p.gr.Access(bridge.AccessReadWrite, func() (err error) {
						name, target := p.gr.Texture()
						err = glutil.DrawQuadrants(name, target, w, h, colors)
						return err
					})
				})
				if err != nil {
					t.Fatal(err)
				}
				if err := p.vr.BeginAccess(bridge.AccessRead); err != nil {
					t.Fatal(err)
				}
				px, err := p.vr.ReadPixels(bridge.Subresource{})
				if err := p.vr.EndAccess(); err != nil {
					t.Fatal(err)
				}
				if err != nil {
					t.Fatal(err)
				}
				if err := glutil.CheckQuadrants(px, w, h, colors); err != nil {
					t.Fatal(err)
				}
			})
		}
	})
}

// TestNoFDLeak: 200 cycles of create, export, open, access and close leave
// no more fds of the resources' memory open than one cycle did, on every
// path. It counts the fds that refer to the shared memory (a memfd of each
// resource's own on Mesa and on the host-memory path; elsewhere perhaps a
// device file the driver holds anyway), not the process's, which other
// goroutines change; the first cycle runs before the count, so that what a
// driver opens lazily on first use is not taken for a leak.
func TestNoFDLeak(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode, e *glEnv, v *share.Vulkan) {
		cycle := func() testenv.File {
			p := newPair(t, m, e, v, desc2D(16, 16, bridge.FormatR8G8B8A8Unorm))
			var f testenv.File
			fd, err := p.vr.ExportFD()
			if err == nil {
				f, err = testenv.FileOf(fd)
				unix.Close(fd)
			}
			// One access each way, so that the copies' fds are counted.
			if err == nil {
				err = p.vr.Access(bridge.AccessReadWrite, func() error { return p.vr.Clear([4]float32{1, 0, 0, 1}) })
			}
			if err == nil {
				e.ctx.Call(func() { err = p.gr.Access(bridge.AccessReadWrite, func() error { return nil }) })
			}
			p.close()
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
		files := []testenv.File{cycle()}
		before, err := testenv.CountOpen(0, files...)
		if err != nil {
			t.Fatal(err)
		}
		for range 200 {
			files = append(files, cycle())
		}
		if after, err := testenv.CountOpen(0, files...); err != nil || after != before {
			t.Fatalf("%d fds of the resources' memory open after one cycle, %d after 200 more create/open/access/close cycles (%v)", before, after, err)
		}
		t.Logf("%d fds of the memory before and after 200 cycles", before)
	})
}

// TestPaths: NewGL reports the path each option leads to, and why.
func TestPaths(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   share.Options
		env    bool
		want   share.Path
		reason string
	}{
		{"default", share.Options{}, false, share.ZeroCopy, ""},
		{"ForceCopy", share.Options{ForceCopy: true}, false, share.CopyVulkan, "Options.ForceCopy"},
		{share.ForceCopyEnv, share.Options{}, true, share.CopyVulkan, share.ForceCopyEnv + "=1"},
		{"DenyMemoryObject", share.WithDenyMemoryObject(share.Options{}), false, share.CopyVulkan, "GL_EXT_memory_object_fd"},
		{"NoVulkan", share.WithNoVulkan(share.Options{}), false, share.CopyHost, "noVulkan"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env {
				t.Setenv(share.ForceCopyEnv, "1")
			}
			e := testGL(t, tc.opts)
			if e.g.Path() != tc.want {
				t.Fatalf("path %v (%s), want %v", e.g.Path(), e.g.Reason(), tc.want)
			}
			if (tc.reason == "") != (e.g.Reason() == "") || !strings.Contains(e.g.Reason(), tc.reason) {
				t.Fatalf("reason %q, want one mentioning %q", e.g.Reason(), tc.reason)
			}
			if (e.g.DeviceName() == "") != (tc.want == share.CopyHost) {
				t.Fatalf("DeviceName() = %q on %v", e.g.DeviceName(), tc.want)
			}
			t.Logf("%v: %s", e.g.Path(), e.g.Reason())
		})
	}
	if _, err := share.NewVulkan(nil, share.WithNoVulkan(share.Options{})); !errors.Is(err, bridge.ErrNoVulkan) || !errors.Is(err, bridge.ErrNoExternalMemory) {
		t.Fatalf("NewVulkan with NoVulkan: %v, want bridge.ErrNoVulkan wrapping ErrNoExternalMemory", err)
	}
}
