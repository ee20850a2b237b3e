package vkalloc

import (
	"fmt"
	"sync"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/internal/vk"
	"github.com/glbridge/glbridge/internal/vkdevice"
)

// bufferUsage is every usage a shared buffer may be put to: GL decides
// after the import whether it is a vertex, index, uniform, storage or
// texel buffer, so the Vulkan buffer must allow all of them.
const bufferUsage = vk.BufferUsageTransferSrcBit | vk.BufferUsageTransferDstBit |
	vk.BufferUsageUniformTexelBit | vk.BufferUsageStorageTexelBit |
	vk.BufferUsageUniformBufferBit | vk.BufferUsageStorageBufferBit |
	vk.BufferUsageIndexBufferBit | vk.BufferUsageVertexBufferBit

// bufferPadding is how many bytes beyond the resource a shared buffer's
// VkBuffer covers. Mesa's llvmpipe refuses glBufferStorageMemEXT with
// GL_OUT_OF_MEMORY unless the memory object is at least 8 bytes larger than
// the GL buffer, and a dedicated allocation is exactly as large as its
// buffer; so the buffer is made larger than Desc.Width (rounded to 64
// bytes, plus 64). Importers compute the same size from Desc.Width.
const bufferPadding = 64

func paddedBufferSize(width uint32) uint64 {
	return (uint64(width)+bufferPadding-1)&^(bufferPadding-1) + bufferPadding
}

// BufferSupport is what the device can do with shared buffers.
type BufferSupport struct {
	Exportable, Importable, DedicatedOnly bool
}

// QueryBufferSupport reports whether buffers with every usage a shared
// buffer gets can be exported and imported as opaque fds on dev.
func QueryBufferSupport(dev *helperdev.Device) (BufferSupport, error) {
	_, pd, err := binding(dev)
	if err != nil {
		return BufferSupport{}, fmt.Errorf("vkalloc: %w", err)
	}
	ext := pd.ExternalBufferProperties(0, bufferUsage, vk.ExternalMemoryHandleTypeOpaqueFDBit)
	return BufferSupport{
		Exportable:    ext.Features&vk.ExternalMemoryFeatureExportableBit != 0,
		Importable:    ext.Features&vk.ExternalMemoryFeatureImportableBit != 0,
		DedicatedOnly: ext.Features&vk.ExternalMemoryFeatureDedicatedOnlyBit != 0,
	}, nil
}

// Buffer is a Vulkan buffer with its own dedicated memory, allocated here
// for export (NewBuffer) or imported from an fd (ImportBuffer). Between
// accesses it is owned by VK_QUEUE_FAMILY_EXTERNAL, as images are.
type Buffer struct {
	dev   *helperdev.Device
	vkd   vk.Device
	buf   vk.Buffer
	mem   vk.DeviceMemory
	alloc bridge.Allocation

	// stage serves ReadBytes and WriteBytes.
	stage stagingCache

	mu     sync.Mutex
	closed bool
}

// NewBuffer allocates a buffer of desc.Width bytes (desc.Dimension must be
// DimensionBuffer) with dedicated, exportable memory. The caller owns it
// and must Close it.
func NewBuffer(dev *helperdev.Device, desc bridge.Desc) (*Buffer, error) {
	vkd, pd, err := binding(dev)
	if err != nil {
		return nil, fmt.Errorf("vkalloc: %w", err)
	}
	if desc.Dimension != bridge.DimensionBuffer {
		return nil, fmt.Errorf("vkalloc: NewBuffer: %w: Dimension = %s", bridge.ErrInvalidDesc, desc.Dimension)
	}
	if err := desc.Validate(); err != nil {
		return nil, fmt.Errorf("vkalloc: %w", err)
	}
	ext := pd.ExternalBufferProperties(0, bufferUsage, vk.ExternalMemoryHandleTypeOpaqueFDBit)
	if ext.Features&vk.ExternalMemoryFeatureExportableBit == 0 {
		return nil, fmt.Errorf("vkalloc: %w: %s: buffers are not exportable as opaque fds on %q", bridge.ErrUnsupportedFormat, desc.Dimension, dev.Caps().DeviceName)
	}
	buf, err := vkd.CreateBuffer(paddedBufferSize(desc.Width), bufferUsage, vk.ExternalMemoryHandleTypeOpaqueFDBit)
	if err != nil {
		return nil, fmt.Errorf("vkalloc: %w", err)
	}
	req := vkd.BufferMemoryRequirements(buf)
	typeIndex, err := vkdevice.Of(dev).MemoryTypeIndex(req.MemoryTypeBits, 0)
	if err != nil {
		vkd.DestroyBuffer(buf)
		return nil, fmt.Errorf("vkalloc: %w", err)
	}
	mem, err := vkd.AllocateMemory(vk.MemoryAllocateInfo{
		Size: req.Size, MemoryTypeIndex: typeIndex,
		ExportHandleTypes: vk.ExternalMemoryHandleTypeOpaqueFDBit,
		ImportFD:          -1,
		DedicatedBuffer:   buf,
	})
	if err != nil {
		vkd.DestroyBuffer(buf)
		return nil, fmt.Errorf("vkalloc: %w", err)
	}
	if err := vkd.BindBufferMemory(buf, mem, 0); err != nil {
		vkd.FreeMemory(mem)
		vkd.DestroyBuffer(buf)
		return nil, fmt.Errorf("vkalloc: %w", err)
	}
	caps := dev.Caps()
	return &Buffer{dev: dev, vkd: vkd, buf: buf, mem: mem, alloc: bridge.Allocation{
		Desc: desc, Size: req.Size, MemoryTypeIndex: typeIndex, Dedicated: true,
		Device: bridge.DeviceID{Driver: caps.Device.Driver, Device: caps.Device.Device},
	}}, nil
}

