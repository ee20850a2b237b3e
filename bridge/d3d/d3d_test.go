package d3d

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/glbridge/glbridge/bridge"
)

const (
	srv    = D3D11BindShaderResource
	rt     = D3D11BindRenderTarget
	ds     = D3D11BindDepthStencil
	uav    = D3D11BindUnorderedAccess
	shared = D3D11ResourceMiscShared
	cube   = D3D11ResourceMiscTextureCube
)

func TestD3D9FormatTable(t *testing.T) {
	if D3DFmtDXT1 != 0x31545844 || D3DFmtDXT5 != 0x35545844 || D3DFmtINTZ != 0x5A544E49 {
		t.Errorf("FOURCC: DXT1 %#x, DXT5 %#x, INTZ %#x", uint32(D3DFmtDXT1), uint32(D3DFmtDXT5), uint32(D3DFmtINTZ))
	}
	seen := map[D3DFormat]bool{}
	canonical := map[bridge.Format]D3DFormat{}
	for _, f := range D3D9Formats() {
		if seen[f.Format] {
			t.Errorf("%s listed twice", f.Name)
		}
		seen[f.Format] = true
		if got := f.Format.String(); got != "D3DFMT_"+f.Name {
			t.Errorf("%v: String() = %q", f.Name, got)
		}
		fi, err := bridge.LookupFormat(f.DXGI)
		if err != nil {
			t.Errorf("%s maps to %v, not in the DXGI table: %v", f.Name, f.DXGI, err)
			continue
		}
		// The texel size D3D9's name spells out must be DXGI's.
		var bitsPerTexel, bytesPerBlock uint32
		switch f.Name {
		case "DXT1":
			bytesPerBlock = 8
		case "DXT2", "DXT3", "DXT4", "DXT5":
			bytesPerBlock = 16
		case "INTZ":
			bytesPerBlock = 4
		default:
			name, _, _ := strings.Cut(f.Name, "_")
			for _, field := range strings.FieldsFunc(name, unicode.IsLetter) {
				n, _ := strconv.Atoi(field)
				bitsPerTexel += uint32(n)
			}
			bytesPerBlock = bitsPerTexel / 8
		}
		if fi.BytesPerBlock != bytesPerBlock {
			t.Errorf("%s: %d bytes per block, but its DXGI format %s has %d", f.Name, bytesPerBlock, fi.Name, fi.BytesPerBlock)
		}
		if strings.HasPrefix(f.Name, "D") && !strings.HasPrefix(f.Name, "DXT") && !fi.Depth {
			t.Errorf("%s maps to colour format %s", f.Name, fi.Name)
		}
		if f.Canonical {
			if prev, dup := canonical[f.DXGI]; dup {
				t.Errorf("%s and %v both canonical for %v", f.Name, prev, f.DXGI)
			}
			canonical[f.DXGI] = f.Format
		}
		dxgi, err := D3DFormatToDXGI(f.Format)
		if err != nil || dxgi != f.DXGI {
			t.Errorf("D3DFormatToDXGI(%s) = %v, %v", f.Name, dxgi, err)
		}
	}
	for dxgi, f := range canonical {
		if back, err := D3DFormatFromDXGI(dxgi); err != nil || back != f {
			t.Errorf("D3DFormatFromDXGI(%v) = %v, %v; want %v", dxgi, back, err, f)
		}
	}
	// DXVK's D3D9Ex sharing mappings.
	for f, want := range map[D3DFormat]bridge.Format{
		D3DFmtA2B10G10R10: bridge.FormatR10G10B10A2Unorm, D3DFmtA16B16G16R16F: bridge.FormatR16G16B16A16Float,
		D3DFmtA8B8G8R8: bridge.FormatR8G8B8A8Unorm, D3DFmtX8B8G8R8: bridge.FormatR8G8B8A8Unorm,
		D3DFmtA8R8G8B8: bridge.FormatB8G8R8A8Unorm, D3DFmtX8R8G8B8: bridge.FormatB8G8R8X8Unorm,
		D3DFmtR5G6B5: bridge.FormatB5G6R5Unorm, D3DFmtDXT1: bridge.FormatBC1Unorm, D3DFmtDXT3: bridge.FormatBC2Unorm, D3DFmtDXT5: bridge.FormatBC3Unorm,
	} {
		if got, err := D3DFormatToDXGI(f); got != want || err != nil {
			t.Errorf("D3DFormatToDXGI(%v) = %v, %v; want %v", f, got, err, want)
		}
	}
	if _, err := D3DFormatToDXGI(27); !errors.Is(err, bridge.ErrNotExpressible) || !errors.Is(err, bridge.ErrUnsupportedFormat) || !strings.Contains(err.Error(), "Format = D3DFORMAT(27)") {
		t.Errorf("D3DFormatToDXGI(R3G3B2) error = %v", err)
	}
	if _, err := D3DFormatFromDXGI(bridge.FormatR8G8B8A8UnormSrgb); !errors.Is(err, bridge.ErrNotExpressible) || !strings.Contains(err.Error(), "Format = R8G8B8A8_UNORM_SRGB") {
		t.Errorf("D3DFormatFromDXGI(sRGB) error = %v", err)
	}
}

