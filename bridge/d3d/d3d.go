// Package d3d mirrors the Direct3D 9, 11 and 12 resource descriptions as
// plain Go structs, with their real constant values, and converts each to
// and from bridge.Desc. A resource created by one Direct3D layer is
// described once, as a bridge.Desc, and any other layer opens it through
// its own description: a D3D9Ex surface can be opened as a D3D11 texture
// and a D3D12 resource as a D3D9 texture wherever the target API can say
// what the resource is.
//
// Conversions into bridge.Desc resolve Direct3D's creation-time defaults
// (MipLevels 0 means the full chain) and validate the result with
// bridge.Desc.Validate. A conversion the target API cannot express returns
// an error wrapping bridge.ErrNotExpressible that names the field and value.
// Where the target API keeps a fact somewhere other than its resource
// description (D3D12's CPU access lives in the heap, its cubes in views),
// the conversion leaves the fact out rather than failing; each converter
// documents what it leaves out.
//
// The runtime descriptors (runtime.go) are the blobs each runtime stores
// with a shared resource, in Windows' byte layout, which DXVK and
// vkd3d-proton read to open it: ParseRuntimeDesc tells them apart and
// decodes them, RuntimeDescFor writes the one an API would record.
// docs/d3d-runtime-descriptors.md has the layouts and their sources.
//
// Nothing here needs Windows or a GPU.
package d3d

import (
	"fmt"

	"github.com/glbridge/glbridge/bridge"
)

// notExpressible formats "d3d: not expressible in TARGET: FIELD = VALUE: why".
func notExpressible(target, format string, args ...any) error {
	return fmt.Errorf("d3d: %w in %s: %s", bridge.ErrNotExpressible, target, fmt.Sprintf(format, args...))
}

// invalidSource reports a Direct3D description that its own runtime
// would reject; it wraps bridge.ErrInvalidDesc.
func invalidSource(source, format string, args ...any) error {
	return fmt.Errorf("d3d: %s: %w: %s", source, bridge.ErrInvalidDesc, fmt.Sprintf(format, args...))
}

// validated finishes a conversion into bridge.Desc: it resolves MipLevels
// 0 to the full chain and checks the result.
func validated(source string, d bridge.Desc) (bridge.Desc, error) {
	if d.MipLevels == 0 && d.Dimension != bridge.DimensionBuffer {
		d.MipLevels = d.MaxMipLevels()
	}
	if err := d.Validate(); err != nil {
		return bridge.Desc{}, fmt.Errorf("d3d: %s: %w", source, err)
	}
	return d, nil
}

// ResourceDimension is D3D11_RESOURCE_DIMENSION, which has the values of
// D3D12_RESOURCE_DIMENSION.
type ResourceDimension uint32

// Resource dimensions, D3D11_RESOURCE_DIMENSION_* and
// D3D12_RESOURCE_DIMENSION_*.
const (
	ResourceDimensionUnknown   ResourceDimension = 0
	ResourceDimensionBuffer    ResourceDimension = 1
	ResourceDimensionTexture1D ResourceDimension = 2
	ResourceDimensionTexture2D ResourceDimension = 3
	ResourceDimensionTexture3D ResourceDimension = 4
)

var resourceDimensionNames = [...]string{"UNKNOWN", "BUFFER", "TEXTURE1D", "TEXTURE2D", "TEXTURE3D"}

// String names the dimension without the D3D1x_RESOURCE_DIMENSION_ prefix.
func (r ResourceDimension) String() string {
	if int(r) < len(resourceDimensionNames) {
		return resourceDimensionNames[r]
	}
	return fmt.Sprintf("RESOURCE_DIMENSION(%d)", uint32(r))
}

// SampleDesc is DXGI_SAMPLE_DESC. bridge.Desc keeps only Count: quality
// levels are vendor-defined and do not survive a change of device.
type SampleDesc struct {
	Count   uint32
	Quality uint32
}

// sampleCount checks Quality and returns Count, with 0 read as 1 only
// where the caller allows it.
func sampleCount(source string, s SampleDesc) (uint32, error) {
	if s.Quality != 0 {
		return 0, notExpressible("bridge.Desc", "%s SampleDesc.Quality = %d: quality levels are vendor-defined; only 0 can be shared", source, s.Quality)
	}
	return s.Count, nil
}
