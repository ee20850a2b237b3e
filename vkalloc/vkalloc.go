// Package vkalloc allocates exportable Vulkan images on a helper device and
// imports them on any other Vulkan device on the same GPU.
//
// Between accesses, every glbridge image rests in VK_IMAGE_LAYOUT_GENERAL,
// owned by VK_QUEUE_FAMILY_EXTERNAL: each Vulkan access acquires it from the
// external queue family and releases it back (a barrier pair, as the
// EXT_external_objects interop and piglit do), so GL, or another Vulkan
// device, always finds it in the same state. GENERAL is the layout GL's
// GL_LAYOUT_GENERAL_EXT names, the one every GL access is valid in.
package vkalloc

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/internal/vk"
	"github.com/glbridge/glbridge/internal/vkdevice"
)

// RestingLayout is the VkImageLayout images are left in between accesses,
// as a plain number for callers that hand it to GL.
const RestingLayout = 1 // VK_IMAGE_LAYOUT_GENERAL

// Image is a Vulkan image with its own dedicated memory, either allocated
// here for export (NewImage) or imported from an fd (ImportImage). Close
// destroys the image and frees the memory; memory exported to GL or to
// another process stays alive there until its importers release it.
type Image struct {
	dev   *helperdev.Device
	vkd   vk.Device
	img   vk.Image
	mem   vk.DeviceMemory
	alloc bridge.Allocation
	info  bridge.FormatInfo
	// storage is the row of the format table the image was made with.
	storage bridge.Storage
	// stage serves ReadPixels and WritePixels.
	stage stagingCache

	mu     sync.Mutex
	closed bool
}

// imageType maps a dimension to VkImageType and the create flags it needs.
func imageType(d bridge.Dimension) (typ, flags uint32, ok bool) {
	switch d {
	case bridge.DimensionTexture1D:
		return vk.ImageType1D, 0, true
	case bridge.DimensionTexture2D:
		return vk.ImageType2D, 0, true
	case bridge.DimensionTextureCube:
		return vk.ImageType2D, vk.ImageCreateCubeCompatibleBit, true
	case bridge.DimensionTexture3D:
		return vk.ImageType3D, 0, true
	}
	return 0, 0, false
}

// geometry returns the VkImageCreateInfo extent, mip levels, array layers
// and sample count of desc.
func geometry(desc bridge.Desc) (w, h, depth, levels, layers, samples uint32) {
	w, h, depth, levels, layers, samples = desc.Width, max(desc.Height, 1), 1, max(desc.MipLevels, 1), max(desc.DepthOrArraySize, 1), max(desc.SampleCount, 1)
	switch desc.Dimension {
	case bridge.DimensionTexture3D:
		depth, layers = layers, 1
	case bridge.DimensionTextureCube:
		layers *= 6
	}
	return
}

// usageFromFeatures is every usage the format's optimal-tiling features
// allow: GL may use an imported texture any way it likes
// (EXT_external_objects issues 13 and 17), so the image must permit it.
func usageFromFeatures(features uint32) uint32 {
	u := uint32(0)
	if features&vk.FormatFeatureTransferSrcBit != 0 {
		u |= vk.ImageUsageTransferSrcBit
	}
	if features&vk.FormatFeatureTransferDstBit != 0 {
		u |= vk.ImageUsageTransferDstBit
	}
	if features&vk.FormatFeatureSampledImageBit != 0 {
		u |= vk.ImageUsageSampledBit
	}
	if features&vk.FormatFeatureStorageImageBit != 0 {
		u |= vk.ImageUsageStorageBit
	}
	if features&vk.FormatFeatureColorAttachmentBit != 0 {
		u |= vk.ImageUsageColorAttachmentBit | vk.ImageUsageInputAttachmentBit
	}
	if features&vk.FormatFeatureDepthStencilAttachmentBit != 0 {
		u |= vk.ImageUsageDepthStencilAttachmentBit | vk.ImageUsageInputAttachmentBit
	}
	return u
}

// Support is what the device can do with one kind of resource in one
// format, read at run time from vkGetPhysicalDeviceImageFormatProperties2
// with the external-memory query.
type Support struct {
	// Storage is the storage NewImage would use: the format's preferred
	// one or the first fallback the device has.
	Storage bridge.Storage
	// Usage and Flags are the VkImageUsageFlags and VkImageCreateFlags
	// the image would be made with.
	Usage, Flags uint32
	// Exportable and Importable come from VkExternalMemoryProperties for
	// opaque fds; DedicatedOnly says the driver requires a dedicated
	// allocation (glbridge always makes one).
	Exportable, Importable, DedicatedOnly bool
	// Renderable: colour or depth-stencil attachment; Sampleable: sampled
	// image; Storage: storage image.
	Renderable, Sampleable, StorageImage bool
	// Limits are the device's limits for this kind and format.
	MaxExtent      [3]uint32
	MaxMipLevels   uint32
	MaxArrayLayers uint32
	SampleCounts   uint32
}

// QuerySupport reports whether and how desc's kind and format can be
// shared on dev. The error wraps bridge.ErrUnsupportedFormat and names the
// format, the kind and the reason.
func QuerySupport(dev *helperdev.Device, desc bridge.Desc) (Support, error) {
	_, pd, err := binding(dev)
	if err != nil {
		return Support{}, fmt.Errorf("vkalloc: %w", err)
	}
	return querySupport(pd, dev.Caps().DeviceName, desc)
}