// TestRoundTripFromD3D9 converts D3D9 → Desc → D3D11 → Desc → D3D9 and
// checks every step is exact, then Desc → D3D12 → Desc, which must give
// the D3D12 projection: the Desc minus what D3D12 keeps elsewhere.
func TestRoundTripFromD3D9(t *testing.T) {
	tex2 := func(w, h, mips uint32, f bridge.Format, bind, misc, cpu uint32) bridge.Desc {
		return bridge.Desc{Dimension: bridge.DimensionTexture2D, Width: w, Height: h, DepthOrArraySize: 1, MipLevels: mips, SampleCount: 1,
			Format: f, BindFlags: bind, MiscFlags: misc, CPUAccessFlags: cpu}
	}
	with := func(d bridge.Desc, f func(*bridge.Desc)) bridge.Desc { f(&d); return d }
	cases := []struct {
		name    string
		d3d9    D3D9Desc
		want    bridge.Desc
		want11  D3D11Usage
		want12  bridge.Desc // Desc after Desc → D3D12 → Desc
		flags12 uint32
	}{
		{
			name:   "render target texture",
			d3d9:   D3D9Desc{Format: D3DFmtA8R8G8B8, Type: D3DRTypeTexture, Usage: D3DUsageRenderTarget, Width: 256, Height: 256, Depth: 1, Levels: 9},
			want:   tex2(256, 256, 9, bridge.FormatB8G8R8A8Unorm, srv|rt, shared, 0),
			want12: tex2(256, 256, 9, bridge.FormatB8G8R8A8Unorm, srv|rt, shared, 0), flags12: D3D12ResourceFlagAllowRenderTarget | D3D12ResourceFlagAllowSimultaneousAccess,
		},
		{
			name:   "multisampled surface",
			d3d9:   D3D9Desc{Format: D3DFmtX8R8G8B8, Type: D3DRTypeSurface, Usage: D3DUsageRenderTarget, Width: 640, Height: 480, Depth: 1, Levels: 1, MultiSampleType: 4},
			want:   with(tex2(640, 480, 1, bridge.FormatB8G8R8X8Unorm, rt, shared, 0), func(d *bridge.Desc) { d.SampleCount = 4 }),
			want12: with(tex2(640, 480, 1, bridge.FormatB8G8R8X8Unorm, rt|srv, 0, 0), func(d *bridge.Desc) { d.SampleCount = 4 }), flags12: D3D12ResourceFlagAllowRenderTarget,
		},
		{
			name:   "depth surface",
			d3d9:   D3D9Desc{Format: D3DFmtD24S8, Type: D3DRTypeSurface, Usage: D3DUsageDepthStencil, Width: 128, Height: 96, Depth: 1, Levels: 1},
			want:   tex2(128, 96, 1, bridge.FormatD24UnormS8Uint, ds, shared, 0),
			want12: tex2(128, 96, 1, bridge.FormatD24UnormS8Uint, ds, 0, 0), flags12: D3D12ResourceFlagAllowDepthStencil | D3D12ResourceFlagDenyShaderResource,
		},
		{
			name: "cube texture",
			d3d9: D3D9Desc{Format: D3DFmtA16B16G16R16F, Type: D3DRTypeCubeTexture, Width: 64, Height: 64, Depth: 1, Levels: 7},
			want: bridge.Desc{Dimension: bridge.DimensionTextureCube, Width: 64, Height: 64, DepthOrArraySize: 1, MipLevels: 7, SampleCount: 1,
				Format: bridge.FormatR16G16B16A16Float, BindFlags: srv, MiscFlags: shared | cube},
			want12:  with(tex2(64, 64, 7, bridge.FormatR16G16B16A16Float, srv, shared, 0), func(d *bridge.Desc) { d.DepthOrArraySize = 6 }),
			flags12: D3D12ResourceFlagAllowSimultaneousAccess,
		},
		{
			name: "volume texture",
			d3d9: D3D9Desc{Format: D3DFmtA2B10G10R10, Type: D3DRTypeVolumeTexture, Width: 32, Height: 16, Depth: 8, Levels: 6},
			want: bridge.Desc{Dimension: bridge.DimensionTexture3D, Width: 32, Height: 16, DepthOrArraySize: 8, MipLevels: 6, SampleCount: 1,
				Format: bridge.FormatR10G10B10A2Unorm, BindFlags: srv, MiscFlags: shared},
			want12: bridge.Desc{Dimension: bridge.DimensionTexture3D, Width: 32, Height: 16, DepthOrArraySize: 8, MipLevels: 6, SampleCount: 1,
				Format: bridge.FormatR10G10B10A2Unorm, BindFlags: srv, MiscFlags: shared},
			flags12: D3D12ResourceFlagAllowSimultaneousAccess,
		},
		{
			name:   "dynamic DXT5",
			d3d9:   D3D9Desc{Format: D3DFmtDXT5, Type: D3DRTypeTexture, Usage: D3DUsageDynamic, Width: 128, Height: 64, Depth: 1, Levels: 1},
			want:   tex2(128, 64, 1, bridge.FormatBC3Unorm, srv, shared, D3D11CPUAccessWrite),
			want11: D3D11UsageDynamic,
			want12: tex2(128, 64, 1, bridge.FormatBC3Unorm, srv, shared, 0), flags12: D3D12ResourceFlagAllowSimultaneousAccess,
		},
		{
			name:   "autogen mips L8",
			d3d9:   D3D9Desc{Format: D3DFmtL8, Type: D3DRTypeTexture, Usage: D3DUsageRenderTarget | D3DUsageAutoGenMipMap, Width: 64, Height: 64, Depth: 1, Levels: 7},
			want:   tex2(64, 64, 7, bridge.FormatR8Unorm, srv|rt, shared|D3D11ResourceMiscGenerateMips, 0),
			want12: tex2(64, 64, 7, bridge.FormatR8Unorm, srv|rt, shared, 0), flags12: D3D12ResourceFlagAllowRenderTarget | D3D12ResourceFlagAllowSimultaneousAccess,
		},
		{
			name: "vertex buffer",
			d3d9: D3D9Desc{Format: D3DFmtVertexData, Type: D3DRTypeVertexBuffer, Width: 4096, Height: 1, Depth: 1, Levels: 1},
			want: bridge.Desc{Dimension: bridge.DimensionBuffer, Width: 4096, Height: 1, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1,
				BindFlags: D3D11BindVertexBuffer, MiscFlags: shared},
			want12: bridge.Desc{Dimension: bridge.DimensionBuffer, Width: 4096, Height: 1, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1,
				BindFlags: srv},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d1, err := c.d3d9.Desc()
			if err != nil {
				t.Fatalf("D3D9 → Desc: %v", err)
			}
			if d1 != c.want {
				t.Fatalf("D3D9 → Desc = %+v\nwant %+v", d1, c.want)
			}
			d11, err := D3D11FromDesc(d1)
			if err != nil {
				t.Fatalf("Desc → D3D11: %v", err)
			}
			if u := d11Usage(d11); u != c.want11 {
				t.Errorf("D3D11 Usage = %v, want %v", u, c.want11)
			}
			d2, err := d11.Desc()
			if err != nil {
				t.Fatalf("D3D11 → Desc: %v", err)
			}
			if d2 != d1 {
				t.Errorf("D3D11 → Desc = %+v\nwant %+v", d2, d1)
			}
			back9, err := D3D9FromDesc(d2)
			if err != nil {
				t.Fatalf("Desc → D3D9: %v", err)
			}
			if back9 != c.d3d9 {
				t.Errorf("Desc → D3D9 = %+v\nwant %+v", back9, c.d3d9)
			}
			d12, err := D3D12FromDesc(d2)
			if err != nil {
				t.Fatalf("Desc → D3D12: %v", err)
			}
			if d12.Flags != c.flags12 {
				t.Errorf("D3D12 Flags = %#x, want %#x", d12.Flags, c.flags12)
			}
			d3, err := d12.Desc()
			if err != nil {
				t.Fatalf("D3D12 → Desc: %v", err)
			}
			if d3 != c.want12 {
				t.Errorf("D3D12 → Desc = %+v\nwant %+v", d3, c.want12)
			}
			// The D3D12 projection is a fixed point.
			if again, err := D3D12FromDesc(d3); err != nil || again != d12 {
				t.Errorf("D3D12 projection not stable: %+v, %v; want %+v", again, err, d12)
			}
		})
	}
}

