package bridge

import (
	"errors"
	"fmt"
)

// glbridge's error values, for errors.Is. They live here, once, so that a
// caller who sees one from any glbridge package tests against one value;
// errors returned by glbridge wrap them with the failing call and the values
// that failed (a VkResult, a GL error, a broker reply).
var (
	// ErrUnsupportedFormat is the error for a format, or a format with a
	// kind of resource, that cannot be shared on this device or path.
	ErrUnsupportedFormat = errors.New("unsupported format")
	// ErrInvalidDesc is the error for a Desc that breaks a rule every
	// Direct3D version enforces, so that no runtime could have created the
	// resource it describes.
	ErrInvalidDesc = errors.New("invalid Desc")
	// ErrNotExpressible is the error for a description that cannot be
	// written in another Direct3D version's terms (a D3D9 texture array, a
	// D3D12 buffer of more than 4 GiB in Desc's 32-bit Width).
	ErrNotExpressible = errors.New("not expressible")
	// ErrUUIDMismatch is the error for GL and Vulkan (or an exporter and an
	// importer) that are not the same driver on the same device, so that
	// memory cannot pass between them.
	ErrUUIDMismatch = errors.New("driver or device UUID mismatch")
	// ErrNoExternalMemory is the error for a GL or Vulkan driver that lacks
	// the extension zero-copy sharing needs (GL_EXT_memory_object_fd,
	// VK_KHR_external_memory_fd); the wrapping error names which.
	ErrNoExternalMemory = errors.New("no external memory support")
	// ErrNoExternalSemaphore is the error for a GL context or Vulkan device
	// that cannot export or import semaphores as fds (no
	// GL_EXT_semaphore_fd or GL_NV_timeline_semaphore, as on Mesa 22.3's
	// llvmpipe and lavapipe); hand-offs then use the fence fallback.
	ErrNoExternalSemaphore = errors.New("no external semaphore support")
	// ErrNoVulkan is the error for an operation that needs a Vulkan device
	// where the process has none (no loader, no device that exports memory,
	// or a process told to do without). It wraps ErrNoExternalMemory, so
	// that callers testing for that see it too.
	ErrNoVulkan = fmt.Errorf("no usable Vulkan device: %w", ErrNoExternalMemory)
	// ErrPathUnavailable is the error for a hand-off path asked for that
	// needs semaphore support the drivers lack.
	ErrPathUnavailable = errors.New("hand-off path unavailable")
	// ErrClosed is the error for an object used after Close.
	ErrClosed = errors.New("use of closed object")
	// ErrTimeout is the error for a wait that ended before what it waited
	// for happened: a keyed mutex not released with the key asked for
	// (WAIT_TIMEOUT), a GL fence or a Vulkan semaphore not signalled in
	// time.
	ErrTimeout = errors.New("timed out")
	// ErrNotFound is the error for a handle, name or resource that does not
	// exist, or no longer does (a stale handle).
	ErrNotFound = errors.New("not found")
	// ErrAccessDenied is the error for a handle that does not grant what
	// was asked, or a caller that may not do it.
	ErrAccessDenied = errors.New("access denied")
	// ErrNameTaken is the error for a name another resource already has.
	ErrNameTaken = errors.New("name already taken")
	// ErrLimit is the error for a limit reached (resources, handles,
	// connections).
	ErrLimit = errors.New("limit reached")
	// ErrQuota is the error for an allocation or registration that would
	// take a connection or a uid over its quota of bytes or resources.
	ErrQuota = errors.New("quota exceeded")
	// ErrRuntimeDescMismatch is the error for a Direct3D runtime
	// descriptor (bridge/d3d) whose size or header is not one a runtime
	// writes, and for one the API asked to open it cannot open: where
	// OpenSharedResource and the Create* calls answer E_INVALIDARG.
	// Errors carrying it also wrap ErrInvalidDesc (a malformed blob) or
	// ErrNotExpressible (a sound descriptor the API cannot open).
	ErrRuntimeDescMismatch = errors.New("runtime descriptor mismatch")
	// ErrPlatformUnavailable is the error for a headless GL context asked
	// of an EGL that does not offer the platform at all (the client
	// extension is missing or no device is enumerated), as opposed to one
	// offered that failed. Tests skip on it and fail on anything else.
	ErrPlatformUnavailable = errors.New("EGL platform not available")
	// ErrBrokerClosed is the error Serve returns after Shutdown or after
	// its context ends, and a client's calls after the broker hung up.
	ErrBrokerClosed = errors.New("broker closed")
)
