package glimport_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/glimport"
	"github.com/glbridge/glbridge/internal/glutil"
	"github.com/glbridge/glbridge/internal/gpuenv"
	"github.com/glbridge/glbridge/internal/testenv"
	"github.com/glbridge/glbridge/vkalloc"
)

// TestLayoutMapping checks every layout against the token values of the
// OpenGL registry and the VkImageLayout values of the Vulkan registry,
// written out here rather than taken from go-gl or internal/vk, so that a
// wrong constant on either side fails.
func TestLayoutMapping(t *testing.T) {
	for _, tc := range []struct {
		l     glimport.Layout
		token uint32
		vk    uint32
		name  string
	}{
		{glimport.LayoutUndefined, 0, 0, "GL_NONE"},
		{glimport.LayoutGeneral, 0x958D, 1, "GL_LAYOUT_GENERAL_EXT"},
		{glimport.LayoutColorAttachment, 0x958E, 2, "GL_LAYOUT_COLOR_ATTACHMENT_EXT"},
		{glimport.LayoutDepthStencilAttachment, 0x958F, 3, "GL_LAYOUT_DEPTH_STENCIL_ATTACHMENT_EXT"},
		{glimport.LayoutDepthStencilReadOnly, 0x9590, 4, "GL_LAYOUT_DEPTH_STENCIL_READ_ONLY_EXT"},
		{glimport.LayoutShaderReadOnly, 0x9591, 5, "GL_LAYOUT_SHADER_READ_ONLY_EXT"},
		{glimport.LayoutTransferSrc, 0x9592, 6, "GL_LAYOUT_TRANSFER_SRC_EXT"},
		{glimport.LayoutTransferDst, 0x9593, 7, "GL_LAYOUT_TRANSFER_DST_EXT"},
		{glimport.LayoutDepthReadOnlyStencilAttachment, 0x9530, 1000117000, "GL_LAYOUT_DEPTH_READ_ONLY_STENCIL_ATTACHMENT_EXT"},
		{glimport.LayoutDepthAttachmentStencilReadOnly, 0x9531, 1000117001, "GL_LAYOUT_DEPTH_ATTACHMENT_STENCIL_READ_ONLY_EXT"},
	} {
		if uint32(tc.l) != tc.token {
			t.Errorf("%s = 0x%x, want 0x%x", tc.name, uint32(tc.l), tc.token)
		}
		if got, ok := glimport.LayoutFromVulkan(tc.vk); !ok || got != tc.l {
			t.Errorf("LayoutFromVulkan(%d) = %v, %v; want %s", tc.vk, got, ok, tc.name)
		}
		if got := tc.l.Vulkan(); got != tc.vk {
			t.Errorf("%s.Vulkan() = %d, want %d", tc.name, got, tc.vk)
		}
		if !tc.l.Valid() || tc.l.String() != tc.name {
			t.Errorf("%s: Valid %v, String %q", tc.name, tc.l.Valid(), tc.l.String())
		}
	}
	// VK_IMAGE_LAYOUT_PREINITIALIZED, VK_IMAGE_LAYOUT_PRESENT_SRC_KHR,
	// VK_IMAGE_LAYOUT_SHARED_PRESENT_KHR, VK_IMAGE_LAYOUT_DEPTH_ATTACHMENT_OPTIMAL
	// and a number that is no layout: GL has none of them.
	for _, vk := range []uint32{8, 1000001002, 1000111000, 1000241000, 9} {
		if got, ok := glimport.LayoutFromVulkan(vk); ok {
			t.Errorf("LayoutFromVulkan(%d) = %v, true; want no GL layout", vk, got)
		}
	}
	// glbridge images rest in the layout GL's GENERAL names.
	if l, ok := glimport.LayoutFromVulkan(vkalloc.RestingLayout); !ok || l != glimport.LayoutGeneral {
		t.Errorf("vkalloc's resting layout %d maps to %v, %v; want GL_LAYOUT_GENERAL_EXT", vkalloc.RestingLayout, l, ok)
	}
	bogus := glimport.Layout(0x1234)
	if bogus.Valid() || bogus.String() != "Layout(0x1234)" {
		t.Errorf("bogus layout: Valid %v, String %q", bogus.Valid(), bogus.String())
	}
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "0x1234") {
				t.Errorf("Vulkan of an unknown layout: recovered %v, want a panic naming 0x1234", r)
			}
		}()
		bogus.Vulkan()
	}()
}