func unsupported(desc bridge.Desc, format string, args ...any) error {
	return fmt.Errorf("vkalloc: %w: %s %s: %s", bridge.ErrUnsupportedFormat, desc.Format, desc.Dimension, fmt.Sprintf(format, args...))
}

func querySupport(pd vk.PhysicalDevice, devName string, desc bridge.Desc) (Support, error) {
	info, err := bridge.LookupFormat(desc.Format)
	if err != nil {
		return Support{}, fmt.Errorf("vkalloc: %w", err)
	}
	typ, flags, ok := imageType(desc.Dimension)
	if !ok {
		return Support{}, unsupported(desc, "not an image dimension")
	}
	// MUTABLE_FORMAT: GL may view the memory with another internal format
	// of the same size (EXT_external_objects issue 13).
	flags |= vk.ImageCreateMutableFormatBit
	if desc.Dimension == bridge.DimensionTexture3D {
		// GL may view slices of a 3D texture as 2D layers.
		flags |= vk.ImageCreate2DArrayCompatibleBit
	}
	var reasons []string
	for _, st := range info.Storages() {
		_, optimal, _ := pd.FormatFeatures(st.VkFormat)
		usage := usageFromFeatures(optimal)
		if usage&vk.ImageUsageTransferSrcBit == 0 || usage&vk.ImageUsageTransferDstBit == 0 {
			reasons = append(reasons, fmt.Sprintf("VkFormat %d lacks optimal-tiling transfer support", st.VkFormat))
			continue
		}
		if desc.SampleCount > 1 && optimal&(vk.FormatFeatureColorAttachmentBit|vk.FormatFeatureDepthStencilAttachmentBit) == 0 {
			reasons = append(reasons, fmt.Sprintf("VkFormat %d is not renderable, so it cannot be multisampled", st.VkFormat))
			continue
		}
		// Ask with every usage first; drivers refuse some usages with
		// external memory (storage most often), so shed those first.
		var (
			ext    vk.ExternalMemoryProperties
			limits vk.ImageFormatLimits
			qerr   error
			fl     = flags
		)
		for _, try := range []struct{ usage, flags uint32 }{
			{0, 0}, {vk.ImageUsageStorageBit, 0}, {vk.ImageUsageStorageBit | vk.ImageUsageInputAttachmentBit, 0},
			// Some drivers refuse MUTABLE_FORMAT for depth or compressed
			// formats; GL then views them in their own format only.
			{vk.ImageUsageStorageBit | vk.ImageUsageInputAttachmentBit, vk.ImageCreateMutableFormatBit},
		} {
			limits, ext, qerr = pd.ExternalImageFormatProperties(vk.ImageFormatQuery{
				Format: st.VkFormat, Type: typ, Tiling: vk.ImageTilingOptimal, Usage: usage &^ try.usage, Flags: flags &^ try.flags,
				HandleType: vk.ExternalMemoryHandleTypeOpaqueFDBit,
			})
			if qerr == nil {
				usage &^= try.usage
				fl = flags &^ try.flags
				break
			}
		}
		if qerr != nil {
			reasons = append(reasons, fmt.Sprintf("VkFormat %d: %v", st.VkFormat, qerr))
			continue
		}
		if ext.Features&vk.ExternalMemoryFeatureExportableBit == 0 {
			reasons = append(reasons, fmt.Sprintf("VkFormat %d is not exportable as an opaque fd", st.VkFormat))
			continue
		}
		return Support{
			Storage: st, Usage: usage, Flags: fl,
			Exportable:     true,
			Importable:     ext.Features&vk.ExternalMemoryFeatureImportableBit != 0,
			DedicatedOnly:  ext.Features&vk.ExternalMemoryFeatureDedicatedOnlyBit != 0,
			Renderable:     usage&(vk.ImageUsageColorAttachmentBit|vk.ImageUsageDepthStencilAttachmentBit) != 0,
			Sampleable:     usage&vk.ImageUsageSampledBit != 0,
			StorageImage:   usage&vk.ImageUsageStorageBit != 0,
			MaxExtent:      limits.MaxExtent,
			MaxMipLevels:   limits.MaxMipLevels,
			MaxArrayLayers: limits.MaxArrayLayers,
			SampleCounts:   limits.SampleCounts,
		}, nil
	}
	return Support{}, unsupported(desc, "on %q: %s", devName, strings.Join(reasons, "; "))
}

