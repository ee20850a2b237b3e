package glimport

import (
	"errors"
	"testing"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/headless"
)

// Test support shared by glimport's own tests and its external tests.

// CheckSemaphoreFD is the check ImportSemaphore makes of an fd before GL
// sees it: plain fstat logic, which needs no GL at all, so its refusals
// are tested where GL lacks GL_EXT_semaphore_fd too (ImportSemaphore
// itself asks GL for the extension first).
var CheckSemaphoreFD = checkSemaphoreFD

// NewTestContext makes a headless GL context, closed when the test ends,
// and loads glimport on it; it skips the test where no headless EGL
// platform exists.
func NewTestContext(t *testing.T) *headless.Context {
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
		if err := Init(c.ProcAddr); err != nil {
			t.Fatal(err)
		}
	})
	return c
}
