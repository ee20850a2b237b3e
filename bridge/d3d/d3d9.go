package d3d

import (
	"fmt"

	"github.com/glbridge/glbridge/bridge"
)

// D3DFormat is D3DFORMAT. Compressed formats are FOURCC codes.
type D3DFormat uint32

// D3DFORMAT values. D3D9 names packed formats from the most significant
// bit, DXGI from the least: D3DFMT_A8R8G8B8 is DXGI B8G8R8A8.
const (
	D3DFmtUnknown       D3DFormat = 0
	D3DFmtA8R8G8B8      D3DFormat = 21
	D3DFmtX8R8G8B8      D3DFormat = 22
	D3DFmtR5G6B5        D3DFormat = 23
	D3DFmtX1R5G5B5      D3DFormat = 24
	D3DFmtA1R5G5B5      D3DFormat = 25
	D3DFmtA8            D3DFormat = 28
	D3DFmtA2B10G10R10   D3DFormat = 31
	D3DFmtA8B8G8R8      D3DFormat = 32
	D3DFmtX8B8G8R8      D3DFormat = 33
	D3DFmtG16R16        D3DFormat = 34
	D3DFmtA16B16G16R16  D3DFormat = 36
	D3DFmtL8            D3DFormat = 50
	D3DFmtA8L8          D3DFormat = 51
	D3DFmtV8U8          D3DFormat = 60
	D3DFmtQ8W8V8U8      D3DFormat = 63
	D3DFmtV16U16        D3DFormat = 64
	D3DFmtD16Lockable   D3DFormat = 70
	D3DFmtD24S8         D3DFormat = 75
	D3DFmtD24X8         D3DFormat = 77
	D3DFmtD16           D3DFormat = 80
	D3DFmtL16           D3DFormat = 81
	D3DFmtD32FLockable  D3DFormat = 82
	D3DFmtVertexData    D3DFormat = 100
	D3DFmtIndex16       D3DFormat = 101
	D3DFmtIndex32       D3DFormat = 102
	D3DFmtR16F          D3DFormat = 111
	D3DFmtG16R16F       D3DFormat = 112
	D3DFmtA16B16G16R16F D3DFormat = 113
	D3DFmtR32F          D3DFormat = 114
	D3DFmtG32R32F       D3DFormat = 115
	D3DFmtA32B32G32R32F D3DFormat = 116
)

// FOURCC D3DFORMATs: MAKEFOURCC puts the first character in the low
// byte. INTZ is the vendor format D3D9 programs use for a depth buffer
// they also sample.
const (
	D3DFmtDXT1 D3DFormat = 'D' | 'X'<<8 | 'T'<<16 | '1'<<24
	D3DFmtDXT2 D3DFormat = 'D' | 'X'<<8 | 'T'<<16 | '2'<<24
	D3DFmtDXT3 D3DFormat = 'D' | 'X'<<8 | 'T'<<16 | '3'<<24
	D3DFmtDXT4 D3DFormat = 'D' | 'X'<<8 | 'T'<<16 | '4'<<24
	D3DFmtDXT5 D3DFormat = 'D' | 'X'<<8 | 'T'<<16 | '5'<<24
	D3DFmtINTZ D3DFormat = 'I' | 'N'<<8 | 'T'<<16 | 'Z'<<24
)

// D3D9FormatInfo maps one D3DFORMAT onto the DXGI format with the same
// memory layout.
type D3D9FormatInfo struct {
	Format D3DFormat
	// Name is the D3DFMT_ name without the prefix.
	Name string
	DXGI bridge.Format
	// Canonical marks the D3DFORMAT that DXGI → D3D9 picks when several
	// share a DXGI format: the one whose reads agree with DXGI's.
	Canonical bool
}