// ImportBuffer opens, on dev, a buffer exported elsewhere. On success the
// Buffer owns fd; on failure the caller still does.
func ImportBuffer(dev *helperdev.Device, a bridge.Allocation, fd int) (*Buffer, error) {
	vkd, _, err := binding(dev)
	if err != nil {
		return nil, fmt.Errorf("vkalloc: %w", err)
	}
	caps := dev.Caps()
	if caps.Device.Driver != a.Device.Driver || caps.Device.Device != a.Device.Device {
		return nil, fmt.Errorf("vkalloc: ImportBuffer: %w: the record was exported by driver %s device %s; %q is driver %s device %s",
			bridge.ErrUUIDMismatch, a.Device.Driver, a.Device.Device, caps.DeviceName, caps.Device.Driver, caps.Device.Device)
	}
	if a.Desc.Dimension != bridge.DimensionBuffer {
		return nil, fmt.Errorf("vkalloc: ImportBuffer: %w: Dimension = %s", bridge.ErrInvalidDesc, a.Desc.Dimension)
	}
	if err := a.Desc.Validate(); err != nil {
		return nil, fmt.Errorf("vkalloc: ImportBuffer: %w", err)
	}
	buf, err := vkd.CreateBuffer(paddedBufferSize(a.Desc.Width), bufferUsage, vk.ExternalMemoryHandleTypeOpaqueFDBit)
	if err != nil {
		return nil, fmt.Errorf("vkalloc: %w", err)
	}
	req := vkd.BufferMemoryRequirements(buf)
	if req.Size > a.Size {
		vkd.DestroyBuffer(buf)
		return nil, fmt.Errorf("vkalloc: ImportBuffer: the buffer needs %d bytes but the record's allocation has %d", req.Size, a.Size)
	}
	typeIndex := a.MemoryTypeIndex
	if req.MemoryTypeBits&(1<<typeIndex) == 0 {
		if typeIndex, err = vkdevice.Of(dev).MemoryTypeIndex(req.MemoryTypeBits, 0); err != nil {
			vkd.DestroyBuffer(buf)
			return nil, fmt.Errorf("vkalloc: %w", err)
		}
	}
	ai := vk.MemoryAllocateInfo{Size: a.Size, MemoryTypeIndex: typeIndex, ImportFD: fd, ImportHandleType: vk.ExternalMemoryHandleTypeOpaqueFDBit}
	if a.Dedicated {
		ai.DedicatedBuffer = buf
	}
	mem, err := vkd.AllocateMemory(ai)
	if err != nil {
		vkd.DestroyBuffer(buf)
		return nil, fmt.Errorf("vkalloc: %w", err)
	}
	if err := vkd.BindBufferMemory(buf, mem, a.Offset); err != nil {
		vkd.FreeMemory(mem)
		vkd.DestroyBuffer(buf)
		return nil, fmt.Errorf("vkalloc: %w", err)
	}
	return &Buffer{dev: dev, vkd: vkd, buf: buf, mem: mem, alloc: a}, nil
}

// Allocation returns the record an importer needs with the memory fd.
func (b *Buffer) Allocation() bridge.Allocation { return b.alloc }

// Handle returns the VkBuffer.
func (b *Buffer) Handle() uint64 { return uint64(b.buf) }

