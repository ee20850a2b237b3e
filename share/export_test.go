package share

// Test switches, for share's own tests only: they make one machine behave
// as machines without GL_EXT_memory_object_fd or without Vulkan do.

// WithDenyMemoryObject returns o with the probe acting as if GL lacked
// GL_EXT_memory_object_fd.
func WithDenyMemoryObject(o Options) Options { o.denyMemoryObject = true; return o }

// WithNoVulkan returns o acting as if the process had no Vulkan.
func WithNoVulkan(o Options) Options { o.noVulkan = true; return o }

// GLImages is the copy path's walk over the images GL transfers in one
// call, for the tests that move a layout's bytes through GL themselves.
var GLImages = glImages

// DeniesMemoryObject and NoVulkan report the test switches, for tests that
// pass Options to child processes.
func DeniesMemoryObject(o Options) bool { return o.denyMemoryObject }

// NoVulkan reports the noVulkan test switch.
func NoVulkan(o Options) bool { return o.noVulkan }

// Moved is what a copy-path resource has moved since it was made, in
// bytes: filled from the shared memory into its own texture or image,
// read back out of that, and stored into the shared memory.
type Moved struct{ Filled, ReadBack, Stored uint64 }

// MovedBy reports what r (a *GLResource or *VulkanResource) has moved.
func MovedBy(r interface{ counts() copyCounts }) Moved {
	c := r.counts()
	return Moved{c.filled, c.readBack, c.stored}
}

// Sub is what was moved between m0 and m.
func (m Moved) Sub(m0 Moved) Moved {
	return Moved{m.Filled - m0.Filled, m.ReadBack - m0.ReadBack, m.Stored - m0.Stored}
}