// d3d9Formats is the D3D9 column of the format table: only the mapping
// onto DXGI, whose rows in bridge hold the Vulkan and GL facts. The
// mappings of the formats DXVK shares are DXVK's; the others follow the
// same rule, same bytes in the same places.
//
// Non-canonical rows lose a meaning DXGI cannot carry: X8B8G8R8 and
// X1R5G5B5 read alpha as 1 in D3D9, DXT2/DXT4 are premultiplied, D24X8
// and INTZ have no stencil for the program (the memory has the byte),
// the _LOCKABLE depth formats are CPU-lockable. L8, A8L8 and L16 are
// canonical for R8, R8G8 and R16 although D3D9 reads them as luminance
// (l, l, l) where DXGI reads (r, 0, 0): the bytes are the same, D3D9 has
// no other one- and two-channel formats, and a D3D9 layer opening an R8
// resource can only mean it as L8.
var d3d9Formats = []D3D9FormatInfo{
	{D3DFmtA8R8G8B8, "A8R8G8B8", bridge.FormatB8G8R8A8Unorm, true},
	{D3DFmtX8R8G8B8, "X8R8G8B8", bridge.FormatB8G8R8X8Unorm, true},
	{D3DFmtR5G6B5, "R5G6B5", bridge.FormatB5G6R5Unorm, true},
	{D3DFmtX1R5G5B5, "X1R5G5B5", bridge.FormatB5G5R5A1Unorm, false},
	{D3DFmtA1R5G5B5, "A1R5G5B5", bridge.FormatB5G5R5A1Unorm, true},
	{D3DFmtA8, "A8", bridge.FormatA8Unorm, true},
	{D3DFmtA2B10G10R10, "A2B10G10R10", bridge.FormatR10G10B10A2Unorm, true},
	{D3DFmtA8B8G8R8, "A8B8G8R8", bridge.FormatR8G8B8A8Unorm, true},
	{D3DFmtX8B8G8R8, "X8B8G8R8", bridge.FormatR8G8B8A8Unorm, false},
	{D3DFmtG16R16, "G16R16", bridge.FormatR16G16Unorm, true},
	{D3DFmtA16B16G16R16, "A16B16G16R16", bridge.FormatR16G16B16A16Unorm, true},
	{D3DFmtL8, "L8", bridge.FormatR8Unorm, true},
	{D3DFmtA8L8, "A8L8", bridge.FormatR8G8Unorm, true},
	{D3DFmtV8U8, "V8U8", bridge.FormatR8G8Snorm, true},
	{D3DFmtQ8W8V8U8, "Q8W8V8U8", bridge.FormatR8G8B8A8Snorm, true},
	{D3DFmtV16U16, "V16U16", bridge.FormatR16G16Snorm, true},
	{D3DFmtD16Lockable, "D16_LOCKABLE", bridge.FormatD16Unorm, false},
	{D3DFmtD24S8, "D24S8", bridge.FormatD24UnormS8Uint, true},
	{D3DFmtD24X8, "D24X8", bridge.FormatD24UnormS8Uint, false},
	{D3DFmtD16, "D16", bridge.FormatD16Unorm, true},
	{D3DFmtL16, "L16", bridge.FormatR16Unorm, true},
	{D3DFmtD32FLockable, "D32F_LOCKABLE", bridge.FormatD32Float, true},
	{D3DFmtR16F, "R16F", bridge.FormatR16Float, true},
	{D3DFmtG16R16F, "G16R16F", bridge.FormatR16G16Float, true},
	{D3DFmtA16B16G16R16F, "A16B16G16R16F", bridge.FormatR16G16B16A16Float, true},
	{D3DFmtR32F, "R32F", bridge.FormatR32Float, true},
	{D3DFmtG32R32F, "G32R32F", bridge.FormatR32G32Float, true},
	{D3DFmtA32B32G32R32F, "A32B32G32R32F", bridge.FormatR32G32B32A32Float, true},
	{D3DFmtDXT1, "DXT1", bridge.FormatBC1Unorm, true},
	{D3DFmtDXT2, "DXT2", bridge.FormatBC2Unorm, false},
	{D3DFmtDXT3, "DXT3", bridge.FormatBC2Unorm, true},
	{D3DFmtDXT4, "DXT4", bridge.FormatBC3Unorm, false},
	{D3DFmtDXT5, "DXT5", bridge.FormatBC3Unorm, true},
	{D3DFmtINTZ, "INTZ", bridge.FormatD24UnormS8Uint, false},
}