// NewImage allocates an image for desc with dedicated, exportable memory
// (opaque fd) and hands it to the external queue family in the resting
// layout. The caller owns the Image and must Close it.
func NewImage(dev *helperdev.Device, desc bridge.Desc) (*Image, error) {
	vkd, pd, err := binding(dev)
	if err != nil {
		return nil, fmt.Errorf("vkalloc: %w", err)
	}
	if desc.Dimension == bridge.DimensionBuffer {
		return nil, unsupported(desc, "a buffer is not an image: use NewBuffer")
	}
	if err := desc.Validate(); err != nil {
		return nil, fmt.Errorf("vkalloc: %w", err)
	}
	sup, err := querySupport(pd, dev.Caps().DeviceName, desc)
	if err != nil {
		return nil, err
	}
	info, _ := bridge.LookupFormat(desc.Format)
	typ, _, _ := imageType(desc.Dimension)
	w, h, depth, levels, layers, samples := geometry(desc)
	if w > sup.MaxExtent[0] || h > sup.MaxExtent[1] || depth > sup.MaxExtent[2] || levels > sup.MaxMipLevels || layers > sup.MaxArrayLayers || samples&sup.SampleCounts == 0 {
		return nil, unsupported(desc, "%dx%dx%d mips=%d layers=%d samples=%d exceeds the device's limits (%v, mips %d, layers %d, samples %#x)",
			w, h, depth, levels, layers, samples, sup.MaxExtent, sup.MaxMipLevels, sup.MaxArrayLayers, sup.SampleCounts)
	}

	img, err := vkd.CreateImage(vk.ImageCreateInfo{
		Flags: sup.Flags, ImageType: typ, Format: sup.Storage.VkFormat,
		Width: w, Height: h, Depth: depth, MipLevels: levels, ArrayLayers: layers,
		Samples: samples, Tiling: vk.ImageTilingOptimal, Usage: sup.Usage,
		InitialLayout:       vk.ImageLayoutUndefined,
		ExternalHandleTypes: vk.ExternalMemoryHandleTypeOpaqueFDBit,
	})
	if err != nil {
		return nil, fmt.Errorf("vkalloc: %w", err)
	}
	req := vkd.ImageMemoryRequirements(img)
	typeIndex, err := vkdevice.Of(dev).MemoryTypeIndex(req.MemoryTypeBits, 0)
	if err != nil {
		vkd.DestroyImage(img)
		return nil, fmt.Errorf("vkalloc: %w", err)
	}
	// Always dedicated: NVIDIA needs it for exported images (Monado saw
	// fence timeouts without), radeonsi corrupted images without it, and
	// GL must be told the same (GL_DEDICATED_MEMORY_OBJECT_EXT).
	mem, err := vkd.AllocateMemory(vk.MemoryAllocateInfo{
		Size: req.Size, MemoryTypeIndex: typeIndex,
		ExportHandleTypes: vk.ExternalMemoryHandleTypeOpaqueFDBit,
		ImportFD:          -1,
		DedicatedImage:    img,
	})
	if err != nil {
		vkd.DestroyImage(img)
		return nil, fmt.Errorf("vkalloc: %w", err)
	}
	if err := vkd.BindImageMemory(img, mem, 0); err != nil {
		vkd.FreeMemory(mem)
		vkd.DestroyImage(img)
		return nil, fmt.Errorf("vkalloc: %w", err)
	}
	caps := dev.Caps()
	im := &Image{
		dev: dev, vkd: vkd, img: img, mem: mem, info: info, storage: sup.Storage,
		alloc: bridge.Allocation{
			Desc:            desc,
			VkFormat:        sup.Storage.VkFormat,
			Tiling:          bridge.TilingOptimal,
			ImageUsage:      sup.Usage,
			ImageFlags:      sup.Flags,
			Size:            req.Size,
			Offset:          0,
			MemoryTypeIndex: typeIndex,
			Dedicated:       true,
			Device:          bridge.DeviceID{Driver: caps.Device.Driver, Device: caps.Device.Device},
		},
	}
	// Leave the image in the resting state, so the first access from any
	// side, GL included, finds it where every later one will.
	if err := im.handOff(vk.ImageLayoutUndefined); err != nil {
		im.Close()
		return nil, err
	}
	return im, nil
}

