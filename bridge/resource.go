// Package bridge holds glbridge's resource model — what a shared resource
// is, independent of the API that allocated it: its description (Desc),
// the format table, the allocation record (Allocation) that travels with
// every memory fd, device identities, handles and access rights — and
// every error value glbridge returns, for errors.Is.
//
// The types here are plain Go and travel between processes: an opaque
// memory fd is "just memory", so every fd glbridge hands on is accompanied
// by an Allocation that says what the memory holds and how it was made.
// The broker that names shared resources between processes is
// bridge/broker; the Direct3D descriptions are bridge/d3d.
package bridge

import (
	"encoding/hex"
	"fmt"
)

// UUID is a 16-byte driver or device UUID as GL (GL_DRIVER_UUID_EXT,
// GL_DEVICE_UUID_EXT) and Vulkan (VkPhysicalDeviceIDProperties) report it.
// UUIDs are compared as whole byte arrays: Mesa pads its UUIDs with zero
// bytes, so a string comparison would stop early and match wrongly.
type UUID [16]byte

// String formats u as 32 lowercase hex digits.
func (u UUID) String() string { return hex.EncodeToString(u[:]) }

// IsZero reports whether u is all zero bytes, as an unset UUID is.
func (u UUID) IsZero() bool { return u == UUID{} }

// DeviceID names a GPU and the driver that drives it, by the UUIDs GL
// (GL_DRIVER_UUID_EXT, GL_DEVICE_UUID_EXT) and Vulkan
// (VkPhysicalDeviceIDProperties) both report. Memory passes zero-copy only
// between two sides whose DeviceIDs are equal: one driver on one device.
type DeviceID struct {
	Driver, Device UUID
}

// String formats id as glshare prints it.
func (id DeviceID) String() string {
	return "driver " + id.Driver.String() + " device " + id.Device.String()
}

// IsZero reports whether id is unset, as a GL without GL_EXT_memory_object
// reports it.
func (id DeviceID) IsZero() bool { return id == DeviceID{} }

// VulkanHandles are a Vulkan device as plain handles: one a caller made and
// hands to glbridge (helperdev.Adopt, share.NewVulkanOn), as DXVK would,
// or the one glbridge works on (helperdev.Device.Handles). Dispatchable
// handles are pointers, carried as uintptr.
type VulkanHandles struct {
	Instance, PhysicalDevice, Device uintptr
	// QueueFamily and QueueIndex name the queue glbridge submits to. The
	// queue must not be used by the caller while a glbridge call on the
	// device runs (Vulkan requires queues to be externally synchronised);
	// a caller that cannot promise it creates a second queue for glbridge.
	QueueFamily, QueueIndex uint32
	// Extensions are the device extensions the caller enabled; sharing
	// needs VK_KHR_external_memory_fd, and semaphores
	// VK_KHR_external_semaphore_fd.
	Extensions []string
	// TimelineSemaphore says the caller enabled the timelineSemaphore
	// feature.
	TimelineSemaphore bool
}

// Dimension is the kind of a resource, as D3D11 and D3D12 distinguish them.
type Dimension uint32

// Resource dimensions. The zero value is deliberately invalid so that a
// forgotten field is caught by Validate rather than read as a buffer.
const (
	DimensionUnknown Dimension = iota
	DimensionBuffer
	DimensionTexture1D
	DimensionTexture2D
	DimensionTexture3D
	DimensionTextureCube
)

var dimensionNames = [...]string{"unknown", "buffer", "texture1d", "texture2d", "texture3d", "texturecube"}

// String names the dimension as glshare prints it.
func (d Dimension) String() string { return enumName(dimensionNames[:], d, "dimension") }

// enumName is names[v], or kind(v) for a value without a name.
func enumName[T ~uint8 | ~uint32](names []string, v T, kind string) string {
	if uint64(v) < uint64(len(names)) {
		return names[v]
	}
	return fmt.Sprintf("%s(%d)", kind, uint64(v))
}

