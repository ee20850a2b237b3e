package glutil_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/go-gl/gl/v3.2-compatibility/gl"

	"github.com/glbridge/glbridge/internal/glutil"
)

// storageTexture makes an ordinary immutable texture of target (not
// imported memory) with the given levels and size, restoring the binding.
func storageTexture(target, ifmt uint32, levels, w, h, d int32) uint32 {
	var prev int32
	gl.GetIntegerv(glutil.BindingOf(target), &prev)
	defer gl.BindTexture(target, uint32(prev))
	var name uint32
	gl.GenTextures(1, &name)
	gl.BindTexture(target, name)
	switch target {
	case gl.TEXTURE_1D:
		gl.TexStorage1D(target, levels, ifmt, w)
	case gl.TEXTURE_1D_ARRAY, gl.TEXTURE_2D, gl.TEXTURE_CUBE_MAP:
		gl.TexStorage2D(target, levels, ifmt, w, h)
	case gl.TEXTURE_2D_MULTISAMPLE:
		gl.TexStorage2DMultisample(target, 4, ifmt, w, h, true)
	case gl.TEXTURE_2D_MULTISAMPLE_ARRAY:
		gl.TexStorage3DMultisample(target, 4, ifmt, w, h, d, true)
	default:
		gl.TexStorage3D(target, levels, ifmt, w, h, d)
	}
	return name
}

func pattern(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + seed*31 + i>>8)
	}
	return b
}

// TestTexImageRoundTrip writes every level (and face) of every kind of
// texture with TexSubImage and reads it back with GetTexImage; the pixel
// store and bindings the caller set survive.
func TestTexImageRoundTrip(t *testing.T) {
	c := newContext(t)
	for _, tc := range []struct {
		name     string
		target   uint32
		w, h, d  int32
		faces    int
		texelsAt func(level int) int
	}{
		{"1d", gl.TEXTURE_1D, 16, 1, 1, 1, func(l int) int { return 16 >> l }},
		{"1d-array", gl.TEXTURE_1D_ARRAY, 16, 3, 1, 1, func(l int) int { return (16 >> l) * 3 }},
		{"2d", gl.TEXTURE_2D, 16, 8, 1, 1, func(l int) int { return (16 >> l) * (8 >> l) }},
		{"2d-array", gl.TEXTURE_2D_ARRAY, 16, 8, 3, 1, func(l int) int { return (16 >> l) * (8 >> l) * 3 }},
		{"3d", gl.TEXTURE_3D, 16, 8, 4, 1, func(l int) int { return (16 >> l) * (8 >> l) * (4 >> l) }},
		{"cube", gl.TEXTURE_CUBE_MAP, 8, 8, 1, 6, func(l int) int { return (8 >> l) * (8 >> l) }},
		{"cube-array", gl.TEXTURE_CUBE_MAP_ARRAY, 8, 8, 12, 1, func(l int) int { return (8 >> l) * (8 >> l) * 12 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.Call(func() {
				tex := storageTexture(tc.target, gl.RGBA8, 2, tc.w, tc.h, tc.d)
				defer gl.DeleteTextures(1, &tex)
				gl.PixelStorei(gl.PACK_ALIGNMENT, 8)
				gl.PixelStorei(gl.UNPACK_ROW_LENGTH, 3)
				defer gl.PixelStorei(gl.PACK_ALIGNMENT, 4)
				defer gl.PixelStorei(gl.UNPACK_ROW_LENGTH, 0)
				for level := range 2 {
					for face := range tc.faces {
						data := pattern(tc.texelsAt(level)*4, level*6+face)
						if err := glutil.TexSubImage(tex, tc.target, level, face, gl.RGBA, gl.UNSIGNED_BYTE, 4, data); err != nil {
							t.Fatal(err)
						}
						if err := glutil.TexSubImage(tex, tc.target, level, face, gl.RGBA, gl.UNSIGNED_BYTE, 4, data[4:]); err == nil {
							t.Fatal("TexSubImage with too few bytes succeeded")
						}
					}
				}
				for level := range 2 {
					for face := range tc.faces {
						got, err := glutil.GetTexImage(tex, tc.target, level, face, gl.RGBA, gl.UNSIGNED_BYTE, 4)
						if err != nil {
							t.Fatal(err)
						}
						if !bytes.Equal(got, pattern(tc.texelsAt(level)*4, level*6+face)) {
							t.Fatalf("level %d face %d differs", level, face)
						}
					}
				}
				var v int32
				if gl.GetIntegerv(gl.PACK_ALIGNMENT, &v); v != 8 {
					t.Errorf("GL_PACK_ALIGNMENT = %d after the helpers, want the caller's 8", v)
				}
				if gl.GetIntegerv(gl.UNPACK_ROW_LENGTH, &v); v != 3 {
					t.Errorf("GL_UNPACK_ROW_LENGTH = %d after the helpers, want the caller's 3", v)
				}
				if w, _, _, err := glutil.LevelSize(tex, tc.target, 1); err != nil || w != int(tc.w>>1) {
					t.Errorf("LevelSize(level 1) = %d, %v", w, err)
				}
				if _, err := glutil.GetTexImage(tex, tc.target, 0, tc.faces, gl.RGBA, gl.UNSIGNED_BYTE, 4); err == nil {
					t.Errorf("face %d accepted", tc.faces)
				}
				if e := gl.GetError(); e != gl.NO_ERROR {
					t.Errorf("GL error %s left pending", glutil.GLErrorName(e))
				}
			})
		})
	}
}