func d11Usage(r D3D11Desc) D3D11Usage {
	switch r.Dimension {
	case ResourceDimensionBuffer:
		return r.Buffer.Usage
	case ResourceDimensionTexture1D:
		return r.Texture1D.Usage
	case ResourceDimensionTexture2D:
		return r.Texture2D.Usage
	}
	return r.Texture3D.Usage
}

// TestRoundTripD3D11 and D3D12: descriptions written by those APIs come
// back unchanged through Desc.
func TestRoundTripD3D11(t *testing.T) {
	for _, r := range []D3D11Desc{
		{Dimension: ResourceDimensionTexture2D, Texture2D: D3D11Texture2DDesc{Width: 1920, Height: 1080, MipLevels: 1, ArraySize: 1, Format: bridge.FormatB8G8R8A8Unorm,
			SampleDesc: SampleDesc{Count: 1}, BindFlags: srv | rt, MiscFlags: D3D11ResourceMiscSharedKeyedMutex | D3D11ResourceMiscSharedNTHandle}},
		{Dimension: ResourceDimensionTexture2D, Texture2D: D3D11Texture2DDesc{Width: 32, Height: 32, MipLevels: 6, ArraySize: 12, Format: bridge.FormatBC7UnormSrgb,
			SampleDesc: SampleDesc{Count: 1}, BindFlags: srv, MiscFlags: cube | shared}},
		{Dimension: ResourceDimensionTexture2D, Texture2D: D3D11Texture2DDesc{Width: 100, Height: 50, MipLevels: 1, ArraySize: 3, Format: bridge.FormatR32Float,
			SampleDesc: SampleDesc{Count: 1}, Usage: D3D11UsageStaging, CPUAccessFlags: D3D11CPUAccessRead | D3D11CPUAccessWrite}},
		{Dimension: ResourceDimensionTexture2D, Texture2D: D3D11Texture2DDesc{Width: 64, Height: 64, MipLevels: 1, ArraySize: 1, Format: bridge.FormatR24G8Typeless,
			SampleDesc: SampleDesc{Count: 8}, BindFlags: srv | ds}},
		{Dimension: ResourceDimensionTexture1D, Texture1D: D3D11Texture1DDesc{Width: 256, MipLevels: 9, ArraySize: 4, Format: bridge.FormatR16G16B16A16Unorm, BindFlags: srv | uav}},
		{Dimension: ResourceDimensionTexture3D, Texture3D: D3D11Texture3DDesc{Width: 16, Height: 16, Depth: 16, MipLevels: 5, Format: bridge.FormatR11G11B10Float,
			Usage: D3D11UsageDynamic, BindFlags: srv, CPUAccessFlags: D3D11CPUAccessWrite}},
		{Dimension: ResourceDimensionBuffer, Buffer: D3D11BufferDesc{ByteWidth: 65536, BindFlags: D3D11BindVertexBuffer | D3D11BindIndexBuffer | uav,
			MiscFlags: shared | D3D11ResourceMiscBufferAllowRawViews}},
	} {
		d, err := r.Desc()
		if err != nil {
			t.Errorf("%+v → Desc: %v", r, err)
			continue
		}
		back, err := D3D11FromDesc(d)
		if err != nil || back != r {
			t.Errorf("D3D11 → %v → D3D11 = %+v, %v\nwant %+v", d, back, err, r)
		}
	}
}

