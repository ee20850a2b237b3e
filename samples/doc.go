// Package samples holds glbridge's sample programs, one per directory,
// each explained in the comment at its top. All but one use only the
// front door: package share (GL and Vulkan sides of a shared texture),
// bridge (the resource model and errors), bridge/broker (naming resources
// across processes), and headless and testpattern to stand in for a
// renderer's context and pictures:
//
//   - vulkan-to-gl: Vulkan writes a texture, GL reads the same memory, in
//     one process;
//   - producer and consumer: a texture shared across processes through the
//     broker (glshare serve), opened by KMT handle or by name into GL or
//     (-vulkan) a Vulkan device;
//   - keyedmutex: a GL and a Vulkan process taking turns on one texture
//     with the broker's keyed mutex (AcquireSync/ReleaseSync);
//   - c-client: plain C that speaks the broker protocol and imports the
//     texture into its own Vulkan device, as a C renderer would;
//   - cpp-consumer: C++17 against libglbridge's header, reading what the
//     record says (and host memory) with no Vulkan, GL or format table;
//   - c-renderer: C99 with EGL and libglbridge, the wined3d role: has the
//     broker allocate on GL's UUIDs (or host memory), draws a frame into
//     it with plain GL, shares it with no Vulkan loaded, and (--read)
//     checks one;
//   - gl-to-vulkan: GL draws, Vulkan reads, through the layers below
//     share (glimport, helperdev, vkalloc, handoff): the one sample that
//     goes that low, and its comment says when a renderer would.
//
// samples/kit is what they share that is not their point: the headless GL
// thread and the texel check.
//
// `make samples` builds them into bin/; the tests in this directory build
// and run every one of them against a broker of their own.
package samples
