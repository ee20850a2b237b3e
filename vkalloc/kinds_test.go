package vkalloc_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/vkalloc"
)

func TestBufferAcrossDevices(t *testing.T) {
	dev := openAny(t)
	other := openSecond(t, dev)
	d := bridge.Desc{Dimension: bridge.DimensionBuffer, Width: 4099, Height: 1, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1}
	b, err := vkalloc.NewBuffer(dev, d)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	want := pattern(4099, 1, 0x11)[:4099]
	if err := b.WriteBytes(0, want, vkalloc.Sync{}); err != nil {
		t.Fatal(err)
	}
	ib, _ := importOn(t, other, b, vkalloc.ImportBuffer)
	defer ib.Close()
	got, err := ib.ReadBytes(0, 4099, vkalloc.Sync{})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("imported buffer differs at %d", firstDiff(got, want))
	}
	if err := ib.WriteBytes(100, []byte("glbridge"), vkalloc.Sync{}); err != nil {
		t.Fatal(err)
	}
	got, err = b.ReadBytes(98, 12, vkalloc.Sync{})
	if err != nil {
		t.Fatal(err)
	}
	if string(got[2:10]) != "glbridge" || got[0] != want[98] || got[11] != want[109] {
		t.Fatalf("write through the import: %q", got)
	}
	if _, err := b.ReadBytes(4090, 10, vkalloc.Sync{}); err == nil {
		t.Fatal("read past the end succeeded")
	}
	if _, err := vkalloc.NewBuffer(dev, desc2D(4, 4)); !errors.Is(err, bridge.ErrInvalidDesc) {
		t.Fatalf("NewBuffer with a texture desc: %v", err)
	}
}

// TestLevelsAndLayers: every mip level and array layer holds its own bytes.
func TestLevelsAndLayers(t *testing.T) {
	dev := openAny(t)
	for _, d := range []bridge.Desc{
		{Dimension: bridge.DimensionTexture2D, Width: 37, Height: 20, DepthOrArraySize: 3, MipLevels: 4, SampleCount: 1, Format: bridge.FormatR8G8B8A8Unorm},
		{Dimension: bridge.DimensionTextureCube, Width: 16, Height: 16, DepthOrArraySize: 1, MipLevels: 2, SampleCount: 1, Format: bridge.FormatR8G8B8A8Unorm, MiscFlags: 0x4 /* D3D11_RESOURCE_MISC_TEXTURECUBE */},
		{Dimension: bridge.DimensionTexture3D, Width: 9, Height: 7, DepthOrArraySize: 5, MipLevels: 2, SampleCount: 1, Format: bridge.FormatR8G8B8A8Unorm},
		{Dimension: bridge.DimensionTexture1D, Width: 64, Height: 1, DepthOrArraySize: 2, MipLevels: 3, SampleCount: 1, Format: bridge.FormatR8G8B8A8Unorm},
	} {
		t.Run(d.String(), func(t *testing.T) {
			im := newImage(t, dev, d)
			layers := d.DepthOrArraySize
			if d.Dimension == bridge.DimensionTextureCube {
				layers *= 6
			}
			if d.Dimension == bridge.DimensionTexture3D {
				layers = 1
			}
			data := map[bridge.Subresource][]byte{}
			for l := range d.MipLevels {
				for a := range layers {
					s := bridge.Subresource{Level: l, Layer: a}
					n, err := im.SubresourceSize(s)
					if err != nil {
						t.Fatal(err)
					}
					b := make([]byte, n)
					for i := range b {
						b[i] = byte(i) + byte(l*31) + byte(a*7)
					}
					if err := im.WritePixels(s, b, vkalloc.Sync{}); err != nil {
						t.Fatal(err)
					}
					data[s] = b
				}
			}
			for s, want := range data {
				checkPixels(t, fmt.Sprintf("%+v", s), im, s, vkalloc.Sync{}, want)
			}
		})
	}
}