// ImportImage opens, on dev, an image exported elsewhere: a, the record
// that came with the memory, says how to create it. On success the Image
// takes ownership of fd; on failure the caller still owns it. dev must be
// on the device the record names (ErrUUIDMismatch otherwise).
func ImportImage(dev *helperdev.Device, a bridge.Allocation, fd int) (*Image, error) {
	vkd, _, err := binding(dev)
	if err != nil {
		return nil, fmt.Errorf("vkalloc: %w", err)
	}
	caps := dev.Caps()
	if caps.Device.Driver != a.Device.Driver || caps.Device.Device != a.Device.Device {
		return nil, fmt.Errorf("vkalloc: ImportImage: %w: the record was exported by driver %s device %s; %q is driver %s device %s",
			bridge.ErrUUIDMismatch, a.Device.Driver, a.Device.Device, caps.DeviceName, caps.Device.Driver, caps.Device.Device)
	}
	if err := a.Desc.Validate(); err != nil {
		return nil, fmt.Errorf("vkalloc: ImportImage: %w", err)
	}
	info, err := bridge.LookupFormat(a.Desc.Format)
	if err != nil {
		return nil, fmt.Errorf("vkalloc: %w", err)
	}
	storage, ok := info.StorageFor(a.VkFormat)
	if !ok {
		return nil, fmt.Errorf("vkalloc: ImportImage: %w: VkFormat %d is not a storage of %s", bridge.ErrUnsupportedFormat, a.VkFormat, a.Desc.Format)
	}
	typ, _, ok := imageType(a.Desc.Dimension)
	if !ok {
		return nil, fmt.Errorf("vkalloc: %w: %s is not an image", bridge.ErrUnsupportedFormat, a.Desc.Dimension)
	}
	if a.Offset != 0 {
		return nil, fmt.Errorf("vkalloc: ImportImage: record Offset = %d; dedicated memory holds its image at 0", a.Offset)
	}
	w, h, depth, levels, layers, samples := geometry(a.Desc)
	img, err := vkd.CreateImage(vk.ImageCreateInfo{
		Flags: a.ImageFlags, ImageType: typ, Format: a.VkFormat,
		Width: w, Height: h, Depth: depth, MipLevels: levels, ArrayLayers: layers,
		Samples: samples, Tiling: uint32(a.Tiling), Usage: a.ImageUsage,
		InitialLayout:       vk.ImageLayoutUndefined,
		ExternalHandleTypes: vk.ExternalMemoryHandleTypeOpaqueFDBit,
	})
	if err != nil {
		return nil, fmt.Errorf("vkalloc: %w", err)
	}
	req := vkd.ImageMemoryRequirements(img)
	if req.Size > a.Size {
		vkd.DestroyImage(img)
		return nil, fmt.Errorf("vkalloc: ImportImage: the image needs %d bytes but the record's allocation has %d", req.Size, a.Size)
	}
	typeIndex := a.MemoryTypeIndex
	if req.MemoryTypeBits&(1<<typeIndex) == 0 {
		if typeIndex, err = vkdevice.Of(dev).MemoryTypeIndex(req.MemoryTypeBits, 0); err != nil {
			vkd.DestroyImage(img)
			return nil, fmt.Errorf("vkalloc: %w", err)
		}
	}
	ai := vk.MemoryAllocateInfo{
		Size: a.Size, MemoryTypeIndex: typeIndex,
		ImportFD: fd, ImportHandleType: vk.ExternalMemoryHandleTypeOpaqueFDBit,
	}
	if a.Dedicated {
		ai.DedicatedImage = img
	}
	mem, err := vkd.AllocateMemory(ai)
	if err != nil {
		vkd.DestroyImage(img)
		return nil, fmt.Errorf("vkalloc: %w", err)
	}
	// From here the fd belongs to the memory object.
	if err := vkd.BindImageMemory(img, mem, a.Offset); err != nil {
		vkd.FreeMemory(mem)
		vkd.DestroyImage(img)
		return nil, fmt.Errorf("vkalloc: %w", err)
	}
	return &Image{dev: dev, vkd: vkd, img: img, mem: mem, alloc: a, info: info, storage: storage}, nil
}

// Allocation returns the record an importer needs with the memory fd.
func (im *Image) Allocation() bridge.Allocation { return im.alloc }

// Handle returns the VkImage, for Vulkan code (a DXVK-style consumer) that
// uses the image on the device it was made on.
func (im *Image) Handle() uint64 { return uint64(im.img) }

// ExportFD returns a new fd for the image's memory. The caller owns it:
// it passes it to an importer (which takes it on success) or closes it.
func (im *Image) ExportFD() (int, error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.closed {
		return -1, fmt.Errorf("vkalloc: ExportFD: %w", bridge.ErrClosed)
	}
	fd, err := im.vkd.GetMemoryFD(im.mem, vk.ExternalMemoryHandleTypeOpaqueFDBit)
	if err != nil {
		return -1, fmt.Errorf("vkalloc: %w", err)
	}
	return fd, nil
}

// Close destroys the image and frees its memory. It is idempotent and waits
// for nothing: callers finish their accesses (every helper here waits for
// its own) before closing.
func (im *Image) Close() error {
	im.mu.Lock()
	if im.closed {
		im.mu.Unlock()
		return nil
	}
	im.closed = true
	im.mu.Unlock()
	// After closed is set no transfer starts; release waits for one in
	// flight to put its staging buffer back.
	im.stage.release()
	im.vkd.DestroyImage(im.img)
	im.vkd.FreeMemory(im.mem)
	return nil
}

// aspects is every aspect of the image, as barriers name them.
func (im *Image) aspects() uint32 {
	var a uint32
	if im.info.Depth {
		a |= vk.ImageAspectDepthBit
	}
	if im.info.Stencil {
		a |= vk.ImageAspectStencilBit
	}
	if a == 0 {
		a = vk.ImageAspectColorBit
	}
	return a
}

func (im *Image) fullRange() vk.SubresourceRange {
	_, _, _, levels, layers, _ := geometry(im.alloc.Desc)
	return vk.SubresourceRange{AspectMask: im.aspects(), LevelCount: levels, LayerCount: layers}
}

// acquire records the barrier that takes the image from the external queue
// family in the resting layout into layout, for the access described.
func (im *Image) acquire(c vkdevice.Commands, layout, dstStage, dstAccess uint32) {
	c.Dev.CmdImageBarrier(c.CB, vk.ImageBarrier{
		SrcStage: vk.PipelineStageTopOfPipeBit, DstStage: dstStage,
		DstAccess: dstAccess,
		OldLayout: RestingLayout, NewLayout: layout,
		SrcQueueFamily: vk.QueueFamilyExternal, DstQueueFamily: vkdevice.Of(im.dev).Family,
		Image: im.img, Range: im.fullRange(),
	})
}

