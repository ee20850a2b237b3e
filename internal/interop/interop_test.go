package interop_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/go-gl/gl/v3.2-compatibility/gl"
	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/glimport"
	"github.com/glbridge/glbridge/headless"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/internal/glutil"
	"github.com/glbridge/glbridge/internal/gpuenv"
	"github.com/glbridge/glbridge/internal/testenv"
	"github.com/glbridge/glbridge/testpattern"
	"github.com/glbridge/glbridge/vkalloc"
)

var sizes = [][2]int{{1, 1}, {67, 33}, {256, 256}}

func newEnv(t testing.TB, platform string) *gpuenv.Env {
	t.Helper()
	env, err := gpuenv.NewEnv(platform)
	if platform != "" && errors.Is(err, bridge.ErrPlatformUnavailable) {
		t.Skipf("EGL platform %q is not available here: %v", platform, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	t.Logf("GL %q (%s), Vulkan %q, UUIDs driver %s device %s", env.ID.Renderer, env.GL.Platform(), env.Dev.Caps().DeviceName, env.ID.Device.Driver, env.ID.Device.Device)
	return env
}

func desc2D(w, h int, f bridge.Format) bridge.Desc {
	return bridge.Texture2D(uint32(w), uint32(h), f)
}

// shared is one image seen from both APIs.
type shared struct {
	img *vkalloc.Image
	mem *glimport.Memory
	tex *glimport.Texture
}

// exportShared allocates d on the helper device and imports it into GL:
// the image seen from both APIs, and the fd it was exported as, which the
// caller closes.
func exportShared(env *gpuenv.Env, d bridge.Desc) (*shared, int, error) {
	img, mem, tex, fd, err := env.Share(d)
	if err != nil {
		return nil, -1, err
	}
	return &shared{img: img, mem: mem, tex: tex}, fd, nil
}

// shareErr is share without the test's Fatal.
func shareErr(env *gpuenv.Env, d bridge.Desc) (*shared, error) {
	s, fd, err := exportShared(env, d)
	if err == nil {
		unix.Close(fd)
	}
	return s, err
}

// share allocates an image on the helper device and imports it into GL;
// the caller closes it.
func share(t testing.TB, env *gpuenv.Env, d bridge.Desc) *shared {
	t.Helper()
	s, err := shareErr(env, d)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *shared) close(env *gpuenv.Env) {
	env.GL.Call(func() {
		s.tex.Close()
		s.mem.Close()
	})
	s.img.Close()
}

// exportedImage allocates d on the helper device and exports it; the image
// and the fd are closed when the test ends.
func exportedImage(t testing.TB, env *gpuenv.Env, d bridge.Desc) (*vkalloc.Image, int) {
	t.Helper()
	img, err := vkalloc.NewImage(env.Dev, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { img.Close() })
	fd, err := img.ExportFD()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return img, fd
}

func near(a, b byte) bool { return a-b <= 1 || b-a <= 1 }

func forEachPlatform(t *testing.T, f func(t *testing.T, env *gpuenv.Env)) {
	for _, p := range []string{headless.PlatformDevice, headless.PlatformSurfaceless} {
		t.Run(p, func(t *testing.T) { f(t, newEnv(t, p)) })
	}
}

// TestVulkanClearGLRead: the helper device clears the image; GL reads
// exactly that colour through an FBO. 0.5 rounds to 128 on Mesa and to 127
// on NVIDIA, hence ±1.
func TestVulkanClearGLRead(t *testing.T) {
	forEachPlatform(t, func(t *testing.T, env *gpuenv.Env) {
		colours := [][4]float32{{1, 0.5, 0, 1}, {0.2, 0.4, 0.6, 0.8}}
		for _, sz := range sizes {
			t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
				s := share(t, env, desc2D(sz[0], sz[1], bridge.FormatR8G8B8A8Unorm))
				defer s.close(env)
				for _, c := range colours {
					if err := s.img.Clear(c, vkalloc.Sync{}); err != nil {
						t.Fatal(err)
					}
					want := [4]byte{}
					for i := range want {
						want[i] = byte(c[i]*255 + 0.5)
					}
					var px []byte
					var err error
					env.GL.Call(func() { px, err = glutil.ReadRGBA8(s.tex.Name(), s.tex.Target(), 0, sz[0], sz[1]) })
					if err != nil {
						t.Fatal(err)
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

// TestGLDrawVulkanRead: GL renders four quadrants of distinct colours; the
// helper device copies the image to a buffer and every texel is checked.
func TestGLDrawVulkanRead(t *testing.T) {
	forEachPlatform(t, func(t *testing.T, env *gpuenv.Env) {
		colors := [4][4]float32{
			glutil.TopLeft:     {1, 0, 0, 1},
			glutil.TopRight:    {0, 1, 0, 1},
			glutil.BottomLeft:  {0, 0, 1, 1},
			glutil.BottomRight: {1, 1, 1, 0},
		}
		for _, sz := range sizes {
			t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
				w, h := sz[0], sz[1]
				s := share(t, env, desc2D(w, h, bridge.FormatR8G8B8A8Unorm))
				defer s.close(env)
				var err error
				env.GL.Call(func() {
					if err = glutil.DrawQuadrants(s.tex.Name(), s.tex.Target(), w, h, colors); err == nil {
						// No semaphores on this path: GL finishes before
						// Vulkan reads.
						gl.Finish()
					}
				})
				if err != nil {
					t.Fatal(err)
				}
				px, err := s.img.ReadPixels(bridge.Subresource{}, vkalloc.Sync{})
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

// TestSeveralViews: one memory fd imported twice, and two textures over one
// memory object, all see what Vulkan wrote.
func TestSeveralViews(t *testing.T) {
	env := newEnv(t, "")
	img, fd := exportedImage(t, env, desc2D(32, 16, bridge.FormatR8G8B8A8Unorm))
	want := make([]byte, 32*16*4)
	for i := range want {
		want[i] = byte(i * 13)
	}
	if err := img.WritePixels(bridge.Subresource{}, want, vkalloc.Sync{}); err != nil {
		t.Fatal(err)
	}
	env.GL.Call(func() {
		var mems []*glimport.Memory
		var texs []*glimport.Texture
		defer func() {
			for _, tx := range texs {
				tx.Close()
			}
			for _, m := range mems {
				m.Close()
			}
		}()
		for range 2 {
			m, err := glimport.ImportMemory(img.Allocation(), fd)
			if err != nil {
				t.Error(err)
				return
			}
			mems = append(mems, m)
			for range 2 {
				tx, err := m.Texture(img.Allocation())
				if err != nil {
					t.Error(err)
					return
				}
				texs = append(texs, tx)
			}
		}
		for i, tx := range texs {
			px, err := glutil.ReadRGBA8(tx.Name(), tx.Target(), 0, 32, 16)
			if err != nil {
				t.Error(err)
				return
			}
			if string(px) != string(want) {
				t.Errorf("view %d differs from what Vulkan wrote", i)
			}
		}
	})
}

// TestImportErrors: records GL cannot honour are refused with an error
// naming what was wrong, and the fd stays the caller's: still open on the
// same memory, with as many fds of that memory open as before (the
// import's dup closed). It counts the memory's fds, not the process's.
func TestImportErrors(t *testing.T) {
	env := newEnv(t, "")
	img, fd := exportedImage(t, env, desc2D(64, 64, bridge.FormatR8G8B8A8Unorm))
	w := testenv.Watch(t, fd)
	null, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	// Mesa exports memfds, whose size glimport checks against the record;
	// NVIDIA exports device handles that carry no size, and its GL takes
	// whatever size it is told.
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	sizeKnown := st.Mode&unix.S_IFMT == unix.S_IFREG
	for _, tc := range []struct {
		name   string
		mutate func(*bridge.Allocation)
		fd     int
	}{
		{"size 0", func(a *bridge.Allocation) { a.Size = 0 }, fd},
		{"size larger than the memory", func(a *bridge.Allocation) { a.Size *= 4 }, fd},
		{"fd is not memory", func(a *bridge.Allocation) {}, int(null.Fd())},
		{"unknown format", func(a *bridge.Allocation) { a.Desc.Format = 9999 }, fd},
	} {
		a := img.Allocation()
		tc.mutate(&a)
		env.GL.Call(func() {
			m, err := glimport.ImportMemory(a, tc.fd)
			if err == nil {
				var tx *glimport.Texture
				tx, err = m.Texture(a)
				if err == nil {
					tx.Close()
				}
				m.Close()
			}
			if err == nil && tc.name == "size larger than the memory" && !sizeKnown {
				t.Logf("%s: the exported fd (mode %#o) has no size to check, and this driver accepted it", tc.name, st.Mode&unix.S_IFMT)
				return
			}
			if err == nil {
				t.Errorf("%s: import and texture succeeded", tc.name)
				return
			}
			t.Logf("%s: %v", tc.name, err)
		})
		w.Kept(t, "a failed import ("+tc.name+")")
	}
}

// TestThreeViews: one texture seen at once by a GL context, the helper
// device and a second, independent VkDevice on the same GPU (the DXVK
// role), written by each in turn and read by the other two.
func TestThreeViews(t *testing.T) {
	env := newEnv(t, "")
	const w, h = 67, 33
	s := share(t, env, desc2D(w, h, bridge.FormatR8G8B8A8Unorm))
	defer s.close(env)
	caps := env.Dev.Caps()
	second, err := helperdev.Open(helperdev.Config{Device: bridge.DeviceID{Driver: caps.Device.Driver, Device: caps.Device.Device}, Peer: "second device"})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	fd, err := s.img.ExportFD()
	if err != nil {
		t.Fatal(err)
	}
	dxvk, err := vkalloc.ImportImage(second, s.img.Allocation(), fd)
	if err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	defer dxvk.Close()

	readGL := func() []byte {
		var px []byte
		env.GL.Call(func() { px, err = glutil.ReadRGBA8(s.tex.Name(), s.tex.Target(), 0, w, h) })
		if err != nil {
			t.Fatal(err)
		}
		return px
	}
	readVK := func(im *vkalloc.Image) []byte {
		px, err := im.ReadPixels(bridge.Subresource{}, vkalloc.Sync{})
		if err != nil {
			t.Fatal(err)
		}
		return px
	}
	check := func(writer string, frame int) {
		t.Helper()
		want := testpattern.Expected(w, h, frame)
		for name, px := range map[string][]byte{"GL": readGL(), "helper device": readVK(s.img), "second device": readVK(dxvk)} {
			if !bytes.Equal(px, want) {
				t.Fatalf("after %s wrote frame %d, %s sees other texels", writer, frame, name)
			}
		}
	}
	env.GL.Call(func() {
		if err = testpattern.Draw(s.tex.Name(), s.tex.Target(), w, h, 1); err == nil {
			gl.Finish()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	check("GL", 1)
	if err := s.img.WritePixels(bridge.Subresource{}, testpattern.Expected(w, h, 2), vkalloc.Sync{}); err != nil {
		t.Fatal(err)
	}
	check("the helper device", 2)
	if err := dxvk.WritePixels(bridge.Subresource{}, testpattern.Expected(w, h, 3), vkalloc.Sync{}); err != nil {
		t.Fatal(err)
	}
	check("the second device", 3)
}