// TestImportSemaphoreWithoutExtension: a GL without GL_EXT_semaphore_fd
// (llvmpipe) refuses the import with ErrNoExternalSemaphore naming the
// extension, and the caller's fd is neither closed nor replaced nor read.
// Where the GL has semaphore fds but no timeline semaphores, the timeline
// import is refused the same way.
func TestImportSemaphoreWithoutExtension(t *testing.T) {
	c := newContext(t)
	id := identity(t, c)
	type attempt struct {
		timeline bool
		want     string
	}
	var attempts []attempt
	switch {
	case !id.SemaphoreFD:
		attempts = []attempt{{false, "GL_EXT_semaphore_fd"}, {true, "GL_EXT_semaphore_fd"}}
	case !id.TimelineSemaphore:
		attempts = []attempt{{true, "GL_NV_timeline_semaphore"}}
	default:
		t.Skipf("GL %q has GL_EXT_semaphore_fd and GL_NV_timeline_semaphore; the missing-extension path does not arise", id.Renderer)
	}

	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)

	for _, fd := range []int{efd, aPipe(t).fd} {
		for _, a := range attempts {
			w := testenv.Watch(t, fd)
			var s *glimport.Semaphore
			c.Call(func() { s, err = glimport.ImportSemaphore(fd, a.timeline) })
			if err == nil {
				c.Call(func() { s.Close() })
				t.Fatalf("fd %d, timeline %v: ImportSemaphore succeeded", fd, a.timeline)
			}
			t.Logf("fd %d, timeline %v: %v", fd, a.timeline, err)
			if !errors.Is(err, bridge.ErrNoExternalSemaphore) || !strings.Contains(err.Error(), a.want) {
				t.Errorf("err = %v, want ErrNoExternalSemaphore naming %s", err, a.want)
			}
			w.Kept(t, "the import")
		}
	}
	// The eventfd was not read: a value written now reads back alone.
	if _, err := unix.Write(efd, []byte{7, 0, 0, 0, 0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if _, err := unix.Read(efd, buf); err != nil || buf[0] != 7 {
		t.Errorf("eventfd read %v, %v; want 7", buf, err)
	}
}

// TestImportSemaphoreRefusesNonSemaphore hands descriptors that cannot be
// semaphores to the fd check ImportSemaphore makes before GL sees an fd,
// which needs no GL, let alone GL_EXT_semaphore_fd, and so runs
// everywhere: each must be refused saying why, and the caller's fd left
// as it was. Where GL has the extension, ImportSemaphore itself must
// refuse each the same way, naming glImportSemaphoreFdEXT, close the
// duplicate it made, and refuse fd -1 and a descriptor that is not open.
func TestImportSemaphoreRefusesNonSemaphore(t *testing.T) {
	kinds := []refused{aPipe(t), aSocket(t), devNull(t), aDirectory(t)}
	for _, tc := range kinds {
		t.Run(tc.name, func(t *testing.T) {
			w := testenv.Watch(t, tc.fd)
			err := glimport.CheckSemaphoreFD(tc.fd)
			t.Log(err)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("CheckSemaphoreFD: err = %v, want one saying %q", err, tc.want)
			}
			w.Kept(t, "the import")
		})
	}
	t.Run("not open", func(t *testing.T) {
		if err := glimport.CheckSemaphoreFD(notOpenFD); !errors.Is(err, unix.EBADF) {
			t.Errorf("CheckSemaphoreFD(%d): err = %v, want EBADF", notOpenFD, err)
		}
	})

	t.Run("ImportSemaphore", func(t *testing.T) {
		c := newContext(t)
		if id := identity(t, c); !id.SemaphoreFD {
			// ImportSemaphore asks GL for the extension before it looks
			// at the fd, and refuses every fd without it (which
			// TestImportSemaphoreWithoutExtension checks).
			t.Skipf("GL %q lacks GL_EXT_semaphore_fd, which ImportSemaphore checks for before the fd", id.Renderer)
		}
		for _, tc := range kinds {
			for _, timeline := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/timeline=%v", tc.name, timeline), func(t *testing.T) {
					w := testenv.Watch(t, tc.fd)
					var s *glimport.Semaphore
					var err error
					c.Call(func() { s, err = glimport.ImportSemaphore(tc.fd, timeline) })
					if err == nil {
						c.Call(func() { s.Close() })
						t.Fatal("ImportSemaphore succeeded")
					}
					if timeline && errors.Is(err, bridge.ErrNoExternalSemaphore) {
						t.Skipf("no timeline semaphores in this GL: %v", err)
					}
					t.Log(err)
					if !strings.Contains(err.Error(), "glImportSemaphoreFdEXT") || !strings.Contains(err.Error(), tc.want) {
						t.Errorf("error %q does not name glImportSemaphoreFdEXT and %q", err, tc.want)
					}
					w.Kept(t, "the import")
				})
			}
		}
		checkFDNumbers(t, c, func(fd int) error {
			s, err := glimport.ImportSemaphore(fd, false)
			if err == nil {
				s.Close()
			}
			return err
		})
	})
}

