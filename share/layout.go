package share

import (
	"fmt"

	"github.com/glbridge/glbridge/bridge"
)

// SubresourceLayout is where one subresource (a mip level of an array
// layer or cube face; the copy path carries no stencil planes) lies in host
// memory.
type SubresourceLayout struct {
	bridge.Subresource
	// Width, Height and Depth are the level's size in texels (Depth is
	// the slice count of a 3D level, 1 otherwise).
	Width, Height, Depth uint32
	// Offset and Size locate the subresource's bytes in the memory.
	Offset, Size uint64
}

// HostLayout is how a resource's texels lie in shared host memory (an
// Allocation with HostMemory set):
//
//   - subresources one after another, level-major: every layer of level 0,
//     then every layer of level 1, and so on;
//   - within a subresource, tightly packed rows of texels (or of 4×4
//     blocks for block-compressed formats), the first row being the one
//     Vulkan and Direct3D call the top and GL calls y = 0; the slices of a
//     3D level one after another;
//   - texels as the format's Direct3D bytes: the bytes of its preferred
//     Vulkan format (bridge.FormatInfo.VkFormat), BytesPerBlock each.
//
// That is exactly what vkCmdCopyImageToBuffer writes for each subresource
// with bufferRowLength and bufferImageHeight 0, and what glGetTexImage
// returns for a whole level with GL_PACK_ALIGNMENT 1 and the format
// table's GLFormat/GLType (or glGetCompressedTexImage), since a GL level
// of an array is its layers in order. No padding or alignment is added
// anywhere, so Size is the sum of the subresource sizes.
type HostLayout struct {
	Desc bridge.Desc
	// Info is the format's table row; Info.BytesPerBlock sizes the texels.
	Info bridge.FormatInfo
	// Subresources are in memory order.
	Subresources []SubresourceLayout
	// Size is the total number of bytes.
	Size uint64
}

// LayoutOf computes the host-memory layout of desc. It fails, wrapping
// bridge.ErrUnsupportedFormat, for what the copy path cannot carry:
// buffers, multisampled textures (neither Vulkan nor GL copies their
// samples to memory) and formats with stencil (whose aspects Vulkan and GL
// pack differently); and for invalid descriptions.
func LayoutOf(desc bridge.Desc) (HostLayout, error) {
	if desc.Dimension == bridge.DimensionBuffer {
		return HostLayout{}, fmt.Errorf("share: %w: a %s: the copy path carries textures only", bridge.ErrUnsupportedFormat, desc.Dimension)
	}
	if err := desc.Validate(); err != nil {
		return HostLayout{}, fmt.Errorf("share: %w", err)
	}
	info, err := bridge.LookupFormat(desc.Format)
	if err != nil {
		return HostLayout{}, fmt.Errorf("share: %w", err)
	}
	if desc.SampleCount > 1 {
		return HostLayout{}, fmt.Errorf("share: %w: %s with %d samples: multisampled textures cannot be copied to memory", bridge.ErrUnsupportedFormat, desc.Format, desc.SampleCount)
	}
	if info.Stencil {
		return HostLayout{}, fmt.Errorf("share: %w: %s has a stencil aspect, which the copy path does not carry", bridge.ErrUnsupportedFormat, desc.Format)
	}
	l := HostLayout{Desc: desc, Info: info}
	w, h, d := desc.Width, max(desc.Height, 1), uint32(1)
	layers := max(desc.DepthOrArraySize, 1)
	switch desc.Dimension {
	case bridge.DimensionTexture3D:
		d, layers = layers, 1
	case bridge.DimensionTextureCube:
		layers *= 6
	}
	bw, bh := max(info.BlockWidth, 1), max(info.BlockHeight, 1)
	for level := range max(desc.MipLevels, 1) {
		lw, lh, ld := max(w>>level, 1), max(h>>level, 1), max(d>>level, 1)
		size := uint64((lw+bw-1)/bw) * uint64((lh+bh-1)/bh) * uint64(ld) * uint64(info.BytesPerBlock)
		for layer := range layers {
			l.Subresources = append(l.Subresources, SubresourceLayout{
				Subresource: bridge.Subresource{Level: level, Layer: layer}, Width: lw, Height: lh, Depth: ld,
				Offset: l.Size, Size: size,
			})
			l.Size += size
		}
	}
	return l, nil
}

// Levels returns the mip level count.
func (l HostLayout) Levels() uint32 { return max(l.Desc.MipLevels, 1) }

// Layers returns the number of subresources per level: array layers
// (times 6 for cubes), 1 for 3D textures.
func (l HostLayout) Layers() uint32 { return uint32(len(l.Subresources)) / l.Levels() }

// LevelRange returns the offset and size of the bytes of every layer of
// level, which lie together.
func (l HostLayout) LevelRange(level uint32) (offset, size uint64) {
	n := l.Layers()
	first := l.Subresources[level*n]
	last := l.Subresources[level*n+n-1]
	return first.Offset, last.Offset + last.Size - first.Offset
}
