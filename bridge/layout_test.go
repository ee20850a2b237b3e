package bridge

import (
	"errors"
	"testing"
)

// TestLayoutOf pins the documented order and sizes.
func TestLayoutOf(t *testing.T) {
	l, err := LayoutOf(Desc{Dimension: DimensionTextureCube, Width: 8, Height: 8, DepthOrArraySize: 1, MipLevels: 2, SampleCount: 1, Format: FormatBC1Unorm, MiscFlags: miscTextureCube})
	if err != nil {
		t.Fatal(err)
	}
	// Level 0: 6 faces of 2×2 blocks of 8 bytes; level 1: 6 of 1 block.
	if len(l.Subresources) != 12 || l.Size != 6*32+6*8 {
		t.Fatalf("%d subresources, %d bytes", len(l.Subresources), l.Size)
	}
	if sr := l.Subresources[7]; sr.Level != 1 || sr.Layer != 1 || sr.Offset != 6*32+8 || sr.Size != 8 || sr.Width != 4 {
		t.Fatalf("subresource 7 = %+v, want level 1 face 1 at %d", sr, 6*32+8)
	}
	if off, size := l.LevelRange(1); off != 192 || size != 48 {
		t.Fatalf("LevelRange(1) = %d, %d", off, size)
	}
	if l.Levels() != 2 || l.Layers() != 6 {
		t.Fatalf("Levels, Layers = %d, %d; want 2, 6", l.Levels(), l.Layers())
	}
	l, err = LayoutOf(Desc{Dimension: DimensionTexture3D, Width: 5, Height: 3, DepthOrArraySize: 4, MipLevels: 3, SampleCount: 1, Format: FormatR32Float})
	if err != nil {
		t.Fatal(err)
	}
	// 5×3×4, 2×1×2, 1×1×1 texels of 4 bytes, one layer per level.
	if len(l.Subresources) != 3 || l.Size != 4*(60+4+1) || l.Subresources[2].Offset != 4*64 {
		t.Fatalf("3D layout %+v", l)
	}
	for _, d := range []Desc{
		{Dimension: DimensionBuffer, Width: 64, Height: 1, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1},
		{Dimension: DimensionTexture2D, Width: 8, Height: 8, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 4, Format: FormatR8G8B8A8Unorm},
		{Dimension: DimensionTexture2D, Width: 8, Height: 8, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1, Format: FormatD24UnormS8Uint},
	} {
		if _, err := LayoutOf(d); !errors.Is(err, ErrUnsupportedFormat) {
			t.Errorf("LayoutOf(%v): %v, want ErrUnsupportedFormat", d, err)
		}
	}
	if _, err := LayoutOf(Desc{Dimension: DimensionTexture2D, Width: 8, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1, Format: FormatR8G8B8A8Unorm}); !errors.Is(err, ErrInvalidDesc) {
		t.Errorf("LayoutOf of Height 0: %v, want ErrInvalidDesc", err)
	}
}

// TestLevelLayouts pins the per-level view of a block-compressed array
// whose lower levels are smaller than a block, and of a 3D texture.
func TestLevelLayouts(t *testing.T) {
	l, err := LayoutOf(Desc{Dimension: DimensionTexture2D, Width: 8, Height: 4, DepthOrArraySize: 3, MipLevels: 4, SampleCount: 1, Format: FormatBC3Unorm})
	if err != nil {
		t.Fatal(err)
	}
	// 8×4: 2×1 blocks of 16 bytes; 4×2, 2×1 and 1×1 texels: one block.
	want := []LevelLayout{
		{Width: 8, Height: 4, Depth: 1, Offset: 0, SubresourceSize: 32, RowPitch: 32, Rows: 1},
		{Width: 4, Height: 2, Depth: 1, Offset: 96, SubresourceSize: 16, RowPitch: 16, Rows: 1},
		{Width: 2, Height: 1, Depth: 1, Offset: 144, SubresourceSize: 16, RowPitch: 16, Rows: 1},
		{Width: 1, Height: 1, Depth: 1, Offset: 192, SubresourceSize: 16, RowPitch: 16, Rows: 1},
	}
	checkLevels(t, l, want)

	l, err = LayoutOf(Desc{Dimension: DimensionTexture3D, Width: 5, Height: 3, DepthOrArraySize: 4, MipLevels: 2, SampleCount: 1, Format: FormatR16G16B16A16Float})
	if err != nil {
		t.Fatal(err)
	}
	checkLevels(t, l, []LevelLayout{
		{Width: 5, Height: 3, Depth: 4, Offset: 0, SubresourceSize: 5 * 8 * 3 * 4, RowPitch: 40, Rows: 3},
		{Width: 2, Height: 1, Depth: 2, Offset: 480, SubresourceSize: 2 * 8 * 2, RowPitch: 16, Rows: 1},
	})
	if got := (HostLayout{}).LevelLayouts(); got != nil {
		t.Errorf("LevelLayouts of a zero HostLayout = %+v, want nil", got)
	}
}

// checkLevels compares l's levels with want, and checks that they say
// what l.Subresources says: every subresource of level i lies at
// Offset + layer × SubresourceSize, RowPitch × Rows × Depth bytes.
func checkLevels(t *testing.T, l HostLayout, want []LevelLayout) {
	t.Helper()
	got := l.LevelLayouts()
	if len(got) != len(want) {
		t.Fatalf("%s: %d levels, want %d", l.Desc, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s: level %d = %+v, want %+v", l.Desc, i, got[i], want[i])
		}
	}
	n := l.Layers()
	for _, sr := range l.Subresources {
		lv := got[sr.Level]
		if sr.Offset != lv.Offset+uint64(sr.Layer)*lv.SubresourceSize || sr.Size != lv.SubresourceSize ||
			sr.Size != uint64(lv.RowPitch)*uint64(lv.Rows)*uint64(lv.Depth) ||
			sr.Width != lv.Width || sr.Height != lv.Height || sr.Depth != lv.Depth {
			t.Errorf("%s: subresource %+v disagrees with level %+v", l.Desc, sr, lv)
		}
	}
	last := got[len(got)-1]
	if end := last.Offset + uint64(n)*last.SubresourceSize; end != l.Size {
		t.Errorf("%s: the last level ends at %d, the layout at %d", l.Desc, end, l.Size)
	}
}

// TestLevelLayoutsEveryFormat: for every format the copy path carries and
// every kind of texture, the levels agree with the subresources.
func TestLevelLayoutsEveryFormat(t *testing.T) {
	for _, fi := range Formats() {
		for _, d := range []Desc{
			{Dimension: DimensionTexture1D, Width: 16, Height: 1, DepthOrArraySize: 3, MipLevels: 5, SampleCount: 1},
			{Dimension: DimensionTexture2D, Width: 12, Height: 20, DepthOrArraySize: 2, MipLevels: 5, SampleCount: 1},
			{Dimension: DimensionTexture3D, Width: 8, Height: 4, DepthOrArraySize: 6, MipLevels: 4, SampleCount: 1},
			{Dimension: DimensionTextureCube, Width: 16, Height: 16, DepthOrArraySize: 2, MipLevels: 5, SampleCount: 1, MiscFlags: miscTextureCube},
		} {
			d.Format = fi.Format
			l, err := LayoutOf(d)
			if err != nil {
				continue // what the copy path does not carry, or Direct3D forbids
			}
			got := l.LevelLayouts()
			if uint32(len(got)) != d.MipLevels {
				t.Errorf("%s: %d levels", d, len(got))
				continue
			}
			checkLevels(t, l, got)
		}
	}
}
