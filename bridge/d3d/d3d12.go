package d3d

import (
	"fmt"
	"math"

	"github.com/glbridge/glbridge/bridge"
)

// D3D12TextureLayout is D3D12_TEXTURE_LAYOUT.
type D3D12TextureLayout uint32

// D3D12_TEXTURE_LAYOUT values.
const (
	D3D12TextureLayoutUnknown              D3D12TextureLayout = 0
	D3D12TextureLayoutRowMajor             D3D12TextureLayout = 1
	D3D12TextureLayout64KBUndefinedSwizzle D3D12TextureLayout = 2
	D3D12TextureLayout64KBStandardSwizzle  D3D12TextureLayout = 3
)

var layoutNames = [...]string{"UNKNOWN", "ROW_MAJOR", "64KB_UNDEFINED_SWIZZLE", "64KB_STANDARD_SWIZZLE"}

// String names the layout without the D3D12_TEXTURE_LAYOUT_ prefix.
func (l D3D12TextureLayout) String() string {
	if int(l) < len(layoutNames) {
		return layoutNames[l]
	}
	return fmt.Sprintf("TEXTURE_LAYOUT(%d)", uint32(l))
}

// D3D12_RESOURCE_FLAGS values.
const (
	D3D12ResourceFlagNone                            = 0
	D3D12ResourceFlagAllowRenderTarget               = 0x1
	D3D12ResourceFlagAllowDepthStencil               = 0x2
	D3D12ResourceFlagAllowUnorderedAccess            = 0x4
	D3D12ResourceFlagDenyShaderResource              = 0x8
	D3D12ResourceFlagAllowCrossAdapter               = 0x10
	D3D12ResourceFlagAllowSimultaneousAccess         = 0x20
	D3D12ResourceFlagVideoDecodeReferenceOnly        = 0x40
	D3D12ResourceFlagVideoEncodeReferenceOnly        = 0x80
	D3D12ResourceFlagRaytracingAccelerationStructure = 0x100
)

// d3d12KnownFlags are the flags with a D3D11 counterpart.
const d3d12KnownFlags = D3D12ResourceFlagAllowRenderTarget | D3D12ResourceFlagAllowDepthStencil |
	D3D12ResourceFlagAllowUnorderedAccess | D3D12ResourceFlagDenyShaderResource | D3D12ResourceFlagAllowSimultaneousAccess

// D3D12ResourceDesc is D3D12_RESOURCE_DESC.
type D3D12ResourceDesc struct {
	Dimension        ResourceDimension
	Alignment        uint64
	Width            uint64
	Height           uint32
	DepthOrArraySize uint16
	MipLevels        uint16
	Format           bridge.Format
	SampleDesc       SampleDesc
	Layout           D3D12TextureLayout
	Flags            uint32
}

// Desc converts a D3D12_RESOURCE_DESC. The flags map onto D3D11 bind
// flags: ALLOW_RENDER_TARGET, ALLOW_DEPTH_STENCIL and
// ALLOW_UNORDERED_ACCESS to the matching binds, the absence of
// DENY_SHADER_RESOURCE to D3D11_BIND_SHADER_RESOURCE, and
// ALLOW_SIMULTANEOUS_ACCESS to D3D11_RESOURCE_MISC_SHARED: a D3D11 shared
// resource without a keyed mutex is what several devices use at once with
// no layout hand-off, which is what simultaneous access means in D3D12.
//
// Alignment is placement within a heap, not a property of the resource,
// and is dropped. Not expressible: Width beyond 32 bits, a Layout other
// than UNKNOWN for textures (row-major textures are cross-adapter
// resources; the 64KB swizzles are tiled-resource layouts), any flag
// without a D3D11 counterpart, SampleDesc.Quality other than 0.
func (r D3D12ResourceDesc) Desc() (bridge.Desc, error) {
	const src = "D3D12_RESOURCE_DESC"
	if r.Width > math.MaxUint32 {
		return bridge.Desc{}, notExpressible("bridge.Desc", "%s Width = %d: bridge.Desc.Width is 32-bit", src, r.Width)
	}
	if extra := r.Flags &^ d3d12KnownFlags; extra != 0 {
		return bridge.Desc{}, notExpressible("bridge.Desc", "%s Flags = %#x: bits %#x have no D3D11 counterpart", src, r.Flags, extra)
	}
	samples, err := sampleCount(src, r.SampleDesc)
	if err != nil {
		return bridge.Desc{}, err
	}
	d := bridge.Desc{
		Width: uint32(r.Width), Height: r.Height, DepthOrArraySize: uint32(r.DepthOrArraySize),
		MipLevels: uint32(r.MipLevels), SampleCount: samples, Format: r.Format,
	}
	if r.Flags&D3D12ResourceFlagAllowRenderTarget != 0 {
		d.BindFlags |= D3D11BindRenderTarget
	}
	if r.Flags&D3D12ResourceFlagAllowDepthStencil != 0 {
		d.BindFlags |= D3D11BindDepthStencil
	}
	if r.Flags&D3D12ResourceFlagAllowUnorderedAccess != 0 {
		d.BindFlags |= D3D11BindUnorderedAccess
	}
	if r.Flags&D3D12ResourceFlagDenyShaderResource == 0 {
		d.BindFlags |= D3D11BindShaderResource
	} else if r.Flags&D3D12ResourceFlagAllowDepthStencil == 0 {
		return bridge.Desc{}, invalidSource(src, "Flags = %#x: DENY_SHADER_RESOURCE needs ALLOW_DEPTH_STENCIL", r.Flags)
	}
	if r.Flags&D3D12ResourceFlagAllowSimultaneousAccess != 0 {
		switch {
		case r.Dimension == ResourceDimensionBuffer:
			return bridge.Desc{}, invalidSource(src, "Flags = %#x: ALLOW_SIMULTANEOUS_ACCESS on a buffer", r.Flags)
		case r.Flags&D3D12ResourceFlagAllowDepthStencil != 0:
			return bridge.Desc{}, invalidSource(src, "Flags = %#x: ALLOW_SIMULTANEOUS_ACCESS with ALLOW_DEPTH_STENCIL", r.Flags)
		case samples > 1:
			return bridge.Desc{}, invalidSource(src, "Flags = %#x: ALLOW_SIMULTANEOUS_ACCESS on a multisampled texture", r.Flags)
		}
		d.MiscFlags |= D3D11ResourceMiscShared
	}
	switch r.Dimension {
	case ResourceDimensionBuffer:
		if r.Layout != D3D12TextureLayoutRowMajor {
			return bridge.Desc{}, invalidSource(src, "Layout = %v for a buffer, want ROW_MAJOR", r.Layout)
		}
		d.Dimension = bridge.DimensionBuffer
		return validated(src, d)
	case ResourceDimensionTexture1D:
		d.Dimension = bridge.DimensionTexture1D
	case ResourceDimensionTexture2D:
		d.Dimension = bridge.DimensionTexture2D
	case ResourceDimensionTexture3D:
		d.Dimension = bridge.DimensionTexture3D
	default:
		return bridge.Desc{}, invalidSource(src, "Dimension = %v", r.Dimension)
	}
	if r.Layout != D3D12TextureLayoutUnknown {
		return bridge.Desc{}, notExpressible("bridge.Desc", "%s Layout = %v for a texture: only UNKNOWN (driver-chosen) layouts can be shared", src, r.Layout)
	}
	return validated(src, d)
}

