package bridge

import "fmt"

// The host-memory layout lives here, in the resource model, rather than in
// the package that copies: the broker checks a host-memory record's size
// against it, and a client in another language reads it off the wire
// (LevelLayouts), so it must be computable without GL or Vulkan, and in
// one place.

// SubresourceLayout is where one subresource (a mip level of an array
// layer or cube face; the copy path carries no stencil planes) lies in host
// memory.
type SubresourceLayout struct {
	Subresource
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
//     Vulkan format (FormatInfo.VkFormat), BytesPerBlock each.
//
// That is exactly what vkCmdCopyImageToBuffer writes for each subresource
// with bufferRowLength and bufferImageHeight 0, and what glGetTexImage
// returns for a whole level with GL_PACK_ALIGNMENT 1 and the format
// table's GLFormat/GLType (or glGetCompressedTexImage), since a GL level
// of an array is its layers in order. No padding or alignment is added
// anywhere, so Size is the sum of the subresource sizes.
type HostLayout struct {
	Desc Desc
	// Info is the format's table row; Info.BytesPerBlock sizes the texels.
	Info FormatInfo
	// Subresources are in memory order.
	Subresources []SubresourceLayout
	// Size is the total number of bytes.
	Size uint64
}

// LevelLayout is one mip level of a HostLayout: its Layers() subresources
// lie one after another from Offset, SubresourceSize bytes each; within
// one, Rows rows of RowPitch bytes (rows of texels, or of 4×4 blocks),
// Depth times for a 3D level (one slice after another).
//
// It says with a fixed number of fields per level what
// HostLayout.Subresources lists one by one, so that a wire protocol can
// carry a layout whose size does not grow with the array size.
type LevelLayout struct {
	// Width, Height and Depth are the level's size in texels (Depth is
	// the slice count of a 3D level, 1 otherwise).
	Width, Height, Depth uint32
	// Offset is where the level's first subresource begins;
	// SubresourceSize is the size of each of its subresources, which is
	// RowPitch × Rows × Depth.
	Offset, SubresourceSize uint64
	// RowPitch is the size of one row of texels or blocks; Rows is the
	// number of rows in one slice (the height in blocks for
	// block-compressed formats).
	RowPitch, Rows uint32
}

// LayoutOf computes the host-memory layout of desc. It fails, wrapping
// ErrUnsupportedFormat, for what the copy path cannot carry: buffers,
// multisampled textures (neither Vulkan nor GL copies their samples to
// memory) and formats with stencil (whose aspects Vulkan and GL pack
// differently); and for invalid descriptions.
func LayoutOf(desc Desc) (HostLayout, error) {
	if desc.Dimension == DimensionBuffer {
		return HostLayout{}, fmt.Errorf("bridge: %w: a %s: the copy path carries textures only", ErrUnsupportedFormat, desc.Dimension)
	}
	if err := desc.Validate(); err != nil {
		return HostLayout{}, err
	}
	info, err := LookupFormat(desc.Format)
	if err != nil {
		return HostLayout{}, err
	}
	if desc.SampleCount > 1 {
		return HostLayout{}, fmt.Errorf("bridge: %w: %s with %d samples: multisampled textures cannot be copied to memory", ErrUnsupportedFormat, desc.Format, desc.SampleCount)
	}
	if info.Stencil {
		return HostLayout{}, fmt.Errorf("bridge: %w: %s has a stencil aspect, which the copy path does not carry", ErrUnsupportedFormat, desc.Format)
	}
	l := HostLayout{Desc: desc, Info: info}
	w, h, d := desc.Width, max(desc.Height, 1), uint32(1)
	layers := max(desc.DepthOrArraySize, 1)
	switch desc.Dimension {
	case DimensionTexture3D:
		d, layers = layers, 1
	case DimensionTextureCube:
		layers *= 6
	}
	for level := range max(desc.MipLevels, 1) {
		lw, lh, ld := max(w>>level, 1), max(h>>level, 1), max(d>>level, 1)
		pitch, rows := l.rowsOf(lw, lh)
		size := uint64(pitch) * uint64(rows) * uint64(ld)
		for layer := range layers {
			l.Subresources = append(l.Subresources, SubresourceLayout{
				Subresource: Subresource{Level: level, Layer: layer}, Width: lw, Height: lh, Depth: ld,
				Offset: l.Size, Size: size,
			})
			l.Size += size
		}
	}
	return l, nil
}

// rowsOf returns the row pitch and row count of one slice of w×h texels:
// rows of blocks, a partial block counting whole (Vulkan and GL pad lower
// levels smaller than a block).
func (l HostLayout) rowsOf(w, h uint32) (pitch, rows uint32) {
	bw, bh := max(l.Info.BlockWidth, 1), max(l.Info.BlockHeight, 1)
	return (w + bw - 1) / bw * l.Info.BytesPerBlock, (h + bh - 1) / bh
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

// LevelLayouts returns one LevelLayout per mip level, in order: the same
// layout as Subresources, per level rather than per subresource. It is
// nil for a HostLayout that LayoutOf did not make (no subresources).
func (l HostLayout) LevelLayouts() []LevelLayout {
	n := l.Layers()
	if n == 0 {
		return nil
	}
	out := make([]LevelLayout, 0, l.Levels())
	for level := range l.Levels() {
		first := l.Subresources[level*n]
		pitch, rows := l.rowsOf(first.Width, first.Height)
		out = append(out, LevelLayout{
			Width: first.Width, Height: first.Height, Depth: first.Depth,
			Offset: first.Offset, SubresourceSize: first.Size,
			RowPitch: pitch, Rows: rows,
		})
	}
	return out
}
