package d3d

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/glbridge/glbridge/bridge"
)

// The golden vectors are the descriptors Wine's tests expect Windows to
// write (wine-mirror/wine dlls/win32u/tests/d3dkmt.c, test_shared_resources,
// cases MAKETEST(api, dim, idx), written "api:dim:idx" below), laid out by
// that file's struct dxgi_runtime_desc, d3d9_runtime_desc,
// d3d11_runtime_desc and d3d12_runtime_desc, which DXVK
// (src/util/util_gdi.h) and vkd3d-proton (include/private/vkd3d_d3dkmt.h)
// declare alike. The test's sizes: resource_size 0x100000, width_2d 0x40,
// height_2d 0x1000, width_1d 0x2000, array_1d 0x20, height_3d 0x20,
// depth_3d 0x80, width_cube 0x40. Fields the test leaves to the driver
// (D3D12's unknown words) are zero here; keyed-mutex handles, which it
// checks only for their global shape, are GlobalHandle(1) and (2).

// le lays out 32-bit words little-endian.
func le(w ...uint32) []byte { return appendU32(nil, w...) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

var (
	mutexHandle = bridge.GlobalHandle(1) // 0x40000042
	syncHandle  = bridge.GlobalHandle(2) // 0x40000082
)

// hdr9 is the header of a D3D9 descriptor: size 0x58, version 1,
// unknown_0 1.
func hdr9(w, h uint32, f bridge.Format) []byte {
	return le(0x58, 1, w, h, uint32(f), 1, 0, 0, 0, 0, 0, 0, 0, 0)
}

// hdr11 is the header of a D3D11 descriptor, or of the D3D11 part of a
// D3D12 one: size 0x68.
func hdr11(version, w, h uint32, f bridge.Format, km bool, nt bool) []byte {
	var mh, sh uint32
	if km {
		mh, sh = uint32(mutexHandle), uint32(syncHandle)
	}
	return le(0x68, version, w, h, uint32(f), 0, 0, b2u(km), mh, sh, b2u(nt), 0, 0, 0)
}

// tail12 is what follows the D3D11 part of a D3D12 descriptor, with the
// zero unknown words: unknown_5[4], resource_size, unknown_6[7],
// resource_align, unknown_7[9], D3D12_RESOURCE_DESC1, unknown_8.
func tail12(size, align uint32, d D3D12ResourceDesc) []byte {
	return cat(le(0, 0, 0, 0, size), make([]byte, 28), le(align), make([]byte, 36),
		le(uint32(d.Dimension), 0, uint32(d.Alignment), uint32(d.Alignment>>32), uint32(d.Width), uint32(d.Width>>32), d.Height,
			uint32(d.DepthOrArraySize)|uint32(d.MipLevels)<<16, uint32(d.Format), d.SampleDesc.Count, d.SampleDesc.Quality,
			uint32(d.Layout), d.Flags, 0, 0, 0, 0, 0))
}

const (
	fmtBGRA = bridge.FormatB8G8R8A8Unorm
	fmtRGBA = bridge.FormatR8G8B8A8Unorm
	fmtD24  = bridge.FormatD24UnormS8Uint
	cpuR    = D3D11CPUAccessRead
	cpuW    = D3D11CPUAccessWrite
	keyed   = D3D11ResourceMiscSharedKeyedMutex
	ntMisc  = D3D11ResourceMiscSharedNTHandle
)

func tex2D(w, h uint32, f bridge.Format, bind, misc, cpu uint32) bridge.Desc {
	d := bridge.Texture2D(w, h, f)
	d.BindFlags, d.MiscFlags, d.CPUAccessFlags = bind, misc, cpu
	return d
}

var (
	h9tex  = DXGISharedHeader{Size: 0x58, Version: 1, Width: 0x40, Height: 0x1000, Format: fmtBGRA, Unknown0: 1}
	h11    = DXGISharedHeader{Size: 0x68, Version: 4}
	h11km  = DXGISharedHeader{Size: 0x68, Version: 4, KeyedMutex: true, KeyedMutexHandle: mutexHandle, SyncHandle: syncHandle}
	h12    = DXGISharedHeader{Size: 0x68, Version: 0, NTShared: true}
	h12rt  = DXGISharedHeader{Size: 0x68, Version: 0, NTShared: true, Width: 0x40, Height: 0x1000, Format: fmtRGBA}
	d12buf = D3D12ResourceDesc{Dimension: ResourceDimensionBuffer, Alignment: 0x10000, Width: 0x100000, Height: 1, DepthOrArraySize: 1, MipLevels: 1,
		SampleDesc: SampleDesc{Count: 1}, Layout: D3D12TextureLayoutRowMajor}
	d12tex = D3D12ResourceDesc{Dimension: ResourceDimensionTexture2D, Alignment: 0x10000, Width: 0x40, Height: 0x1000, DepthOrArraySize: 1, MipLevels: 1,
		Format: fmtRGBA, SampleDesc: SampleDesc{Count: 1}}
	opts12 = RuntimeOptions{ResourceSize: 0x100000, ResourceAlign: 0x10000}
)

func with12(d D3D12ResourceDesc, f func(*D3D12ResourceDesc)) D3D12ResourceDesc { f(&d); return d }

func tex2D11(bind, cpu, misc uint32) D3D11Desc {
	return D3D11Desc{Dimension: ResourceDimensionTexture2D, Texture2D: D3D11Texture2DDesc{Width: 0x40, Height: 0x1000, MipLevels: 1, ArraySize: 1,
		Format: fmtRGBA, SampleDesc: SampleDesc{Count: 1}, BindFlags: bind, CPUAccessFlags: cpu, MiscFlags: misc}}
}

// part11 lays out a D3D11 2D description as the dimension and union.
func part11(d D3D11Desc) []byte {
	b, err := appendD3D11Part(nil, d)
	if err != nil {
		panic(err)
	}
	return b
}

// goldenVector is one descriptor: its bytes, what ParseRuntimeDesc must
// make of them, what DXVK's D3D11 and vkd3d-proton's readers take from
// them (nil: the reader refuses it), how glbridge builds the same bytes
// (nil: it cannot), and the bridge.Desc it converts to (zero: Desc fails
// with ErrNotExpressible).
type goldenVector struct {
	name  string
	blob  []byte
	want  RuntimeDesc
	dxvk  *D3D11Texture2DDesc
	vkd3d *D3D12ResourceDesc
	build func() (RuntimeDesc, error)
	desc  bridge.Desc
}

func buildFor(api API, d bridge.Desc, o RuntimeOptions) func() (RuntimeDesc, error) {
	return func() (RuntimeDesc, error) { return RuntimeDescFor(api, d, o) }
}

// dxvkFromD3D9 is what DXVK's ConvertRuntimeDescriptor makes of a D3D9
// texture or surface: the size, and fixed defaults.
func dxvkFromD3D9(w, h uint32, f bridge.Format) *D3D11Texture2DDesc {
	return &D3D11Texture2DDesc{Width: w, Height: h, MipLevels: 1, ArraySize: 1, Format: f, SampleDesc: SampleDesc{Count: 1},
		BindFlags: srv | rt, MiscFlags: shared}
}

// vkd3dFromD3D9 is what vkd3d-proton's d3d12_device_open_resource_descriptor
// makes of a D3D9 texture or surface.
func vkd3dFromD3D9(w, h uint32, f bridge.Format) *D3D12ResourceDesc {
	return &D3D12ResourceDesc{Dimension: ResourceDimensionTexture2D, Width: uint64(w), Height: h, DepthOrArraySize: 1, MipLevels: 1,
		Format: f, SampleDesc: SampleDesc{Count: 1}, Flags: D3D12ResourceFlagAllowRenderTarget}
}

func goldenVectors() []goldenVector {
	d9 := func(r D3D9RuntimeDesc) RuntimeDesc { return RuntimeDesc{API: APID3D9, D3D9: r} }
	d11 := func(r D3D11RuntimeDesc) RuntimeDesc { return RuntimeDesc{API: APID3D11, D3D11: r} }
	d12 := func(r D3D12RuntimeDesc) RuntimeDesc { return RuntimeDesc{API: APID3D12, D3D12: r} }
	surf := func(fmt D3DFormat, usage uint32) D3D9RuntimeDesc {
		h := h9tex
		if fmt == D3DFmtD24S8 {
			h.Format = fmtD24
		}
		return D3D9RuntimeDesc{DXGI: h, Format: fmt, Type: D3DRTypeSurface, Usage: usage, Width: 0x40, Height: 0x1000}
	}
	tex := func(usage uint32) D3D9RuntimeDesc {
		return D3D9RuntimeDesc{DXGI: h9tex, Format: D3DFmtA8R8G8B8, Type: D3DRTypeTexture, Usage: usage, Width: 0x40, Height: 0x1000, Levels: 1}
	}
	d12Of := func(h DXGISharedHeader, r D3D12ResourceDesc) D3D12RuntimeDesc {
		return D3D12RuntimeDesc{D3D11: D3D11RuntimeDesc{DXGI: h}, ResourceSize: 0x100000, ResourceAlign: 0x10000, Resource: r}
	}
	simul := tex2D11(rt|srv, 0, shared|ntMisc)
	h12simul := h12rt
	h12simul.Version = 4
	vb := bridge.Desc{Dimension: bridge.DimensionBuffer, Width: 0x10000, Height: 1, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1,
		BindFlags: D3D11BindVertexBuffer, MiscFlags: shared}
	tex3D := bridge.Desc{Dimension: bridge.DimensionTexture3D, Width: 0x40, Height: 0x20, DepthOrArraySize: 0x80, MipLevels: 1, SampleCount: 1,
		Format: fmtBGRA, BindFlags: srv, MiscFlags: shared}
	cubeTex := bridge.Desc{Dimension: bridge.DimensionTextureCube, Width: 0x40, Height: 0x40, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1,
		Format: fmtBGRA, BindFlags: srv, MiscFlags: shared | cube}
	tex1D12 := bridge.Desc{Dimension: bridge.DimensionTexture1D, Width: 0x2000, Height: 1, DepthOrArraySize: 0x20, MipLevels: 1, SampleCount: 1,
		Format: fmtRGBA, BindFlags: srv}
	tex3D12 := bridge.Desc{Dimension: bridge.DimensionTexture3D, Width: 0x40, Height: 0x20, DepthOrArraySize: 0x80, MipLevels: 1, SampleCount: 1,
		Format: fmtRGBA, BindFlags: srv}
	buf12 := bridge.Desc{Dimension: bridge.DimensionBuffer, Width: 0x100000, Height: 1, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1, BindFlags: srv}
	dxvk11 := func(d D3D11Desc) *D3D11Texture2DDesc { return &d.Texture2D }
	vkd3d11 := func(flags uint32) *D3D12ResourceDesc {
		d := with12(d12tex, func(d *D3D12ResourceDesc) { d.Alignment, d.Flags = 0, flags })
		return &d
	}
	return []goldenVector{
		{
			name: "0:2:0 D3D9 texture",
			blob: cat(hdr9(0x40, 0x1000, fmtBGRA), le(uint32(D3DFmtA8R8G8B8), uint32(D3DRTypeTexture), D3DUsageSurface, 0, 0x40, 0x1000, 1, 0)),
			want: d9(tex(D3DUsageSurface)), dxvk: dxvkFromD3D9(0x40, 0x1000, fmtBGRA), vkd3d: vkd3dFromD3D9(0x40, 0x1000, fmtBGRA),
			build: buildFor(APID3D9, tex2D(0x40, 0x1000, fmtBGRA, srv, 0, 0), RuntimeOptions{}),
			desc:  tex2D(0x40, 0x1000, fmtBGRA, srv, shared, 0),
		},
		{
			name: "0:2:1 D3D9 dynamic texture",
			blob: cat(hdr9(0x40, 0x1000, fmtBGRA), le(uint32(D3DFmtA8R8G8B8), uint32(D3DRTypeTexture), D3DUsageSurface|D3DUsageLockable|D3DUsageDynamic, 0, 0x40, 0x1000, 1, 0)),
			want: d9(tex(D3DUsageSurface | D3DUsageLockable | D3DUsageDynamic)), dxvk: dxvkFromD3D9(0x40, 0x1000, fmtBGRA), vkd3d: vkd3dFromD3D9(0x40, 0x1000, fmtBGRA),
			build: buildFor(APID3D9, tex2D(0x40, 0x1000, fmtBGRA, srv, 0, cpuW), RuntimeOptions{}),
			desc:  tex2D(0x40, 0x1000, fmtBGRA, srv, shared, cpuW),
		},
		{
			name: "0:2:2 D3D9 render-target texture",
			blob: cat(hdr9(0x40, 0x1000, fmtBGRA), le(uint32(D3DFmtA8R8G8B8), uint32(D3DRTypeTexture), D3DUsageSurface|D3DUsageRenderTarget, 0, 0x40, 0x1000, 1, 0)),
			want: d9(tex(D3DUsageSurface | D3DUsageRenderTarget)), dxvk: dxvkFromD3D9(0x40, 0x1000, fmtBGRA), vkd3d: vkd3dFromD3D9(0x40, 0x1000, fmtBGRA),
			build: buildFor(APID3D9, tex2D(0x40, 0x1000, fmtBGRA, srv|rt, 0, 0), RuntimeOptions{}),
			desc:  tex2D(0x40, 0x1000, fmtBGRA, srv|rt, shared, 0),
		},
		{
			name: "0:2:3 D3D9 render target",
			blob: cat(hdr9(0x40, 0x1000, fmtBGRA), le(uint32(D3DFmtA8R8G8B8), uint32(D3DRTypeSurface), D3DUsageSurface|D3DUsageRenderTarget, 0, 0, 0, 0x40, 0x1000)),
			want: d9(surf(D3DFmtA8R8G8B8, D3DUsageSurface|D3DUsageRenderTarget)), dxvk: dxvkFromD3D9(0x40, 0x1000, fmtBGRA), vkd3d: vkd3dFromD3D9(0x40, 0x1000, fmtBGRA),
			build: buildFor(APID3D9, tex2D(0x40, 0x1000, fmtBGRA, rt, 0, 0), RuntimeOptions{}),
			desc:  tex2D(0x40, 0x1000, fmtBGRA, rt, shared, 0),
		},
		{
			name: "0:2:5 D3D9 depth stencil",
			blob: cat(hdr9(0x40, 0x1000, fmtD24), le(uint32(D3DFmtD24S8), uint32(D3DRTypeSurface), D3DUsageSurface|D3DUsageDepthStencil, 0, 0, 0, 0x40, 0x1000)),
			want: d9(surf(D3DFmtD24S8, D3DUsageSurface|D3DUsageDepthStencil)), dxvk: dxvkFromD3D9(0x40, 0x1000, fmtD24), vkd3d: vkd3dFromD3D9(0x40, 0x1000, fmtD24),
			build: buildFor(APID3D9, tex2D(0x40, 0x1000, fmtD24, ds, 0, 0), RuntimeOptions{}),
			desc:  tex2D(0x40, 0x1000, fmtD24, ds, shared, 0),
		},
		{
			name: "0:2:6 D3D9 offscreen plain surface",
			blob: cat(hdr9(0x40, 0x1000, fmtBGRA), le(uint32(D3DFmtA8R8G8B8), uint32(D3DRTypeSurface), D3DUsageLockable|D3DUsageOffscreen, 0, 0, 0, 0x40, 0x1000)),
			want: d9(surf(D3DFmtA8R8G8B8, D3DUsageLockable|D3DUsageOffscreen)), dxvk: dxvkFromD3D9(0x40, 0x1000, fmtBGRA), vkd3d: vkd3dFromD3D9(0x40, 0x1000, fmtBGRA),
			build: buildFor(APID3D9, tex2D(0x40, 0x1000, fmtBGRA, 0, 0, 0), RuntimeOptions{}),
			desc:  tex2D(0x40, 0x1000, fmtBGRA, 0, shared, 0),
		},
		{
			name: "0:3:0 D3D9 volume texture",
			blob: cat(hdr9(0x40, 0x20, 0), le(uint32(D3DFmtA8R8G8B8), uint32(D3DRTypeVolumeTexture), D3DUsageSurface, 0, 0x40, 0x20, 1, 0x80)),
			want: d9(D3D9RuntimeDesc{DXGI: DXGISharedHeader{Size: 0x58, Version: 1, Width: 0x40, Height: 0x20, Unknown0: 1}, Format: D3DFmtA8R8G8B8,
				Type: D3DRTypeVolumeTexture, Usage: D3DUsageSurface, Width: 0x40, Height: 0x20, Levels: 1, Depth: 0x80}),
			build: buildFor(APID3D9, tex3D, RuntimeOptions{}),
			desc:  tex3D,
		},
		{
			name: "0:3:1 D3D9 cube texture",
			blob: cat(hdr9(0x40, 0x40, 0), le(uint32(D3DFmtA8R8G8B8), uint32(D3DRTypeCubeTexture), D3DUsageSurface, 0, 0x40, 0x40, 1, 0)),
			want: d9(D3D9RuntimeDesc{DXGI: DXGISharedHeader{Size: 0x58, Version: 1, Width: 0x40, Height: 0x40, Unknown0: 1}, Format: D3DFmtA8R8G8B8,
				Type: D3DRTypeCubeTexture, Usage: D3DUsageSurface, Width: 0x40, Height: 0x40, Levels: 1}),
			build: buildFor(APID3D9, cubeTex, RuntimeOptions{}),
			desc:  cubeTex,
		},
		{
			// Windows writes the FVF (D3DFVF_XYZ, 2) as the buffer's
			// format; glbridge writes it when told to.
			name: "0:0:0 D3D9 vertex buffer",
			blob: cat(hdr9(0x10000, 1, 0), le(uint32(D3DFmtVertexData), uint32(D3DRTypeVertexBuffer), D3DUsageLockable, 0, 0x10000, 2, 0, 0)),
			want: d9(D3D9RuntimeDesc{DXGI: DXGISharedHeader{Size: 0x58, Version: 1, Width: 0x10000, Height: 1, Unknown0: 1}, Format: D3DFmtVertexData,
				Type: D3DRTypeVertexBuffer, Usage: D3DUsageLockable, Width: 0x10000, BufferFormat: 2}),
			build: buildFor(APID3D9, vb, RuntimeOptions{D3D9BufferFormat: 2}),
			desc:  vb,
		},
		{
			name: "0:0:1 D3D9 index buffer",
			blob: cat(hdr9(0x80000, 1, 0), le(uint32(D3DFmtIndex16), uint32(D3DRTypeIndexBuffer), D3DUsageLockable, 0, 0x80000, 0, 0, 0)),
			want: d9(D3D9RuntimeDesc{DXGI: DXGISharedHeader{Size: 0x58, Version: 1, Width: 0x80000, Height: 1, Unknown0: 1}, Format: D3DFmtIndex16,
				Type: D3DRTypeIndexBuffer, Usage: D3DUsageLockable, Width: 0x80000}),
		},
		{
			// Windows records CPU read access on a default-usage texture,
			// which bridge.Desc refuses (see checkUsage).
			name: "2:2:0 D3D11 texture2d",
			blob: cat(hdr11(4, 0, 0, 0, false, false), part11(tex2D11(rt, cpuR, shared))),
			want: d11(D3D11RuntimeDesc{DXGI: h11, Resource: tex2D11(rt, cpuR, shared)}),
			dxvk: dxvk11(tex2D11(rt, cpuR, shared)), vkd3d: vkd3d11(D3D12ResourceFlagAllowRenderTarget | D3D12ResourceFlagAllowSimultaneousAccess),
		},
		{
			name: "2:2:1 D3D11 NT-shared texture2d",
			blob: cat(hdr11(4, 0, 0, 0, false, true), part11(tex2D11(rt, cpuR, shared|ntMisc))),
			want: d11(D3D11RuntimeDesc{DXGI: DXGISharedHeader{Size: 0x68, Version: 4, NTShared: true}, Resource: tex2D11(rt, cpuR, shared|ntMisc)}),
			dxvk: dxvk11(tex2D11(rt, cpuR, shared|ntMisc)), vkd3d: vkd3d11(D3D12ResourceFlagAllowRenderTarget | D3D12ResourceFlagAllowSimultaneousAccess),
		},
		{
			name: "2:2:2 D3D11 keyed-mutex texture2d",
			blob: cat(hdr11(4, 0, 0, 0, true, false), part11(tex2D11(srv, cpuW, keyed))),
			want: d11(D3D11RuntimeDesc{DXGI: h11km, Resource: tex2D11(srv, cpuW, keyed)}),
			dxvk: dxvk11(tex2D11(srv, cpuW, keyed)), vkd3d: vkd3d11(D3D12ResourceFlagAllowSimultaneousAccess),
		},
		{
			// D3D10 writes D3D11's descriptor, its misc flag in D3D11's
			// value (0x100, not D3D10's 0x10).
			name: "1:2:1 D3D10 keyed-mutex texture2d",
			blob: cat(hdr11(4, 0, 0, 0, true, false), part11(tex2D11(rt, cpuR, keyed))),
			want: d11(D3D11RuntimeDesc{DXGI: h11km, Resource: tex2D11(rt, cpuR, keyed)}),
			dxvk: dxvk11(tex2D11(rt, cpuR, keyed)), vkd3d: vkd3d11(D3D12ResourceFlagAllowRenderTarget | D3D12ResourceFlagAllowSimultaneousAccess),
		},
		{
			name: "2:1:0 D3D11 texture1d",
			blob: cat(hdr11(4, 0, 0, 0, false, false), le(2, 0x2000, 1, 0x20, uint32(fmtRGBA), 0, srv, cpuR, shared, 0, 0, 0)),
			want: d11(D3D11RuntimeDesc{DXGI: h11, Resource: D3D11Desc{Dimension: ResourceDimensionTexture1D, Texture1D: D3D11Texture1DDesc{
				Width: 0x2000, MipLevels: 1, ArraySize: 0x20, Format: fmtRGBA, BindFlags: srv, CPUAccessFlags: cpuR, MiscFlags: shared}}}),
		},
		{
			name: "2:3:0 D3D11 texture3d",
			blob: cat(hdr11(4, 0, 0, 0, false, false), le(4, 0x40, 0x20, 0x80, 1, uint32(fmtRGBA), 0, srv, cpuR, shared, 0, 0)),
			want: d11(D3D11RuntimeDesc{DXGI: h11, Resource: D3D11Desc{Dimension: ResourceDimensionTexture3D, Texture3D: D3D11Texture3DDesc{
				Width: 0x40, Height: 0x20, Depth: 0x80, MipLevels: 1, Format: fmtRGBA, BindFlags: srv, CPUAccessFlags: cpuR, MiscFlags: shared}}}),
		},
		{
			// Not one of Wine's cases: what DXVK's ExportImageInfo writes
			// for a keyed-mutex render target glbridge can describe.
			name: "DXVK keyed-mutex render target",
			blob: cat(hdr11(4, 0, 0, 0, true, false), part11(tex2D11(srv|rt, 0, shared|keyed))),
			want: d11(D3D11RuntimeDesc{DXGI: h11km, Resource: tex2D11(srv|rt, 0, shared|keyed)}),
			dxvk: dxvk11(tex2D11(srv|rt, 0, shared|keyed)), vkd3d: vkd3d11(D3D12ResourceFlagAllowRenderTarget | D3D12ResourceFlagAllowSimultaneousAccess),
			build: buildFor(APID3D11, tex2D(0x40, 0x1000, fmtRGBA, srv|rt, shared|keyed, 0), RuntimeOptions{KeyedMutex: mutexHandle, SyncObject: syncHandle}),
			desc:  tex2D(0x40, 0x1000, fmtRGBA, srv|rt, shared|keyed, 0),
		},
		{
			name:  "3:0:0 D3D12 buffer",
			blob:  cat(hdr11(0, 0, 0, 0, false, true), make([]byte, 48), tail12(0x100000, 0x10000, d12buf)),
			want:  d12(d12Of(h12, d12buf)),
			vkd3d: &d12buf,
			build: buildFor(APID3D12, buf12, opts12),
			desc:  buf12,
		},
		{
			name: "3:1:0 D3D12 texture1d",
			blob: cat(hdr11(0, 0, 0, 0, false, true), make([]byte, 48), tail12(0x100000, 0x10000, with12(d12tex, func(d *D3D12ResourceDesc) {
				d.Dimension, d.Width, d.Height, d.DepthOrArraySize = ResourceDimensionTexture1D, 0x2000, 1, 0x20
			}))),
			want: d12(d12Of(h12, with12(d12tex, func(d *D3D12ResourceDesc) {
				d.Dimension, d.Width, d.Height, d.DepthOrArraySize = ResourceDimensionTexture1D, 0x2000, 1, 0x20
			}))),
			vkd3d: ptr(with12(d12tex, func(d *D3D12ResourceDesc) {
				d.Dimension, d.Width, d.Height, d.DepthOrArraySize = ResourceDimensionTexture1D, 0x2000, 1, 0x20
			})),
			build: buildFor(APID3D12, tex1D12, opts12),
			desc:  tex1D12,
		},
		{
			name:  "3:2:0 D3D12 texture2d",
			blob:  cat(hdr11(0, 0, 0, 0, false, true), make([]byte, 48), tail12(0x100000, 0x10000, d12tex)),
			want:  d12(d12Of(h12, d12tex)),
			vkd3d: &d12tex,
			build: buildFor(APID3D12, tex2D(0x40, 0x1000, fmtRGBA, srv, 0, 0), opts12),
			desc:  tex2D(0x40, 0x1000, fmtRGBA, srv, 0, 0),
		},
		{
			name:  "3:2:1 D3D12 simultaneous-access texture2d",
			blob:  cat(hdr11(0, 0, 0, 0, false, true), make([]byte, 48), tail12(0x100000, 0x10000, with12(d12tex, func(d *D3D12ResourceDesc) { d.Flags = 0x20 }))),
			want:  d12(d12Of(h12, with12(d12tex, func(d *D3D12ResourceDesc) { d.Flags = 0x20 }))),
			vkd3d: ptr(with12(d12tex, func(d *D3D12ResourceDesc) { d.Flags = 0x20 })),
			build: buildFor(APID3D12, tex2D(0x40, 0x1000, fmtRGBA, srv, shared, 0), opts12),
			desc:  tex2D(0x40, 0x1000, fmtRGBA, srv, shared, 0),
		},
		{
			name:  "3:2:2 D3D12 render target",
			blob:  cat(hdr11(0, 0x40, 0x1000, fmtRGBA, false, true), make([]byte, 48), tail12(0x100000, 0x10000, with12(d12tex, func(d *D3D12ResourceDesc) { d.Flags = 0x1 }))),
			want:  d12(d12Of(h12rt, with12(d12tex, func(d *D3D12ResourceDesc) { d.Flags = 0x1 }))),
			vkd3d: ptr(with12(d12tex, func(d *D3D12ResourceDesc) { d.Flags = 0x1 })),
			build: buildFor(APID3D12, tex2D(0x40, 0x1000, fmtRGBA, srv|rt, 0, 0), opts12),
			desc:  tex2D(0x40, 0x1000, fmtRGBA, srv|rt, 0, 0),
		},
		{
			// Version 4: a D3D11 opener (DXVK takes any blob of 0x68
			// bytes or more) reads the D3D11 part.
			name: "3:2:3 D3D12 simultaneous-access render target",
			blob: cat(hdr11(4, 0x40, 0x1000, fmtRGBA, false, true), part11(simul), tail12(0x100000, 0x10000, with12(d12tex, func(d *D3D12ResourceDesc) { d.Flags = 0x21 }))),
			want: d12(D3D12RuntimeDesc{D3D11: D3D11RuntimeDesc{DXGI: h12simul, Resource: simul}, ResourceSize: 0x100000, ResourceAlign: 0x10000,
				Resource: with12(d12tex, func(d *D3D12ResourceDesc) { d.Flags = 0x21 })}),
			dxvk: dxvk11(simul), vkd3d: ptr(with12(d12tex, func(d *D3D12ResourceDesc) { d.Flags = 0x21 })),
			build: buildFor(APID3D12, tex2D(0x40, 0x1000, fmtRGBA, srv|rt, shared, 0), opts12),
			desc:  tex2D(0x40, 0x1000, fmtRGBA, srv|rt, shared, 0),
		},
		{
			name: "3:3:0 D3D12 texture3d",
			blob: cat(hdr11(0, 0, 0, 0, false, true), make([]byte, 48), tail12(0x100000, 0x10000, with12(d12tex, func(d *D3D12ResourceDesc) {
				d.Dimension, d.Height, d.DepthOrArraySize = ResourceDimensionTexture3D, 0x20, 0x80
			}))),
			want: d12(d12Of(h12, with12(d12tex, func(d *D3D12ResourceDesc) {
				d.Dimension, d.Height, d.DepthOrArraySize = ResourceDimensionTexture3D, 0x20, 0x80
			}))),
			vkd3d: ptr(with12(d12tex, func(d *D3D12ResourceDesc) {
				d.Dimension, d.Height, d.DepthOrArraySize = ResourceDimensionTexture3D, 0x20, 0x80
			})),
			build: buildFor(APID3D12, tex3D12, opts12),
			desc:  tex3D12,
		},
	}
}

func ptr[T any](v T) *T { return &v }

func u32at(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }

// dxvkRead is DXVK's D3D11Device::ConvertRuntimeDescriptor
// (src/d3d11/d3d11_device.cpp), read from the raw bytes at the offsets of
// util_gdi.h's structs, independently of the decoder under test.
func dxvkRead(b []byte) *D3D11Texture2DDesc {
	if len(b) < 0x38 {
		return nil
	}
	size, version := u32at(b, 0), u32at(b, 4)
	switch {
	case len(b) == 0x108 && size == 0x68 && version == 0:
		return nil // "D3D12 descriptor conversion not implemented"
	case len(b) >= 0x68 && size == 0x68 && version == 4:
		if u32at(b, 0x38) != uint32(ResourceDimensionTexture2D) {
			return nil
		}
		return &D3D11Texture2DDesc{Width: u32at(b, 0x3c), Height: u32at(b, 0x40), MipLevels: u32at(b, 0x44), ArraySize: u32at(b, 0x48),
			Format: bridge.Format(u32at(b, 0x4c)), SampleDesc: SampleDesc{Count: u32at(b, 0x50), Quality: u32at(b, 0x54)},
			Usage: D3D11Usage(u32at(b, 0x58)), BindFlags: u32at(b, 0x5c), CPUAccessFlags: u32at(b, 0x60), MiscFlags: u32at(b, 0x64)}
	case len(b) >= 0x58 && size == 0x58 && version == 1:
		d := dxvkFromD3D9(u32at(b, 8), u32at(b, 12), bridge.Format(u32at(b, 0x10)))
		switch D3DResourceType(u32at(b, 0x3c)) {
		case D3DRTypeTexture:
			d.Width, d.Height, d.MipLevels, d.ArraySize = u32at(b, 0x48), u32at(b, 0x4c), u32at(b, 0x50), max(u32at(b, 0x54), 1)
		case D3DRTypeSurface:
			d.Width, d.Height = u32at(b, 0x50), u32at(b, 0x54)
		default:
			return nil
		}
		return d
	}
	return nil
}

// vkd3dRead is vkd3d-proton's d3d12_device_open_resource_descriptor
// (libs/vkd3d/d3dkmt.c), read from the raw bytes at the offsets of
// vkd3d_d3dkmt.h's structs.
func vkd3dRead(b []byte) *D3D12ResourceDesc {
	if len(b) < 0x38 {
		return nil
	}
	size, version := u32at(b, 0), u32at(b, 4)
	switch {
	case len(b) == 0x108 && size == 0x68 && (version == 0 || version == 4):
		u64 := func(off int) uint64 { return binary.LittleEndian.Uint64(b[off:]) }
		return &D3D12ResourceDesc{Dimension: ResourceDimension(u32at(b, 0xc0)), Alignment: u64(0xc8), Width: u64(0xd0), Height: u32at(b, 0xd8),
			DepthOrArraySize: binary.LittleEndian.Uint16(b[0xdc:]), MipLevels: binary.LittleEndian.Uint16(b[0xde:]), Format: bridge.Format(u32at(b, 0xe0)),
			SampleDesc: SampleDesc{Count: u32at(b, 0xe4), Quality: u32at(b, 0xe8)}, Layout: D3D12TextureLayout(u32at(b, 0xec)), Flags: u32at(b, 0xf0)}
	case len(b) == 0x68 && size == 0x68 && version == 4:
		if u32at(b, 0x38) != uint32(ResourceDimensionTexture2D) {
			return nil
		}
		d := &D3D12ResourceDesc{Dimension: ResourceDimensionTexture2D, Width: uint64(u32at(b, 0x3c)), Height: u32at(b, 0x40),
			DepthOrArraySize: uint16(u32at(b, 0x48)), MipLevels: uint16(u32at(b, 0x44)), Format: bridge.Format(u32at(b, 0x4c)),
			SampleDesc: SampleDesc{Count: u32at(b, 0x50), Quality: u32at(b, 0x54)}}
		bind := u32at(b, 0x5c)
		if bind&rt != 0 {
			d.Flags |= D3D12ResourceFlagAllowRenderTarget
		}
		if bind&ds != 0 {
			d.Flags |= D3D12ResourceFlagAllowDepthStencil
			if bind&srv == 0 {
				d.Flags |= D3D12ResourceFlagDenyShaderResource
			}
		} else {
			d.Flags |= D3D12ResourceFlagAllowSimultaneousAccess
		}
		if bind&uav != 0 {
			d.Flags |= D3D12ResourceFlagAllowUnorderedAccess
		}
		return d
	case len(b) == 0x58 && size == 0x58 && version == 1:
		d := vkd3dFromD3D9(u32at(b, 8), u32at(b, 12), bridge.Format(u32at(b, 0x10)))
		switch D3DResourceType(u32at(b, 0x3c)) {
		case D3DRTypeTexture:
			d.Width, d.Height = uint64(u32at(b, 0x48)), u32at(b, 0x4c)
			d.MipLevels, d.DepthOrArraySize = uint16(u32at(b, 0x50)), uint16(max(u32at(b, 0x54), 1))
		case D3DRTypeSurface:
			d.Width, d.Height = uint64(u32at(b, 0x50)), u32at(b, 0x54)
		default:
			return nil
		}
		return d
	}
	return nil
}

func TestRuntimeDescGolden(t *testing.T) {
	for _, v := range goldenVectors() {
		t.Run(v.name, func(t *testing.T) {
			if n := map[API]int{APID3D9: 0x58, APID3D11: 0x68, APID3D12: 0x108}[v.want.API]; len(v.blob) != n {
				t.Fatalf("vector has %#x bytes, want %#x", len(v.blob), n)
			}
			got, err := ParseRuntimeDesc(v.blob)
			if err != nil {
				t.Fatalf("ParseRuntimeDesc: %v", err)
			}
			if got != v.want {
				t.Errorf("ParseRuntimeDesc =\n%+v\nwant\n%+v", got, v.want)
			}
			if b, err := got.MarshalBinary(); err != nil || !bytes.Equal(b, v.blob) {
				t.Errorf("MarshalBinary = %x, %v\nwant %x", b, err, v.blob)
			}
			if r := dxvkRead(v.blob); (r == nil) != (v.dxvk == nil) || r != nil && *r != *v.dxvk {
				t.Errorf("DXVK reads %+v, want %+v", r, v.dxvk)
			}
			if r := vkd3dRead(v.blob); (r == nil) != (v.vkd3d == nil) || r != nil && *r != *v.vkd3d {
				t.Errorf("vkd3d-proton reads %+v, want %+v", r, v.vkd3d)
			}
			d, err := got.Desc()
			switch {
			case v.desc == (bridge.Desc{}):
				if !errors.Is(err, bridge.ErrNotExpressible) {
					t.Errorf("Desc() = %v, %v; want ErrNotExpressible", d, err)
				}
			case err != nil || d != v.desc:
				t.Errorf("Desc() = %+v, %v\nwant %+v", d, err, v.desc)
			}
			if v.build == nil {
				return
			}
			built, err := v.build()
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			if built != v.want {
				t.Errorf("built\n%+v\nwant\n%+v", built, v.want)
			}
			if b, err := built.MarshalBinary(); err != nil || !bytes.Equal(b, v.blob) {
				t.Errorf("built MarshalBinary = %x, %v\nwant %x", b, err, v.blob)
			}
		})
	}
}

// TestRuntimeDescPerKind checks each kind's own UnmarshalBinary and
// MarshalBinary agree with ParseRuntimeDesc, and refuse the other kinds.
func TestRuntimeDescPerKind(t *testing.T) {
	for _, v := range goldenVectors() {
		var d9 D3D9RuntimeDesc
		var d11 D3D11RuntimeDesc
		var d12 D3D12RuntimeDesc
		kinds := []struct {
			api API
			u   interface {
				UnmarshalBinary([]byte) error
				MarshalBinary() ([]byte, error)
			}
		}{{APID3D9, &d9}, {APID3D11, &d11}, {APID3D12, &d12}}
		for _, k := range kinds {
			err := k.u.UnmarshalBinary(v.blob)
			if k.api != v.want.API {
				if !errors.Is(err, bridge.ErrRuntimeDescMismatch) {
					t.Errorf("%s: %v UnmarshalBinary = %v, want bridge.ErrRuntimeDescMismatch", v.name, k.api, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: %v UnmarshalBinary: %v", v.name, k.api, err)
			}
			if b, err := k.u.MarshalBinary(); err != nil || !bytes.Equal(b, v.blob) {
				t.Errorf("%s: %v MarshalBinary = %x, %v", v.name, k.api, b, err)
			}
		}
		var h DXGISharedHeader
		if err := h.UnmarshalBinary(v.blob); err != nil || h != v.want.Header() {
			t.Errorf("%s: header %+v, %v; want %+v", v.name, h, err, v.want.Header())
		}
		if b, _ := h.MarshalBinary(); !bytes.Equal(b, v.blob[:DXGISharedHeaderSize]) {
			t.Errorf("%s: header MarshalBinary = %x", v.name, b)
		}
	}
}

// TestRuntimeDescRoundTrip writes descriptors for descriptions of every
// kind and checks that each reads back as what the API's converter makes
// of the description directly.
func TestRuntimeDescRoundTrip(t *testing.T) {
	descs := []bridge.Desc{
		tex2D(256, 256, fmtRGBA, srv, shared, 0),
		tex2D(256, 128, fmtBGRA, srv|rt, shared, 0),
		tex2D(64, 64, fmtBGRA, rt, shared, 0),
		tex2D(64, 64, fmtD24, ds, shared, 0),
		tex2D(64, 64, fmtD24, ds|srv, 0, 0),
		tex2D(128, 128, bridge.FormatBC1Unorm, srv, shared, cpuW),
		tex2D(64, 32, fmtRGBA, srv|rt|uav, shared|keyed, 0),
		tex2D(64, 32, fmtRGBA, srv|rt, shared|ntMisc, 0),
		{Dimension: bridge.DimensionTexture2D, Width: 512, Height: 512, DepthOrArraySize: 4, MipLevels: 10, SampleCount: 1, Format: fmtRGBA, BindFlags: srv, MiscFlags: shared},
		{Dimension: bridge.DimensionTexture2D, Width: 512, Height: 512, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 4, Format: fmtRGBA, BindFlags: rt, MiscFlags: shared},
		{Dimension: bridge.DimensionTextureCube, Width: 32, Height: 32, DepthOrArraySize: 1, MipLevels: 6, SampleCount: 1, Format: fmtBGRA, BindFlags: srv, MiscFlags: shared | cube},
		{Dimension: bridge.DimensionTexture3D, Width: 32, Height: 16, DepthOrArraySize: 8, MipLevels: 3, SampleCount: 1, Format: fmtBGRA, BindFlags: srv, MiscFlags: shared},
		{Dimension: bridge.DimensionTexture1D, Width: 4096, Height: 1, DepthOrArraySize: 2, MipLevels: 1, SampleCount: 1, Format: fmtRGBA, BindFlags: srv},
		{Dimension: bridge.DimensionBuffer, Width: 4096, Height: 1, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1, BindFlags: D3D11BindVertexBuffer, MiscFlags: shared},
	}
	for _, d := range descs {
		for _, api := range []API{APID3D9, APID3D11, APID3D12} {
			var direct func() (bridge.Desc, error)
			switch api {
			case APID3D9:
				direct = func() (bridge.Desc, error) { x, err := D3D9FromDesc(d); return chain(x.Desc, err) }
			case APID3D11:
				direct = func() (bridge.Desc, error) { x, err := D3D11FromDesc(d); return chain(x.Desc, err) }
			case APID3D12:
				direct = func() (bridge.Desc, error) { x, err := D3D12FromDesc(d); return chain(x.Desc, err) }
			}
			want, wantErr := direct()
			var o RuntimeOptions
			if api == APID3D11 && d.MiscFlags&keyed != 0 {
				o = RuntimeOptions{KeyedMutex: mutexHandle, SyncObject: syncHandle}
			}
			r, err := RuntimeDescFor(api, d, o)
			if wantErr != nil {
				// What the API cannot say directly it cannot record, save
				// a D3D9 multisampled surface, which D3D9Desc has and the
				// descriptor has not.
				if err == nil {
					_, err = r.Desc()
				}
				if !errors.Is(err, bridge.ErrNotExpressible) {
					t.Errorf("%v as %v: %v; the direct conversion fails with %v", d, api, err, wantErr)
				}
				continue
			}
			if api == APID3D9 && d.SampleCount > 1 {
				if !errors.Is(err, bridge.ErrNotExpressible) {
					t.Errorf("%v as %v: %v, want ErrNotExpressible", d, api, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%v as %v: %v", d, api, err)
				continue
			}
			b, err := r.MarshalBinary()
			if err != nil {
				t.Errorf("%v as %v: MarshalBinary: %v", d, api, err)
				continue
			}
			back, err := ParseRuntimeDesc(b)
			if err != nil || back != r {
				t.Errorf("%v as %v: ParseRuntimeDesc = %+v, %v\nwant %+v", d, api, back, err, r)
			}
			if got, err := back.Desc(); err != nil || got != want {
				t.Errorf("%v as %v: Desc() = %v, %v; want %v", d, api, got, err, want)
			}
			if h := back.Header(); api == APID3D11 && (h.KeyedMutex != (d.MiscFlags&keyed != 0) || h.NTShared != (d.MiscFlags&ntMisc != 0)) {
				t.Errorf("%v as %v: header %+v does not follow MiscFlags %#x", d, api, h, d.MiscFlags)
			}
		}
	}
}

func chain(f func() (bridge.Desc, error), err error) (bridge.Desc, error) {
	if err != nil {
		return bridge.Desc{}, err
	}
	return f()
}

// TestD3D9BufferFormatDefault checks that a vertex buffer's descriptor
// names D3DFMT_VERTEXDATA as its format when the caller gives none, which
// is what DXVK's ValidateSharedBuffer compares.
func TestD3D9BufferFormatDefault(t *testing.T) {
	vb := bridge.Desc{Dimension: bridge.DimensionBuffer, Width: 0x10000, Height: 1, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1, BindFlags: D3D11BindVertexBuffer}
	r, err := RuntimeDescFor(APID3D9, vb, RuntimeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := r.MarshalBinary()
	if got := u32at(b, 0x4c); got != uint32(D3DFmtVertexData) {
		t.Errorf("buffer.format = %d, want D3DFMT_VERTEXDATA", got)
	}
	if w := u32at(b, 0x48); w != 0x10000 || u32at(b, 8) != 0x10000 || u32at(b, 12) != 1 {
		t.Errorf("buffer.width %#x, header %#x x %d", w, u32at(b, 8), u32at(b, 12))
	}
}

func TestRuntimeDescMismatch(t *testing.T) {
	valid := map[API][]byte{}
	for _, v := range goldenVectors() {
		valid[v.want.API] = v.blob
	}
	patch := func(b []byte, off int, v uint32) []byte {
		b = bytes.Clone(b)
		binary.LittleEndian.PutUint32(b[off:], v)
		return b
	}
	mismatches := map[string][]byte{
		"empty":                       nil,
		"short header":                make([]byte, 0x37),
		"bare header":                 valid[APID3D9][:0x38],
		"D3D9 less a byte":            valid[APID3D9][:0x57],
		"D3D9 and a byte":             append(bytes.Clone(valid[APID3D9]), 0),
		"D3D11 less a byte":           valid[APID3D11][:0x67],
		"D3D11 and a byte":            append(bytes.Clone(valid[APID3D11]), 0),
		"D3D12 less a byte":           valid[APID3D12][:0x107],
		"D3D12 and a byte":            append(bytes.Clone(valid[APID3D12]), 0),
		"D3D9 header size 0x68":       patch(valid[APID3D9], 0, 0x68),
		"D3D9 version 4":              patch(valid[APID3D9], 4, 4),
		"D3D11 version 1":             patch(valid[APID3D11], 4, 1),
		"D3D11 version 0":             patch(valid[APID3D11], 4, 0),
		"D3D11 header size 0x58":      patch(valid[APID3D11], 0, 0x58),
		"D3D12 version 1":             patch(valid[APID3D12], 4, 1),
		"D3D12 header size 0x108":     patch(valid[APID3D12], 0, 0x108),
		"D3D11 blob with D3D9 header": cat(valid[APID3D9], make([]byte, 0x10)),
		"D3D12 blob of a D3D9 header": cat(valid[APID3D9][:0x38], make([]byte, 0x108-0x38)),
	}
	for name, b := range mismatches {
		_, err := ParseRuntimeDesc(b)
		if !errors.Is(err, bridge.ErrRuntimeDescMismatch) || !errors.Is(err, bridge.ErrInvalidDesc) {
			t.Errorf("%s: ParseRuntimeDesc = %v, want bridge.ErrRuntimeDescMismatch and ErrInvalidDesc", name, err)
		}
	}
	// Descriptors of the right size and version with a malformed body.
	malformed := map[string][]byte{
		"keyed_mutex 2":          patch(valid[APID3D11], 0x1c, 2),
		"nt_shared 7":            patch(valid[APID3D12], 0x28, 7),
		"D3D9 volume":            patch(valid[APID3D9], 0x3c, uint32(D3DRTypeVolume)),
		"D3D9 type 0":            patch(valid[APID3D9], 0x3c, 0),
		"D3D9 surface unknown_1": patch(patch(valid[APID3D9], 0x3c, uint32(D3DRTypeSurface)), 0x48, 1),
		"D3D9 texture unknown_0": patch(valid[APID3D9], 0x44, 1),
		"D3D11 dimension 5":      patch(valid[APID3D11], 0x38, 5),
	}
	for name, b := range malformed {
		_, err := ParseRuntimeDesc(b)
		if !errors.Is(err, bridge.ErrInvalidDesc) || errors.Is(err, bridge.ErrRuntimeDescMismatch) {
			t.Errorf("%s: ParseRuntimeDesc = %v, want ErrInvalidDesc only", name, err)
		}
	}
	var h DXGISharedHeader
	if err := h.UnmarshalBinary(make([]byte, 0x20)); !errors.Is(err, bridge.ErrRuntimeDescMismatch) {
		t.Errorf("header of 0x20 bytes: %v", err)
	}
	// Writers refuse what readers would.
	bad := RuntimeDesc{API: APID3D11, D3D11: D3D11RuntimeDesc{DXGI: DXGISharedHeader{Size: 0x68, Version: 1}, Resource: tex2D11(rt, 0, shared)}}
	if _, err := bad.MarshalBinary(); !errors.Is(err, bridge.ErrRuntimeDescMismatch) {
		t.Errorf("D3D11 descriptor with version 1: MarshalBinary = %v", err)
	}
	if _, err := (RuntimeDesc{API: 10}).MarshalBinary(); !errors.Is(err, bridge.ErrInvalidDesc) {
		t.Errorf("API 10: MarshalBinary = %v", err)
	}
}

func TestRuntimeDescBuilderErrors(t *testing.T) {
	tex := tex2D(64, 64, fmtRGBA, srv|rt, shared, 0)
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"D3D9 with ResourceSize", second(RuntimeDescFor(APID3D9, tex, RuntimeOptions{ResourceSize: 4096})), bridge.ErrNotExpressible},
		{"D3D11 with D3D9BufferFormat", second(RuntimeDescFor(APID3D11, tex, RuntimeOptions{D3D9BufferFormat: 2})), bridge.ErrNotExpressible},
		{"D3D11 keyed-mutex handle without the flag", second(RuntimeDescFor(APID3D11, tex, RuntimeOptions{KeyedMutex: mutexHandle})), bridge.ErrNotExpressible},
		{"D3D11 NT-shaped keyed-mutex handle", second(RuntimeDescFor(APID3D11, tex2D(64, 64, fmtRGBA, srv, keyed, 0), RuntimeOptions{KeyedMutex: 0x104})), bridge.ErrInvalidDesc},
		{"D3D12 keyed mutex", second(RuntimeDescFor(APID3D12, tex2D(64, 64, fmtRGBA, srv, keyed, 0), RuntimeOptions{SyncObject: syncHandle})), bridge.ErrNotExpressible},
		{"D3D9 multisampled", second(NewD3D9RuntimeDesc(D3D9Desc{Format: D3DFmtA8R8G8B8, Type: D3DRTypeSurface, Width: 8, Height: 8, MultiSampleType: 4}, RuntimeOptions{})), bridge.ErrNotExpressible},
		{"D3D9 managed", second(NewD3D9RuntimeDesc(D3D9Desc{Format: D3DFmtA8R8G8B8, Type: D3DRTypeTexture, Pool: D3DPoolManaged, Width: 8, Height: 8}, RuntimeOptions{})), bridge.ErrNotExpressible},
		{"D3D9 volume", second(NewD3D9RuntimeDesc(D3D9Desc{Format: D3DFmtA8R8G8B8, Type: D3DRTypeVolume, Width: 8, Height: 8}, RuntimeOptions{})), bridge.ErrNotExpressible},
		{"D3D9 deep surface", second(NewD3D9RuntimeDesc(D3D9Desc{Format: D3DFmtA8R8G8B8, Type: D3DRTypeSurface, Width: 8, Height: 8, Depth: 2}, RuntimeOptions{})), bridge.ErrInvalidDesc},
		{"D3D9 texture array", second(RuntimeDescFor(APID3D9, bridge.Desc{Dimension: bridge.DimensionTexture2D, Width: 8, Height: 8, DepthOrArraySize: 2, MipLevels: 1, SampleCount: 1, Format: fmtRGBA}, RuntimeOptions{})), bridge.ErrNotExpressible},
		{"D3D11 unknown dimension", second(NewD3D11RuntimeDesc(D3D11Desc{}, RuntimeOptions{})), bridge.ErrInvalidDesc},
		{"API 10", second(RuntimeDescFor(10, tex, RuntimeOptions{})), bridge.ErrInvalidDesc},
		{"D3D9 surface with Levels", second(D3D9RuntimeDesc{DXGI: h9tex, Format: D3DFmtA8R8G8B8, Type: D3DRTypeSurface, Width: 0x40, Height: 0x1000, Levels: 1}.MarshalBinary()), bridge.ErrNotExpressible},
		{"D3D9 buffer with Height", second(D3D9RuntimeDesc{DXGI: h9tex, Format: D3DFmtVertexData, Type: D3DRTypeVertexBuffer, Width: 0x40, Height: 2}.MarshalBinary()), bridge.ErrNotExpressible},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, c.err, c.want)
		}
	}
	// A D3D9 descriptor whose header disagrees with its union.
	r := D3D9RuntimeDesc{DXGI: h9tex, Format: D3DFmtA8R8G8B8, Type: D3DRTypeTexture, Usage: D3DUsageSurface, Width: 0x40, Height: 0x800, Levels: 1}
	if _, err := r.Desc(); !errors.Is(err, bridge.ErrInvalidDesc) {
		t.Errorf("header 0x40x0x1000 over a 0x40x0x800 texture: %v", err)
	}
	// Levels 0 writes the full chain, as Windows records created levels.
	r, err := NewD3D9RuntimeDesc(D3D9Desc{Format: D3DFmtA8R8G8B8, Type: D3DRTypeTexture, Width: 256, Height: 64}, RuntimeOptions{})
	if err != nil || r.Levels != 9 {
		t.Errorf("Levels 0: %+v, %v; want 9 levels", r, err)
	}
}

func second[T any](_ T, err error) error { return err }

// TestCheckOpen checks CheckOpen against what Windows' runtimes do with
// the golden vectors in Wine's tests (test_shared_resources, after the
// switch): D3D9 opens version 1 only; D3D11's OpenSharedResource KMT
// handles of version 4 or of D3D9 non-depth textures and surfaces,
// OpenSharedResource1 NT handles of version 4 or with a DXGI format;
// D3D12 everything.
func TestCheckOpen(t *testing.T) {
	vectors := map[string]RuntimeDesc{}
	for _, v := range goldenVectors() {
		vectors[v.name[:5]] = v.want
	}
	type open struct {
		api API
		nt  bool
	}
	d9, d11kmt, d11nt, d12kmt, d12nt := open{APID3D9, false}, open{APID3D11, false}, open{APID3D11, true}, open{APID3D12, false}, open{APID3D12, true}
	cases := []struct {
		vector string
		nt     bool // the handle the test exports
		ok     []open
		not    []open
	}{
		{"0:2:0", false, []open{d9, d11kmt, d12kmt}, []open{{APID3D9, true}}},
		{"0:2:3", false, []open{d9, d11kmt, d12kmt}, nil},
		{"0:2:5", false, []open{d9, d12kmt}, []open{d11kmt}},
		{"0:3:0", false, []open{d9, d12kmt}, []open{d11kmt}},
		{"0:3:1", false, []open{d9, d12kmt}, []open{d11kmt}},
		{"0:0:0", false, []open{d9, d12kmt}, []open{d11kmt}},
		{"2:2:0", false, []open{d11kmt, d12kmt}, []open{d9}},
		{"1:2:1", false, []open{d11kmt, d12kmt}, []open{d9}},
		{"2:2:1", true, []open{d11nt, d12nt}, []open{{APID3D9, true}}},
		{"3:2:0", true, []open{d12nt}, []open{d11nt, d11kmt, {APID3D9, true}, d9}},
		{"3:2:2", true, []open{d11nt, d12nt}, []open{d11kmt}},
		{"3:2:3", true, []open{d11nt, d12nt}, nil},
		{"3:0:0", true, []open{d12nt}, []open{d11nt}},
	}
	for _, c := range cases {
		r, ok := vectors[c.vector]
		if !ok {
			t.Fatalf("no vector %s", c.vector)
		}
		for _, o := range c.ok {
			if err := r.CheckOpen(o.api, o.nt); err != nil {
				t.Errorf("%s: %v (nt %v): %v", c.vector, o.api, o.nt, err)
			}
		}
		for _, o := range c.not {
			err := r.CheckOpen(o.api, o.nt)
			if !errors.Is(err, bridge.ErrRuntimeDescMismatch) || !errors.Is(err, bridge.ErrNotExpressible) {
				t.Errorf("%s: %v (nt %v): %v, want bridge.ErrRuntimeDescMismatch", c.vector, o.api, o.nt, err)
			}
		}
	}
	if err := vectors["0:2:0"].CheckOpen(7, false); !errors.Is(err, bridge.ErrInvalidDesc) {
		t.Errorf("API 7: %v", err)
	}
}

func TestAPIString(t *testing.T) {
	for a, want := range map[API]string{APID3D9: "D3D9", APID3D11: "D3D11", APID3D12: "D3D12", 10: "API(10)"} {
		if got := a.String(); got != want {
			t.Errorf("API(%d).String() = %q, want %q", uint32(a), got, want)
		}
	}
}

// FuzzParseRuntimeDesc checks that ParseRuntimeDesc never panics, that
// what it decodes encodes to the same bytes and decodes again to the same
// value, and that converting and checking a decoded descriptor never
// panics either.
func FuzzParseRuntimeDesc(f *testing.F) {
	for _, v := range goldenVectors() {
		f.Add(v.blob)
	}
	f.Add([]byte{})
	f.Add(make([]byte, DXGISharedHeaderSize))
	f.Add(le(0x68, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0x40))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRuntimeDesc(b)
		if err != nil {
			if !errors.Is(err, bridge.ErrInvalidDesc) {
				t.Fatalf("error %v does not wrap ErrInvalidDesc", err)
			}
			return
		}
		out, err := r.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded %+v, MarshalBinary: %v", r, err)
		}
		if len(out) != len(b) {
			t.Fatalf("MarshalBinary gives %#x bytes for %#x", len(out), len(b))
		}
		back, err := ParseRuntimeDesc(out)
		if err != nil || back != r {
			t.Fatalf("round trip: %+v, %v\nwant %+v", back, err, r)
		}
		if again, _ := back.MarshalBinary(); !bytes.Equal(again, out) {
			t.Fatalf("second encoding differs:\n%x\n%x", again, out)
		}
		if i := firstReadDiff(r.API, b, out); i >= 0 {
			t.Fatalf("encoding differs from the input at %#x, a byte the decoder reads:\n%x\n%x", i, out, b)
		}
		_, _ = r.Desc()
		for _, api := range []API{APID3D9, APID3D11, APID3D12} {
			_ = r.CheckOpen(api, false)
			_ = r.CheckOpen(api, true)
		}
	})
}

// firstReadDiff returns the offset of the first byte where a and b
// differ outside what the decoder does not read (the D3D11 union past the
// selected member, the D3D11 part of a version-0 D3D12 descriptor, the
// padding in D3D12_RESOURCE_DESC1), or -1.
func firstReadDiff(api API, a, b []byte) int {
	for i := range a {
		unread := api != APID3D9 && i >= 0x38 && i < 0x68 || api == APID3D12 && i >= 0xc4 && i < 0xc8
		if a[i] != b[i] && !unread {
			return i
		}
	}
	return -1
}