func TestRoundTripD3D12(t *testing.T) {
	tex := func(dim ResourceDimension, w uint64, h uint32, n, mips uint16, f bridge.Format, flags uint32) D3D12ResourceDesc {
		return D3D12ResourceDesc{Dimension: dim, Width: w, Height: h, DepthOrArraySize: n, MipLevels: mips, Format: f, SampleDesc: SampleDesc{Count: 1}, Flags: flags}
	}
	for _, r := range []D3D12ResourceDesc{
		tex(ResourceDimensionTexture2D, 1024, 768, 1, 1, bridge.FormatR8G8B8A8Unorm, D3D12ResourceFlagAllowRenderTarget|D3D12ResourceFlagAllowSimultaneousAccess),
		tex(ResourceDimensionTexture2D, 512, 512, 6, 10, bridge.FormatR10G10B10A2Unorm, D3D12ResourceFlagAllowUnorderedAccess),
		tex(ResourceDimensionTexture2D, 64, 64, 1, 1, bridge.FormatD32Float, D3D12ResourceFlagAllowDepthStencil|D3D12ResourceFlagDenyShaderResource),
		tex(ResourceDimensionTexture2D, 64, 64, 2, 1, bridge.FormatR32Typeless, D3D12ResourceFlagAllowDepthStencil),
		tex(ResourceDimensionTexture1D, 4096, 1, 8, 13, bridge.FormatR32G32Float, 0),
		tex(ResourceDimensionTexture3D, 128, 64, 32, 8, bridge.FormatR16Float, D3D12ResourceFlagAllowUnorderedAccess|D3D12ResourceFlagAllowSimultaneousAccess),
		{Dimension: ResourceDimensionBuffer, Width: 1 << 20, Height: 1, DepthOrArraySize: 1, MipLevels: 1, SampleDesc: SampleDesc{Count: 1},
			Layout: D3D12TextureLayoutRowMajor, Flags: D3D12ResourceFlagAllowUnorderedAccess},
		{Dimension: ResourceDimensionBuffer, Width: 1<<32 - 1, Height: 1, DepthOrArraySize: 1, MipLevels: 1, SampleDesc: SampleDesc{Count: 1}, Layout: D3D12TextureLayoutRowMajor},
	} {
		d, err := r.Desc()
		if err != nil {
			t.Errorf("%+v → Desc: %v", r, err)
			continue
		}
		back, err := D3D12FromDesc(d)
		if err != nil || back != r {
			t.Errorf("D3D12 → %v → D3D12 = %+v, %v\nwant %+v", d, back, err, r)
		}
	}

	// A D3D12 resource opened by D3D9 and D3D11.
	r := tex(ResourceDimensionTexture2D, 800, 600, 1, 1, bridge.FormatR8G8B8A8Unorm, D3D12ResourceFlagAllowRenderTarget|D3D12ResourceFlagAllowSimultaneousAccess)
	d, err := r.Desc()
	if err != nil {
		t.Fatal(err)
	}
	d9, err := D3D9FromDesc(d)
	want9 := D3D9Desc{Format: D3DFmtA8B8G8R8, Type: D3DRTypeTexture, Usage: D3DUsageRenderTarget, Width: 800, Height: 600, Depth: 1, Levels: 1}
	if err != nil || d9 != want9 {
		t.Errorf("D3D12 → D3D9 = %+v, %v; want %+v", d9, err, want9)
	}
	d11, err := D3D11FromDesc(d)
	want11 := D3D11Texture2DDesc{Width: 800, Height: 600, MipLevels: 1, ArraySize: 1, Format: bridge.FormatR8G8B8A8Unorm, SampleDesc: SampleDesc{Count: 1}, BindFlags: srv | rt, MiscFlags: shared}
	if err != nil || d11.Dimension != ResourceDimensionTexture2D || d11.Texture2D != want11 {
		t.Errorf("D3D12 → D3D11 = %+v, %v; want %+v", d11, err, want11)
	}
}