var d3d9ByFormat, d3d9ByDXGI = func() (map[D3DFormat]int, map[bridge.Format]int) {
	byFormat := map[D3DFormat]int{}
	byDXGI := map[bridge.Format]int{}
	for i, f := range d3d9Formats {
		byFormat[f.Format] = i
		if f.Canonical {
			byDXGI[f.DXGI] = i
		}
	}
	return byFormat, byDXGI
}()

// D3D9Formats returns a copy of the D3DFORMAT mapping table.
func D3D9Formats() []D3D9FormatInfo { return append([]D3D9FormatInfo(nil), d3d9Formats...) }

// String returns the D3DFMT_ name, or the number when unknown.
func (f D3DFormat) String() string {
	if i, ok := d3d9ByFormat[f]; ok {
		return "D3DFMT_" + d3d9Formats[i].Name
	}
	switch f {
	case D3DFmtUnknown:
		return "D3DFMT_UNKNOWN"
	case D3DFmtVertexData:
		return "D3DFMT_VERTEXDATA"
	case D3DFmtIndex16:
		return "D3DFMT_INDEX16"
	case D3DFmtIndex32:
		return "D3DFMT_INDEX32"
	}
	return fmt.Sprintf("D3DFORMAT(%d)", uint32(f))
}

// D3DFormatToDXGI returns the DXGI format with f's memory layout. The
// error wraps bridge.ErrNotExpressible and bridge.ErrUnsupportedFormat.
func D3DFormatToDXGI(f D3DFormat) (bridge.Format, error) {
	i, ok := d3d9ByFormat[f]
	if !ok {
		return 0, fmt.Errorf("d3d: %w in DXGI: Format = %v: %w", bridge.ErrNotExpressible, f, bridge.ErrUnsupportedFormat)
	}
	return d3d9Formats[i].DXGI, nil
}

// D3DFormatFromDXGI returns the canonical D3DFORMAT for f. sRGB, integer,
// typeless, 3-channel 32-bit and most BC formats have none. The error
// wraps bridge.ErrNotExpressible and bridge.ErrUnsupportedFormat.
func D3DFormatFromDXGI(f bridge.Format) (D3DFormat, error) {
	i, ok := d3d9ByDXGI[f]
	if !ok {
		return 0, fmt.Errorf("d3d: %w in D3D9: Format = %v has no D3DFORMAT: %w", bridge.ErrNotExpressible, f, bridge.ErrUnsupportedFormat)
	}
	return d3d9Formats[i].Format, nil
}

// D3DResourceType is D3DRESOURCETYPE.
type D3DResourceType uint32

// D3DRESOURCETYPE values.
const (
	D3DRTypeSurface       D3DResourceType = 1
	D3DRTypeVolume        D3DResourceType = 2
	D3DRTypeTexture       D3DResourceType = 3
	D3DRTypeVolumeTexture D3DResourceType = 4
	D3DRTypeCubeTexture   D3DResourceType = 5
	D3DRTypeVertexBuffer  D3DResourceType = 6
	D3DRTypeIndexBuffer   D3DResourceType = 7
)

var rtypeNames = [...]string{"", "SURFACE", "VOLUME", "TEXTURE", "VOLUMETEXTURE", "CUBETEXTURE", "VERTEXBUFFER", "INDEXBUFFER"}

// String returns the D3DRTYPE_ name.
func (t D3DResourceType) String() string {
	if t > 0 && int(t) < len(rtypeNames) {
		return "D3DRTYPE_" + rtypeNames[t]
	}
	return fmt.Sprintf("D3DRESOURCETYPE(%d)", uint32(t))
}

// D3DPool is D3DPOOL.
type D3DPool uint32

// D3DPOOL values.
const (
	D3DPoolDefault   D3DPool = 0
	D3DPoolManaged   D3DPool = 1
	D3DPoolSystemMem D3DPool = 2
	D3DPoolScratch   D3DPool = 3
)

var poolNames = [...]string{"D3DPOOL_DEFAULT", "D3DPOOL_MANAGED", "D3DPOOL_SYSTEMMEM", "D3DPOOL_SCRATCH"}

