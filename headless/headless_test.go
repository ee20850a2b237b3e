package headless_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-gl/gl/v3.2-compatibility/gl"
	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/headless"
	"github.com/glbridge/glbridge/internal/egl"
)

// glMu guards go-gl's global function pointers, which the first context to
// load them writes.
var (
	glMu     sync.Mutex
	glLoaded bool
)

// newContext makes a context and loads GL through it; it skips the test when
// the platform is not offered at all and fails it on any other error.
func newContext(t *testing.T, platform string) *headless.Context {
	t.Helper()
	c, err := headless.New(headless.Options{Platform: platform})
	if errors.Is(err, bridge.ErrPlatformUnavailable) {
		t.Skipf("platform %q not offered by this EGL: %v", platform, err)
	}
	if err != nil {
		t.Fatalf("headless.New(%q): %v", platform, err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	var loadErr error
	c.Call(func() {
		glMu.Lock()
		defer glMu.Unlock()
		if !glLoaded {
			loadErr = gl.InitWithProcAddrFunc(c.ProcAddr)
			glLoaded = loadErr == nil
		}
	})
	if loadErr != nil {
		t.Fatalf("loading GL: %v", loadErr)
	}
	return c
}

// checkRenders clears a framebuffer object to a colour and reads it back,
// proving the context is current and working on its thread.
func checkRenders(t *testing.T, c *headless.Context, rgba [4]uint8) error {
	var err error
	c.Call(func() {
		var tex, fbo uint32
		gl.GenTextures(1, &tex)
		gl.BindTexture(gl.TEXTURE_2D, tex)
		gl.TexStorage2D(gl.TEXTURE_2D, 1, gl.RGBA8, 4, 4)
		gl.GenFramebuffers(1, &fbo)
		gl.BindFramebuffer(gl.FRAMEBUFFER, fbo)
		gl.FramebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, tex, 0)
		defer func() {
			gl.BindFramebuffer(gl.FRAMEBUFFER, 0)
			gl.DeleteFramebuffers(1, &fbo)
			gl.DeleteTextures(1, &tex)
		}()
		if s := gl.CheckFramebufferStatus(gl.FRAMEBUFFER); s != gl.FRAMEBUFFER_COMPLETE {
			err = fmt.Errorf("framebuffer status 0x%x", s)
			return
		}
		gl.ClearColor(float32(rgba[0])/255, float32(rgba[1])/255, float32(rgba[2])/255, float32(rgba[3])/255)
		gl.Clear(gl.COLOR_BUFFER_BIT)
		px := make([]uint8, 4*4*4)
		gl.PixelStorei(gl.PACK_ALIGNMENT, 1)
		gl.ReadPixels(0, 0, 4, 4, gl.RGBA, gl.UNSIGNED_BYTE, gl.Ptr(px))
		if e := gl.GetError(); e != gl.NO_ERROR {
			err = fmt.Errorf("GL error 0x%x", e)
			return
		}
		for i := 0; i < len(px); i += 4 {
			if [4]uint8(px[i:i+4]) != rgba {
				err = fmt.Errorf("texel %d = %v, want %v", i/4, px[i:i+4], rgba)
				return
			}
		}
	})
	return err
}

func testPlatform(t *testing.T, platform string) {
	c := newContext(t, platform)
	if !strings.HasPrefix(c.Platform(), platform) {
		t.Errorf("Platform() = %q, want prefix %q", c.Platform(), platform)
	}
	var renderer, version string
	var profile int32
	c.Call(func() {
		renderer = gl.GoStr(gl.GetString(gl.RENDERER))
		version = gl.GoStr(gl.GetString(gl.VERSION))
		gl.GetIntegerv(gl.CONTEXT_PROFILE_MASK, &profile)
	})
	major, minor := c.Version()
	t.Logf("platform %q, asked for GL %d.%d, got %q on %q, profile mask %d", c.Platform(), major, minor, version, renderer, profile)
	if renderer == "" || version == "" {
		t.Fatalf("GL_RENDERER %q, GL_VERSION %q: no current context?", renderer, version)
	}
	if major >= 3 && major*10+minor >= 32 && profile&gl.CONTEXT_COMPATIBILITY_PROFILE_BIT == 0 {
		t.Errorf("GL_CONTEXT_PROFILE_MASK = %d, want the compatibility bit", profile)
	}
	if err := checkRenders(t, c, [4]uint8{10, 200, 30, 255}); err != nil {
		t.Error(err)
	}
}

func TestDevicePlatform(t *testing.T)      { testPlatform(t, headless.PlatformDevice) }
func TestSurfacelessPlatform(t *testing.T) { testPlatform(t, headless.PlatformSurfaceless) }

func TestDefaultPlatform(t *testing.T) {
	c := newContext(t, "")
	if p := c.Platform(); !strings.HasPrefix(p, headless.PlatformDevice) && !strings.HasPrefix(p, headless.PlatformSurfaceless) {
		t.Errorf("Platform() = %q", p)
	}
}

func TestUnknownPlatformPanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "wayland") {
			t.Errorf("recovered %v, want a panic naming the platform", r)
		}
	}()
	headless.New(headless.Options{Platform: "wayland"})
}

