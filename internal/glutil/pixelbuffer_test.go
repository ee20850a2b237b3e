package glutil_test

import (
	"bytes"
	"testing"

	"github.com/go-gl/gl/v3.2-compatibility/gl"

	"github.com/glbridge/glbridge/internal/glutil"
)

// TestPixelBufferTransfers: texels go into a texture from a pixel buffer
// and come back out through another range of it, byte for byte, and the
// caller's pixel-buffer bindings are left alone.
func TestPixelBufferTransfers(t *testing.T) {
	ctx := newContext(t)
	ctx.Call(func() {
		const w, h = 13, 7
		tex := plainTexture(w, h)
		defer gl.DeleteTextures(1, &tex)
		pb, err := glutil.NewPixelBuffer(2 * w * h * 4)
		if err != nil {
			t.Fatal(err)
		}
		defer pb.Close()
		want := make([]byte, w*h*4)
		for i := range want {
			want[i] = byte(i*31 + 7)
		}
		var callerBuf uint32
		gl.GenBuffers(1, &callerBuf)
		defer gl.DeleteBuffers(1, &callerBuf)
		gl.BindBuffer(gl.PIXEL_UNPACK_BUFFER, callerBuf)
		gl.BindBuffer(gl.PIXEL_PACK_BUFFER, callerBuf)

		if err := pb.Write(0, want); err != nil {
			t.Fatal(err)
		}
		if err := glutil.TexSubImageFrom(pb, 0, tex, gl.TEXTURE_2D, 0, 0, gl.RGBA, gl.UNSIGNED_BYTE, 4); err != nil {
			t.Fatal(err)
		}
		n, err := glutil.GetTexImageTo(pb, w*h*4, tex, gl.TEXTURE_2D, 0, 0, gl.RGBA, gl.UNSIGNED_BYTE, 4)
		if err != nil || n != w*h*4 {
			t.Fatalf("GetTexImageTo: %d bytes, %v", n, err)
		}
		err = pb.Read(w*h*4, n, func(got []byte) error {
			if !bytes.Equal(got, want) {
				t.Error("texels read back through the pixel buffer differ")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var pack, unpack int32
		gl.GetIntegerv(gl.PIXEL_PACK_BUFFER_BINDING, &pack)
		gl.GetIntegerv(gl.PIXEL_UNPACK_BUFFER_BINDING, &unpack)
		if uint32(pack) != callerBuf || uint32(unpack) != callerBuf {
			t.Errorf("bindings after the transfers: pack %d, unpack %d; want %d", pack, unpack, callerBuf)
		}
		gl.BindBuffer(gl.PIXEL_UNPACK_BUFFER, 0)
		gl.BindBuffer(gl.PIXEL_PACK_BUFFER, 0)
		// A range past the end is refused before GL sees it.
		if _, err := glutil.GetTexImageTo(pb, w*h*4+1, tex, gl.TEXTURE_2D, 0, 0, gl.RGBA, gl.UNSIGNED_BYTE, 4); err == nil {
			t.Error("GetTexImageTo overrunning the pixel buffer succeeded")
		}
		if err := pb.Read(1, 2*w*h*4, func([]byte) error { return nil }); err == nil {
			t.Error("Read past the end succeeded")
		}
	})
}