// release records the barrier that hands the image back to the external
// queue family in the resting layout.
func (im *Image) release(c vkdevice.Commands, layout, srcStage, srcAccess uint32) {
	c.Dev.CmdImageBarrier(c.CB, vk.ImageBarrier{
		SrcStage: srcStage, DstStage: vk.PipelineStageBottomOfPipeBit,
		SrcAccess: srcAccess,
		OldLayout: layout, NewLayout: RestingLayout,
		SrcQueueFamily: vkdevice.Of(im.dev).Family, DstQueueFamily: vk.QueueFamilyExternal,
		Image: im.img, Range: im.fullRange(),
	})
}

// handOff moves a new image from oldLayout into the resting state.
func (im *Image) handOff(oldLayout uint32) error {
	return im.submit(func(c vkdevice.Commands) {
		c.Dev.CmdImageBarrier(c.CB, vk.ImageBarrier{
			SrcStage: vk.PipelineStageTopOfPipeBit, DstStage: vk.PipelineStageBottomOfPipeBit,
			OldLayout: oldLayout, NewLayout: RestingLayout,
			SrcQueueFamily: vkdevice.Of(im.dev).Family, DstQueueFamily: vk.QueueFamilyExternal,
			Image: im.img, Range: im.fullRange(),
		})
	}, Sync{})
}

func (im *Image) submit(record func(vkdevice.Commands), sync Sync) error {
	im.mu.Lock()
	closed := im.closed
	im.mu.Unlock()
	if closed {
		return fmt.Errorf("vkalloc: %w", bridge.ErrClosed)
	}
	wait, signal, timeline := sync.ops(im.dev)
	if err := vkdevice.Of(im.dev).Submit(record, wait, signal, timeline); err != nil {
		return fmt.Errorf("vkalloc: %w", err)
	}
	return nil
}

// Clear fills every level and layer of the image with colour c (float
// channels in [0,1] for UNORM formats) on the GPU, and waits for it.
// sync says what the access waits for and signals (see Sync).
func (im *Image) Clear(c [4]float32, sync Sync) error {
	switch {
	case im.info.Depth || im.info.Stencil:
		return fmt.Errorf("vkalloc: Clear on %s: use ClearDepthStencil", im.alloc.Desc.Format)
	case im.info.Kind == bridge.KindUint || im.info.Kind == bridge.KindSint:
		return fmt.Errorf("vkalloc: Clear on %s: use ClearUint", im.alloc.Desc.Format)
	case im.info.Compressed:
		return fmt.Errorf("vkalloc: Clear on %s: block-compressed images cannot be cleared; WritePixels blocks", im.alloc.Desc.Format)
	}
	return im.submit(func(cmd vkdevice.Commands) {
		im.acquire(cmd, vk.ImageLayoutTransferDstOptimal, vk.PipelineStageTransferBit, vk.AccessTransferWriteBit)
		cmd.Dev.CmdClearColorImage(cmd.CB, im.img, vk.ImageLayoutTransferDstOptimal, c, im.fullRange())
		im.release(cmd, vk.ImageLayoutTransferDstOptimal, vk.PipelineStageTransferBit, vk.AccessTransferWriteBit)
	}, sync)
}

// ClearUint fills every level and layer of an integer-format image (UINT or
// SINT; SINT values as their two's-complement bits) with c, and waits.
func (im *Image) ClearUint(c [4]uint32, sync Sync) error {
	return im.submit(func(cmd vkdevice.Commands) {
		im.acquire(cmd, vk.ImageLayoutTransferDstOptimal, vk.PipelineStageTransferBit, vk.AccessTransferWriteBit)
		cmd.Dev.CmdClearColorImageUint(cmd.CB, im.img, vk.ImageLayoutTransferDstOptimal, c, im.fullRange())
		im.release(cmd, vk.ImageLayoutTransferDstOptimal, vk.PipelineStageTransferBit, vk.AccessTransferWriteBit)
	}, sync)
}

// ClearDepthStencil fills every level and layer of a depth or stencil
// image with depth and stencil, and waits.
func (im *Image) ClearDepthStencil(depth float32, stencil uint32, sync Sync) error {
	if !im.info.Depth && !im.info.Stencil {
		return fmt.Errorf("vkalloc: ClearDepthStencil on %s, which has neither", im.alloc.Desc.Format)
	}
	return im.submit(func(cmd vkdevice.Commands) {
		im.acquire(cmd, vk.ImageLayoutTransferDstOptimal, vk.PipelineStageTransferBit, vk.AccessTransferWriteBit)
		cmd.Dev.CmdClearDepthStencilImage(cmd.CB, im.img, vk.ImageLayoutTransferDstOptimal, depth, stencil, im.fullRange())
		im.release(cmd, vk.ImageLayoutTransferDstOptimal, vk.PipelineStageTransferBit, vk.AccessTransferWriteBit)
	}, sync)
}

