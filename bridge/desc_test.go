package bridge

import (
	"errors"
	"strings"
	"testing"
)

func tex2D(w, h uint32, f Format) Desc {
	return Texture2D(w, h, f)
}

func TestDescValidateAccepts(t *testing.T) {
	cube := tex2D(64, 64, FormatR8G8B8A8Unorm)
	cube.Dimension, cube.MiscFlags, cube.MipLevels, cube.DepthOrArraySize = DimensionTextureCube, miscTextureCube, 7, 2
	ms := tex2D(256, 256, FormatB8G8R8A8Unorm)
	ms.SampleCount = 4
	ms.BindFlags = bindRenderTarget
	depth := tex2D(128, 64, FormatD24UnormS8Uint)
	depth.BindFlags = bindDepthStencil
	tex3D := Desc{Dimension: DimensionTexture3D, Width: 2048, Height: 16, DepthOrArraySize: 2048, MipLevels: 12, SampleCount: 1, Format: FormatR16G16B16A16Float}
	tex1D := Desc{Dimension: DimensionTexture1D, Width: 16384, Height: 1, DepthOrArraySize: 2048, MipLevels: 15, SampleCount: 1, Format: FormatR32Float}
	npot := tex2D(1, 1, FormatR8Unorm)
	full := tex2D(300, 17, FormatR8G8B8A8UnormSrgb)
	full.MipLevels = 9 // floor(log2(300)) + 1
	bc := tex2D(512, 4, FormatBC7Unorm)
	bc.MipLevels = 10 // lower levels smaller than a block are fine
	buf := Desc{Dimension: DimensionBuffer, Width: 4096, Height: 1, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1}
	for _, d := range []Desc{tex2D(256, 256, FormatR8G8B8A8Unorm), cube, ms, depth, tex3D, tex1D, npot, full, bc, buf,
		tex2D(16384, 16384, FormatA8Unorm)} {
		if err := d.Validate(); err != nil {
			t.Errorf("%v: %v", d, err)
		}
	}
}

