package bridge

import (
	"fmt"
	"math/bits"
	"strings"
)

// Direct3D 11 limits (D3D11_REQ_*), which are also D3D12's. A shared
// resource must fit the strictest API that may open it.
const (
	// MaxTextureDimension is the largest width or height of a 1D, 2D or
	// cube texture.
	MaxTextureDimension = 16384
	// MaxTexture3DDimension is the largest width, height or depth of a 3D
	// texture.
	MaxTexture3DDimension = 2048
	// MaxArraySize is the most array layers of a 1D or 2D texture; a cube
	// array may hold MaxArraySize/6 cubes.
	MaxArraySize = 2048
	// MaxSampleCount is the largest sample count Direct3D defines.
	MaxSampleCount = 32
)

// The D3D11 bits Validate reads from BindFlags and MiscFlags (package
// bridge/d3d has the full sets; it imports bridge, so bridge cannot import
// it).
const (
	bindRenderTarget = 0x20 // D3D11_BIND_RENDER_TARGET
	bindDepthStencil = 0x40 // D3D11_BIND_DEPTH_STENCIL
	miscTextureCube  = 0x4  // D3D11_RESOURCE_MISC_TEXTURECUBE
)

// Texture2D is the description of a plain 2D texture: one array layer,
// one mip level, one sample, no flags, as CD3D11_TEXTURE2D_DESC defaults
// them. Callers set the fields they need beyond that.
func Texture2D(width, height uint32, format Format) Desc {
	return Desc{
		Dimension: DimensionTexture2D, Width: width, Height: height,
		DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1, Format: format,
	}
}

// MaxMipLevels returns the length of a full mip chain for a resource of
// the given size: floor(log2(largest dimension)) + 1. Depth counts only for
// 3D textures.
func (d Desc) MaxMipLevels() uint32 {
	m := max(d.Width, d.Height)
	if d.Dimension == DimensionTexture3D {
		m = max(m, d.DepthOrArraySize)
	}
	if m == 0 {
		return 0
	}
	return uint32(bits.Len32(m))
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("bridge: %w: %s", ErrInvalidDesc, fmt.Sprintf(format, args...))
}

