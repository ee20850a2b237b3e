// Package interop holds glbridge's end-to-end tests of the lower layers
// (helperdev, vkalloc, glimport, and the broker client) across GL and
// Vulkan on the local drivers: memory allocated by the helper device,
// imported into GL, written on one side and checked texel by texel on the
// other; and the broker's ALLOCATE across real processes, a GL-only one
// (which never loads libvulkan) and a Vulkan one sharing what the broker
// allocated, and the broker freeing it all when its allocator is killed.
// What share, the front door, covers through its own API is tested in
// share's tests. The package has no code of its own: the tests and their
// helpers are all in _test files.
package interop
