package d3d

import (
	"fmt"

	"github.com/glbridge/glbridge/bridge"
)

// D3D11Usage is D3D11_USAGE.
type D3D11Usage uint32

// D3D11_USAGE values.
const (
	D3D11UsageDefault   D3D11Usage = 0
	D3D11UsageImmutable D3D11Usage = 1
	D3D11UsageDynamic   D3D11Usage = 2
	D3D11UsageStaging   D3D11Usage = 3
)

var usageNames = [...]string{"D3D11_USAGE_DEFAULT", "D3D11_USAGE_IMMUTABLE", "D3D11_USAGE_DYNAMIC", "D3D11_USAGE_STAGING"}

// String returns the D3D11_USAGE_* name.
func (u D3D11Usage) String() string {
	if int(u) < len(usageNames) {
		return usageNames[u]
	}
	return fmt.Sprintf("D3D11_USAGE(%d)", uint32(u))
}

// D3D11_BIND_FLAG values.
const (
	D3D11BindVertexBuffer    = 0x1
	D3D11BindIndexBuffer     = 0x2
	D3D11BindConstantBuffer  = 0x4
	D3D11BindShaderResource  = 0x8
	D3D11BindStreamOutput    = 0x10
	D3D11BindRenderTarget    = 0x20
	D3D11BindDepthStencil    = 0x40
	D3D11BindUnorderedAccess = 0x80
	D3D11BindDecoder         = 0x200
	D3D11BindVideoEncoder    = 0x400
)

// D3D11_CPU_ACCESS_FLAG values.
const (
	D3D11CPUAccessWrite = 0x10000
	D3D11CPUAccessRead  = 0x20000
)

// D3D11_RESOURCE_MISC_FLAG values.
const (
	D3D11ResourceMiscGenerateMips                 = 0x1
	D3D11ResourceMiscShared                       = 0x2
	D3D11ResourceMiscTextureCube                  = 0x4
	D3D11ResourceMiscDrawIndirectArgs             = 0x10
	D3D11ResourceMiscBufferAllowRawViews          = 0x20
	D3D11ResourceMiscBufferStructured             = 0x40
	D3D11ResourceMiscResourceClamp                = 0x80
	D3D11ResourceMiscSharedKeyedMutex             = 0x100
	D3D11ResourceMiscGDICompatible                = 0x200
	D3D11ResourceMiscSharedNTHandle               = 0x800
	D3D11ResourceMiscRestrictedContent            = 0x1000
	D3D11ResourceMiscRestrictSharedResource       = 0x2000
	D3D11ResourceMiscRestrictSharedResourceDriver = 0x4000
	D3D11ResourceMiscGuarded                      = 0x8000
	D3D11ResourceMiscTilePool                     = 0x20000
	D3D11ResourceMiscTiled                        = 0x40000
)

// D3D11BufferDesc is D3D11_BUFFER_DESC.
type D3D11BufferDesc struct {
	ByteWidth           uint32
	Usage               D3D11Usage
	BindFlags           uint32
	CPUAccessFlags      uint32
	MiscFlags           uint32
	StructureByteStride uint32
}

// D3D11Texture1DDesc is D3D11_TEXTURE1D_DESC.
type D3D11Texture1DDesc struct {
	Width          uint32
	MipLevels      uint32
	ArraySize      uint32
	Format         bridge.Format
	Usage          D3D11Usage
	BindFlags      uint32
	CPUAccessFlags uint32
	MiscFlags      uint32
}

// D3D11Texture2DDesc is D3D11_TEXTURE2D_DESC. A cube texture is a 2D
// texture with D3D11_RESOURCE_MISC_TEXTURECUBE and six layers per cube.
type D3D11Texture2DDesc struct {
	Width          uint32
	Height         uint32
	MipLevels      uint32
	ArraySize      uint32
	Format         bridge.Format
	SampleDesc     SampleDesc
	Usage          D3D11Usage
	BindFlags      uint32
	CPUAccessFlags uint32
	MiscFlags      uint32
}

// D3D11Texture3DDesc is D3D11_TEXTURE3D_DESC.
type D3D11Texture3DDesc struct {
	Width          uint32
	Height         uint32
	Depth          uint32
	MipLevels      uint32
	Format         bridge.Format
	Usage          D3D11Usage
	BindFlags      uint32
	CPUAccessFlags uint32
	MiscFlags      uint32
}

// D3D11Desc is one D3D11 resource description: Dimension says which of
// the four members holds it, as in the D3D11 runtime's own shared-resource
// metadata (a dimension and a union of the descriptions).
type D3D11Desc struct {
	Dimension ResourceDimension
	Buffer    D3D11BufferDesc
	Texture1D D3D11Texture1DDesc
	Texture2D D3D11Texture2DDesc
	Texture3D D3D11Texture3DDesc
}

