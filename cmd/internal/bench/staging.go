package bench

import (
	"fmt"

	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/internal/vk"
	"github.com/glbridge/glbridge/vkalloc"
)

// Staging says how the copy path's upload gets the texels to the GPU.
type Staging string

// Staging strategies.
const (
	// StagingPersistent keeps one mapped staging buffer for the whole run,
	// as any streaming uploader does: each frame is one memcpy into it and
	// one vkCmdCopyBufferToImage. It gives the copy path its best case.
	StagingPersistent Staging = "persistent"
	// StagingPerFrame calls vkalloc's Image.WritePixels, which creates,
	// maps and frees a staging buffer on every call.
	StagingPerFrame Staging = "per-frame"
)

// persistentUploader uploads whole frames into a 2D colour image of the
// helper device through a staging buffer made once. vkalloc has no such
// call (its WritePixels is a one-shot upload), so this records the same
// commands it does, with the same hand-over: the image is acquired from
// VK_QUEUE_FAMILY_EXTERNAL in vkalloc.RestingLayout and released back.
type persistentUploader struct {
	dev  *helperdev.Device
	vkd  vk.Device
	img  vk.Image
	w, h uint32
	buf  vk.Buffer
	mem  vk.DeviceMemory
	data []byte
}

// newPersistentUploader makes a host-visible, coherent buffer of size bytes
// for uploads into img, level 0 layer 0 of a w×h colour image whose
// texels are size/(w*h) bytes. The caller owns it and closes it before
// the image and the device.
func newPersistentUploader(dev *helperdev.Device, img *vkalloc.Image, size uint64) (*persistentUploader, error) {
	vkd, _, err := dev.Internal()
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	d := img.Allocation().Desc
	u := &persistentUploader{dev: dev, vkd: vkd, img: vk.Image(img.Handle()), w: d.Width, h: d.Height}
	if u.buf, err = vkd.CreateBuffer(size, vk.BufferUsageTransferSrcBit, 0); err != nil {
		return nil, fmt.Errorf("bench: staging buffer: %w", err)
	}
	req := vkd.BufferMemoryRequirements(u.buf)
	ti, err := dev.MemoryTypeIndex(req.MemoryTypeBits, vk.MemoryPropertyHostVisibleBit|vk.MemoryPropertyHostCoherentBit)
	if err != nil {
		u.close()
		return nil, fmt.Errorf("bench: staging buffer: %w", err)
	}
	if u.mem, err = vkd.AllocateMemory(vk.MemoryAllocateInfo{Size: req.Size, MemoryTypeIndex: ti, ImportFD: -1}); err != nil {
		u.close()
		return nil, fmt.Errorf("bench: staging buffer: %w", err)
	}
	if err := vkd.BindBufferMemory(u.buf, u.mem, 0); err != nil {
		u.close()
		return nil, fmt.Errorf("bench: staging buffer: %w", err)
	}
	if u.data, err = vkd.MapMemory(u.mem, 0, size); err != nil {
		u.close()
		return nil, fmt.Errorf("bench: staging buffer: %w", err)
	}
	return u, nil
}

func (u *persistentUploader) upload(data []byte) error {
	if len(data) != len(u.data) {
		panic(fmt.Sprintf("bench: upload of %d bytes into a staging buffer of %d", len(data), len(u.data)))
	}
	copy(u.data, data)
	rng := vk.SubresourceRange{AspectMask: vk.ImageAspectColorBit, LevelCount: 1, LayerCount: 1}
	family := u.dev.QueueFamily()
	err := u.dev.Submit(func(c helperdev.Commands) {
		c.Dev.CmdImageBarrier(c.CB, vk.ImageBarrier{
			SrcStage: vk.PipelineStageTopOfPipeBit, DstStage: vk.PipelineStageTransferBit,
			DstAccess: vk.AccessTransferWriteBit,
			OldLayout: vkalloc.RestingLayout, NewLayout: vk.ImageLayoutTransferDstOptimal,
			SrcQueueFamily: vk.QueueFamilyExternal, DstQueueFamily: family,
			Image: u.img, Range: rng,
		})
		c.Dev.CmdCopyBufferToImage(c.CB, u.buf, u.img, vk.ImageLayoutTransferDstOptimal, vk.BufferImageCopy{
			AspectMask: vk.ImageAspectColorBit, LayerCount: 1, Width: u.w, Height: u.h, Depth: 1,
		})
		c.Dev.CmdImageBarrier(c.CB, vk.ImageBarrier{
			SrcStage: vk.PipelineStageTransferBit, DstStage: vk.PipelineStageBottomOfPipeBit,
			SrcAccess: vk.AccessTransferWriteBit,
			OldLayout: vk.ImageLayoutTransferDstOptimal, NewLayout: vkalloc.RestingLayout,
			SrcQueueFamily: family, DstQueueFamily: vk.QueueFamilyExternal,
			Image: u.img, Range: rng,
		})
	})
	if err != nil {
		return fmt.Errorf("bench: upload: %w", err)
	}
	return nil
}

func (u *persistentUploader) close() {
	if u.data != nil {
		u.vkd.UnmapMemory(u.mem)
		u.data = nil
	}
	if u.buf != 0 {
		u.vkd.DestroyBuffer(u.buf)
		u.buf = 0
	}
	if u.mem != 0 {
		u.vkd.FreeMemory(u.mem)
		u.mem = 0
	}
}