// String returns the D3DPOOL_ name.
func (p D3DPool) String() string {
	if int(p) < len(poolNames) {
		return poolNames[p]
	}
	return fmt.Sprintf("D3DPOOL(%d)", uint32(p))
}

// D3DMultisampleType is D3DMULTISAMPLE_TYPE: 0 for none, 1 for
// NONMASKABLE (quality levels), 2 to 16 for that many samples.
type D3DMultisampleType uint32

// D3DMULTISAMPLE_TYPE values with a name; 2 to 16 are sample counts.
const (
	D3DMultisampleNone        D3DMultisampleType = 0
	D3DMultisampleNonMaskable D3DMultisampleType = 1
)

// D3DUSAGE values glbridge maps.
const (
	D3DUsageRenderTarget  = 0x1
	D3DUsageDepthStencil  = 0x2
	D3DUsageDynamic       = 0x200
	D3DUsageAutoGenMipMap = 0x400
)

const d3d9KnownUsage = D3DUsageRenderTarget | D3DUsageDepthStencil | D3DUsageDynamic | D3DUsageAutoGenMipMap

// D3D9Desc describes a D3D9 resource: D3DSURFACE_DESC's fields plus the
// depth and level count that D3DVOLUME_DESC and the Create*Texture calls
// add. Width is the edge length for cube textures and the byte size for
// vertex buffers.
type D3D9Desc struct {
	Format             D3DFormat
	Type               D3DResourceType
	Usage              uint32
	Pool               D3DPool
	Width              uint32
	Height             uint32
	Depth              uint32
	Levels             uint32
	MultiSampleType    D3DMultisampleType
	MultiSampleQuality uint32
}

