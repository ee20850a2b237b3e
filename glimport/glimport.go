// Package glimport makes OpenGL memory objects and textures whose storage is
// memory another API (glbridge's Vulkan helper device) exported as an
// opaque fd, through GL_EXT_memory_object and GL_EXT_memory_object_fd.
//
// glimport works on the caller's GL context; it never creates one. Every
// function here except Init's loading itself must run on the thread where
// that context is current, and functions that bind objects put the previous
// bindings back, since the context and its state belong to the caller.
//
// go-gl keeps the GL function pointers in package globals, so one process
// has one set: all contexts glimport is used with must come from the same
// GL vendor library (libGL/libEGL's one driver), which is the normal case.
package glimport

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/go-gl/gl/v3.2-compatibility/gl"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/internal/glutil"
)

var (
	initMu sync.Mutex
	loaded atomic.Bool
)

// Init loads the GL entry points through procAddr (eglGetProcAddress,
// glXGetProcAddress, or headless.Context.ProcAddr). It must run on a thread
// where a context is current, because some window systems hand out
// per-context addresses. Only the first successful call loads anything:
// later calls, from any context's thread, return nil at once, so every
// context may call it before using glimport. It fails when the GL lacks a
// function of OpenGL 3.2 compatibility, which glbridge needs.
func Init(procAddr func(name string) unsafe.Pointer) error {
	initMu.Lock()
	defer initMu.Unlock()
	if loaded.Load() {
		return nil
	}
	if err := gl.InitWithProcAddrFunc(procAddr); err != nil {
		// go-gl's error is the name of the first missing function.
		return fmt.Errorf("glimport: loading OpenGL 3.2 compatibility: %s not found", err)
	}
	loaded.Store(true)
	return nil
}

// mustBeLoaded turns a call before Init, which would jump through a nil
// function pointer inside C, into a Go panic that says what is wrong.
func mustBeLoaded() {
	if !loaded.Load() {
		panic("glimport: used before Init loaded the GL functions")
	}
}

// Identity is what the current GL context says about itself: enough to
// decide whether it can share memory with a Vulkan device.
type Identity struct {
	Vendor, Renderer, Version, GLSL string
	// Extensions is the sorted list of GL extension names.
	Extensions []string
	// Device is GL_DRIVER_UUID_EXT and the first GL_DEVICE_UUID_EXT, zero
	// when GL_EXT_memory_object is absent.
	Device bridge.DeviceID
	// NumDeviceUUIDs is GL_NUM_DEVICE_UUIDS_EXT: more than one for a
	// context spanning a device group, of which DeviceUUID is the first.
	NumDeviceUUIDs int
	// MemoryObjectFD: GL_EXT_memory_object and GL_EXT_memory_object_fd,
	// which importing Vulkan memory needs.
	MemoryObjectFD bool
	// SemaphoreFD: GL_EXT_semaphore and GL_EXT_semaphore_fd.
	SemaphoreFD bool
	// TimelineSemaphore: GL_NV_timeline_semaphore.
	TimelineSemaphore bool
}

// String names the context as glbridge's errors do: GL and its renderer.
func (id Identity) String() string { return fmt.Sprintf("GL %q", id.Renderer) }

// CheckMemoryObject returns nil when the context can import Vulkan memory
// (GL_EXT_memory_object_fd), and otherwise an error wrapping
// bridge.ErrNoExternalMemory that names the extension and the renderer.
func (id Identity) CheckMemoryObject() error {
	if !id.MemoryObjectFD {
		return fmt.Errorf("glimport: %w: %s lacks GL_EXT_memory_object_fd", bridge.ErrNoExternalMemory, id)
	}
	return nil
}

// Has reports whether the context offers extension name.
func (id Identity) Has(name string) bool {
	_, ok := slices.BinarySearch(id.Extensions, name)
	return ok
}

