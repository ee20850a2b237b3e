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
	"sync"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/internal/vk"
)

// RestingLayout is the VkImageLayout images are left in between accesses,
// as a plain number for callers that hand it to GL.
const RestingLayout = vk.ImageLayoutGeneral

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

// NewImage allocates an image for desc with dedicated, exportable memory
// (opaque fd) and hands it to the external queue family in the resting
// layout. The caller owns the Image and must Close it.
func NewImage(dev *helperdev.Device, desc bridge.Desc) (*Image, error) {
	vkd, pd, err := dev.Internal()
	if err != nil {
		return nil, fmt.Errorf("vkalloc: %w", err)
	}
	info, err := bridge.LookupFormat(desc.Format)
	if err != nil {
		return nil, fmt.Errorf("vkalloc: %w", err)
	}
	typ, flags, ok := imageType(desc.Dimension)
	if !ok {
		return nil, fmt.Errorf("vkalloc: %w: %s with %s is not an image", bridge.ErrUnsupportedFormat, desc.Format, desc.Dimension)
	}
	if desc.Width == 0 {
		return nil, fmt.Errorf("vkalloc: invalid Desc: Width = 0")
	}
	// MUTABLE_FORMAT: GL may view the memory with another internal format
	// of the same size (EXT_external_objects issue 13).
	flags |= vk.ImageCreateMutableFormatBit
	w, h, depth, levels, layers, samples := geometry(desc)

	_, optimal, _ := pd.FormatFeatures(info.VkFormat)
	usage := usageFromFeatures(optimal)
	if usage&(vk.ImageUsageTransferSrcBit|vk.ImageUsageTransferDstBit) == 0 {
		return nil, fmt.Errorf("vkalloc: %w: %s (VkFormat %d) has no optimal-tiling transfer support on %q", bridge.ErrUnsupportedFormat, desc.Format, info.VkFormat, dev.Caps().DeviceName)
	}

	// Ask with every usage first; drivers refuse some usages with external
	// memory (storage most often), so shed those before giving up.
	var (
		ext    vk.ExternalMemoryProperties
		limits vk.ImageFormatLimits
		qerr   error
	)
	for _, drop := range []uint32{0, vk.ImageUsageStorageBit, vk.ImageUsageStorageBit | vk.ImageUsageInputAttachmentBit} {
		limits, ext, qerr = pd.ExternalImageFormatProperties(vk.ImageFormatQuery{
			Format: info.VkFormat, Type: typ, Tiling: vk.ImageTilingOptimal, Usage: usage &^ drop, Flags: flags,
			HandleType: vk.ExternalMemoryHandleTypeOpaqueFDBit,
		})
		if qerr == nil {
			usage &^= drop
			break
		}
	}
	if qerr != nil {
		return nil, fmt.Errorf("vkalloc: %w: %s %s: %w", bridge.ErrUnsupportedFormat, desc.Format, desc.Dimension, qerr)
	}
	if ext.Features&vk.ExternalMemoryFeatureExportableBit == 0 {
		return nil, fmt.Errorf("vkalloc: %w: %s %s: not exportable as an opaque fd", bridge.ErrUnsupportedFormat, desc.Format, desc.Dimension)
	}
	if w > limits.MaxExtent[0] || h > limits.MaxExtent[1] || depth > limits.MaxExtent[2] || levels > limits.MaxMipLevels || layers > limits.MaxArrayLayers || samples&limits.SampleCounts == 0 {
		return nil, fmt.Errorf("vkalloc: %w: %s %s %dx%dx%d mips=%d layers=%d samples=%d exceeds the device's limits (%v, mips %d, layers %d, samples %#x)",
			bridge.ErrUnsupportedFormat, desc.Format, desc.Dimension, w, h, depth, levels, layers, samples, limits.MaxExtent, limits.MaxMipLevels, limits.MaxArrayLayers, limits.SampleCounts)
	}

	img, err := vkd.CreateImage(vk.ImageCreateInfo{
		Flags: flags, ImageType: typ, Format: info.VkFormat,
		Width: w, Height: h, Depth: depth, MipLevels: levels, ArrayLayers: layers,
		Samples: samples, Tiling: vk.ImageTilingOptimal, Usage: usage,
		InitialLayout:       vk.ImageLayoutUndefined,
		ExternalHandleTypes: vk.ExternalMemoryHandleTypeOpaqueFDBit,
	})
	if err != nil {
		return nil, fmt.Errorf("vkalloc: %w", err)
	}
	req := vkd.ImageMemoryRequirements(img)
	typeIndex, err := dev.MemoryTypeIndex(req.MemoryTypeBits, 0)
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
		dev: dev, vkd: vkd, img: img, mem: mem, info: info,
		alloc: bridge.Allocation{
			Desc:            desc,
			VkFormat:        info.VkFormat,
			Tiling:          bridge.TilingOptimal,
			ImageUsage:      usage,
			ImageFlags:      flags,
			Size:            req.Size,
			Offset:          0,
			MemoryTypeIndex: typeIndex,
			Dedicated:       true,
			DriverUUID:      caps.DriverUUID,
			DeviceUUID:      caps.DeviceUUID,
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
	vkd, _, err := dev.Internal()
	if err != nil {
		return nil, fmt.Errorf("vkalloc: %w", err)
	}
	caps := dev.Caps()
	if caps.DriverUUID != a.DriverUUID || caps.DeviceUUID != a.DeviceUUID {
		return nil, fmt.Errorf("vkalloc: ImportImage: %w: the record was exported by driver %s device %s; %q is driver %s device %s",
			bridge.ErrUUIDMismatch, a.DriverUUID, a.DeviceUUID, caps.DeviceName, caps.DriverUUID, caps.DeviceUUID)
	}
	info, err := bridge.LookupFormat(a.Desc.Format)
	if err != nil {
		return nil, fmt.Errorf("vkalloc: %w", err)
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
		if typeIndex, err = dev.MemoryTypeIndex(req.MemoryTypeBits, 0); err != nil {
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
	return &Image{dev: dev, vkd: vkd, img: img, mem: mem, alloc: a, info: info}, nil
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
	defer im.mu.Unlock()
	if im.closed {
		return nil
	}
	im.closed = true
	im.vkd.DestroyImage(im.img)
	im.vkd.FreeMemory(im.mem)
	return nil
}

func (im *Image) aspect() uint32 { return vk.ImageAspectColorBit }

func (im *Image) fullRange() vk.SubresourceRange {
	_, _, _, levels, layers, _ := geometry(im.alloc.Desc)
	return vk.SubresourceRange{AspectMask: im.aspect(), LevelCount: levels, LayerCount: layers}
}

// acquire records the barrier that takes the image from the external queue
// family in the resting layout into layout, for the access described.
func (im *Image) acquire(c helperdev.Commands, layout, dstStage, dstAccess uint32) {
	c.Dev.CmdImageBarrier(c.CB, vk.ImageBarrier{
		SrcStage: vk.PipelineStageTopOfPipeBit, DstStage: dstStage,
		DstAccess: dstAccess,
		OldLayout: RestingLayout, NewLayout: layout,
		SrcQueueFamily: vk.QueueFamilyExternal, DstQueueFamily: im.dev.QueueFamily(),
		Image: im.img, Range: im.fullRange(),
	})
}

// release records the barrier that hands the image back to the external
// queue family in the resting layout.
func (im *Image) release(c helperdev.Commands, layout, srcStage, srcAccess uint32) {
	c.Dev.CmdImageBarrier(c.CB, vk.ImageBarrier{
		SrcStage: srcStage, DstStage: vk.PipelineStageBottomOfPipeBit,
		SrcAccess: srcAccess,
		OldLayout: layout, NewLayout: RestingLayout,
		SrcQueueFamily: im.dev.QueueFamily(), DstQueueFamily: vk.QueueFamilyExternal,
		Image: im.img, Range: im.fullRange(),
	})
}

// handOff moves a new image from oldLayout into the resting state.
func (im *Image) handOff(oldLayout uint32) error {
	return im.submit(func(c helperdev.Commands) {
		c.Dev.CmdImageBarrier(c.CB, vk.ImageBarrier{
			SrcStage: vk.PipelineStageTopOfPipeBit, DstStage: vk.PipelineStageBottomOfPipeBit,
			OldLayout: oldLayout, NewLayout: RestingLayout,
			SrcQueueFamily: im.dev.QueueFamily(), DstQueueFamily: vk.QueueFamilyExternal,
			Image: im.img, Range: im.fullRange(),
		})
	}, Sync{})
}

func (im *Image) submit(record func(helperdev.Commands), sync Sync) error {
	im.mu.Lock()
	closed := im.closed
	im.mu.Unlock()
	if closed {
		return fmt.Errorf("vkalloc: %w", bridge.ErrClosed)
	}
	wait, signal, timeline := sync.ops(im.dev)
	if err := im.dev.SubmitSync(record, wait, signal, timeline); err != nil {
		return fmt.Errorf("vkalloc: %w", err)
	}
	return nil
}

// Clear fills every level and layer of the image with colour c (float
// channels in [0,1] for UNORM formats) on the GPU, and waits for it.
// sync says what the access waits for and signals (see Sync).
func (im *Image) Clear(c [4]float32, sync Sync) error {
	return im.submit(func(cmd helperdev.Commands) {
		im.acquire(cmd, vk.ImageLayoutTransferDstOptimal, vk.PipelineStageTransferBit, vk.AccessTransferWriteBit)
		cmd.Dev.CmdClearColorImage(cmd.CB, im.img, vk.ImageLayoutTransferDstOptimal, c, im.fullRange())
		im.release(cmd, vk.ImageLayoutTransferDstOptimal, vk.PipelineStageTransferBit, vk.AccessTransferWriteBit)
	}, sync)
}

// Subresource names one mip level and array layer (or 3D slice range) of
// an image.
type Subresource struct {
	Level, Layer uint32
}

// levelExtent is the size of mip level l.
func (im *Image) levelExtent(l uint32) (w, h, d uint32) {
	w, h, d, _, _, _ = geometry(im.alloc.Desc)
	return max(w>>l, 1), max(h>>l, 1), max(d>>l, 1)
}

// SubresourceSize is the number of bytes ReadPixels returns and WritePixels
// takes for s: tightly packed rows of texels (or 4×4 blocks).
func (im *Image) SubresourceSize(s Subresource) uint64 {
	w, h, d := im.levelExtent(s.Level)
	bw, bh := max(im.info.BlockWidth, 1), max(im.info.BlockHeight, 1)
	return uint64((w+bw-1)/bw) * uint64((h+bh-1)/bh) * uint64(d) * uint64(im.info.BytesPerBlock)
}

var errBadSubresource = errors.New("subresource out of range")

func (im *Image) checkSubresource(s Subresource) error {
	_, _, _, levels, layers, _ := geometry(im.alloc.Desc)
	if s.Level >= levels || s.Layer >= layers {
		return fmt.Errorf("vkalloc: %w: level %d layer %d of an image with %d levels and %d layers", errBadSubresource, s.Level, s.Layer, levels, layers)
	}
	return nil
}

func (im *Image) copyRegion(s Subresource) vk.BufferImageCopy {
	w, h, d := im.levelExtent(s.Level)
	return vk.BufferImageCopy{
		AspectMask: im.aspect(), MipLevel: s.Level, BaseArrayLayer: s.Layer, LayerCount: 1,
		Width: w, Height: h, Depth: d,
	}
}

// ReadPixels copies subresource s into host memory through a staging
// buffer, waits, and returns its bytes tightly packed.
func (im *Image) ReadPixels(s Subresource, sync Sync) ([]byte, error) {
	if err := im.checkSubresource(s); err != nil {
		return nil, err
	}
	size := im.SubresourceSize(s)
	st, err := newStaging(im.dev, im.vkd, size)
	if err != nil {
		return nil, err
	}
	defer st.close()
	err = im.submit(func(c helperdev.Commands) {
		im.acquire(c, vk.ImageLayoutTransferSrcOptimal, vk.PipelineStageTransferBit, vk.AccessTransferReadBit)
		c.Dev.CmdCopyImageToBuffer(c.CB, im.img, vk.ImageLayoutTransferSrcOptimal, st.buf, im.copyRegion(s))
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
	copy(out, st.data)
	return out, nil
}

// WritePixels uploads data, tightly packed as ReadPixels returns it, into
// subresource s, and waits.
func (im *Image) WritePixels(s Subresource, data []byte, sync Sync) error {
	if err := im.checkSubresource(s); err != nil {
		return err
	}
	size := im.SubresourceSize(s)
	if uint64(len(data)) != size {
		return fmt.Errorf("vkalloc: WritePixels: %d bytes given for a subresource of %d", len(data), size)
	}
	st, err := newStaging(im.dev, im.vkd, size)
	if err != nil {
		return err
	}
	defer st.close()
	copy(st.data, data)
	return im.submit(func(c helperdev.Commands) {
		im.acquire(c, vk.ImageLayoutTransferDstOptimal, vk.PipelineStageTransferBit, vk.AccessTransferWriteBit)
		c.Dev.CmdCopyBufferToImage(c.CB, st.buf, im.img, vk.ImageLayoutTransferDstOptimal, im.copyRegion(s))
		im.release(c, vk.ImageLayoutTransferDstOptimal, vk.PipelineStageTransferBit, vk.AccessTransferWriteBit)
	}, sync)
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
	ti, err := dev.MemoryTypeIndex(req.MemoryTypeBits, vk.MemoryPropertyHostVisibleBit|vk.MemoryPropertyHostCoherentBit)
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
	region := vk.ImageRegion{AspectMask: im.aspect(), LayerCount: 1, X1: int32(sw), Y1: int32(sh), Z1: int32(sd)}
	return im.submit(func(c helperdev.Commands) {
		im.acquire(c, vk.ImageLayoutTransferSrcOptimal, vk.PipelineStageTransferBit, vk.AccessTransferReadBit)
		dst.acquire(c, vk.ImageLayoutTransferDstOptimal, vk.PipelineStageTransferBit, vk.AccessTransferWriteBit)
		c.Dev.CmdCopyImage(c.CB, im.img, vk.ImageLayoutTransferSrcOptimal, dst.img, vk.ImageLayoutTransferDstOptimal, region, region)
		dst.release(c, vk.ImageLayoutTransferDstOptimal, vk.PipelineStageTransferBit, vk.AccessTransferWriteBit)
		im.release(c, vk.ImageLayoutTransferSrcOptimal, vk.PipelineStageTransferBit, vk.AccessTransferReadBit)
	}, sync)
}