// TestFullChainMips: MipLevels 0 at creation means the whole chain, which
// a Desc records explicitly.
func TestFullChainMips(t *testing.T) {
	d, err := D3D9Desc{Format: D3DFmtA8B8G8R8, Type: D3DRTypeTexture, Width: 300, Height: 17, Depth: 1}.Desc()
	if err != nil || d.MipLevels != 9 {
		t.Errorf("D3D9 Levels 0 → MipLevels %d, %v; want 9", d.MipLevels, err)
	}
	d, err = D3D11Texture3DDesc{Width: 4, Height: 4, Depth: 64, Format: bridge.FormatR8Unorm, BindFlags: srv}.Desc()
	if err != nil || d.MipLevels != 7 {
		t.Errorf("D3D11 3D MipLevels 0 → %d, %v; want 7", d.MipLevels, err)
	}
	d, err = D3D12ResourceDesc{Dimension: ResourceDimensionTexture2D, Width: 1, Height: 1, DepthOrArraySize: 1, Format: bridge.FormatR8Unorm, SampleDesc: SampleDesc{Count: 1}}.Desc()
	if err != nil || d.MipLevels != 1 {
		t.Errorf("D3D12 1x1 MipLevels 0 → %d, %v; want 1", d.MipLevels, err)
	}
}

