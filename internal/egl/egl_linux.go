package egl

/*
#cgo pkg-config: egl
#cgo LDFLAGS: -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <EGL/egl.h>
#include <EGL/eglext.h>

// Extension entry points come from eglGetProcAddress; cgo cannot call a C
// function pointer, so these trampolines do.
static void glb_call_void(void *fn) { ((void (*)(void))fn)(); }

// glb_proc_addr finds a GL or EGL entry point: first among the symbols
// the libraries loaded export (libGL and libOpenGL export every core GL
// function as a dispatch stub for the current context), a hash lookup,
// then through eglGetProcAddress, which knows the extension functions
// too but costs about 2 us a name under glvnd: go-gl asks for 2975 names.
static void *glb_proc_addr(const char *name) {
	void *p = dlsym(RTLD_DEFAULT, name);
	return p ? p : (void *)eglGetProcAddress(name);
}
static EGLBoolean glb_query_devices(void *fn, EGLint max, EGLDeviceEXT *devs, EGLint *num) {
	return ((PFNEGLQUERYDEVICESEXTPROC)fn)(max, devs, num);
}
static const char *glb_query_device_string(void *fn, EGLDeviceEXT dev, EGLint name) {
	return ((PFNEGLQUERYDEVICESTRINGEXTPROC)fn)(dev, name);
}
static EGLDisplay glb_get_platform_display(void *fn, EGLenum platform, void *native, const EGLint *attribs) {
	return ((PFNEGLGETPLATFORMDISPLAYEXTPROC)fn)(platform, native, attribs);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unsafe"

	"github.com/glbridge/glbridge/bridge"
)

// Display is one headless context's EGL state: a display, a context and
// (where surfaceless current failed) a pbuffer. Its methods run on the
// thread Open made the context current on.
type Display struct {
	dpy      C.EGLDisplay
	ctx      C.EGLContext
	surf     C.EGLSurface // EGL_NO_SURFACE unless surfaceless current failed
	platform string
	major    int
	minor    int
}

// EGL hands out one EGLDisplay per platform and native display in a
// process, and eglTerminate on it invalidates every context on it. Two
// Contexts on the same device share the EGLDisplay, so it is initialised
// once and terminated when the last Context using it closes.
var (
	displaysMu sync.Mutex
	displays   = map[C.EGLDisplay]int{}
)

func initDisplay(dpy C.EGLDisplay) error {
	displaysMu.Lock()
	defer displaysMu.Unlock()
	if displays[dpy] > 0 {
		displays[dpy]++
		return nil
	}
	var major, minor C.EGLint
	if C.eglInitialize(dpy, &major, &minor) == C.EGL_FALSE {
		return eglErr("eglInitialize")
	}
	displays[dpy] = 1
	return nil
}

func releaseDisplay(dpy C.EGLDisplay) error {
	displaysMu.Lock()
	defer displaysMu.Unlock()
	displays[dpy]--
	if displays[dpy] > 0 {
		return nil
	}
	delete(displays, dpy)
	if C.eglTerminate(dpy) == C.EGL_FALSE {
		return eglErr("eglTerminate")
	}
	return nil
}

// Open makes a compatibility-profile context on platform (PlatformDevice,
// PlatformSurfaceless, or "" for the first that works) and makes it current
// on the calling thread, which must be locked to its goroutine. The caller
// owns the Display and must Close it on the same thread.
func Open(platform string) (*Display, error) {
	client := extensionSet(queryString(C.EGLDisplay(C.EGL_NO_DISPLAY), C.EGL_EXTENSIONS))
	var attempts []string
	allUnavailable := true
	try := func(name string, f func() (*Display, error)) *Display {
		d, err := f()
		if err == nil {
			return d
		}
		if !errors.Is(err, bridge.ErrPlatformUnavailable) {
			allUnavailable = false
		}
		attempts = append(attempts, name+": "+err.Error())
		return nil
	}
	if platform == "" || platform == PlatformDevice {
		if d := try(PlatformDevice, func() (*Display, error) { return openDevice(client) }); d != nil {
			return d, nil
		}
	}
	if platform == "" || platform == PlatformSurfaceless {
		if d := try(PlatformSurfaceless, func() (*Display, error) { return openSurfaceless(client) }); d != nil {
			return d, nil
		}
	}
	msg := "egl: no headless OpenGL context: " + strings.Join(attempts, "; ")
	if allUnavailable {
		return nil, fmt.Errorf("%s: %w", msg, bridge.ErrPlatformUnavailable)
	}
	return nil, errors.New(msg)
}

func openDevice(client map[string]bool) (*Display, error) {
	for _, ext := range []string{"EGL_EXT_platform_base", "EGL_EXT_device_enumeration", "EGL_EXT_platform_device"} {
		// EGL_EXT_device_base is the older name of enumeration + query.
		if !client[ext] && !(ext == "EGL_EXT_device_enumeration" && client["EGL_EXT_device_base"]) {
			return nil, fmt.Errorf("client extension %s missing: %w", ext, bridge.ErrPlatformUnavailable)
		}
	}
	queryDevices := ProcAddr("eglQueryDevicesEXT")
	queryDeviceString := ProcAddr("eglQueryDeviceStringEXT")
	getPlatformDisplay := ProcAddr("eglGetPlatformDisplayEXT")
	if queryDevices == nil || queryDeviceString == nil || getPlatformDisplay == nil {
		return nil, fmt.Errorf("eglGetProcAddress found no device entry points: %w", bridge.ErrPlatformUnavailable)
	}
	var n C.EGLint
	if C.glb_query_devices(queryDevices, 0, nil, &n) == C.EGL_FALSE {
		return nil, eglErr("eglQueryDevicesEXT")
	}
	if n == 0 {
		return nil, fmt.Errorf("eglQueryDevicesEXT: no devices: %w", bridge.ErrPlatformUnavailable)
	}
	devs := make([]C.EGLDeviceEXT, n)
	if C.glb_query_devices(queryDevices, n, &devs[0], &n) == C.EGL_FALSE {
		return nil, eglErr("eglQueryDevicesEXT")
	}
	var failures []string
	for i, dev := range devs[:n] {
		desc := describeDevice(queryDeviceString, dev)
		dpy := C.glb_get_platform_display(getPlatformDisplay, C.EGL_PLATFORM_DEVICE_EXT, unsafe.Pointer(dev), nil)
		if dpy == C.EGLDisplay(C.EGL_NO_DISPLAY) {
			failures = append(failures, fmt.Sprintf("device %d (%s): %v", i, desc, eglErr("eglGetPlatformDisplayEXT")))
			continue
		}
		d, err := openOn(dpy, PlatformDevice+" "+desc)
		if err != nil {
			failures = append(failures, fmt.Sprintf("device %d (%s): %v", i, desc, err))
			continue
		}
		return d, nil
	}
	return nil, errors.New(strings.Join(failures, "; "))
}

// describeDevice names a device the way EGL knows it: its DRM node, or
// Mesa's software device.
func describeDevice(queryDeviceString unsafe.Pointer, dev C.EGLDeviceEXT) string {
	exts := extensionSet(C.GoString(C.glb_query_device_string(queryDeviceString, dev, C.EGL_EXTENSIONS)))
	if exts["EGL_EXT_device_drm"] {
		if s := C.glb_query_device_string(queryDeviceString, dev, C.EGL_DRM_DEVICE_FILE_EXT); s != nil {
			return C.GoString(s)
		}
	}
	if exts["EGL_MESA_device_software"] {
		return "software"
	}
	// Discard the EGL_BAD_PARAMETER a failed string query left behind.
	C.eglGetError()
	return "unnamed"
}

func openSurfaceless(client map[string]bool) (*Display, error) {
	if !client["EGL_MESA_platform_surfaceless"] {
		return nil, fmt.Errorf("client extension EGL_MESA_platform_surfaceless missing: %w", bridge.ErrPlatformUnavailable)
	}
	getPlatformDisplay := ProcAddr("eglGetPlatformDisplayEXT")
	if getPlatformDisplay == nil {
		return nil, fmt.Errorf("eglGetProcAddress(eglGetPlatformDisplayEXT) = NULL: %w", bridge.ErrPlatformUnavailable)
	}
	dpy := C.glb_get_platform_display(getPlatformDisplay, C.EGL_PLATFORM_SURFACELESS_MESA, unsafe.Pointer(nil), nil)
	if dpy == C.EGLDisplay(C.EGL_NO_DISPLAY) {
		return nil, eglErr("eglGetPlatformDisplayEXT")
	}
	return openOn(dpy, PlatformSurfaceless)
}

// glVersions are the context versions asked for, best first. The profile
// mask is ignored below 3.2, which is what a legacy context wants anyway.
var glVersions = [][2]int{{4, 5}, {4, 3}, {3, 3}, {3, 2}, {3, 0}}

// openOn initialises dpy, creates the context and makes it current.
func openOn(dpy C.EGLDisplay, platform string) (d *Display, err error) {
	if err := initDisplay(dpy); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			releaseDisplay(dpy)
		}
	}()
	if C.eglBindAPI(C.EGL_OPENGL_API) == C.EGL_FALSE {
		return nil, eglErr("eglBindAPI(EGL_OPENGL_API)")
	}
	exts := extensionSet(queryString(dpy, C.EGL_EXTENSIONS))

	// Without EGL_KHR_no_config_context a context needs a config, and the
	// same one serves the pbuffer fallback.
	config := C.EGLConfig(C.EGL_NO_CONFIG_KHR)
	if !exts["EGL_KHR_no_config_context"] && !exts["EGL_MESA_configless_context"] {
		if config, err = pbufferConfig(dpy); err != nil {
			return nil, err
		}
	}

	d = &Display{dpy: dpy, surf: C.EGLSurface(C.EGL_NO_SURFACE), platform: platform}
	var failures []string
	for _, v := range append(glVersions, [2]int{0, 0}) {
		var attribs []C.EGLint
		if v[0] != 0 {
			attribs = append(attribs,
				C.EGL_CONTEXT_MAJOR_VERSION, C.EGLint(v[0]),
				C.EGL_CONTEXT_MINOR_VERSION, C.EGLint(v[1]),
				C.EGL_CONTEXT_OPENGL_PROFILE_MASK, C.EGL_CONTEXT_OPENGL_COMPATIBILITY_PROFILE_BIT)
		}
		attribs = append(attribs, C.EGL_NONE)
		ctx := C.eglCreateContext(dpy, config, C.EGLContext(C.EGL_NO_CONTEXT), &attribs[0])
		if ctx != C.EGLContext(C.EGL_NO_CONTEXT) {
			d.ctx, d.major, d.minor = ctx, v[0], v[1]
			break
		}
		failures = append(failures, fmt.Sprintf("%d.%d: %v", v[0], v[1], eglErr("eglCreateContext")))
	}
	if d.ctx == C.EGLContext(C.EGL_NO_CONTEXT) {
		return nil, errors.New(strings.Join(failures, ", "))
	}
	if err := d.makeCurrent(exts, config); err != nil {
		C.eglDestroyContext(dpy, d.ctx)
		return nil, err
	}
	return d, nil
}

// makeCurrent makes the context current without a surface when the display
// allows it, and on a 1×1 pbuffer otherwise: glbridge renders only into
// framebuffer objects, so the surface is never drawn to.
func (d *Display) makeCurrent(exts map[string]bool, config C.EGLConfig) error {
	var surfacelessErr error
	if exts["EGL_KHR_surfaceless_context"] {
		if C.eglMakeCurrent(d.dpy, C.EGLSurface(C.EGL_NO_SURFACE), C.EGLSurface(C.EGL_NO_SURFACE), d.ctx) == C.EGL_TRUE {
			return nil
		}
		surfacelessErr = eglErr("eglMakeCurrent(EGL_NO_SURFACE)")
	} else {
		surfacelessErr = errors.New("EGL_KHR_surfaceless_context missing")
	}
	if config == C.EGLConfig(C.EGL_NO_CONFIG_KHR) {
		var err error
		if config, err = pbufferConfig(d.dpy); err != nil {
			return fmt.Errorf("%v; pbuffer fallback: %v", surfacelessErr, err)
		}
	}
	attribs := []C.EGLint{C.EGL_WIDTH, 1, C.EGL_HEIGHT, 1, C.EGL_NONE}
	surf := C.eglCreatePbufferSurface(d.dpy, config, &attribs[0])
	if surf == C.EGLSurface(C.EGL_NO_SURFACE) {
		return fmt.Errorf("%v; pbuffer fallback: %v", surfacelessErr, eglErr("eglCreatePbufferSurface"))
	}
	if C.eglMakeCurrent(d.dpy, surf, surf, d.ctx) == C.EGL_FALSE {
		err := eglErr("eglMakeCurrent(pbuffer)")
		C.eglDestroySurface(d.dpy, surf)
		return fmt.Errorf("%v; pbuffer fallback: %v", surfacelessErr, err)
	}
	d.surf = surf
	return nil
}

func pbufferConfig(dpy C.EGLDisplay) (C.EGLConfig, error) {
	attribs := []C.EGLint{
		C.EGL_SURFACE_TYPE, C.EGL_PBUFFER_BIT,
		C.EGL_RENDERABLE_TYPE, C.EGL_OPENGL_BIT,
		C.EGL_RED_SIZE, 8, C.EGL_GREEN_SIZE, 8, C.EGL_BLUE_SIZE, 8, C.EGL_ALPHA_SIZE, 8,
		C.EGL_NONE,
	}
	var config C.EGLConfig
	var n C.EGLint
	if C.eglChooseConfig(dpy, &attribs[0], &config, 1, &n) == C.EGL_FALSE {
		return C.EGLConfig(C.EGL_NO_CONFIG_KHR), eglErr("eglChooseConfig")
	}
	if n == 0 {
		return C.EGLConfig(C.EGL_NO_CONFIG_KHR), errors.New("eglChooseConfig: no RGBA8 OpenGL pbuffer config")
	}
	return config, nil
}

// Close releases what Open made, in reverse, reporting every failure. It
// runs on the thread Open ran on, which should end soon after: EGL's
// per-thread state is released too.
func (d *Display) Close() error {
	var errs []error
	// Mesa 22.3's llvmpipe dies of SIGSEGV when a context is destroyed
	// with drawing into imported memory still pending (interop's
	// TestContextCloseWithDrawingPending): finish first. glFinish comes
	// through eglGetProcAddress, which EGL 1.5, Mesa and NVIDIA give for
	// core functions too.
	if fn := ProcAddr("glFinish"); fn != nil {
		C.glb_call_void(fn)
	}
	if C.eglMakeCurrent(d.dpy, C.EGLSurface(C.EGL_NO_SURFACE), C.EGLSurface(C.EGL_NO_SURFACE), C.EGLContext(C.EGL_NO_CONTEXT)) == C.EGL_FALSE {
		errs = append(errs, eglErr("eglMakeCurrent(EGL_NO_CONTEXT)"))
	}
	if d.surf != C.EGLSurface(C.EGL_NO_SURFACE) && C.eglDestroySurface(d.dpy, d.surf) == C.EGL_FALSE {
		errs = append(errs, eglErr("eglDestroySurface"))
	}
	if C.eglDestroyContext(d.dpy, d.ctx) == C.EGL_FALSE {
		errs = append(errs, eglErr("eglDestroyContext"))
	}
	if err := releaseDisplay(d.dpy); err != nil {
		errs = append(errs, err)
	}
	// Free EGL's per-thread state; the thread is about to end.
	C.eglReleaseThread()
	return errors.Join(errs...)
}

// ProcAddr returns the entry point name: the symbol a loaded GL library
// exports, else eglGetProcAddress(name); nil when neither knows it. Any
// thread may call it.
func ProcAddr(name string) unsafe.Pointer {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	return C.glb_proc_addr(cname)
}

func queryString(dpy C.EGLDisplay, name C.EGLint) string {
	s := C.eglQueryString(dpy, name)
	if s == nil {
		// EGL_NO_DISPLAY without client extensions sets EGL_BAD_DISPLAY.
		C.eglGetError()
		return ""
	}
	return C.GoString(s)
}

func extensionSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, e := range strings.Fields(s) {
		m[e] = true
	}
	return m
}

// eglErr wraps the thread's EGL error, by name, with the call that set it.
func eglErr(call string) error {
	return fmt.Errorf("%s: %s", call, errorName(C.eglGetError()))
}

var errorNames = map[C.EGLint]string{
	C.EGL_SUCCESS:             "EGL_SUCCESS",
	C.EGL_NOT_INITIALIZED:     "EGL_NOT_INITIALIZED",
	C.EGL_BAD_ACCESS:          "EGL_BAD_ACCESS",
	C.EGL_BAD_ALLOC:           "EGL_BAD_ALLOC",
	C.EGL_BAD_ATTRIBUTE:       "EGL_BAD_ATTRIBUTE",
	C.EGL_BAD_CONFIG:          "EGL_BAD_CONFIG",
	C.EGL_BAD_CONTEXT:         "EGL_BAD_CONTEXT",
	C.EGL_BAD_CURRENT_SURFACE: "EGL_BAD_CURRENT_SURFACE",
	C.EGL_BAD_DISPLAY:         "EGL_BAD_DISPLAY",
	C.EGL_BAD_MATCH:           "EGL_BAD_MATCH",
	C.EGL_BAD_NATIVE_PIXMAP:   "EGL_BAD_NATIVE_PIXMAP",
	C.EGL_BAD_NATIVE_WINDOW:   "EGL_BAD_NATIVE_WINDOW",
	C.EGL_BAD_PARAMETER:       "EGL_BAD_PARAMETER",
	C.EGL_BAD_SURFACE:         "EGL_BAD_SURFACE",
	C.EGL_CONTEXT_LOST:        "EGL_CONTEXT_LOST",
	C.EGL_BAD_DEVICE_EXT:      "EGL_BAD_DEVICE_EXT",
}

func errorName(code C.EGLint) string {
	if n, ok := errorNames[code]; ok {
		return n
	}
	return fmt.Sprintf("EGL error 0x%04x", int(code))
}