// TestCompressedRoundTrip: BC1 blocks in, the same blocks out.
func TestCompressedRoundTrip(t *testing.T) {
	c := newContext(t)
	c.Call(func() {
		const bc1 = gl.COMPRESSED_RGBA_S3TC_DXT1_EXT
		tex := storageTexture(gl.TEXTURE_2D_ARRAY, bc1, 1, 8, 8, 2)
		defer gl.DeleteTextures(1, &tex)
		blocks := pattern(4*8*2, 5) // 2x2 blocks of 8 bytes, 2 layers
		if err := glutil.CompressedTexSubImage(tex, gl.TEXTURE_2D_ARRAY, 0, 0, bc1, blocks); err != nil {
			t.Fatal(err)
		}
		got, err := glutil.GetCompressedTexImage(tex, gl.TEXTURE_2D_ARRAY, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, blocks) {
			t.Fatalf("blocks differ: % x", got[:16])
		}
		if err := glutil.CompressedTexSubImage(tex, gl.TEXTURE_2D_ARRAY, 0, 0, bc1, blocks[8:]); err == nil {
			t.Fatal("a short upload succeeded")
		}
		plain := storageTexture(gl.TEXTURE_2D, gl.RGBA8, 1, 4, 4, 1)
		defer gl.DeleteTextures(1, &plain)
		if _, err := glutil.GetCompressedTexImage(plain, gl.TEXTURE_2D, 0, 0); err == nil {
			t.Fatal("GetCompressedTexImage of an uncompressed texture succeeded")
		}
	})
}