// checkUsage checks that usage is the one bridge.Desc implies from the
// CPU access and bind flags (see d3d11Usage): bridge.Desc has no usage
// field, so only those usages survive a round trip.
func checkUsage(source string, usage D3D11Usage, bind, cpu uint32) error {
	switch usage {
	case D3D11UsageDefault:
		if cpu != 0 {
			return notExpressible("bridge.Desc", "%s CPUAccessFlags = %#x with Usage = %v: mappable default resources cannot be shared", source, cpu, usage)
		}
	case D3D11UsageDynamic:
		if cpu != D3D11CPUAccessWrite || bind == 0 {
			return invalidSource(source, "Usage = %v with CPUAccessFlags = %#x, BindFlags = %#x: dynamic resources are write-only and bound", usage, cpu, bind)
		}
	case D3D11UsageStaging:
		if bind != 0 || cpu == 0 {
			return invalidSource(source, "Usage = %v with BindFlags = %#x, CPUAccessFlags = %#x: staging resources are unbound and CPU-accessible", usage, bind, cpu)
		}
	case D3D11UsageImmutable:
		return notExpressible("bridge.Desc", "%s Usage = %v: immutable resources cannot be shared", source, usage)
	default:
		return invalidSource(source, "Usage = %v", usage)
	}
	return nil
}

// d3d11Usage derives D3D11_USAGE from bridge.Desc's CPU access and bind
// flags: no CPU access is DEFAULT, CPU access without binds is STAGING,
// write-only access with binds is DYNAMIC (D3D9's DYNAMIC textures arrive
// so).
func d3d11Usage(d bridge.Desc) (D3D11Usage, error) {
	switch {
	case d.CPUAccessFlags == 0:
		return D3D11UsageDefault, nil
	case d.BindFlags == 0:
		return D3D11UsageStaging, nil
	case d.CPUAccessFlags == D3D11CPUAccessWrite:
		return D3D11UsageDynamic, nil
	}
	return 0, notExpressible("D3D11", "CPUAccessFlags = %#x with BindFlags = %#x: D3D11 has no usage for bound resources the CPU reads", d.CPUAccessFlags, d.BindFlags)
}

// Desc converts a D3D11_BUFFER_DESC. StructureByteStride must be 0:
// bridge.Desc has no place for it.
func (b D3D11BufferDesc) Desc() (bridge.Desc, error) {
	const src = "D3D11_BUFFER_DESC"
	if err := checkUsage(src, b.Usage, b.BindFlags, b.CPUAccessFlags); err != nil {
		return bridge.Desc{}, err
	}
	if b.StructureByteStride != 0 {
		return bridge.Desc{}, notExpressible("bridge.Desc", "%s StructureByteStride = %d: structured buffers cannot be shared", src, b.StructureByteStride)
	}
	return validated(src, bridge.Desc{
		Dimension: bridge.DimensionBuffer, Width: b.ByteWidth, Height: 1, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1,
		BindFlags: b.BindFlags, MiscFlags: b.MiscFlags, CPUAccessFlags: b.CPUAccessFlags,
	})
}

// Desc converts a D3D11_TEXTURE1D_DESC.
func (t D3D11Texture1DDesc) Desc() (bridge.Desc, error) {
	const src = "D3D11_TEXTURE1D_DESC"
	if err := checkUsage(src, t.Usage, t.BindFlags, t.CPUAccessFlags); err != nil {
		return bridge.Desc{}, err
	}
	return validated(src, bridge.Desc{
		Dimension: bridge.DimensionTexture1D, Width: t.Width, Height: 1, DepthOrArraySize: t.ArraySize, MipLevels: t.MipLevels, SampleCount: 1,
		Format: t.Format, BindFlags: t.BindFlags, MiscFlags: t.MiscFlags, CPUAccessFlags: t.CPUAccessFlags,
	})
}

// Desc converts a D3D11_TEXTURE2D_DESC; with
// D3D11_RESOURCE_MISC_TEXTURECUBE it is a cube texture of ArraySize/6
// cubes.
func (t D3D11Texture2DDesc) Desc() (bridge.Desc, error) {
	const src = "D3D11_TEXTURE2D_DESC"
	if err := checkUsage(src, t.Usage, t.BindFlags, t.CPUAccessFlags); err != nil {
		return bridge.Desc{}, err
	}
	samples, err := sampleCount(src, t.SampleDesc)
	if err != nil {
		return bridge.Desc{}, err
	}
	d := bridge.Desc{
		Dimension: bridge.DimensionTexture2D, Width: t.Width, Height: t.Height, DepthOrArraySize: t.ArraySize, MipLevels: t.MipLevels, SampleCount: samples,
		Format: t.Format, BindFlags: t.BindFlags, MiscFlags: t.MiscFlags, CPUAccessFlags: t.CPUAccessFlags,
	}
	if t.MiscFlags&D3D11ResourceMiscTextureCube != 0 {
		if t.ArraySize == 0 || t.ArraySize%6 != 0 {
			return bridge.Desc{}, invalidSource(src, "ArraySize = %d with TEXTURECUBE: cubes have six faces", t.ArraySize)
		}
		d.Dimension, d.DepthOrArraySize = bridge.DimensionTextureCube, t.ArraySize/6
	}
	return validated(src, d)
}

