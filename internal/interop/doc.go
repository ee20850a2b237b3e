// Package interop holds glbridge's end-to-end tests across GL and Vulkan on
// the local drivers: memory allocated by the helper device, imported into
// GL, written on one side and checked texel by texel on the other. It has
// no code of its own beyond the test harness in harness.go.
package interop
