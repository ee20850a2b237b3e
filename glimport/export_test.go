package glimport

import (
	"testing"

	"github.com/glbridge/glbridge/headless"
	"github.com/glbridge/glbridge/internal/testenv"
)

// Test support shared by glimport's own tests and its external tests.

// CheckSemaphoreFD is the check ImportSemaphore makes of an fd before GL
// sees it: plain fstat logic, which needs no GL at all, so its refusals
// are tested where GL lacks GL_EXT_semaphore_fd too (ImportSemaphore
// itself asks GL for the extension first).
var CheckSemaphoreFD = checkSemaphoreFD

// NewTestContext makes a headless GL context with glimport loaded on it,
// for the tests (see testenv.GLContext).
func NewTestContext(t *testing.T) *headless.Context { return testenv.GLContext(t, Init) }
