package share

import (
	"fmt"
	"os"
	"strings"

	"github.com/glbridge/glbridge/bridge/broker"
)

// Path is how a resource's memory is shared with this process.
type Path int

// Paths. The zero value is no path: what a closed or failed object reports.
const (
	// ZeroCopy: the GL texture (or the Vulkan image) is the shared memory
	// itself, a Vulkan allocation imported with GL_EXT_memory_object_fd
	// (or VK_KHR_external_memory_fd). Nothing is copied.
	ZeroCopy Path = iota + 1
	// CopyVulkan: the shared memory is a Vulkan allocation that this
	// side cannot use directly (GL without GL_EXT_memory_object_fd, or
	// GL and Vulkan drivers that do not match, or a format GL cannot
	// import); this side works on a texture (or image) of its own,
	// filled from the allocation when an access begins and written back
	// when a writing access ends. Vulkan processes on the allocation's
	// device still open it zero-copy.
	CopyVulkan
	// CopyHost: the shared memory is host memory (a memfd, laid out as
	// bridge.HostLayout says), for processes with no usable Vulkan device; every
	// side copies at access boundaries.
	CopyHost
)

// String names the path as glshare prints it.
func (p Path) String() string {
	switch p {
	case ZeroCopy:
		return "zero-copy"
	case CopyVulkan:
		return "copy (Vulkan memory)"
	case CopyHost:
		return "copy (host memory)"
	case 0:
		return "none"
	}
	return fmt.Sprintf("Path(%d)", int(p))
}

// Copies reports whether the path copies at access boundaries.
func (p Path) Copies() bool { return p == CopyVulkan || p == CopyHost }

// ForceCopyEnv names the variable that, set to 1, forces the copy path
// (Options.ForceCopy) in every NewGL and NewVulkan of the process: for
// testing the copy path on machines that share zero-copy.
const ForceCopyEnv = "GLBRIDGE_FORCE_COPY"

// Options adjusts how NewGL and NewVulkan choose their path. The zero
// value picks the best path the drivers allow.
type Options struct {
	// ForceCopy makes every resource use a copy path even where zero-copy
	// works: GL creates its resources in Vulkan memory (or host memory,
	// without Vulkan) and works on textures of its own; the Vulkan side
	// creates its resources in host memory and works on images of its
	// own. GLBRIDGE_FORCE_COPY=1 sets it.
	ForceCopy bool

	// Service makes NewGL allocate every resource through the broker
	// this client is connected to (ALLOCATE) instead of on a Vulkan
	// device of its own: the broker's helper device allocates on GL's
	// GPU and GL imports the memory, or, for a GL without
	// GL_EXT_memory_object_fd (and under ForceCopy), the broker makes
	// host memory that GL copies through. The process then loads no
	// Vulkan for what it creates (opening another device's memory that
	// GL cannot import still needs Vulkan here, to copy it). The GL does
	// not own the client, which must outlive it; one from a
	// broker.Dialer with Reconnect keeps the resources' handles and
	// names across a broker restart. AllocateEnv=service dials such a
	// client instead. NewVulkan ignores it.
	Service *broker.Client

	// denyMemoryObject and noVulkan are test switches (export_test.go),
	// so that every combination of drivers can be tested on one
	// machine. denyMemoryObject makes the capability probe act as if GL
	// lacked GL_EXT_memory_object_fd, as GL drivers without it do.
	// noVulkan acts as if there were no Vulkan loader or device, so GL
	// keeps its resources in host memory (GL may still import Vulkan
	// memory another process shares, which needs no Vulkan in this
	// process), and NewVulkan fails.
	denyMemoryObject, noVulkan bool
}

// AllocateEnv names the variable that, set to "service", makes every
// NewGL of the process that was given no Options.Service allocate through
// the broker at broker.DefaultSocketPath(), or, set to "service:PATH",
// through the broker at PATH; the GL owns that connection and closes it.
// Unset or "helper", NewGL allocates on a helper device of its own.
const AllocateEnv = "GLBRIDGE_ALLOCATE"

// serviceSocket is the broker socket AllocateEnv asks for, "" for none.
func serviceSocket() (string, error) {
	v := os.Getenv(AllocateEnv)
	switch {
	case v == "" || v == "helper":
		return "", nil
	case v == "service":
		return broker.DefaultSocketPath(), nil
	case strings.HasPrefix(v, "service:") && len(v) > len("service:"):
		return strings.TrimPrefix(v, "service:"), nil
	}
	return "", fmt.Errorf("share: %s=%q: want service, service:SOCKET or helper", AllocateEnv, v)
}

// withEnv applies GLBRIDGE_FORCE_COPY.
func (o Options) withEnv() Options {
	if os.Getenv(ForceCopyEnv) == "1" {
		o.ForceCopy = true
	}
	return o
}

// forceReason is what Reason says for a forced copy path.
func (o Options) forceReason() string {
	if os.Getenv(ForceCopyEnv) == "1" {
		return "forced by " + ForceCopyEnv + "=1"
	}
	return "forced by Options.ForceCopy"
}
