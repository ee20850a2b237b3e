package interop_test

import (
	"os"
	"testing"

	"github.com/glbridge/glbridge/internal/testenv"
)

// TestMain runs the tests, or, in a child process of the cross-process
// tests (testenv.StartChild), the body of its role.
func TestMain(m *testing.M) {
	testenv.Dispatch(map[string]testenv.Body{
		"svc-broker":        svcBroker,
		"svc-gl-writer":     svcGLWriter,
		"svc-gl-reader":     svcGLReader,
		"svc-vk-writer":     svcVulkanWriter,
		"svc-vk-reader":     svcVulkanReader,
		"svc-allocator":     svcAllocator,
		"svc-close-pending": svcClosePending,
		"d3dkmt-peer":       svcD3DKMTPeer,
	})
	os.Exit(m.Run())
}
