// Package vk is glbridge's Vulkan binding: the few dozen entry points the
// helper device, the allocator and the importer use, loaded at run time
// from libvulkan.so.1 through vkGetInstanceProcAddr and vkGetDeviceProcAddr.
//
// It exists instead of github.com/vulkan-go/vulkan; docs/design.md says
// why. C structs are built as Go values and passed by value to small C
// helpers, which link the pNext chains on their own stack, so no Go pointer
// is ever stored in C memory. Handles cross into Go as distinct types.
//
// Nothing here is safe for concurrent use of one object from several
// goroutines unless Vulkan says the call is (queues and command pools need
// external synchronisation); the packages above serialise.
package vk

import (
	"fmt"

	"github.com/glbridge/glbridge/bridge"
)

// Result is a VkResult.
type Result int32

// The VkResult values glbridge names.
const (
	Success                    Result = 0
	NotReady                   Result = 1
	Timeout                    Result = 2
	Incomplete                 Result = 5
	ErrorOutOfHostMemory       Result = -1
	ErrorOutOfDeviceMemory     Result = -2
	ErrorInitializationFailed  Result = -3
	ErrorDeviceLost            Result = -4
	ErrorMemoryMapFailed       Result = -5
	ErrorLayerNotPresent       Result = -6
	ErrorExtensionNotPresent   Result = -7
	ErrorFeatureNotPresent     Result = -8
	ErrorIncompatibleDriver    Result = -9
	ErrorTooManyObjects        Result = -10
	ErrorFormatNotSupported    Result = -11
	ErrorFragmentedPool        Result = -12
	ErrorUnknown               Result = -13
	ErrorOutOfPoolMemory       Result = -1000069000
	ErrorInvalidExternalHandle Result = -1000072003
)

var resultNames = map[Result]string{
	Success:                    "VK_SUCCESS",
	NotReady:                   "VK_NOT_READY",
	Timeout:                    "VK_TIMEOUT",
	Incomplete:                 "VK_INCOMPLETE",
	ErrorOutOfHostMemory:       "VK_ERROR_OUT_OF_HOST_MEMORY",
	ErrorOutOfDeviceMemory:     "VK_ERROR_OUT_OF_DEVICE_MEMORY",
	ErrorInitializationFailed:  "VK_ERROR_INITIALIZATION_FAILED",
	ErrorDeviceLost:            "VK_ERROR_DEVICE_LOST",
	ErrorMemoryMapFailed:       "VK_ERROR_MEMORY_MAP_FAILED",
	ErrorLayerNotPresent:       "VK_ERROR_LAYER_NOT_PRESENT",
	ErrorExtensionNotPresent:   "VK_ERROR_EXTENSION_NOT_PRESENT",
	ErrorFeatureNotPresent:     "VK_ERROR_FEATURE_NOT_PRESENT",
	ErrorIncompatibleDriver:    "VK_ERROR_INCOMPATIBLE_DRIVER",
	ErrorTooManyObjects:        "VK_ERROR_TOO_MANY_OBJECTS",
	ErrorFormatNotSupported:    "VK_ERROR_FORMAT_NOT_SUPPORTED",
	ErrorFragmentedPool:        "VK_ERROR_FRAGMENTED_POOL",
	ErrorUnknown:               "VK_ERROR_UNKNOWN",
	ErrorOutOfPoolMemory:       "VK_ERROR_OUT_OF_POOL_MEMORY",
	ErrorInvalidExternalHandle: "VK_ERROR_INVALID_EXTERNAL_HANDLE",
}

// String returns the VK_* name of r.
func (r Result) String() string {
	if n, ok := resultNames[r]; ok {
		return n
	}
	return fmt.Sprintf("VkResult(%d)", int32(r))
}

// Error is a failed Vulkan call.
type Error struct {
	Call   string
	Result Result
}

// Error names the call and its VkResult, as glbridge's errors do.
func (e *Error) Error() string { return e.Call + ": " + e.Result.String() }

// Unwrap makes VK_TIMEOUT match bridge.ErrTimeout, as every glbridge
// timeout does.
func (e *Error) Unwrap() error {
	if e.Result == Timeout {
		return bridge.ErrTimeout
	}
	return nil
}

// MakeVersion is VK_MAKE_API_VERSION(0, major, minor, patch).
func MakeVersion(major, minor, patch uint32) uint32 { return major<<22 | minor<<12 | patch }

// VersionString formats a Vulkan API version as major.minor.patch.
func VersionString(v uint32) string {
	return fmt.Sprintf("%d.%d.%d", v>>22&0x7f, v>>12&0x3ff, v&0xfff)
}