// D3D12FromDesc writes d as a D3D12_RESOURCE_DESC: Alignment 0 (the
// default), Layout ROW_MAJOR for buffers and UNKNOWN for textures, flags
// as Desc describes. What D3D12 keeps elsewhere is left out: CPU access
// (a heap property), cube-ness (a view property: a cube texture becomes a
// 2D array of six layers per cube), buffer binds other than unordered
// access (any D3D12 buffer binds as anything), and misc flags other than
// SHARED. A texture without D3D11_BIND_SHADER_RESOURCE gets
// DENY_SHADER_RESOURCE only with depth-stencil, where D3D12 allows it.
func D3D12FromDesc(d bridge.Desc) (D3D12ResourceDesc, error) {
	if err := d.Validate(); err != nil {
		return D3D12ResourceDesc{}, fmt.Errorf("d3d: %w", err)
	}
	r := D3D12ResourceDesc{
		Width: uint64(d.Width), Height: d.Height, DepthOrArraySize: uint16(d.DepthOrArraySize),
		MipLevels: uint16(d.MipLevels), Format: d.Format, SampleDesc: SampleDesc{Count: d.SampleCount},
	}
	if d.BindFlags&D3D11BindUnorderedAccess != 0 {
		r.Flags |= D3D12ResourceFlagAllowUnorderedAccess
	}
	if d.Dimension == bridge.DimensionBuffer {
		r.Dimension, r.Layout = ResourceDimensionBuffer, D3D12TextureLayoutRowMajor
		return r, nil
	}
	switch d.Dimension {
	case bridge.DimensionTexture1D:
		r.Dimension = ResourceDimensionTexture1D
	case bridge.DimensionTexture2D:
		r.Dimension = ResourceDimensionTexture2D
	case bridge.DimensionTextureCube:
		// Validate caps cubes at 341, so six layers each fit in uint16.
		r.Dimension, r.DepthOrArraySize = ResourceDimensionTexture2D, uint16(d.DepthOrArraySize*6)
	case bridge.DimensionTexture3D:
		r.Dimension = ResourceDimensionTexture3D
	}
	if d.BindFlags&D3D11BindRenderTarget != 0 {
		r.Flags |= D3D12ResourceFlagAllowRenderTarget
	}
	depth := d.BindFlags&D3D11BindDepthStencil != 0
	if depth {
		r.Flags |= D3D12ResourceFlagAllowDepthStencil
		if d.BindFlags&D3D11BindShaderResource == 0 {
			r.Flags |= D3D12ResourceFlagDenyShaderResource
		}
	}
	if d.MiscFlags&D3D11ResourceMiscShared != 0 && !depth && d.SampleCount == 1 {
		r.Flags |= D3D12ResourceFlagAllowSimultaneousAccess
	}
	return r, nil
}
