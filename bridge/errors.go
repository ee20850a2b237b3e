package bridge

import "errors"

// Sentinel errors shared by every glbridge package, for errors.Is. Errors
// returned by glbridge wrap them with the call and the values that failed.
var (
	// ErrUnsupportedFormat: the format, or the format with that kind of
	// resource, cannot be shared on this device.
	ErrUnsupportedFormat = errors.New("unsupported format")
	// ErrUUIDMismatch: GL and Vulkan (or exporter and importer) are not the
	// same driver on the same device, so memory cannot pass between them.
	ErrUUIDMismatch = errors.New("driver or device UUID mismatch")
	// ErrClosed: the object was used after Close.
	ErrClosed = errors.New("use of closed object")
)

// ErrNoExternalMemory: the GL or the Vulkan driver lacks the extension that
// zero-copy sharing needs (GL_EXT_memory_object_fd, VK_KHR_external_memory_fd).
var ErrNoExternalMemory = errors.New("no external memory support")
