package testenv

import (
	"errors"
	"testing"
	"unsafe"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/headless"
)

// GLContext makes a headless GL context, closed when the test ends, and
// runs load (glimport.Init) with its proc-address function on its thread;
// it skips the test where no headless EGL platform exists at all, and
// fails it on any other error.
func GLContext(t *testing.T, load func(procAddr func(string) unsafe.Pointer) error) *headless.Context {
	t.Helper()
	c, err := headless.New(headless.Options{})
	if errors.Is(err, bridge.ErrPlatformUnavailable) {
		t.Skipf("no headless EGL platform: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	c.Call(func() {
		if err := load(c.ProcAddr); err != nil {
			t.Fatal(err)
		}
	})
	return c
}
