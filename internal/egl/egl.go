// Package egl is the cgo binding behind package headless: it makes a
// headless OpenGL compatibility-profile context on the EGL device platform
// (EGL_EXT_platform_device) or Mesa's surfaceless platform and makes it
// current on the calling thread. Threads, and everything else a caller
// sees, are headless's.
package egl

// Platform names Open accepts and Display.Platform starts with.
const (
	// PlatformDevice is the EGL device platform (EGL_EXT_platform_device).
	PlatformDevice = "device"
	// PlatformSurfaceless is Mesa's surfaceless platform
	// (EGL_MESA_platform_surfaceless).
	PlatformSurfaceless = "surfaceless"
)

// Platform describes where the context was made: "device" or
// "surfaceless", followed for a device by what EGL says about it.
func (d *Display) Platform() string { return d.platform }

// Version returns the OpenGL version Open asked for and got, (0, 0) when
// every versioned request failed and the driver's default was taken.
func (d *Display) Version() (major, minor int) { return d.major, d.minor }
