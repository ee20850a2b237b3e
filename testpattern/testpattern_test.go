package testpattern

import "testing"

func TestExpectedCarriesFrame(t *testing.T) {
	for _, f := range []int{0, 1, 2, 255, 1000, 65535} {
		px := Expected(256, 128, f)
		got, ok := FrameOf(px, 256, 128)
		if !ok || got != f {
			t.Fatalf("frame %d read back as %d, %v", f, got, ok)
		}
	}
	a, b := Expected(256, 128, 1), Expected(256, 128, 2)
	if string(a) == string(b) {
		t.Fatal("consecutive frames are identical")
	}
	// A bars texel: top-left is white, top-right is black.
	px := Expected(64, 64, 0)
	if c := px[(63*64+0)*4:][:4]; c[0] != 255 || c[2] != 255 {
		t.Fatalf("top-left %v", c)
	}
	if c := px[(63*64+63)*4:][:4]; c[0] != 0 || c[1] != 0 || c[2] != 0 {
		t.Fatalf("top-right %v", c)
	}
}