// copyAspect resolves plane p to the VkImageAspectFlagBits of a copy and
// the bytes one texel of it occupies in a buffer (Vulkan's rules for depth
// and stencil copies: D24 depth as 4 bytes, stencil as 1). Plane 0 is the
// depth of a format with depth, and the stencil of a stencil-only one.
func (im *Image) copyAspect(p bridge.Plane) (bit uint32, texelBytes uint32, err error) {
	switch {
	case im.info.Stencil && (p == bridge.PlaneStencil || p == 0 && !im.info.Depth):
		return vk.ImageAspectStencilBit, 1, nil
	case p == bridge.PlaneDepth && im.info.Depth:
		switch im.storage.VkFormat {
		case vkFormatD16Unorm, vkFormatD16UnormS8Uint:
			return vk.ImageAspectDepthBit, 2, nil
		}
		return vk.ImageAspectDepthBit, 4, nil
	case p == bridge.PlaneColor && !im.info.Depth && !im.info.Stencil:
		return vk.ImageAspectColorBit, im.storage.BytesPerBlock, nil
	}
	return 0, 0, fmt.Errorf("vkalloc: %w: plane %d of %s", errBadSubresource, p, im.alloc.Desc.Format)
}

// Depth formats whose depth aspect copies in 2 bytes.
const (
	vkFormatD16Unorm       = 124
	vkFormatD16UnormS8Uint = 128
)

// levelExtent is the size of mip level l.
func (im *Image) levelExtent(l uint32) (w, h, d uint32) {
	w, h, d, _, _, _ = geometry(im.alloc.Desc)
	return max(w>>l, 1), max(h>>l, 1), max(d>>l, 1)
}

// SubresourceSize is the number of bytes ReadPixels returns and WritePixels
// takes for s: tightly packed rows of texels (or 4×4 blocks), the slices of
// a 3D level one after another.
func (im *Image) SubresourceSize(s bridge.Subresource) (uint64, error) {
	if err := im.checkSubresource(s); err != nil {
		return 0, err
	}
	_, texel, err := im.copyAspect(s.Plane)
	if err != nil {
		return 0, err
	}
	w, h, d := im.levelExtent(s.Level)
	bw, bh := max(im.info.BlockWidth, 1), max(im.info.BlockHeight, 1)
	return uint64((w+bw-1)/bw) * uint64((h+bh-1)/bh) * uint64(d) * uint64(texel), nil
}

var errBadSubresource = errors.New("subresource out of range")

func (im *Image) checkSubresource(s bridge.Subresource) error {
	_, _, _, levels, layers, _ := geometry(im.alloc.Desc)
	if s.Level >= levels || s.Layer >= layers {
		return fmt.Errorf("vkalloc: %w: level %d layer %d of an image with %d levels and %d layers", errBadSubresource, s.Level, s.Layer, levels, layers)
	}
	return nil
}

func (im *Image) copyRegion(s bridge.Subresource) vk.BufferImageCopy {
	w, h, d := im.levelExtent(s.Level)
	aspect, _, _ := im.copyAspect(s.Plane)
	return vk.BufferImageCopy{
		AspectMask: aspect, MipLevel: s.Level, BaseArrayLayer: s.Layer, LayerCount: 1,
		Width: w, Height: h, Depth: d,
	}
}

// ReadPixels copies subresource s into host memory through a staging
// buffer, waits, and returns its bytes tightly packed.
//
// A multisampled colour image is first resolved (vkCmdResolveImage) into a
// single-sampled scratch image, since Vulkan copies no multisampled image
// to memory: what comes back is the resolved layer.
func (im *Image) ReadPixels(s bridge.Subresource, sync Sync) ([]byte, error) {
	size, err := im.SubresourceSize(s)
	if err != nil {
		return nil, err
	}
	st, err := im.stage.take(im.dev, im.vkd, size)
	if err != nil {
		return nil, err
	}
	defer im.stage.put()
	src, srcRegion := im.img, im.copyRegion(s)
	var scratch *scratchImage
	if _, _, _, _, _, samples := geometry(im.alloc.Desc); samples > 1 {
		if im.info.Depth || im.info.Stencil {
			return nil, fmt.Errorf("vkalloc: ReadPixels: %w: Vulkan resolves no multisampled depth or stencil image", errBadSubresource)
		}
		w, h, _ := im.levelExtent(0)
		if scratch, err = newScratchImage(im.dev, im.vkd, im.storage.VkFormat, w, h); err != nil {
			return nil, err
		}
		defer scratch.close()
		src, srcRegion = scratch.img, vk.BufferImageCopy{AspectMask: vk.ImageAspectColorBit, LayerCount: 1, Width: w, Height: h, Depth: 1}
	}
	err = im.submit(func(c vkdevice.Commands) {
		im.acquire(c, vk.ImageLayoutTransferSrcOptimal, vk.PipelineStageTransferBit, vk.AccessTransferReadBit)
		if scratch != nil {
			scratch.resolveFrom(c, im.img, s.Layer)
		}
		c.Dev.CmdCopyImageToBuffer(c.CB, src, vk.ImageLayoutTransferSrcOptimal, st.buf, srcRegion)
		c.Dev.CmdBufferBarrier(c.CB, vk.BufferBarrier{
			SrcStage: vk.PipelineStageTransferBit, DstStage: vk.PipelineStageHostBit,
			SrcAccess: vk.AccessTransferWriteBit, DstAccess: vk.AccessHostReadBit,
			SrcQueueFamily: vk.QueueFamilyIgnored, DstQueueFamily: vk.QueueFamilyIgnored,
			Buffer: st.buf, Size: size,
		})
		im.release(c, vk.ImageLayoutTransferSrcOptimal, vk.PipelineStageTransferBit, vk.AccessTransferReadBit)
	}, sync)
	if err != nil {
		return nil, err
	}
	out := make([]byte, size)
	copy(out, st.data[:size])
	return out, nil
}