// QueryIdentity queries the current context. It must run on the context's
// thread with the context current.
func QueryIdentity() (Identity, error) {
	mustBeLoaded()
	glutil.DrainErrors()
	id := Identity{
		Vendor:   gl.GoStr(gl.GetString(gl.VENDOR)),
		Renderer: gl.GoStr(gl.GetString(gl.RENDERER)),
		Version:  gl.GoStr(gl.GetString(gl.VERSION)),
		GLSL:     gl.GoStr(gl.GetString(gl.SHADING_LANGUAGE_VERSION)),
	}
	if err := glutil.CheckError("glGetString"); err != nil {
		return Identity{}, fmt.Errorf("glimport: %w", err)
	}
	id.Extensions = extensions()
	id.MemoryObjectFD = id.Has("GL_EXT_memory_object") && id.Has("GL_EXT_memory_object_fd")
	id.SemaphoreFD = id.Has("GL_EXT_semaphore") && id.Has("GL_EXT_semaphore_fd")
	id.TimelineSemaphore = id.Has("GL_NV_timeline_semaphore")
	// The UUID queries belong to GL_EXT_memory_object (and
	// GL_EXT_semaphore); without it Mesa's dispatch stubs exist but the
	// queries are errors.
	if id.Has("GL_EXT_memory_object") || id.Has("GL_EXT_semaphore") {
		gl.GetUnsignedBytevEXT(gl.DRIVER_UUID_EXT, &id.Device.Driver[0])
		if err := glutil.CheckError("glGetUnsignedBytevEXT(GL_DRIVER_UUID_EXT)"); err != nil {
			return Identity{}, fmt.Errorf("glimport: %w", err)
		}
		var n int32
		gl.GetIntegerv(gl.NUM_DEVICE_UUIDS_EXT, &n)
		if err := glutil.CheckError("glGetIntegerv(GL_NUM_DEVICE_UUIDS_EXT)"); err != nil {
			return Identity{}, fmt.Errorf("glimport: %w", err)
		}
		id.NumDeviceUUIDs = int(n)
		if n > 0 {
			gl.GetUnsignedBytei_vEXT(gl.DEVICE_UUID_EXT, 0, &id.Device.Device[0])
			if err := glutil.CheckError("glGetUnsignedBytei_vEXT(GL_DEVICE_UUID_EXT, 0)"); err != nil {
				return Identity{}, fmt.Errorf("glimport: %w", err)
			}
		}
	}
	return id, nil
}

// extensions lists the context's extensions, sorted: through glGetStringi
// on GL 3.0 and later, and by splitting glGetString(GL_EXTENSIONS) on older
// contexts, where GL_NUM_EXTENSIONS is an invalid enum.
func extensions() []string {
	var exts []string
	var n int32
	gl.GetIntegerv(gl.NUM_EXTENSIONS, &n)
	if gl.GetError() == gl.NO_ERROR {
		exts = make([]string, 0, n)
		for i := range uint32(n) {
			exts = append(exts, gl.GoStr(gl.GetStringi(gl.EXTENSIONS, i)))
		}
	} else {
		exts = strings.Fields(gl.GoStr(gl.GetString(gl.EXTENSIONS)))
	}
	slices.Sort(exts)
	return slices.Compact(exts)
}

// hasExtensions reports whether the current context offers all of names.
// Extension support is per context while the function pointers are
// process-wide, so it is asked each time rather than remembered; the
// strings are compared where GL keeps them, since listing them as Go
// strings (extensions) cost 110 µs an import on Mesa.
func hasExtensions(names ...string) bool {
	var n int32
	gl.GetIntegerv(gl.NUM_EXTENSIONS, &n)
	if gl.GetError() != gl.NO_ERROR {
		exts := extensions()
		for _, name := range names {
			if _, ok := slices.BinarySearch(exts, name); !ok {
				return false
			}
		}
		return true
	}
	missing := slices.Clone(names)
	for i := range uint32(n) {
		p := gl.GetStringi(gl.EXTENSIONS, i)
		missing = slices.DeleteFunc(missing, func(name string) bool { return cStringIs(p, name) })
		if len(missing) == 0 {
			return true
		}
	}
	return false
}

// cStringIs reports whether the NUL-terminated string at p is s, reading
// no byte past its end.
func cStringIs(p *uint8, s string) bool {
	if p == nil {
		return false
	}
	for i := range len(s) {
		if c := *(*uint8)(unsafe.Add(unsafe.Pointer(p), i)); c != s[i] {
			return false
		}
	}
	return *(*uint8)(unsafe.Add(unsafe.Pointer(p), len(s))) == 0
}

// glErr wraps the pending GL error with the call that raised it, or returns
// nil.
func glErr(call string) error {
	if err := glutil.CheckError(call); err != nil {
		return errors.New("glimport: " + err.Error())
	}
	return nil
}

// deleteOnce deletes the GL object *name with del (glDeleteTextures and
// its kin) the first time it is called for closed, so that every Close is
// idempotent, and reports the GL error del raised.
func deleteOnce(closed *bool, del func(n int32, names *uint32), name *uint32, call string) error {
	if *closed {
		return nil
	}
	*closed = true
	glutil.DrainErrors()
	del(1, name)
	return glErr(call)
}
