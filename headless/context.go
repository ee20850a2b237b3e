package headless

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/internal/egl"
)

// Platform names accepted by Options.Platform and reported by
// Context.Platform.
const (
	// PlatformDevice is the EGL device platform (EGL_EXT_platform_device):
	// a display on an enumerated device, no window system involved.
	PlatformDevice = "device"
	// PlatformSurfaceless is Mesa's surfaceless platform
	// (EGL_MESA_platform_surfaceless).
	PlatformSurfaceless = "surfaceless"
)

// Options selects how New makes its context. The zero value tries the device
// platform, then surfaceless.
type Options struct {
	// Platform forces one platform: PlatformDevice or PlatformSurfaceless.
	// Empty tries them in that order.
	Platform string
}

// Context is a headless OpenGL compatibility-profile context current on a
// goroutine locked to its own OS thread. All GL work for it goes through
// Call. Close releases it; there is no finalizer.
type Context struct {
	st       *egl.Display // EGL objects; touched only on the context thread
	tid      int
	platform string
	major    int
	minor    int

	// mu orders Call against Close: Call holds it for reading while it
	// hands a request over, Close for writing while it stops the thread.
	mu     sync.RWMutex
	closed bool
	reqs   chan request
	done   chan struct{} // closed when the context thread has exited
	exited atomic.Bool   // set just before the thread exits
	// closeErr is written on the context thread before done is closed.
	closeErr error
}

// request is one Call: the function and where its outcome goes.
type request struct {
	f      func()
	result chan callResult
}

type callResult struct {
	panicked bool
	value    any
	goexit   bool // f called runtime.Goexit (t.FailNow does)
}

// New creates a context on a new locked OS thread and makes it current
// there. It tries the device platform (each enumerated device until one
// initialises), then Mesa surfaceless, unless opts forces one; the error
// names every attempt and the EGL error that ended it. A platform name other
// than the Platform* constants is a programming error and panics.
//
// The caller owns the Context and must Close it.
func New(opts Options) (*Context, error) {
	switch opts.Platform {
	case "", PlatformDevice, PlatformSurfaceless:
	default:
		panic(fmt.Sprintf("headless: unknown platform %q (want %q or %q)", opts.Platform, PlatformDevice, PlatformSurfaceless))
	}
	c := &Context{
		reqs: make(chan request),
		done: make(chan struct{}),
	}
	ready := make(chan error, 1)
	go c.thread(opts, ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	return c, nil
}

// thread is the context's OS thread. It never unlocks the thread: when the
// goroutine ends the runtime ends the thread too, taking EGL's and GL's
// thread-local state with it instead of handing it to another goroutine.
func (c *Context) thread(opts Options, ready chan<- error) {
	runtime.LockOSThread()
	st, err := egl.Open(opts.Platform)
	if err != nil {
		c.exited.Store(true)
		close(c.done)
		ready <- err
		return
	}
	c.st = st
	c.tid = unix.Gettid()
	c.platform = st.Platform()
	c.major, c.minor = st.Version()
	defer func() {
		c.closeErr = c.st.Close()
		c.exited.Store(true)
		close(c.done)
	}()
	ready <- nil
	c.serve()
}

// serve runs requests until Close closes the channel.
func (c *Context) serve() {
	for req := range c.reqs {
		c.run(req)
	}
}

// run runs one request, reporting a panic or runtime.Goexit from f to the
// caller instead of letting it end the context thread's goroutine. Goexit
// cannot be stopped, so after reporting it the deferred function keeps
// serving from inside the unwinding; the thread stays the same.
func (c *Context) run(req request) {
	returned := false
	defer func() {
		if returned {
			return
		}
		if r := recover(); r != nil {
			req.result <- callResult{panicked: true, value: r}
			return
		}
		req.result <- callResult{goexit: true}
		c.serve()
	}()
	req.f()
	returned = true
	req.result <- callResult{}
}

// onThread reports whether the caller is running on the context thread,
// which, being locked, only the context's own goroutine (inside a Call) can.
func (c *Context) onThread() bool {
	return !c.exited.Load() && unix.Gettid() == c.tid
}

// Call runs f on the context thread, with the context current, and returns
// when f has. A panic in f is re-raised in the caller's goroutine with the
// same value, and runtime.Goexit in f (t.FailNow) exits the caller's
// goroutine, so test helpers behave inside Call as they do outside it. Calls
// from several goroutines are serialised; a Call from inside f runs directly.
// Calling Call on a closed Context is a programming error and panics.
func (c *Context) Call(f func()) {
	if c.onThread() {
		f()
		return
	}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		panic("headless: Call on a closed Context")
	}
	res := make(chan callResult, 1)
	c.reqs <- request{f: f, result: res}
	c.mu.RUnlock()
	r := <-res
	switch {
	case r.panicked:
		panic(r.value)
	case r.goexit:
		runtime.Goexit()
	}
}

// ProcAddr returns the address of the GL or EGL function name, or nil when
// EGL knows none; it suits go-gl's gl.InitWithProcAddrFunc. Symbols the
// loaded GL libraries export (every core function) are found by dlsym, the
// rest through eglGetProcAddress, which costs about 2 µs a name under
// glvnd: loading go-gl's 2975 functions takes 1 ms instead of 10. With Mesa a
// non-nil address does not prove the current context supports the function:
// check the extension string too. Any goroutine may call it.
func (c *Context) ProcAddr(name string) unsafe.Pointer {
	return egl.ProcAddr(name)
}

// Platform describes where the context was made: "device" or "surfaceless",
// followed for a device by what EGL says about it (its DRM device file, or
// that it is Mesa's software device).
func (c *Context) Platform() string { return c.platform }

// Version returns the OpenGL version New asked for and got, (0, 0) when
// every versioned request failed and the driver's default was taken. The
// context may be a higher version than asked; glGetString(GL_VERSION) says.
func (c *Context) Version() (major, minor int) { return c.major, c.minor }

// Close releases the context (eglMakeCurrent with nothing, then
// eglDestroyContext and eglTerminate once no other Context uses the display)
// and ends its thread, after any Call in progress. It is idempotent: later
// calls return nil. Closing from inside Call is a programming error and
// panics, since the thread cannot wait for itself.
func (c *Context) Close() error {
	if c.onThread() {
		panic("headless: Close called from inside Call on the same Context")
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.reqs)
	c.mu.Unlock()
	<-c.done
	return c.closeErr
}
