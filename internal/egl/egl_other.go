//go:build !linux

package egl

import (
	"fmt"
	"runtime"
	"unsafe"

	"github.com/glbridge/glbridge/bridge"
)

// Display stands in for the EGL state on systems glbridge does not run on,
// so that the package still compiles there.
type Display struct {
	platform     string
	major, minor int
}

// Open fails: headless contexts are made on Linux only.
func Open(string) (*Display, error) {
	return nil, fmt.Errorf("egl: headless contexts are implemented on Linux only, not %s: %w", runtime.GOOS, bridge.ErrPlatformUnavailable)
}

// Close does nothing.
func (d *Display) Close() error { return nil }

// ProcAddr knows no function.
func ProcAddr(string) unsafe.Pointer { return nil }