func TestConversionErrors(t *testing.T) {
	valid2D := bridge.Desc{Dimension: bridge.DimensionTexture2D, Width: 64, Height: 64, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1,
		Format: bridge.FormatR8G8B8A8Unorm, BindFlags: srv}
	with := func(f func(*bridge.Desc)) bridge.Desc { d := valid2D; f(&d); return d }
	d12 := D3D12ResourceDesc{Dimension: ResourceDimensionTexture2D, Width: 64, Height: 64, DepthOrArraySize: 1, MipLevels: 1,
		Format: bridge.FormatR8G8B8A8Unorm, SampleDesc: SampleDesc{Count: 1}}
	with12 := func(f func(*D3D12ResourceDesc)) D3D12ResourceDesc { r := d12; f(&r); return r }
	d9 := D3D9Desc{Format: D3DFmtA8R8G8B8, Type: D3DRTypeTexture, Width: 64, Height: 64, Depth: 1, Levels: 1}
	with9 := func(f func(*D3D9Desc)) D3D9Desc { r := d9; f(&r); return r }
	t2 := D3D11Texture2DDesc{Width: 64, Height: 64, MipLevels: 1, ArraySize: 1, Format: bridge.FormatR8G8B8A8Unorm, SampleDesc: SampleDesc{Count: 1}, BindFlags: srv}
	with11 := func(f func(*D3D11Texture2DDesc)) D3D11Texture2DDesc { r := t2; f(&r); return r }
	wrap := func(f func() error) func() error { return f }

	const notExpr, invalid = "not expressible", "invalid"
	cases := []struct {
		name string
		conv func() error
		kind string // which sentinel
		want string // the field and value the message names
	}{
		{"D3D12 buffer over 4 GiB", func() error {
			_, err := D3D12ResourceDesc{Dimension: ResourceDimensionBuffer, Width: 5 << 30, Height: 1, DepthOrArraySize: 1, MipLevels: 1, SampleDesc: SampleDesc{Count: 1}, Layout: D3D12TextureLayoutRowMajor}.Desc()
			return err
		}, notExpr, "Width = 5368709120"},
		{"D3D12 undefined swizzle", func() error {
			_, err := with12(func(r *D3D12ResourceDesc) { r.Layout = D3D12TextureLayout64KBUndefinedSwizzle }).Desc()
			return err
		}, notExpr, "Layout = 64KB_UNDEFINED_SWIZZLE"},
		{"D3D12 row-major texture", func() error {
			_, err := with12(func(r *D3D12ResourceDesc) { r.Layout = D3D12TextureLayoutRowMajor }).Desc()
			return err
		}, notExpr, "Layout = ROW_MAJOR for a texture"},
		{"D3D12 cross-adapter", func() error {
			_, err := with12(func(r *D3D12ResourceDesc) { r.Flags = D3D12ResourceFlagAllowCrossAdapter }).Desc()
			return err
		}, notExpr, "Flags = 0x10"},
		{"D3D12 quality", func() error {
			_, err := with12(func(r *D3D12ResourceDesc) { r.SampleDesc.Quality = 1 }).Desc()
			return err
		}, notExpr, "SampleDesc.Quality = 1"},
		{"D3D12 deny without depth", func() error {
			_, err := with12(func(r *D3D12ResourceDesc) { r.Flags = D3D12ResourceFlagDenyShaderResource }).Desc()
			return err
		}, invalid, "Flags = 0x8"},
		{"D3D12 simultaneous depth", func() error {
			_, err := with12(func(r *D3D12ResourceDesc) {
				r.Format, r.Flags = bridge.FormatD32Float, D3D12ResourceFlagAllowDepthStencil|D3D12ResourceFlagAllowSimultaneousAccess
			}).Desc()
			return err
		}, invalid, "Flags = 0x22"},
		{"D3D12 buffer layout", func() error {
			_, err := D3D12ResourceDesc{Dimension: ResourceDimensionBuffer, Width: 64, Height: 1, DepthOrArraySize: 1, MipLevels: 1, SampleDesc: SampleDesc{Count: 1}}.Desc()
			return err
		}, invalid, "Layout = UNKNOWN for a buffer"},
		{"D3D12 zero height", func() error {
			_, err := with12(func(r *D3D12ResourceDesc) { r.Height = 0 }).Desc()
			return err
		}, invalid, "Height = 0 for texture2d"},
		{"D3D12 dimension", func() error {
			_, err := with12(func(r *D3D12ResourceDesc) { r.Dimension = 7 }).Desc()
			return err
		}, invalid, "Dimension = RESOURCE_DIMENSION(7)"},
		{"D3D9 1D", func() error {
			_, err := D3D9FromDesc(with(func(d *bridge.Desc) { d.Dimension, d.Height = bridge.DimensionTexture1D, 1 }))
			return err
		}, notExpr, "Dimension = texture1d"},
		{"D3D9 array", func() error {
			_, err := D3D9FromDesc(with(func(d *bridge.Desc) { d.DepthOrArraySize = 4 }))
			return err
		}, notExpr, "DepthOrArraySize = 4 for texture2d"},
		{"D3D9 cube array", func() error {
			_, err := D3D9FromDesc(with(func(d *bridge.Desc) {
				d.Dimension, d.MiscFlags, d.DepthOrArraySize = bridge.DimensionTextureCube, cube, 2
			}))
			return err
		}, notExpr, "DepthOrArraySize = 2 for texturecube"},
		{"D3D9 sRGB", func() error {
			_, err := D3D9FromDesc(with(func(d *bridge.Desc) { d.Format = bridge.FormatR8G8B8A8UnormSrgb }))
			return err
		}, notExpr, "Format = R8G8B8A8_UNORM_SRGB has no D3DFORMAT"},
		{"D3D9 UAV", func() error {
			_, err := D3D9FromDesc(with(func(d *bridge.Desc) { d.BindFlags = srv | uav }))
			return err
		}, notExpr, "BindFlags = 0x88"},
		{"D3D9 keyed mutex", func() error {
			_, err := D3D9FromDesc(with(func(d *bridge.Desc) { d.MiscFlags = D3D11ResourceMiscSharedKeyedMutex }))
			return err
		}, notExpr, "MiscFlags = 0x100"},
		{"D3D9 CPU read", func() error {
			_, err := D3D9FromDesc(with(func(d *bridge.Desc) { d.CPUAccessFlags = D3D11CPUAccessRead }))
			return err
		}, notExpr, "CPUAccessFlags = 0x20000"},
		{"D3D9 index buffer from Desc", func() error {
			_, err := D3D9FromDesc(bridge.Desc{Dimension: bridge.DimensionBuffer, Width: 64, Height: 1, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1, BindFlags: D3D11BindIndexBuffer})
			return err
		}, notExpr, "BindFlags = 0x2 for buffer"},
		{"D3D9 invalid Desc", func() error {
			_, err := D3D9FromDesc(with(func(d *bridge.Desc) { d.Height = 0 }))
			return err
		}, invalid, "Height = 0 for texture2d"},
		{"D3D9 managed pool", func() error {
			_, err := with9(func(r *D3D9Desc) { r.Pool = D3DPoolManaged }).Desc()
			return err
		}, notExpr, "Pool = D3DPOOL_MANAGED"},
		{"D3D9 index buffer", func() error {
			_, err := with9(func(r *D3D9Desc) { r.Type, r.Format = D3DRTypeIndexBuffer, D3DFmtIndex16 }).Desc()
			return err
		}, notExpr, "Type = D3DRTYPE_INDEXBUFFER (Format = D3DFMT_INDEX16)"},
		{"D3D9 volume", func() error {
			_, err := with9(func(r *D3D9Desc) { r.Type = D3DRTypeVolume }).Desc()
			return err
		}, notExpr, "Type = D3DRTYPE_VOLUME"},
		{"D3D9 nonmaskable", func() error {
			_, err := with9(func(r *D3D9Desc) { r.Type, r.MultiSampleType = D3DRTypeSurface, D3DMultisampleNonMaskable }).Desc()
			return err
		}, notExpr, "MultiSampleType = NONMASKABLE"},
		{"D3D9 multisampled texture", func() error {
			_, err := with9(func(r *D3D9Desc) { r.MultiSampleType = 4 }).Desc()
			return err
		}, notExpr, "MultiSampleType = 4 for D3DRTYPE_TEXTURE"},
		{"D3D9 quality", func() error {
			_, err := with9(func(r *D3D9Desc) { r.MultiSampleQuality = 2 }).Desc()
			return err
		}, notExpr, "MultiSampleQuality = 2"},
		{"D3D9 unknown format", func() error {
			_, err := with9(func(r *D3D9Desc) { r.Format = 27 }).Desc()
			return err
		}, notExpr, "Format = D3DFORMAT(27)"},
		{"D3D9 write-only usage", func() error {
			_, err := with9(func(r *D3D9Desc) { r.Usage = 0x8 }).Desc()
			return err
		}, notExpr, "Usage = 0x8"},
		{"D3D9 surface levels", func() error {
			_, err := with9(func(r *D3D9Desc) { r.Type, r.Levels = D3DRTypeSurface, 3 }).Desc()
			return err
		}, invalid, "Levels = 3 for D3DRTYPE_SURFACE"},
		{"D3D9 cube height", func() error {
			_, err := with9(func(r *D3D9Desc) { r.Type, r.Height = D3DRTypeCubeTexture, 32 }).Desc()
			return err
		}, invalid, "Height = 32 for D3DRTYPE_CUBETEXTURE"},
		{"D3D11 immutable", func() error {
			_, err := with11(func(r *D3D11Texture2DDesc) { r.Usage = D3D11UsageImmutable }).Desc()
			return err
		}, notExpr, "Usage = D3D11_USAGE_IMMUTABLE"},
		{"D3D11 structured buffer", func() error {
			_, err := D3D11BufferDesc{ByteWidth: 256, BindFlags: srv, MiscFlags: D3D11ResourceMiscBufferStructured, StructureByteStride: 16}.Desc()
			return err
		}, notExpr, "StructureByteStride = 16"},
		{"D3D11 cube of four", func() error {
			_, err := with11(func(r *D3D11Texture2DDesc) { r.MiscFlags, r.ArraySize = cube, 4 }).Desc()
			return err
		}, invalid, "ArraySize = 4 with TEXTURECUBE"},
		{"D3D11 quality", func() error {
			_, err := with11(func(r *D3D11Texture2DDesc) { r.SampleDesc.Quality = 0xffffffff }).Desc()
			return err
		}, notExpr, "SampleDesc.Quality = 4294967295"},
		{"D3D11 dynamic read", func() error {
			_, err := with11(func(r *D3D11Texture2DDesc) {
				r.Usage, r.CPUAccessFlags = D3D11UsageDynamic, D3D11CPUAccessRead|D3D11CPUAccessWrite
			}).Desc()
			return err
		}, invalid, "Usage = D3D11_USAGE_DYNAMIC with CPUAccessFlags = 0x30000"},
		{"D3D11 mappable default", func() error {
			_, err := with11(func(r *D3D11Texture2DDesc) { r.CPUAccessFlags = D3D11CPUAccessWrite }).Desc()
			return err
		}, notExpr, "CPUAccessFlags = 0x10000 with Usage = D3D11_USAGE_DEFAULT"},
		{"D3D11 staging bound", func() error {
			_, err := with11(func(r *D3D11Texture2DDesc) { r.Usage, r.CPUAccessFlags = D3D11UsageStaging, D3D11CPUAccessRead }).Desc()
			return err
		}, invalid, "Usage = D3D11_USAGE_STAGING with BindFlags = 0x8"},
		{"D3D11 zero height", func() error {
			_, err := with11(func(r *D3D11Texture2DDesc) { r.Height = 0 }).Desc()
			return err
		}, invalid, "Height = 0 for texture2d"},
		{"D3D11 dimension", func() error {
			_, err := D3D11Desc{Dimension: ResourceDimensionUnknown}.Desc()
			return err
		}, invalid, "Dimension = UNKNOWN"},
		{"D3D11 bound CPU read", wrap(func() error {
			_, err := D3D11FromDesc(with(func(d *bridge.Desc) { d.CPUAccessFlags = D3D11CPUAccessRead }))
			return err
		}), notExpr, "CPUAccessFlags = 0x20000 with BindFlags = 0x8"},
		{"D3D12 invalid Desc", func() error {
			_, err := D3D12FromDesc(with(func(d *bridge.Desc) { d.MipLevels = 20 }))
			return err
		}, invalid, "MipLevels = 20"},
	}
	for _, c := range cases {
		err := c.conv()
		sentinel := bridge.ErrNotExpressible
		if c.kind == invalid {
			sentinel = bridge.ErrInvalidDesc
		}
		if !errors.Is(err, sentinel) {
			t.Errorf("%s: error %v, want %v", c.name, err, sentinel)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not name %q", c.name, err, c.want)
		}
	}
}