// WritePixels uploads data, tightly packed as ReadPixels returns it, into
// subresource s, and waits.
func (im *Image) WritePixels(s bridge.Subresource, data []byte, sync Sync) error {
	size, err := im.SubresourceSize(s)
	if err != nil {
		return err
	}
	if _, _, _, _, _, samples := geometry(im.alloc.Desc); samples > 1 {
		return fmt.Errorf("vkalloc: WritePixels: %w: Vulkan copies nothing from memory into a multisampled image; Clear it or render to it", errBadSubresource)
	}
	if uint64(len(data)) != size {
		return fmt.Errorf("vkalloc: WritePixels: %d bytes given for a subresource of %d", len(data), size)
	}
	st, err := im.stage.take(im.dev, im.vkd, size)
	if err != nil {
		return err
	}
	defer im.stage.put()
	copy(st.data, data)
	return im.submit(func(c vkdevice.Commands) {
		im.acquire(c, vk.ImageLayoutTransferDstOptimal, vk.PipelineStageTransferBit, vk.AccessTransferWriteBit)
		c.Dev.CmdCopyBufferToImage(c.CB, st.buf, im.img, vk.ImageLayoutTransferDstOptimal, im.copyRegion(s))
		im.release(c, vk.ImageLayoutTransferDstOptimal, vk.PipelineStageTransferBit, vk.AccessTransferWriteBit)
	}, sync)
}

// scratchImage is a single-sampled image of the device's own, not shared,
// that multisampled images are resolved into.
type scratchImage struct {
	vkd  vk.Device
	img  vk.Image
	mem  vk.DeviceMemory
	w, h uint32
}

func newScratchImage(dev *helperdev.Device, vkd vk.Device, format, w, h uint32) (*scratchImage, error) {
	img, err := vkd.CreateImage(vk.ImageCreateInfo{
		ImageType: vk.ImageType2D, Format: format, Width: w, Height: h, Depth: 1, MipLevels: 1, ArrayLayers: 1,
		Samples: vk.SampleCount1Bit, Tiling: vk.ImageTilingOptimal,
		Usage: vk.ImageUsageTransferSrcBit | vk.ImageUsageTransferDstBit | vk.ImageUsageColorAttachmentBit,
	})
	if err != nil {
		return nil, fmt.Errorf("vkalloc: scratch image: %w", err)
	}
	req := vkd.ImageMemoryRequirements(img)
	ti, err := vkdevice.Of(dev).MemoryTypeIndex(req.MemoryTypeBits, 0)
	if err != nil {
		vkd.DestroyImage(img)
		return nil, fmt.Errorf("vkalloc: scratch image: %w", err)
	}
	mem, err := vkd.AllocateMemory(vk.MemoryAllocateInfo{Size: req.Size, MemoryTypeIndex: ti, ImportFD: -1})
	if err != nil {
		vkd.DestroyImage(img)
		return nil, fmt.Errorf("vkalloc: scratch image: %w", err)
	}
	if err := vkd.BindImageMemory(img, mem, 0); err != nil {
		vkd.FreeMemory(mem)
		vkd.DestroyImage(img)
		return nil, fmt.Errorf("vkalloc: scratch image: %w", err)
	}
	return &scratchImage{vkd: vkd, img: img, mem: mem, w: w, h: h}, nil
}

// resolveFrom records the resolve of layer of src (in TRANSFER_SRC) into
// the scratch image, leaving it in TRANSFER_SRC for a copy.
func (s *scratchImage) resolveFrom(c vkdevice.Commands, src vk.Image, layer uint32) {
	rng := vk.SubresourceRange{AspectMask: vk.ImageAspectColorBit, LevelCount: 1, LayerCount: 1}
	c.Dev.CmdImageBarrier(c.CB, vk.ImageBarrier{
		SrcStage: vk.PipelineStageTopOfPipeBit, DstStage: vk.PipelineStageTransferBit,
		DstAccess: vk.AccessTransferWriteBit,
		OldLayout: vk.ImageLayoutUndefined, NewLayout: vk.ImageLayoutTransferDstOptimal,
		SrcQueueFamily: vk.QueueFamilyIgnored, DstQueueFamily: vk.QueueFamilyIgnored,
		Image: s.img, Range: rng,
	})
	region := vk.ImageRegion{AspectMask: vk.ImageAspectColorBit, LayerCount: 1, X1: int32(s.w), Y1: int32(s.h), Z1: 1}
	srcRegion := region
	srcRegion.BaseArrayLayer = layer
	c.Dev.CmdResolveImage(c.CB, src, vk.ImageLayoutTransferSrcOptimal, s.img, vk.ImageLayoutTransferDstOptimal, srcRegion, region)
	c.Dev.CmdImageBarrier(c.CB, vk.ImageBarrier{
		SrcStage: vk.PipelineStageTransferBit, DstStage: vk.PipelineStageTransferBit,
		SrcAccess: vk.AccessTransferWriteBit, DstAccess: vk.AccessTransferReadBit,
		OldLayout: vk.ImageLayoutTransferDstOptimal, NewLayout: vk.ImageLayoutTransferSrcOptimal,
		SrcQueueFamily: vk.QueueFamilyIgnored, DstQueueFamily: vk.QueueFamilyIgnored,
		Image: s.img, Range: rng,
	})
}

