// Package share is glbridge's entry point for sharing textures between
// GL, Vulkan and processes, whatever the machine can do.
//
// Where GL can import Vulkan memory (GL_EXT_memory_object_fd, with a
// Vulkan device whose UUIDs are GL's), a shared texture is one piece of
// memory seen by every API: the zero-copy path. Where it cannot — no
// memory-object extension, no Vulkan at all, a GL and a Vulkan driver that
// do not match on the same GPU (AMDVLK beside radeonsi), or memory GL
// fails to import — the resource still exists and is still shared, through
// a copy path, as Chromium does: its memory is a Vulkan allocation
// (CopyVulkan; Vulkan processes on that device open it zero-copy) or,
// without Vulkan, shared host memory (CopyHost: a memfd laid out as
// bridge.HostLayout says, marked by Allocation.HostMemory). A side that cannot
// use the memory directly works on a texture or image of its own, filled
// from the memory when an access begins and written back when a writing
// access ends. The handles, the broker protocol and the caller's code are
// the same on every path; only the speed differs.
//
// # A GL renderer (the wined3d role)
//
// On the thread where its context is current:
//
//	g, err := share.NewGL(getProcAddress, share.Options{})
//	log.Printf("sharing: %v %s", g.Path(), g.Reason())
//
//	res, err := g.Create(desc)          // a shared ID3D11Texture2D, say
//	kmt, err := res.Share(client, data) // KMT handle; keyed mutex attached
//
//	abandoned, err := res.AcquireSync(0, timeout)
//	name, target := res.Texture()       // draw into it
//	err = res.ReleaseSync(1)
//
// and in another process:
//
//	r, err := client.OpenKMT(kmt)       // or OpenName
//	res, err := g.OpenShared(client, r) // then close r.FD and r.Syncs' fds
//	abandoned, err := res.AcquireSync(1, timeout)
//	...
//
// Within one process, BeginAccess/EndAccess bracket each GL (or Vulkan)
// access instead of the keyed mutex.
//
// # A Vulkan renderer (the DXVK role)
//
// share.NewVulkan opens a device (any that exports memory, or the one of
// given UUIDs); share.NewVulkanOn works on the caller's own device, given
// as plain handles, owning nothing of it. Create, Open, OpenShared,
// AcquireSync and ReleaseSync work as on the GL side, with the same
// signatures; inside an access the resource's own operations (Clear,
// WritePixels, ReadPixels, CopyTo) are ordered with every other user's,
// and a caller recording commands of its own on Handle() finishes them
// before the access ends:
//
//	v, err := share.NewVulkan(&r.Allocation.Device, share.Options{})
//	res, err := v.OpenShared(client, r)
//	abandoned, err := res.AcquireSync(1, timeout)
//	px, err := res.ReadPixels(bridge.Subresource{})
//	err = res.ReleaseSync(0)
//
// A process with Vulkan and no GL and a process with GL and no Vulkan share
// through host memory.
//
// # Moving less on a copy path
//
// A copy path cannot see what an access does, so by default it fills
// the whole resource when an access begins and reads it back when a
// writing access ends. Hints say more, as Direct3D's map types do,
// without changing the rights the broker sees (BeginAccessWith and
// AcquireSyncWith, on both sides):
//
//	res.BeginAccessWith(bridge.AccessReadWrite, share.WriteDiscard) // D3D11_MAP_WRITE_DISCARD: no fill
//	res.AcquireSyncWith(key, timeout, bridge.AccessRead, 0)         // ReleaseSync stores nothing
//
// Whatever the hints, a write-back stores only what differs from what
// the shared memory holds (host memory in 64 KiB chunks, a Vulkan image
// in whole subresources), so an access that changed nothing writes
// nothing; what it costs is the read-back, which a writing access needs
// anyway to know, and a comparison at memory speed. DeferWriteBack lets
// a GL write-back overlap what the renderer does next: EndAccess and
// ReleaseSync return once GL is asked for the texels, and Flush (or the
// resource's next access) stores them and, after a ReleaseSync, releases
// the keyed mutex, so that no other process ever sees a frame half
// stored.
//
// # Ownership and threads
//
// Open and OpenShared never take the caller's fds: they keep duplicates.
// ExportFD returns a new fd the caller owns. Every object has an
// idempotent Close; resources are closed before the GL or Vulkan that
// made them. GL and GLResource methods run on the GL context's thread;
// Vulkan and VulkanResource methods on any goroutine.
//
// # Choosing the path
//
// GLBRIDGE_FORCE_COPY=1 (Options.ForceCopy) forces the copy path for
// testing. share's own tests also make a process behave as if its GL
// lacked GL_EXT_memory_object_fd or it had no Vulkan, so that every
// combination is tested on one machine. `glshare info` prints the path
// this machine's GL gets, and why.
package share