// Desc converts a D3D9 description. D3D9 shares only through shared
// handles, so the result carries D3D11_RESOURCE_MISC_SHARED. Usage maps
// to D3D11 terms: RENDERTARGET and DEPTHSTENCIL to those binds, DYNAMIC
// to D3D11_CPU_ACCESS_WRITE, AUTOGENMIPMAP to MISC_GENERATE_MIPS.
// Textures are sampleable (D3D11_BIND_SHADER_RESOURCE); surfaces are not.
// Levels 0 means the full chain. Height and Depth of 0 are read as 1
// where the type has no such dimension.
//
// Not expressible: pools other than DEFAULT (only those are shared), index
// buffers (bridge.Desc has no index format), volumes (a level of a volume
// texture, not a resource), NONMASKABLE multisampling or a quality other
// than 0, multisampled textures, usage bits without a D3D11 counterpart.
func (r D3D9Desc) Desc() (bridge.Desc, error) {
	const src = "D3D9 description"
	if r.Pool != D3DPoolDefault {
		return bridge.Desc{}, notExpressible("bridge.Desc", "%s Pool = %v: only D3DPOOL_DEFAULT resources are shared", src, r.Pool)
	}
	if extra := r.Usage &^ d3d9KnownUsage; extra != 0 {
		return bridge.Desc{}, notExpressible("bridge.Desc", "%s Usage = %#x: bits %#x have no D3D11 counterpart", src, r.Usage, extra)
	}
	if r.MultiSampleQuality != 0 {
		return bridge.Desc{}, notExpressible("bridge.Desc", "%s MultiSampleQuality = %d: quality levels are vendor-defined; only 0 can be shared", src, r.MultiSampleQuality)
	}
	samples := uint32(1)
	switch {
	case r.MultiSampleType == D3DMultisampleNonMaskable:
		return bridge.Desc{}, notExpressible("bridge.Desc", "%s MultiSampleType = NONMASKABLE: its sample count is a vendor quality level", src)
	case r.MultiSampleType > 16:
		return bridge.Desc{}, invalidSource(src, "MultiSampleType = %d", r.MultiSampleType)
	case r.MultiSampleType > 1:
		samples = uint32(r.MultiSampleType)
		if r.Type != D3DRTypeSurface {
			return bridge.Desc{}, notExpressible("bridge.Desc", "%s MultiSampleType = %d for %v: D3D9 multisamples only surfaces", src, samples, r.Type)
		}
	}
	one := func(v uint32) uint32 { return max(v, 1) }
	d := bridge.Desc{
		Width: r.Width, Height: one(r.Height), DepthOrArraySize: 1, MipLevels: r.Levels, SampleCount: samples,
		MiscFlags: D3D11ResourceMiscShared,
	}
	if r.Usage&D3DUsageRenderTarget != 0 {
		d.BindFlags |= D3D11BindRenderTarget
	}
	if r.Usage&D3DUsageDepthStencil != 0 {
		d.BindFlags |= D3D11BindDepthStencil
	}
	if r.Usage&D3DUsageDynamic != 0 {
		d.CPUAccessFlags |= D3D11CPUAccessWrite
	}
	if r.Usage&D3DUsageAutoGenMipMap != 0 {
		d.MiscFlags |= D3D11ResourceMiscGenerateMips
	}
	switch r.Type {
	case D3DRTypeVertexBuffer:
		if r.Format != D3DFmtVertexData {
			return bridge.Desc{}, invalidSource(src, "Format = %v for %v, want D3DFMT_VERTEXDATA", r.Format, r.Type)
		}
		d.Dimension, d.Height, d.MipLevels = bridge.DimensionBuffer, 1, 1
		d.BindFlags |= D3D11BindVertexBuffer
		return validated(src, d)
	case D3DRTypeIndexBuffer:
		return bridge.Desc{}, notExpressible("bridge.Desc", "%s Type = %v (Format = %v): bridge.Desc has no index format", src, r.Type, r.Format)
	case D3DRTypeSurface:
		d.Dimension = bridge.DimensionTexture2D
		if r.Levels > 1 {
			return bridge.Desc{}, invalidSource(src, "Levels = %d for %v", r.Levels, r.Type)
		}
		d.MipLevels = 1
	case D3DRTypeTexture:
		d.Dimension = bridge.DimensionTexture2D
		d.BindFlags |= D3D11BindShaderResource
	case D3DRTypeCubeTexture:
		d.Dimension = bridge.DimensionTextureCube
		d.Height = r.Width
		if r.Height != 0 && r.Height != r.Width {
			return bridge.Desc{}, invalidSource(src, "Height = %d for %v, want the edge length %d", r.Height, r.Type, r.Width)
		}
		d.BindFlags |= D3D11BindShaderResource
		d.MiscFlags |= D3D11ResourceMiscTextureCube
	case D3DRTypeVolumeTexture:
		d.Dimension = bridge.DimensionTexture3D
		d.DepthOrArraySize = one(r.Depth)
		d.BindFlags |= D3D11BindShaderResource
	case D3DRTypeVolume:
		return bridge.Desc{}, notExpressible("bridge.Desc", "%s Type = %v: a volume is a level of a volume texture, not a resource", src, r.Type)
	default:
		return bridge.Desc{}, invalidSource(src, "Type = %v", r.Type)
	}
	if r.Type != D3DRTypeVolumeTexture && r.Depth > 1 {
		return bridge.Desc{}, invalidSource(src, "Depth = %d for %v", r.Depth, r.Type)
	}
	f, err := D3DFormatToDXGI(r.Format)
	if err != nil {
		return bridge.Desc{}, err
	}
	d.Format = f
	return validated(src, d)
}