func TestDepthStencilAndInteger(t *testing.T) {
	dev := openAny(t)
	d := desc2D(8, 8)
	d.Format = bridge.FormatD24UnormS8Uint
	im := newImage(t, dev, d)
	t.Logf("D24_UNORM_S8_UINT stored as VkFormat %d", im.Allocation().VkFormat)
	if err := im.ClearDepthStencil(0.5, 0x5a, vkalloc.Sync{}); err != nil {
		t.Fatal(err)
	}
	st, err := im.ReadPixels(bridge.Subresource{Plane: bridge.PlaneStencil}, vkalloc.Sync{})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range st {
		if v != 0x5a {
			t.Fatalf("stencil texel %d = %#x", i, v)
		}
	}
	dp, err := im.ReadPixels(bridge.Subresource{}, vkalloc.Sync{})
	if err != nil {
		t.Fatal(err)
	}
	if len(dp) != 8*8*4 {
		t.Fatalf("depth aspect is %d bytes", len(dp))
	}
	if err := im.Clear([4]float32{}, vkalloc.Sync{}); err == nil {
		t.Fatal("colour Clear of a depth image succeeded")
	}

	d.Format = bridge.FormatR32G32B32A32Uint
	ui := newImage(t, dev, d)
	if err := ui.ClearUint([4]uint32{1, 0xdeadbeef, 3, 0xffffffff}, vkalloc.Sync{}); err != nil {
		t.Fatal(err)
	}
	px, err := ui.ReadPixels(bridge.Subresource{}, vkalloc.Sync{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(px); i += 16 {
		got := fmt.Sprint(binary.LittleEndian.Uint32(px[i:]), binary.LittleEndian.Uint32(px[i+4:]), binary.LittleEndian.Uint32(px[i+8:]), binary.LittleEndian.Uint32(px[i+12:]))
		if got != fmt.Sprint(1, 0xdeadbeef, 3, 0xffffffff) {
			t.Fatalf("texel %d = %s", i/16, got)
		}
	}
}

func TestQuerySupport(t *testing.T) {
	dev := openAny(t)
	n, refused := 0, 0
	for _, f := range bridge.Formats() {
		d := desc2D(16, 16)
		d.Format = f.Format
		s, err := vkalloc.QuerySupport(dev, d)
		if err != nil {
			if !errors.Is(err, bridge.ErrUnsupportedFormat) {
				t.Errorf("%s: %v does not wrap ErrUnsupportedFormat", f.Name, err)
			}
			refused++
			continue
		}
		n++
		if !s.Exportable || s.Storage.VkFormat == 0 {
			t.Errorf("%s: %+v", f.Name, s)
		}
	}
	t.Logf("%d formats shareable as 2D textures, %d refused by %q", n, refused, dev.Caps().DeviceName)
	if n < 40 {
		t.Fatalf("only %d formats shareable", n)
	}
}

// TestMultisampleReadback: a multisampled image reads back resolved, per
// layer, and refuses uploads.
func TestMultisampleReadback(t *testing.T) {
	dev := openAny(t)
	d := bridge.Desc{Dimension: bridge.DimensionTexture2D, Width: 17, Height: 9, DepthOrArraySize: 2, MipLevels: 1, SampleCount: 4, Format: bridge.FormatR8G8B8A8Unorm, BindFlags: 0x20 /* RENDER_TARGET */}
	im := newImage(t, dev, d)
	if err := im.Clear([4]float32{0, 1, 0.2, 1}, vkalloc.Sync{}); err != nil {
		t.Fatal(err)
	}
	for layer := range uint32(2) {
		px, err := im.ReadPixels(bridge.Subresource{Layer: layer}, vkalloc.Sync{})
		if err != nil {
			t.Fatal(err)
		}
		if len(px) != 17*9*4 {
			t.Fatalf("%d bytes", len(px))
		}
		for i := 0; i < len(px); i += 4 {
			if px[i] != 0 || px[i+1] != 255 || (px[i+2] != 51) || px[i+3] != 255 {
				t.Fatalf("layer %d texel %d = %v", layer, i/4, px[i:i+4])
			}
		}
	}
	if err := im.WritePixels(bridge.Subresource{}, make([]byte, 17*9*4), vkalloc.Sync{}); err == nil {
		t.Fatal("WritePixels into a multisampled image succeeded")
	}
}