// Validate checks d against the Direct3D rules for its dimension and
// returns an error wrapping ErrInvalidDesc that names the first bad field
// and its value, e.g. "bridge: invalid Desc: Height = 0 for texture2d".
//
// Desc describes a resource that exists, so counts are explicit: a
// MipLevels of 0 (Direct3D's "full chain" at creation) is invalid here;
// the converters in bridge/d3d resolve it.
//
// The rules:
//   - buffer: Width ≥ 1 bytes; Height, DepthOrArraySize, MipLevels and
//     SampleCount 1; Format UNKNOWN.
//   - textures: Format in the format table (the error then also wraps
//     ErrUnsupportedFormat); every size ≥ 1; MipLevels at most
//     MaxMipLevels; SampleCount a power of two ≤ 32.
//   - texture1d: Height 1, Width ≤ 16384, array ≤ 2048.
//   - texture2d: Width, Height ≤ 16384, array ≤ 2048.
//   - texture3d: Width, Height, depth ≤ 2048; no depth formats.
//   - texturecube: Width == Height ≤ 16384; DepthOrArraySize counts cubes,
//     at most 2048/6 = 341; MiscFlags has D3D11_RESOURCE_MISC_TEXTURECUBE
//     (and no other dimension has it).
//   - SampleCount > 1 only for texture2d with MipLevels 1, and not for
//     block-compressed formats.
//   - block-compressed formats: not texture1d (Direct3D has no 1D BC
//     textures), and Width and Height of the top level multiples of the
//     4×4 block, as Direct3D 10 and later require. Lower levels may be
//     smaller than a block; Vulkan and GL pad them.
//   - BindFlags: D3D11_BIND_DEPTH_STENCIL only with a depth format,
//     D3D11_BIND_RENDER_TARGET only without one.
func (d Desc) Validate() error {
	if d.Dimension == DimensionBuffer {
		switch {
		case d.Width == 0:
			return invalid("Width = 0 for buffer")
		case d.Height != 1:
			return invalid("Height = %d for buffer, want 1", d.Height)
		case d.DepthOrArraySize != 1:
			return invalid("DepthOrArraySize = %d for buffer, want 1", d.DepthOrArraySize)
		case d.MipLevels != 1:
			return invalid("MipLevels = %d for buffer, want 1", d.MipLevels)
		case d.SampleCount != 1:
			return invalid("SampleCount = %d for buffer, want 1", d.SampleCount)
		case d.Format != FormatUnknown:
			return invalid("Format = %v for buffer, want UNKNOWN", d.Format)
		case d.MiscFlags&miscTextureCube != 0:
			return invalid("MiscFlags = %#x for buffer: TEXTURECUBE set", d.MiscFlags)
		case d.BindFlags&(bindRenderTarget|bindDepthStencil) != 0:
			return invalid("BindFlags = %#x for buffer: render target or depth-stencil bind", d.BindFlags)
		}
		return nil
	}
	dim := d.Dimension
	switch dim {
	case DimensionTexture1D, DimensionTexture2D, DimensionTexture3D, DimensionTextureCube:
	default:
		return invalid("Dimension = %v", dim)
	}
	fi, err := LookupFormat(d.Format)
	if err != nil {
		return fmt.Errorf("bridge: %w: Format = %v for %v: %w", ErrInvalidDesc, d.Format, dim, ErrUnsupportedFormat)
	}
	switch {
	case d.Width == 0:
		return invalid("Width = 0 for %v", dim)
	case d.Height == 0:
		return invalid("Height = 0 for %v", dim)
	case d.DepthOrArraySize == 0:
		return invalid("DepthOrArraySize = 0 for %v", dim)
	case d.MipLevels == 0:
		return invalid("MipLevels = 0 for %v: counts are explicit", dim)
	case d.SampleCount == 0:
		return invalid("SampleCount = 0 for %v", dim)
	}
	// Each size against its limit; unit words the limit ("%d array
	// layers").
	type limit struct {
		field  string
		v, max uint32
		unit   string
	}
	var limits []limit
	switch dim {
	case DimensionTexture1D:
		if d.Height != 1 {
			return invalid("Height = %d for texture1d, want 1", d.Height)
		}
		limits = []limit{{"Width", d.Width, MaxTextureDimension, "%d"}, {"DepthOrArraySize", d.DepthOrArraySize, MaxArraySize, "%d array layers"}}
	case DimensionTexture2D:
		limits = []limit{{"Width", d.Width, MaxTextureDimension, "%d"}, {"Height", d.Height, MaxTextureDimension, "%d"},
			{"DepthOrArraySize", d.DepthOrArraySize, MaxArraySize, "%d array layers"}}
	case DimensionTexture3D:
		if fi.Depth {
			return invalid("Format = %v for texture3d: no 3D depth textures", d.Format)
		}
		limits = []limit{{"Width", d.Width, MaxTexture3DDimension, "%d"}, {"Height", d.Height, MaxTexture3DDimension, "%d"},
			{"DepthOrArraySize", d.DepthOrArraySize, MaxTexture3DDimension, "depth %d"}}
	case DimensionTextureCube:
		if d.Width != d.Height {
			return invalid("Height = %d for texturecube, want Width (%d): cube faces are square", d.Height, d.Width)
		}
		limits = []limit{{"Width", d.Width, MaxTextureDimension, "%d"}, {"DepthOrArraySize", d.DepthOrArraySize, MaxArraySize / 6, "%d cubes"}}
	}
	for _, l := range limits {
		if l.v > l.max {
			return invalid("%s = %d for %v exceeds "+l.unit, l.field, l.v, dim, l.max)
		}
	}
	if (d.MiscFlags&miscTextureCube != 0) != (dim == DimensionTextureCube) {
		return invalid("MiscFlags = %#x for %v: D3D11_RESOURCE_MISC_TEXTURECUBE must be set exactly for texturecube", d.MiscFlags, dim)
	}
	if maxMips := d.MaxMipLevels(); d.MipLevels > maxMips {
		return invalid("MipLevels = %d for %v %s exceeds %d", d.MipLevels, dim, d.size(), maxMips)
	}
	if d.SampleCount&(d.SampleCount-1) != 0 || d.SampleCount > MaxSampleCount {
		return invalid("SampleCount = %d for %v: want a power of two ≤ %d", d.SampleCount, dim, MaxSampleCount)
	}
	if d.SampleCount > 1 {
		switch {
		case dim != DimensionTexture2D:
			return invalid("SampleCount = %d for %v: only texture2d may be multisampled", d.SampleCount, dim)
		case d.MipLevels != 1:
			return invalid("MipLevels = %d for multisampled texture2d, want 1", d.MipLevels)
		case fi.Compressed:
			return invalid("SampleCount = %d for %v: block-compressed textures cannot be multisampled", d.SampleCount, d.Format)
		}
	}
	if fi.Compressed {
		if dim == DimensionTexture1D {
			return invalid("Format = %v for texture1d: block-compressed formats need two dimensions", d.Format)
		}
		if d.Width%fi.BlockWidth != 0 {
			return invalid("Width = %d for %v is not a multiple of its %d-texel blocks", d.Width, d.Format, fi.BlockWidth)
		}
		if d.Height%fi.BlockHeight != 0 {
			return invalid("Height = %d for %v is not a multiple of its %d-texel blocks", d.Height, d.Format, fi.BlockHeight)
		}
	}
	if d.BindFlags&bindDepthStencil != 0 && !fi.Depth {
		return invalid("BindFlags = %#x: depth-stencil bind with colour format %v", d.BindFlags, d.Format)
	}
	if d.BindFlags&bindRenderTarget != 0 && fi.Depth {
		return invalid("BindFlags = %#x: render-target bind with depth format %v", d.BindFlags, d.Format)
	}
	return nil
}

// size formats the extent the way String prints it.
func (d Desc) size() string {
	switch d.Dimension {
	case DimensionBuffer:
		return fmt.Sprintf("%d bytes", d.Width)
	case DimensionTexture1D:
		return fmt.Sprintf("%d", d.Width)
	case DimensionTexture3D:
		return fmt.Sprintf("%dx%dx%d", d.Width, d.Height, d.DepthOrArraySize)
	}
	return fmt.Sprintf("%dx%d", d.Width, d.Height)
}

// String summarises d on one line for glshare ls, e.g.
// "texture2d 256x256 R8G8B8A8_UNORM mips=1", with "array=", "cubes=" and
// "samples=" added when they are not 1, and "buffer 4096 bytes" for
// buffers.
func (d Desc) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v %s", d.Dimension, d.size())
	if d.Dimension == DimensionBuffer {
		return b.String()
	}
	fmt.Fprintf(&b, " %v mips=%d", d.Format, d.MipLevels)
	switch d.Dimension {
	case DimensionTexture1D, DimensionTexture2D:
		if d.DepthOrArraySize != 1 {
			fmt.Fprintf(&b, " array=%d", d.DepthOrArraySize)
		}
	case DimensionTextureCube:
		if d.DepthOrArraySize != 1 {
			fmt.Fprintf(&b, " cubes=%d", d.DepthOrArraySize)
		}
	}
	if d.SampleCount != 1 {
		fmt.Fprintf(&b, " samples=%d", d.SampleCount)
	}
	return b.String()
}