// D3D9FromDesc writes d as a D3D9 description in D3DPOOL_DEFAULT. A 2D
// texture with one level that is multisampled or not sampleable becomes a
// D3DRTYPE_SURFACE, other 2D textures D3DRTYPE_TEXTURE; cubes and 3D
// textures become CUBETEXTURE and VOLUMETEXTURE, buffers bound as vertex
// buffers VERTEXBUFFER. D3D11_RESOURCE_MISC_SHARED is implied and dropped;
// a multisampled surface loses its shader-resource bind, which D3D9
// cannot honour.
//
// Not expressible: 1D textures, texture arrays (DepthOrArraySize > 1 for
// 2D and cube), formats without a D3DFORMAT, buffers not bound as vertex
// buffers, binds other than shader resource, render target and depth
// stencil on textures, CPU read access, misc flags other than SHARED,
// TEXTURECUBE and GENERATE_MIPS (a keyed mutex or an NT handle cannot be
// opened by D3D9).
func D3D9FromDesc(d bridge.Desc) (D3D9Desc, error) {
	if err := d.Validate(); err != nil {
		return D3D9Desc{}, fmt.Errorf("d3d: %w", err)
	}
	const knownMisc = D3D11ResourceMiscShared | D3D11ResourceMiscTextureCube | D3D11ResourceMiscGenerateMips
	if extra := d.MiscFlags &^ knownMisc; extra != 0 {
		return D3D9Desc{}, notExpressible("D3D9", "MiscFlags = %#x: bits %#x have no D3D9 counterpart", d.MiscFlags, extra)
	}
	if d.CPUAccessFlags&^D3D11CPUAccessWrite != 0 {
		return D3D9Desc{}, notExpressible("D3D9", "CPUAccessFlags = %#x: D3D9 default-pool resources are not read by the CPU", d.CPUAccessFlags)
	}
	r := D3D9Desc{Pool: D3DPoolDefault, Width: d.Width, Height: d.Height, Depth: 1, Levels: d.MipLevels}
	if d.CPUAccessFlags&D3D11CPUAccessWrite != 0 {
		r.Usage |= D3DUsageDynamic
	}
	if d.MiscFlags&D3D11ResourceMiscGenerateMips != 0 {
		r.Usage |= D3DUsageAutoGenMipMap
	}
	if d.Dimension == bridge.DimensionBuffer {
		if d.BindFlags&D3D11BindVertexBuffer == 0 || d.BindFlags&^(D3D11BindVertexBuffer|D3D11BindShaderResource) != 0 {
			return D3D9Desc{}, notExpressible("D3D9", "BindFlags = %#x for buffer: D3D9 shares buffers only as vertex buffers", d.BindFlags)
		}
		r.Type, r.Format = D3DRTypeVertexBuffer, D3DFmtVertexData
		return r, nil
	}
	const knownBind = D3D11BindShaderResource | D3D11BindRenderTarget | D3D11BindDepthStencil
	if extra := d.BindFlags &^ knownBind; extra != 0 {
		return D3D9Desc{}, notExpressible("D3D9", "BindFlags = %#x: bits %#x have no D3D9 counterpart", d.BindFlags, extra)
	}
	if d.BindFlags&D3D11BindRenderTarget != 0 {
		r.Usage |= D3DUsageRenderTarget
	}
	if d.BindFlags&D3D11BindDepthStencil != 0 {
		r.Usage |= D3DUsageDepthStencil
	}
	switch d.Dimension {
	case bridge.DimensionTexture1D:
		return D3D9Desc{}, notExpressible("D3D9", "Dimension = %v: D3D9 has no 1D textures", d.Dimension)
	case bridge.DimensionTexture2D, bridge.DimensionTextureCube:
		if d.DepthOrArraySize > 1 {
			return D3D9Desc{}, notExpressible("D3D9", "DepthOrArraySize = %d for %v: D3D9 has no texture arrays", d.DepthOrArraySize, d.Dimension)
		}
		switch {
		case d.Dimension == bridge.DimensionTextureCube:
			r.Type = D3DRTypeCubeTexture
		case d.MipLevels == 1 && (d.SampleCount > 1 || d.BindFlags&D3D11BindShaderResource == 0):
			r.Type = D3DRTypeSurface
			if d.SampleCount > 1 {
				r.MultiSampleType = D3DMultisampleType(d.SampleCount)
			}
		default:
			r.Type = D3DRTypeTexture
		}
	case bridge.DimensionTexture3D:
		r.Type, r.Depth = D3DRTypeVolumeTexture, d.DepthOrArraySize
	}
	if d.SampleCount > 16 {
		return D3D9Desc{}, notExpressible("D3D9", "SampleCount = %d: D3D9 allows at most 16", d.SampleCount)
	}
	f, err := D3DFormatFromDXGI(d.Format)
	if err != nil {
		return D3D9Desc{}, err
	}
	r.Format = f
	return r, nil
}