func TestDescValidateRejects(t *testing.T) {
	base := tex2D(256, 256, FormatR8G8B8A8Unorm)
	buf := Desc{Dimension: DimensionBuffer, Width: 4096, Height: 1, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1}
	mod := func(d Desc, f func(*Desc)) Desc { f(&d); return d }
	cases := []struct {
		name string
		d    Desc
		want string // the field and value the message must name
	}{
		{"zero dimension", mod(base, func(d *Desc) { d.Dimension = DimensionUnknown }), "Dimension = unknown"},
		{"bad dimension", mod(base, func(d *Desc) { d.Dimension = 9 }), "Dimension = dimension(9)"},
		{"zero height", mod(base, func(d *Desc) { d.Height = 0 }), "Height = 0 for texture2d"},
		{"zero width", mod(base, func(d *Desc) { d.Width = 0 }), "Width = 0 for texture2d"},
		{"zero array", mod(base, func(d *Desc) { d.DepthOrArraySize = 0 }), "DepthOrArraySize = 0"},
		{"zero mips", mod(base, func(d *Desc) { d.MipLevels = 0 }), "MipLevels = 0"},
		{"zero samples", mod(base, func(d *Desc) { d.SampleCount = 0 }), "SampleCount = 0"},
		{"unknown format", mod(base, func(d *Desc) { d.Format = 0 }), "Format = UNKNOWN for texture2d"},
		{"unlisted format", mod(base, func(d *Desc) { d.Format = 115 }), "Format = DXGI_FORMAT(115)"},
		{"too wide", mod(base, func(d *Desc) { d.Width = 16385 }), "Width = 16385 for texture2d exceeds 16384"},
		{"too tall", mod(base, func(d *Desc) { d.Height = 16385 }), "Height = 16385 for texture2d exceeds 16384"},
		{"too many layers", mod(base, func(d *Desc) { d.DepthOrArraySize = 2049 }), "DepthOrArraySize = 2049 for texture2d exceeds 2048"},
		{"too many mips", mod(base, func(d *Desc) { d.MipLevels = 10 }), "MipLevels = 10 for texture2d 256x256 exceeds 9"},
		{"npot mips", mod(base, func(d *Desc) { d.Width, d.Height, d.MipLevels = 300, 17, 10 }), "MipLevels = 10 for texture2d 300x17 exceeds 9"},
		{"1d height", mod(base, func(d *Desc) { d.Dimension, d.Height = DimensionTexture1D, 2 }), "Height = 2 for texture1d, want 1"},
		{"1d BC", mod(base, func(d *Desc) { d.Dimension, d.Height, d.Format = DimensionTexture1D, 1, FormatBC1Unorm }), "Format = BC1_UNORM for texture1d"},
		{"3d too deep", mod(base, func(d *Desc) { d.Dimension, d.DepthOrArraySize = DimensionTexture3D, 2049 }), "DepthOrArraySize = 2049 for texture3d exceeds depth 2048"},
		{"3d too wide", mod(base, func(d *Desc) { d.Dimension, d.Width = DimensionTexture3D, 4096 }), "Width = 4096 for texture3d exceeds 2048"},
		{"3d depth format", mod(base, func(d *Desc) { d.Dimension, d.Format = DimensionTexture3D, FormatD32Float }), "Format = D32_FLOAT for texture3d"},
		{"3d mips count depth", mod(base, func(d *Desc) {
			d.Dimension, d.Width, d.Height, d.DepthOrArraySize, d.MipLevels = DimensionTexture3D, 4, 4, 64, 8
		}), "MipLevels = 8 for texture3d 4x4x64 exceeds 7"},
		{"3d multisample", mod(base, func(d *Desc) { d.Dimension, d.SampleCount = DimensionTexture3D, 4 }), "SampleCount = 4 for texture3d"},
		{"cube not square", mod(base, func(d *Desc) { d.Dimension, d.MiscFlags, d.Height = DimensionTextureCube, miscTextureCube, 128 }), "Height = 128 for texturecube, want Width (256)"},
		{"cube too many", mod(base, func(d *Desc) {
			d.Dimension, d.MiscFlags, d.DepthOrArraySize = DimensionTextureCube, miscTextureCube, 342
		}), "DepthOrArraySize = 342 for texturecube exceeds 341 cubes"},
		{"cube without flag", mod(base, func(d *Desc) { d.Dimension = DimensionTextureCube }), "MiscFlags = 0x0 for texturecube"},
		{"flag without cube", mod(base, func(d *Desc) { d.MiscFlags = miscTextureCube | 0x2 }), "MiscFlags = 0x6 for texture2d"},
		{"samples not pow2", mod(base, func(d *Desc) { d.SampleCount = 3 }), "SampleCount = 3 for texture2d: want a power of two"},
		{"samples too many", mod(base, func(d *Desc) { d.SampleCount = 64 }), "SampleCount = 64"},
		{"multisample mips", mod(base, func(d *Desc) { d.SampleCount, d.MipLevels = 4, 2 }), "MipLevels = 2 for multisampled texture2d, want 1"},
		{"multisample 1d", mod(base, func(d *Desc) { d.Dimension, d.Height, d.SampleCount = DimensionTexture1D, 1, 2 }), "SampleCount = 2 for texture1d"},
		{"multisample cube", mod(base, func(d *Desc) { d.Dimension, d.MiscFlags, d.SampleCount = DimensionTextureCube, miscTextureCube, 2 }), "SampleCount = 2 for texturecube"},
		{"multisample BC", mod(base, func(d *Desc) { d.Format, d.SampleCount = FormatBC3Unorm, 4 }), "SampleCount = 4 for BC3_UNORM"},
		{"BC width", mod(base, func(d *Desc) { d.Format, d.Width = FormatBC1Unorm, 30 }), "Width = 30 for BC1_UNORM is not a multiple"},
		{"BC height", mod(base, func(d *Desc) { d.Format, d.Height = FormatBC6HUF16, 2 }), "Height = 2 for BC6H_UF16 is not a multiple"},
		{"DS bind colour", mod(base, func(d *Desc) { d.BindFlags = bindDepthStencil | 0x8 }), "BindFlags = 0x48: depth-stencil bind with colour format R8G8B8A8_UNORM"},
		{"RT bind depth", mod(base, func(d *Desc) { d.Format, d.BindFlags = FormatD16Unorm, bindRenderTarget }), "BindFlags = 0x20: render-target bind with depth format D16_UNORM"},
		{"buffer empty", mod(buf, func(d *Desc) { d.Width = 0 }), "Width = 0 for buffer"},
		{"buffer height", mod(buf, func(d *Desc) { d.Height = 2 }), "Height = 2 for buffer, want 1"},
		{"buffer depth", mod(buf, func(d *Desc) { d.DepthOrArraySize = 0 }), "DepthOrArraySize = 0 for buffer, want 1"},
		{"buffer mips", mod(buf, func(d *Desc) { d.MipLevels = 2 }), "MipLevels = 2 for buffer, want 1"},
		{"buffer samples", mod(buf, func(d *Desc) { d.SampleCount = 4 }), "SampleCount = 4 for buffer, want 1"},
		{"buffer format", mod(buf, func(d *Desc) { d.Format = FormatR8Unorm }), "Format = R8_UNORM for buffer, want UNKNOWN"},
		{"buffer cube", mod(buf, func(d *Desc) { d.MiscFlags = miscTextureCube }), "MiscFlags = 0x4 for buffer"},
		{"buffer RT", mod(buf, func(d *Desc) { d.BindFlags = bindRenderTarget }), "BindFlags = 0x20 for buffer"},
	}
	for _, c := range cases {
		err := c.d.Validate()
		if !errors.Is(err, ErrInvalidDesc) {
			t.Errorf("%s: Validate(%+v) = %v, want ErrInvalidDesc", c.name, c.d, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), "bridge: invalid Desc: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not name %q", c.name, err, c.want)
		}
	}
	// A format outside the table is also an unsupported format.
	if err := (Desc{Dimension: DimensionTexture2D, Width: 1, Height: 1, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1, Format: 115}).Validate(); !errors.Is(err, ErrUnsupportedFormat) {
		t.Errorf("unlisted format: %v does not wrap ErrUnsupportedFormat", err)
	}
}

