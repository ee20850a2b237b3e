// Package samples holds glbridge's sample programs, one per directory:
//
//   - gl-to-vulkan: GL draws into Vulkan-allocated memory, Vulkan reads it;
//   - vulkan-to-gl: Vulkan writes, GL reads the same memory;
//   - producer and consumer: a texture shared across processes through the
//     broker (glshare serve), opened by KMT handle or by name into GL or
//     into an independent Vulkan device;
//   - keyedmutex: two processes taking turns on one texture with the
//     broker's keyed mutex;
//   - c-client: plain C that speaks the broker protocol and imports the
//     texture into its own Vulkan device, as a C renderer would.
//
// `make samples` builds them into bin/; the tests in this directory build
// and run every one of them.
package samples