func (s *scratchImage) close() {
	s.vkd.DestroyImage(s.img)
	s.vkd.FreeMemory(s.mem)
}

// stagingCache keeps the staging buffer of an image's or buffer's
// transfers from one call to the next: creating, mapping and first
// touching a host-visible buffer on every call costs more than the copy
// itself on NVIDIA (tens of milliseconds for a 4K frame), and the copy
// path transfers every frame. The buffer grows to the largest transfer
// and is freed by the owner's Close.
type stagingCache struct {
	mu sync.Mutex
	st *staging
}

// take returns a staging buffer of at least size bytes, for the caller
// alone until it calls put.
func (c *stagingCache) take(dev *helperdev.Device, vkd vk.Device, size uint64) (*staging, error) {
	c.mu.Lock()
	if c.st != nil && uint64(len(c.st.data)) >= size {
		return c.st, nil
	}
	if c.st != nil {
		c.st.close()
		c.st = nil
	}
	st, err := newStaging(dev, vkd, size)
	if err != nil {
		c.mu.Unlock()
		return nil, err
	}
	c.st = st
	return st, nil
}

func (c *stagingCache) put() { c.mu.Unlock() }

// release frees the staging buffer.
func (c *stagingCache) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st != nil {
		c.st.close()
		c.st = nil
	}
}

// staging is a host-visible, coherent buffer, mapped for its whole life.
type staging struct {
	vkd  vk.Device
	buf  vk.Buffer
	mem  vk.DeviceMemory
	data []byte
}

func newStaging(dev *helperdev.Device, vkd vk.Device, size uint64) (*staging, error) {
	buf, err := vkd.CreateBuffer(size, vk.BufferUsageTransferSrcBit|vk.BufferUsageTransferDstBit, 0)
	if err != nil {
		return nil, fmt.Errorf("vkalloc: %w", err)
	}
	req := vkd.BufferMemoryRequirements(buf)
	ti, err := vkdevice.Of(dev).MemoryTypeIndex(req.MemoryTypeBits, vk.MemoryPropertyHostVisibleBit|vk.MemoryPropertyHostCoherentBit)
	if err != nil {
		vkd.DestroyBuffer(buf)
		return nil, fmt.Errorf("vkalloc: staging buffer: %w", err)
	}
	mem, err := vkd.AllocateMemory(vk.MemoryAllocateInfo{Size: req.Size, MemoryTypeIndex: ti, ImportFD: -1})
	if err != nil {
		vkd.DestroyBuffer(buf)
		return nil, fmt.Errorf("vkalloc: staging buffer: %w", err)
	}
	if err := vkd.BindBufferMemory(buf, mem, 0); err != nil {
		vkd.FreeMemory(mem)
		vkd.DestroyBuffer(buf)
		return nil, fmt.Errorf("vkalloc: staging buffer: %w", err)
	}
	data, err := vkd.MapMemory(mem, 0, size)
	if err != nil {
		vkd.FreeMemory(mem)
		vkd.DestroyBuffer(buf)
		return nil, fmt.Errorf("vkalloc: staging buffer: %w", err)
	}
	return &staging{vkd: vkd, buf: buf, mem: mem, data: data}, nil
}

func (s *staging) close() {
	s.vkd.UnmapMemory(s.mem)
	s.vkd.DestroyBuffer(s.buf)
	s.vkd.FreeMemory(s.mem)
	s.data = nil
}

// CopyTo copies level 0, layer 0 of im into dst, which must be an image of
// the same device, format and size (the DXVK-role consumer copying a
// shared texture into its own), and waits.
func (im *Image) CopyTo(dst *Image, sync Sync) error {
	if im.dev != dst.dev {
		panic("vkalloc: CopyTo between images of different devices")
	}
	sw, sh, sd := im.levelExtent(0)
	dw, dh, dd := dst.levelExtent(0)
	if im.alloc.VkFormat != dst.alloc.VkFormat || sw != dw || sh != dh || sd != dd {
		return fmt.Errorf("vkalloc: CopyTo: %s %dx%dx%d into %s %dx%dx%d", im.alloc.Desc.Format, sw, sh, sd, dst.alloc.Desc.Format, dw, dh, dd)
	}
	region := vk.ImageRegion{AspectMask: im.aspects(), LayerCount: 1, X1: int32(sw), Y1: int32(sh), Z1: int32(sd)}
	return im.submit(func(c vkdevice.Commands) {
		im.acquire(c, vk.ImageLayoutTransferSrcOptimal, vk.PipelineStageTransferBit, vk.AccessTransferReadBit)
		dst.acquire(c, vk.ImageLayoutTransferDstOptimal, vk.PipelineStageTransferBit, vk.AccessTransferWriteBit)
		c.Dev.CmdCopyImage(c.CB, im.img, vk.ImageLayoutTransferSrcOptimal, dst.img, vk.ImageLayoutTransferDstOptimal, region, region)
		dst.release(c, vk.ImageLayoutTransferDstOptimal, vk.PipelineStageTransferBit, vk.AccessTransferWriteBit)
		im.release(c, vk.ImageLayoutTransferSrcOptimal, vk.PipelineStageTransferBit, vk.AccessTransferReadBit)
	}, sync)
}