// Desc describes a shared resource the way a Direct3D runtime needs it to
// open the resource: the union of what D3D9, D3D11 and D3D12 record.
type Desc struct {
	Dimension Dimension
	// Width is in texels, or in bytes for a buffer.
	Width  uint32
	Height uint32
	// DepthOrArraySize is the depth of a 3D texture, the array size of
	// 1D and 2D textures, and the number of cubes of a cube texture.
	DepthOrArraySize uint32
	MipLevels        uint32
	SampleCount      uint32
	Format           Format
	// BindFlags, MiscFlags and CPUAccessFlags carry the D3D11_BIND_*,
	// D3D11_RESOURCE_MISC_* and D3D11_CPU_ACCESS_* bits unchanged, so a
	// D3D layer opening the resource sees what its creator asked for.
	BindFlags      uint32
	MiscFlags      uint32
	CPUAccessFlags uint32
}

// Subresource names one mip level of one array layer of a texture (all the
// slices of a 3D level), and of a depth-stencil format one plane, as
// Direct3D 12 numbers them.
type Subresource struct {
	// Level is the mip level. Layer is the array layer; for cube
	// textures it is cube*6 + face, faces in Direct3D's (and GL's and
	// Vulkan's) order +X, -X, +Y, -Y, +Z, -Z. A 3D texture has one layer
	// per level, holding all its slices.
	Level, Layer uint32
	Plane        Plane
}

// Plane is a part of a texel that is copied on its own: Direct3D 12's
// plane slice, Vulkan's image aspect.
type Plane uint32

// Planes. A colour format has only PlaneColor; a depth-stencil format has
// PlaneDepth and PlaneStencil (Direct3D 12's plane slices 0 and 1).
const (
	PlaneColor   Plane = 0
	PlaneDepth   Plane = 0
	PlaneStencil Plane = 1
)

// Tiling is the image tiling the exporter used. It mirrors VkImageTiling,
// and the GL importer must set GL_TEXTURE_TILING_EXT to match it.
type Tiling uint32

// Tilings, with VkImageTiling's values.
const (
	TilingOptimal Tiling = 0
	TilingLinear  Tiling = 1
)

// String names the tiling.
func (t Tiling) String() string { return enumName(tilingNames[:], t, "tiling") }

var tilingNames = [...]string{TilingOptimal: "optimal", TilingLinear: "linear"}

// Allocation is everything an importer needs besides the memory fd itself:
// the resource description and the facts of the Vulkan allocation behind
// it. It is what travels with the fd between devices and processes.
type Allocation struct {
	Desc Desc
	// VkFormat is the Vulkan format of the image (0 for buffers).
	VkFormat uint32
	Tiling   Tiling
	// ImageUsage and ImageFlags are the VkImageUsageFlags and
	// VkImageCreateFlags the image was created with. A Vulkan importer
	// must create its image with the same values.
	ImageUsage uint32
	ImageFlags uint32
	// Size is VkMemoryRequirements.size of the allocation: the size GL's
	// glImportMemoryFdEXT must be given (llvmpipe rejects less).
	Size uint64
	// Offset of the resource within the memory; glbridge always uses 0
	// but importers honour the field.
	Offset          uint64
	MemoryTypeIndex uint32
	// Dedicated says the memory was allocated with
	// VkMemoryDedicatedAllocateInfo; importers must mirror it
	// (GL_DEDICATED_MEMORY_OBJECT_EXT, VkMemoryDedicatedAllocateInfo).
	Dedicated bool
	// Device identifies the exporting device. An importer whose UUIDs
	// differ cannot use the memory.
	Device DeviceID
	// HostMemory says the memory is not a Vulkan allocation but shared
	// host memory (a memfd) holding the resource's subresources tightly
	// packed, one after another (see HostLayout): the copy path, for
	// machines where no Vulkan device can share with GL. The Vulkan fields
	// and the UUIDs are then zero, and every side copies at access
	// boundaries.
	HostMemory bool
}