// Vulkan enum and flag values glbridge uses, with the headers' values.
const (
	QueueFamilyIgnored  = ^uint32(0)
	QueueFamilyExternal = ^uint32(1)

	QueueGraphicsBit = 0x1
	QueueComputeBit  = 0x2
	QueueTransferBit = 0x4

	MemoryPropertyDeviceLocalBit  = 0x1
	MemoryPropertyHostVisibleBit  = 0x2
	MemoryPropertyHostCoherentBit = 0x4

	ExternalMemoryHandleTypeOpaqueFDBit    = 0x1
	ExternalSemaphoreHandleTypeOpaqueFDBit = 0x1
	ExternalSemaphoreHandleTypeSyncFDBit   = 0x10

	ExternalMemoryFeatureDedicatedOnlyBit = 0x1
	ExternalMemoryFeatureExportableBit    = 0x2
	ExternalMemoryFeatureImportableBit    = 0x4

	ExternalSemaphoreFeatureExportableBit = 0x1
	ExternalSemaphoreFeatureImportableBit = 0x2

	ImageType1D = 0
	ImageType2D = 1
	ImageType3D = 2

	ImageTilingOptimal = 0
	ImageTilingLinear  = 1

	ImageCreateMutableFormatBit     = 0x8
	ImageCreateCubeCompatibleBit    = 0x10
	ImageCreate2DArrayCompatibleBit = 0x20

	ImageUsageTransferSrcBit            = 0x1
	ImageUsageTransferDstBit            = 0x2
	ImageUsageSampledBit                = 0x4
	ImageUsageStorageBit                = 0x8
	ImageUsageColorAttachmentBit        = 0x10
	ImageUsageDepthStencilAttachmentBit = 0x20
	ImageUsageInputAttachmentBit        = 0x80

	BufferUsageTransferSrcBit   = 0x1
	BufferUsageTransferDstBit   = 0x2
	BufferUsageUniformTexelBit  = 0x4
	BufferUsageStorageTexelBit  = 0x8
	BufferUsageUniformBufferBit = 0x10
	BufferUsageStorageBufferBit = 0x20
	BufferUsageIndexBufferBit   = 0x40
	BufferUsageVertexBufferBit  = 0x80

	FormatFeatureSampledImageBit           = 0x1
	FormatFeatureStorageImageBit           = 0x2
	FormatFeatureColorAttachmentBit        = 0x80
	FormatFeatureDepthStencilAttachmentBit = 0x200
	FormatFeatureTransferSrcBit            = 0x4000
	FormatFeatureTransferDstBit            = 0x8000

	ImageLayoutUndefined                     = 0
	ImageLayoutGeneral                       = 1
	ImageLayoutColorAttachmentOptimal        = 2
	ImageLayoutDepthStencilAttachmentOptimal = 3
	ImageLayoutDepthStencilReadOnlyOptimal   = 4
	ImageLayoutShaderReadOnlyOptimal         = 5
	ImageLayoutTransferSrcOptimal            = 6
	ImageLayoutTransferDstOptimal            = 7

	ImageAspectColorBit   = 0x1
	ImageAspectDepthBit   = 0x2
	ImageAspectStencilBit = 0x4

	PipelineStageTopOfPipeBit    = 0x1
	PipelineStageTransferBit     = 0x1000
	PipelineStageBottomOfPipeBit = 0x2000
	PipelineStageHostBit         = 0x4000
	PipelineStageAllCommandsBit  = 0x10000

	AccessTransferReadBit  = 0x800
	AccessTransferWriteBit = 0x1000
	AccessHostReadBit      = 0x2000
	AccessHostWriteBit     = 0x4000
	AccessMemoryReadBit    = 0x8000
	AccessMemoryWriteBit   = 0x10000

	SampleCount1Bit = 0x1

	FilterNearest = 0
	FilterLinear  = 1

	SemaphoreImportTemporaryBit = 0x1

	PhysicalDeviceTypeOther         = 0
	PhysicalDeviceTypeIntegratedGPU = 1
	PhysicalDeviceTypeDiscreteGPU   = 2
	PhysicalDeviceTypeVirtualGPU    = 3
	PhysicalDeviceTypeCPU           = 4
)

// Extension names.
const (
	KHRExternalMemoryFD       = "VK_KHR_external_memory_fd"
	KHRExternalMemory         = "VK_KHR_external_memory"
	KHRDedicatedAllocation    = "VK_KHR_dedicated_allocation"
	KHRGetMemoryRequirements2 = "VK_KHR_get_memory_requirements2"
	KHRExternalSemaphoreFD    = "VK_KHR_external_semaphore_fd"
	KHRExternalSemaphore      = "VK_KHR_external_semaphore"
	KHRTimelineSemaphore      = "VK_KHR_timeline_semaphore"
	KHRDriverProperties       = "VK_KHR_driver_properties"
)