// rgba turns 8-bit channels into the floats that clear to exactly them.
func rgba(b [4]byte) [4]float32 {
	return [4]float32{float32(b[0]) / 255, float32(b[1]) / 255, float32(b[2]) / 255, float32(b[3]) / 255}
}

// clearColour is what Vulkan clears to in round i; quadColours what GL
// draws. Every quadrant differs from the round's clear colour by at least
// 64 in blue, and each round from the last by 5 in red, so a read that
// sees the previous writer's or the previous round's texels fails.
func clearColour(i int) [4]byte { return [4]byte{byte(i * 5), byte(255 - i*5), 128, 255} }

func quadColours(i int) [4][4]byte {
	var q [4][4]byte
	blue := [4]byte{0, 64, 192, 255}
	alpha := [4]byte{255, 200, 100, 50}
	for k := range q {
		q[k] = [4]byte{byte(i*5 + 2), byte(k * 80), blue[k], alpha[k]}
	}
	return q
}

func within1(a, b byte) bool { return a-b <= 1 || b-a <= 1 }

// checkTexels compares w×h RGBA8 texels, rows from the bottom, with want(x,
// y), ±1 per channel (0.5 rounds differently on Mesa and NVIDIA).
func checkTexels(px []byte, w, h int, want func(x, y int) [4]byte) error {
	if len(px) != w*h*4 {
		return fmt.Errorf("%d bytes, want %d", len(px), w*h*4)
	}
	for y := range h {
		for x := range w {
			i := (y*w + x) * 4
			c := want(x, y)
			for ch := range 4 {
				if !within1(px[i+ch], c[ch]) {
					return fmt.Errorf("texel (%d,%d) = %v, want %v ±1", x, y, px[i:i+4], c)
				}
			}
		}
	}
	return nil
}

// glSemaphore imports s's fd into GL; the exported fd is closed here,
// since ImportSemaphore imports a duplicate.
func glSemaphore(t *testing.T, env *gpuenv.Env, s *vkalloc.Semaphore) *glimport.Semaphore {
	t.Helper()
	fd, err := s.ExportFD()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var g *glimport.Semaphore
	env.GL.Call(func() { g, err = glimport.ImportSemaphore(fd, s.Timeline()) })
	if err != nil {
		t.Fatal(err)
	}
	if g.Timeline() != s.Timeline() {
		t.Fatalf("GL semaphore Timeline() = %v, Vulkan's %v", g.Timeline(), s.Timeline())
	}
	return g
}