func TestCallRunsOnOneThread(t *testing.T) {
	c := newContext(t, "")
	var first int
	c.Call(func() { first = unix.Gettid() })
	var wg sync.WaitGroup
	tids := make([]int, 16)
	for i := range tids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Call(func() { tids[i] = unix.Gettid() })
		}()
	}
	wg.Wait()
	for i, tid := range tids {
		if tid != first {
			t.Errorf("call %d ran on thread %d, first on %d", i, tid, first)
		}
	}
	// A Call from inside f runs directly instead of deadlocking.
	var inner int
	c.Call(func() { c.Call(func() { inner = unix.Gettid() }) })
	if inner != first {
		t.Errorf("nested call ran on thread %d, want %d", inner, first)
	}
}

func TestCallPanicReachesCaller(t *testing.T) {
	c := newContext(t, "")
	var tid int
	c.Call(func() { tid = unix.Gettid() })
	type boom struct{ n int }
	func() {
		defer func() {
			r := recover()
			if b, ok := r.(boom); !ok || b.n != 42 {
				t.Errorf("recovered %#v, want boom{42}", r)
			}
		}()
		c.Call(func() { panic(boom{42}) })
		t.Error("Call returned normally after f panicked")
	}()
	// The context thread survived the panic.
	var after int
	c.Call(func() { after = unix.Gettid() })
	if after != tid {
		t.Errorf("after the panic Call ran on thread %d, before on %d", after, tid)
	}
	if err := checkRenders(t, c, [4]uint8{1, 2, 3, 4}); err != nil {
		t.Errorf("after the panic: %v", err)
	}
}

func TestCallGoexitReachesCaller(t *testing.T) {
	c := newContext(t, "")
	var tid int
	c.Call(func() { tid = unix.Gettid() })
	returned := make(chan bool, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Call(runtime.Goexit)
		returned <- true
	}()
	<-done
	if len(returned) != 0 {
		t.Fatal("Call returned normally after f called runtime.Goexit")
	}
	var after int
	c.Call(func() { after = unix.Gettid() })
	if after != tid {
		t.Errorf("after Goexit Call ran on thread %d, before on %d", after, tid)
	}
}

func TestCloseIdempotent(t *testing.T) {
	c, err := headless.New(headless.Options{})
	if errors.Is(err, bridge.ErrPlatformUnavailable) {
		t.Skipf("no headless EGL platform: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	var tid int
	c.Call(func() { tid = unix.Gettid() })
	if err := c.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// The context's thread ends with it (it exits just after Close returns,
	// when the scheduler lets it: the bound is only where a test that has
	// failed gives up, generous for a loaded 2-core machine).
	deadline := time.Now().Add(30 * time.Second)
	for taskExists(tid) {
		if time.Now().After(deadline) {
			t.Fatalf("thread %d still exists after Close", tid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "closed") {
			t.Errorf("Call after Close: recovered %v, want a panic about a closed context", r)
		}
	}()
	c.Call(func() {})
}

// taskExists reports whether tid is still a thread of this process.
func taskExists(tid int) bool {
	var st unix.Stat_t
	return unix.Stat(fmt.Sprintf("/proc/self/task/%d", tid), &st) == nil
}

func TestTwoContextsConcurrently(t *testing.T) {
	a := newContext(t, "")
	b := newContext(t, "")
	var tidA, tidB int
	a.Call(func() { tidA = unix.Gettid() })
	b.Call(func() { tidB = unix.Gettid() })
	if tidA == tidB {
		t.Fatalf("both contexts run on thread %d", tidA)
	}
	// Objects are per context: a texture made in a is unknown in b.
	var texA uint32
	var inB bool
	a.Call(func() { gl.GenTextures(1, &texA); gl.BindTexture(gl.TEXTURE_2D, texA) })
	b.Call(func() { inB = gl.IsTexture(texA) })
	if inB {
		t.Errorf("texture %d of context a is a texture in context b", texA)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for i, c := range []*headless.Context{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 20 {
				if err := checkRenders(t, c, [4]uint8{uint8(i * 100), uint8(n), 7, 255}); err != nil {
					errs <- fmt.Errorf("context %d, round %d: %v", i, n, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Closing one leaves the other working, though they share a display.
	if err := a.Close(); err != nil {
		t.Fatalf("Close a: %v", err)
	}
	if err := checkRenders(t, b, [4]uint8{5, 6, 7, 8}); err != nil {
		t.Errorf("context b after closing a: %v", err)
	}
}

// TestPlatformNames: the names users pass are the ones the binding opens
// and reports (internal/egl keeps its own copy, since it sits below
// headless and cannot import it).
func TestPlatformNames(t *testing.T) {
	if headless.PlatformDevice != egl.PlatformDevice || headless.PlatformSurfaceless != egl.PlatformSurfaceless {
		t.Fatalf("headless names %q, %q; internal/egl %q, %q", headless.PlatformDevice, headless.PlatformSurfaceless, egl.PlatformDevice, egl.PlatformSurfaceless)
	}
}