// TestResolve: a cleared multisampled colour texture and depth-stencil
// array resolve to their clear values; scissor and the framebuffer
// bindings are as they were.
func TestResolve(t *testing.T) {
	c := newContext(t)
	c.Call(func() {
		ms := storageTexture(gl.TEXTURE_2D_MULTISAMPLE, gl.RGBA8, 1, 8, 4, 1)
		defer gl.DeleteTextures(1, &ms)
		ds := storageTexture(gl.TEXTURE_2D_MULTISAMPLE_ARRAY, gl.DEPTH24_STENCIL8, 1, 8, 4, 2)
		defer gl.DeleteTextures(1, &ds)

		var fbo uint32
		gl.GenFramebuffers(1, &fbo)
		defer gl.DeleteFramebuffers(1, &fbo)
		gl.BindFramebuffer(gl.FRAMEBUFFER, fbo)
		gl.FramebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D_MULTISAMPLE, ms, 0)
		gl.ClearColor(1, 0, 0.2, 1)
		gl.Clear(gl.COLOR_BUFFER_BIT)
		gl.FramebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D_MULTISAMPLE, 0, 0)
		for layer := range 2 {
			gl.FramebufferTextureLayer(gl.FRAMEBUFFER, gl.DEPTH_STENCIL_ATTACHMENT, ds, 0, int32(layer))
			gl.DrawBuffer(gl.NONE)
			gl.ClearDepth(0.5)
			gl.ClearStencil(int32(0x30 + layer))
			gl.Clear(gl.DEPTH_BUFFER_BIT | gl.STENCIL_BUFFER_BIT)
		}
		gl.BindFramebuffer(gl.FRAMEBUFFER, 0)
		if err := glutil.CheckError("clearing"); err != nil {
			t.Fatal(err)
		}

		gl.Enable(gl.SCISSOR_TEST)
		gl.Scissor(0, 0, 1, 1)
		defer gl.Disable(gl.SCISSOR_TEST)
		px, err := glutil.ResolveTexImage(ms, gl.TEXTURE_2D_MULTISAMPLE, 0, gl.RGBA, gl.UNSIGNED_BYTE, 4)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(px); i += 4 {
			if fmt.Sprint(px[i:i+4]) != fmt.Sprint([]byte{255, 0, 51, 255}) {
				t.Fatalf("resolved texel %d = %v", i/4, px[i:i+4])
			}
		}
		for layer := range 2 {
			px, err := glutil.ResolveTexImage(ds, gl.TEXTURE_2D_MULTISAMPLE_ARRAY, layer, gl.DEPTH_STENCIL, gl.UNSIGNED_INT_24_8, 4)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < len(px); i += 4 {
				w := uint32(px[i]) | uint32(px[i+1])<<8 | uint32(px[i+2])<<16 | uint32(px[i+3])<<24
				if z, s := w>>8, w&0xff; s != uint32(0x30+layer) || z < 0x7fff00 || z > 0x800100 {
					t.Fatalf("layer %d texel %d: depth %#x stencil %#x", layer, i/4, z, s)
				}
			}
		}
		if !gl.IsEnabled(gl.SCISSOR_TEST) {
			t.Error("scissor test disabled by ResolveTexImage")
		}
		var v int32
		if gl.GetIntegerv(gl.READ_FRAMEBUFFER_BINDING, &v); v != 0 {
			t.Errorf("read framebuffer %d bound afterwards", v)
		}
		if _, err := glutil.ResolveTexImage(ms, gl.TEXTURE_2D, 0, gl.RGBA, gl.UNSIGNED_BYTE, 4); err == nil {
			t.Error("ResolveTexImage of a single-sample target succeeded")
		}
	})
}

// TestBufferHelpers: CopyIntoBuffer writes into immutable storage that
// glBufferSubData may not touch, ReadBuffer reads it, and the copy
// bindings survive.
func TestBufferHelpers(t *testing.T) {
	c := newContext(t)
	c.Call(func() {
		var buf, mine uint32
		gl.GenBuffers(1, &buf)
		gl.GenBuffers(1, &mine)
		defer gl.DeleteBuffers(1, &buf)
		defer gl.DeleteBuffers(1, &mine)
		gl.BindBuffer(gl.COPY_WRITE_BUFFER, buf)
		gl.BufferStorage(gl.COPY_WRITE_BUFFER, 64, gl.Ptr(make([]byte, 64)), 0)
		gl.BindBuffer(gl.COPY_WRITE_BUFFER, mine)
		gl.BindBuffer(gl.COPY_READ_BUFFER, mine)
		defer gl.BindBuffer(gl.COPY_WRITE_BUFFER, 0)
		defer gl.BindBuffer(gl.COPY_READ_BUFFER, 0)
		if err := glutil.CopyIntoBuffer(buf, 10, []byte("glbridge")); err != nil {
			t.Fatal(err)
		}
		got, err := glutil.ReadBuffer(buf, 8, 12)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "\x00\x00glbridge\x00\x00" {
			t.Fatalf("read %q", got)
		}
		for _, pname := range []uint32{gl.COPY_READ_BUFFER, gl.COPY_WRITE_BUFFER} {
			var v int32
			if gl.GetIntegerv(pname, &v); uint32(v) != mine {
				t.Errorf("binding 0x%04x = %d afterwards, want the caller's %d", pname, v, mine)
			}
		}
		if _, err := glutil.ReadBuffer(buf, 60, 10); err == nil {
			t.Error("a read past the end succeeded")
		}
	})
}
