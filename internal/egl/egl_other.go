//go:build !linux

package egl

import (
	"fmt"
	"runtime"
	"unsafe"
)

// display stands in for the EGL state on systems glbridge does not run on,
// so that the package still compiles there.
type display struct {
	platform     string
	major, minor int
}

func openDisplay(string) (*display, error) {
	return nil, fmt.Errorf("egl: headless contexts are implemented on Linux only, not %s: %w", runtime.GOOS, ErrPlatformUnavailable)
}

func (d *display) close() error { return nil }

// gettid never matches a context thread: there are none here.
func gettid() int { return -1 }

func procAddr(string) unsafe.Pointer { return nil }