// TestSemaphoreCrossAPI hands one image back and forth between the helper
// device and GL 50 times, ordered only by exported semaphores: Vulkan
// clears it and signals GL, GL waits, checks every texel, draws four
// quadrants and signals Vulkan, Vulkan waits, reads it back and checks
// every texel. The image rests in VK_IMAGE_LAYOUT_GENERAL owned by the
// external queue family, so GL waits and signals with LayoutGeneral.
func TestSemaphoreCrossAPI(t *testing.T) {
	env, err := gpuenv.NewEnv("")
	if errors.Is(err, bridge.ErrPlatformUnavailable) {
		t.Skipf("no headless EGL platform: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	caps := env.Dev.Caps()
	t.Logf("GL %q: semaphore fd %v, timeline %v; Vulkan %q: semaphore fd %v, timeline fd %v",
		env.ID.Renderer, env.ID.SemaphoreFD, env.ID.TimelineSemaphore, caps.DeviceName, caps.ExternalSemaphoreFD, caps.TimelineSemaphoreFD)
	if !env.ID.SemaphoreFD {
		t.Skipf("GL %q lacks GL_EXT_semaphore_fd", env.ID.Renderer)
	}
	if !caps.ExternalSemaphoreFD {
		t.Skipf("Vulkan %q cannot export semaphores as fds", caps.DeviceName)
	}
	for _, timeline := range []bool{false, true} {
		t.Run(map[bool]string{false: "binary", true: "timeline"}[timeline], func(t *testing.T) {
			if timeline && !(caps.TimelineSemaphoreFD && env.ID.TimelineSemaphore) {
				t.Skipf("no timeline semaphore fds: Vulkan %q timeline fd %v, GL GL_NV_timeline_semaphore %v", caps.DeviceName, caps.TimelineSemaphoreFD, env.ID.TimelineSemaphore)
			}
			pingPong(t, env, timeline)
		})
	}
}

func pingPong(t *testing.T, env *gpuenv.Env, timeline bool) {
	const w, h, rounds = 64, 48, 50
	toGL, err := vkalloc.NewSemaphore(env.Dev, timeline)
	if err != nil {
		t.Fatal(err)
	}
	defer toGL.Close()
	toVK, err := vkalloc.NewSemaphore(env.Dev, timeline)
	if err != nil {
		t.Fatal(err)
	}
	defer toVK.Close()
	glToGL := glSemaphore(t, env, toGL)
	defer env.GL.Call(func() { glToGL.Close() })
	glToVK := glSemaphore(t, env, toVK)
	defer env.GL.Call(func() { glToVK.Close() })

	img, err := vkalloc.NewImage(env.Dev, bridge.Desc{Dimension: bridge.DimensionTexture2D, Width: w, Height: h, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1, Format: bridge.FormatR8G8B8A8Unorm})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	fd, err := img.ExportFD()
	if err != nil {
		t.Fatal(err)
	}
	var mem *glimport.Memory
	var tex *glimport.Texture
	env.GL.Call(func() {
		if mem, err = glimport.ImportMemory(img.Allocation(), fd); err == nil {
			if tex, err = mem.Texture(img.Allocation()); err != nil {
				mem.Close()
			}
		}
	})
	unix.Close(fd)
	if err != nil {
		t.Fatal(err)
	}
	defer env.GL.Call(func() {
		tex.Close()
		mem.Close()
	})
	general := []glimport.TextureLayout{{Texture: tex, Layout: glimport.LayoutGeneral}}

	for i := range rounds {
		v := uint64(i + 1) // timeline values must grow from the initial 0
		cc := clearColour(i)
		if err := img.Clear(rgba(cc), vkalloc.Sync{Signal: []vkalloc.SemaphoreValue{{Semaphore: toGL, Value: v}}}); err != nil {
			t.Fatalf("round %d: Vulkan clear: %v", i, err)
		}
		quads := quadColours(i)
		var glErr error
		env.GL.Call(func() {
			if glErr = glToGL.Wait(v, nil, general); glErr != nil {
				return
			}
			px, err := glutil.ReadRGBA8(tex.Name(), tex.Target(), 0, w, h)
			if err != nil {
				glErr = err
				return
			}
			if err := checkTexels(px, w, h, func(int, int) [4]byte { return cc }); err != nil {
				glErr = fmt.Errorf("GL read after the Vulkan clear: %w", err)
				return
			}
			var fc [4][4]float32
			for q := range quads {
				fc[q] = rgba(quads[q])
			}
			if glErr = glutil.DrawQuadrants(tex.Name(), tex.Target(), w, h, fc); glErr != nil {
				return
			}
			glErr = glToVK.Signal(v, nil, general)
		})
		if glErr != nil {
			// Vulkan must not wait for a signal GL never sent.
			t.Fatalf("round %d: %v", i, glErr)
		}
		if timeline {
			// GL's signal must reach the value itself, seen from the host.
			if err := toVK.Wait(v, 10e9); err != nil {
				t.Fatalf("round %d: host wait for GL's signal of %d: %v", i, v, err)
			}
		}
		px, err := img.ReadPixels(bridge.Subresource{}, vkalloc.Sync{Wait: []vkalloc.SemaphoreValue{{Semaphore: toVK, Value: v}}})
		if err != nil {
			t.Fatalf("round %d: Vulkan read: %v", i, err)
		}
		if err := checkTexels(px, w, h, func(x, y int) [4]byte { return quads[glutil.QuadrantOf(x, y, w, h)] }); err != nil {
			t.Fatalf("round %d: Vulkan read after GL drew: %v", i, err)
		}
	}
	if timeline {
		for name, s := range map[string]*vkalloc.Semaphore{"to GL": toGL, "to Vulkan": toVK} {
			if got, err := s.Value(); err != nil || got != rounds {
				t.Errorf("semaphore %s ends at %d, %v; want %d", name, got, err, rounds)
			}
		}
	}

	env.GL.Call(func() {
		// Misuse is caught before any GL call, so nothing is waited for.
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "nil") {
					t.Errorf("Wait with a nil texture: recovered %v, want a panic", r)
				}
			}()
			glToGL.Wait(0, nil, []glimport.TextureLayout{{Layout: glimport.LayoutGeneral}})
		}()
		other, err := mem.Texture(img.Allocation())
		if err != nil {
			t.Error(err)
			return
		}
		other.Close()
		if err := glToVK.Signal(rounds+1, nil, []glimport.TextureLayout{{Texture: other, Layout: glimport.LayoutGeneral}}); !errors.Is(err, bridge.ErrClosed) {
			t.Errorf("Signal with a closed texture: err = %v, want ErrClosed", err)
		}
		for _, s := range []*glimport.Semaphore{glToGL, glToVK} {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if err := s.Wait(1, nil, nil); !errors.Is(err, bridge.ErrClosed) {
				t.Errorf("Wait after Close: err = %v, want ErrClosed", err)
			}
			if err := s.Signal(1, nil, nil); !errors.Is(err, bridge.ErrClosed) {
				t.Errorf("Signal after Close: err = %v, want ErrClosed", err)
			}
		}
	})
}
