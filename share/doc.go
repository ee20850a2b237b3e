// Package share is glbridge's entry point for sharing textures between GL,
// Vulkan and processes, whatever the machine can do.
//
// Where GL can import Vulkan memory (GL_EXT_memory_object_fd, with a
// Vulkan device whose UUIDs are GL's), a shared texture is one piece of
// memory seen by every API: the zero-copy path. Where it cannot — no
// memory-object extension, no Vulkan at all, a GL and a Vulkan driver that
// do not match on the same GPU (AMDVLK beside radeonsi), or a format GL
// cannot import — the resource still exists and is still shared, through a
// copy path: its memory is a Vulkan allocation (which Vulkan processes on
// that device open zero-copy) or, without Vulkan, shared host memory (a
// memfd laid out as HostLayout says), and each side that cannot use the
// memory directly works on a texture or image of its own, filled when an
// access begins and written back when a writing access ends. The caller
// writes the same code for every path.
package share