// Desc converts a D3D11_TEXTURE3D_DESC.
func (t D3D11Texture3DDesc) Desc() (bridge.Desc, error) {
	const src = "D3D11_TEXTURE3D_DESC"
	if err := checkUsage(src, t.Usage, t.BindFlags, t.CPUAccessFlags); err != nil {
		return bridge.Desc{}, err
	}
	return validated(src, bridge.Desc{
		Dimension: bridge.DimensionTexture3D, Width: t.Width, Height: t.Height, DepthOrArraySize: t.Depth, MipLevels: t.MipLevels, SampleCount: 1,
		Format: t.Format, BindFlags: t.BindFlags, MiscFlags: t.MiscFlags, CPUAccessFlags: t.CPUAccessFlags,
	})
}

// Desc converts whichever description Dimension selects.
func (r D3D11Desc) Desc() (bridge.Desc, error) {
	switch r.Dimension {
	case ResourceDimensionBuffer:
		return r.Buffer.Desc()
	case ResourceDimensionTexture1D:
		return r.Texture1D.Desc()
	case ResourceDimensionTexture2D:
		return r.Texture2D.Desc()
	case ResourceDimensionTexture3D:
		return r.Texture3D.Desc()
	}
	return bridge.Desc{}, invalidSource("D3D11 description", "Dimension = %v", r.Dimension)
}

// D3D11FromDesc writes d as a D3D11 description. Bind, misc and CPU
// access flags are D3D11's own and pass unchanged; Usage is derived from
// them (see d3d11Usage). Every valid Desc can be expressed except a
// bound resource the CPU reads.
func D3D11FromDesc(d bridge.Desc) (D3D11Desc, error) {
	if err := d.Validate(); err != nil {
		return D3D11Desc{}, fmt.Errorf("d3d: %w", err)
	}
	usage, err := d3d11Usage(d)
	if err != nil {
		return D3D11Desc{}, err
	}
	switch d.Dimension {
	case bridge.DimensionBuffer:
		return D3D11Desc{Dimension: ResourceDimensionBuffer, Buffer: D3D11BufferDesc{
			ByteWidth: d.Width, Usage: usage, BindFlags: d.BindFlags, CPUAccessFlags: d.CPUAccessFlags, MiscFlags: d.MiscFlags,
		}}, nil
	case bridge.DimensionTexture1D:
		return D3D11Desc{Dimension: ResourceDimensionTexture1D, Texture1D: D3D11Texture1DDesc{
			Width: d.Width, MipLevels: d.MipLevels, ArraySize: d.DepthOrArraySize, Format: d.Format,
			Usage: usage, BindFlags: d.BindFlags, CPUAccessFlags: d.CPUAccessFlags, MiscFlags: d.MiscFlags,
		}}, nil
	case bridge.DimensionTexture2D, bridge.DimensionTextureCube:
		layers := d.DepthOrArraySize
		if d.Dimension == bridge.DimensionTextureCube {
			layers *= 6
		}
		return D3D11Desc{Dimension: ResourceDimensionTexture2D, Texture2D: D3D11Texture2DDesc{
			Width: d.Width, Height: d.Height, MipLevels: d.MipLevels, ArraySize: layers, Format: d.Format,
			SampleDesc: SampleDesc{Count: d.SampleCount}, Usage: usage, BindFlags: d.BindFlags, CPUAccessFlags: d.CPUAccessFlags, MiscFlags: d.MiscFlags,
		}}, nil
	case bridge.DimensionTexture3D:
		return D3D11Desc{Dimension: ResourceDimensionTexture3D, Texture3D: D3D11Texture3DDesc{
			Width: d.Width, Height: d.Height, Depth: d.DepthOrArraySize, MipLevels: d.MipLevels, Format: d.Format,
			Usage: usage, BindFlags: d.BindFlags, CPUAccessFlags: d.CPUAccessFlags, MiscFlags: d.MiscFlags,
		}}, nil
	}
	panic("d3d: Validate accepted dimension " + d.Dimension.String())
}