// ExportFD returns a new fd for the buffer's memory; the caller owns it.
func (b *Buffer) ExportFD() (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return -1, fmt.Errorf("vkalloc: ExportFD: %w", bridge.ErrClosed)
	}
	fd, err := b.vkd.GetMemoryFD(b.mem, vk.ExternalMemoryHandleTypeOpaqueFDBit)
	if err != nil {
		return -1, fmt.Errorf("vkalloc: %w", err)
	}
	return fd, nil
}

// Close destroys the buffer and frees its memory; it is idempotent.
func (b *Buffer) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	// After closed is set no transfer starts; release waits for one in
	// flight to put its staging buffer back.
	b.stage.release()
	b.vkd.DestroyBuffer(b.buf)
	b.vkd.FreeMemory(b.mem)
	return nil
}

func (b *Buffer) checkRange(off, n uint64) error {
	if n == 0 || off+n < off || off+n > uint64(b.alloc.Desc.Width) {
		return fmt.Errorf("vkalloc: range [%d, %d+%d) outside a buffer of %d bytes", off, off, n, b.alloc.Desc.Width)
	}
	return nil
}

// barrier records an ownership transfer of the whole buffer: from the
// external queue family when acquire, back to it otherwise.
func (b *Buffer) barrier(c vkdevice.Commands, acquire bool, access uint32) {
	bb := vk.BufferBarrier{Buffer: b.buf, Size: ^uint64(0)}
	if acquire {
		bb.SrcStage, bb.DstStage = vk.PipelineStageTopOfPipeBit, vk.PipelineStageTransferBit
		bb.DstAccess = access
		bb.SrcQueueFamily, bb.DstQueueFamily = vk.QueueFamilyExternal, vkdevice.Of(b.dev).Family
	} else {
		bb.SrcStage, bb.DstStage = vk.PipelineStageTransferBit, vk.PipelineStageBottomOfPipeBit
		bb.SrcAccess = access
		bb.SrcQueueFamily, bb.DstQueueFamily = vkdevice.Of(b.dev).Family, vk.QueueFamilyExternal
	}
	c.Dev.CmdBufferBarrier(c.CB, bb)
}

func (b *Buffer) submit(record func(vkdevice.Commands), sync Sync) error {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return fmt.Errorf("vkalloc: %w", bridge.ErrClosed)
	}
	wait, signal, timeline := sync.ops(b.dev)
	if err := vkdevice.Of(b.dev).Submit(record, wait, signal, timeline); err != nil {
		return fmt.Errorf("vkalloc: %w", err)
	}
	return nil
}

// ReadBytes copies n bytes at off out of the buffer on the GPU, waits and
// returns them.
func (b *Buffer) ReadBytes(off, n uint64, sync Sync) ([]byte, error) {
	if err := b.checkRange(off, n); err != nil {
		return nil, err
	}
	st, err := b.stage.take(b.dev, b.vkd, n)
	if err != nil {
		return nil, err
	}
	defer b.stage.put()
	err = b.submit(func(c vkdevice.Commands) {
		b.barrier(c, true, vk.AccessTransferReadBit)
		c.Dev.CmdCopyBuffer(c.CB, b.buf, st.buf, off, 0, n)
		c.Dev.CmdBufferBarrier(c.CB, vk.BufferBarrier{
			SrcStage: vk.PipelineStageTransferBit, DstStage: vk.PipelineStageHostBit,
			SrcAccess: vk.AccessTransferWriteBit, DstAccess: vk.AccessHostReadBit,
			SrcQueueFamily: vk.QueueFamilyIgnored, DstQueueFamily: vk.QueueFamilyIgnored,
			Buffer: st.buf, Size: n,
		})
		b.barrier(c, false, vk.AccessTransferReadBit)
	}, sync)
	if err != nil {
		return nil, err
	}
	out := make([]byte, n)
	copy(out, st.data)
	return out, nil
}

// WriteBytes copies data into the buffer at off on the GPU and waits.
func (b *Buffer) WriteBytes(off uint64, data []byte, sync Sync) error {
	if err := b.checkRange(off, uint64(len(data))); err != nil {
		return err
	}
	st, err := b.stage.take(b.dev, b.vkd, uint64(len(data)))
	if err != nil {
		return err
	}
	defer b.stage.put()
	copy(st.data, data)
	return b.submit(func(c vkdevice.Commands) {
		b.barrier(c, true, vk.AccessTransferWriteBit)
		c.Dev.CmdCopyBuffer(c.CB, st.buf, b.buf, 0, off, uint64(len(data)))
		b.barrier(c, false, vk.AccessTransferWriteBit)
	}, sync)
}