func TestDescString(t *testing.T) {
	cube := tex2D(64, 64, FormatBC1UnormSrgb)
	cube.Dimension, cube.DepthOrArraySize, cube.MipLevels = DimensionTextureCube, 2, 7
	ms := tex2D(256, 128, FormatB8G8R8A8Unorm)
	ms.SampleCount, ms.DepthOrArraySize = 4, 3
	for _, c := range []struct {
		d    Desc
		want string
	}{
		{tex2D(256, 256, FormatR8G8B8A8Unorm), "texture2d 256x256 R8G8B8A8_UNORM mips=1"},
		{cube, "texturecube 64x64 BC1_UNORM_SRGB mips=7 cubes=2"},
		{ms, "texture2d 256x128 B8G8R8A8_UNORM mips=1 array=3 samples=4"},
		{Desc{Dimension: DimensionTexture3D, Width: 8, Height: 4, DepthOrArraySize: 2, MipLevels: 4, SampleCount: 1, Format: FormatR32Float}, "texture3d 8x4x2 R32_FLOAT mips=4"},
		{Desc{Dimension: DimensionTexture1D, Width: 64, Height: 1, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1, Format: FormatR8Unorm}, "texture1d 64 R8_UNORM mips=1"},
		{Desc{Dimension: DimensionBuffer, Width: 4096, Height: 1, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1}, "buffer 4096 bytes"},
	} {
		if got := c.d.String(); got != c.want {
			t.Errorf("String() = %q, want %q", got, c.want)
		}
	}
}
