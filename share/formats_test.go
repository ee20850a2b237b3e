package share_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/internal/glutil"
	"github.com/glbridge/glbridge/internal/testenv"
	"github.com/glbridge/glbridge/share"
)

// texels makes n bytes of texels of f that every path must carry
// unchanged: any bits for integer-like and compressed formats; finite
// normal halfs for RGBA16F; floats in [0, 1] for R32F and D32F (depth
// outside it is undefined in Vulkan).
func texels(f bridge.Format, n uint64, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, uint64(f)))
	b := make([]byte, n)
	switch f {
	case bridge.FormatR16G16B16A16Float:
		for i := 0; i+2 <= len(b); i += 2 {
			sign, exp, frac := r.Uint32N(2), 1+r.Uint32N(29), r.Uint32N(1024)
			binary.LittleEndian.PutUint16(b[i:], uint16(sign<<15|exp<<10|frac))
		}
	case bridge.FormatR32Float, bridge.FormatD32Float:
		for i := 0; i+4 <= len(b); i += 4 {
			binary.LittleEndian.PutUint32(b[i:], math.Float32bits(r.Float32()))
		}
	default:
		for i := range b {
			b[i] = byte(r.Uint32())
		}
	}
	return b
}

// glWrite writes data, in host layout, into every level (and cube face)
// of the GL texture through glTexSubImage, as a GL renderer would.
func glWrite(name, target uint32, l bridge.HostLayout, data []byte) error {
	return share.GLImages(target, l, func(level, face int, off, size uint64) error {
		if l.Info.Compressed {
			return glutil.CompressedTexSubImage(name, target, level, face, l.Info.GLInternalFormat, data[off:off+size])
		}
		return glutil.TexSubImage(name, target, level, face, l.Info.GLFormat, l.Info.GLType, int(l.Info.GLClientBytesPerBlock), data[off:off+size])
	})
}

// glRead reads every level of the GL texture back, in host layout.
func glRead(name, target uint32, l bridge.HostLayout) ([]byte, error) {
	out := make([]byte, l.Size)
	err := share.GLImages(target, l, func(level, face int, off, size uint64) error {
		var px []byte
		var err error
		if l.Info.Compressed {
			px, err = glutil.GetCompressedTexImage(name, target, level, face)
		} else {
			px, err = glutil.GetTexImage(name, target, level, face, l.Info.GLFormat, l.Info.GLType, int(l.Info.GLClientBytesPerBlock))
		}
		if err == nil && uint64(len(px)) != size {
			err = errors.New("GL level size differs from the layout's")
		}
		copy(out[off:], px)
		return err
	})
	return out, err
}

// vkWrite and vkRead move data, in host layout, into and out of every
// subresource of the Vulkan side's image.
func vkWrite(r *share.VulkanResource, l bridge.HostLayout, data []byte) error {
	return r.Access(bridge.AccessReadWrite, func() error {
		for _, sr := range l.Subresources {
			if err := r.WritePixels(sr.Subresource, data[sr.Offset:sr.Offset+sr.Size]); err != nil {
				return err
			}
		}
		return nil
	})
}

func vkRead(r *share.VulkanResource, l bridge.HostLayout) ([]byte, error) {
	out := make([]byte, l.Size)
	err := r.Access(bridge.AccessRead, func() error {
		for _, sr := range l.Subresources {
			px, err := r.ReadPixels(sr.Subresource)
			if err != nil {
				return err
			}
			copy(out[sr.Offset:], px)
		}
		return nil
	})
	return out, err
}

// roundTrip writes data from GL and reads it in Vulkan, then writes
// other data from Vulkan and reads it in GL, and compares bytes.
func roundTrip(t *testing.T, p *pair, l bridge.HostLayout, seed uint64) {
	t.Helper()
	data := texels(l.Desc.Format, l.Size, seed)
	var err error
	p.e.ctx.Call(func() {
		err = p.gr.Access(bridge.AccessReadWrite, func() (err error) {
			name, target := p.gr.Texture()
			err = glWrite(name, target, l, data)
			return err
		})
	})
	if err != nil {
		t.Fatalf("GL write: %v", err)
	}
	got, err := vkRead(p.vr, l)
	if err != nil {
		t.Fatalf("Vulkan read: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("GL → Vulkan: bytes differ at %d of %d", firstDiff(got, data), len(data))
	}
	data = texels(l.Desc.Format, l.Size, seed+1)
	if err := vkWrite(p.vr, l, data); err != nil {
		t.Fatalf("Vulkan write: %v", err)
	}
	p.e.ctx.Call(func() {
		err = p.gr.Access(bridge.AccessRead, func() (err error) {
			name, target := p.gr.Texture()
			got, err = glRead(name, target, l)
			return err
		})
	})
	if err != nil {
		t.Fatalf("GL read: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("Vulkan → GL: bytes differ at %d of %d", firstDiff(got, data), len(data))
	}
}

// copyFormats is the representative subset the copy path must carry:
// 8-bit colour in both channel orders, packed 10-bit, half float, float,
// block-compressed and depth.
var copyFormats = []bridge.Format{
	bridge.FormatR8G8B8A8Unorm, bridge.FormatB8G8R8A8Unorm, bridge.FormatR10G10B10A2Unorm,
	bridge.FormatR16G16B16A16Float, bridge.FormatR32Float, bridge.FormatBC1Unorm, bridge.FormatD32Float,
}

// TestFormatsRoundTrip: every format of the subset, with two mip levels,
// goes GL → Vulkan and Vulkan → GL byte for byte on every path.
func TestFormatsRoundTrip(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode, e *glEnv, v *share.Vulkan) {
		for i, f := range copyFormats {
			t.Run(f.String(), func(t *testing.T) {
				d := desc2D(16, 12, f)
				d.MipLevels = 2
				l, err := bridge.LayoutOf(d)
				if err != nil {
					t.Fatal(err)
				}
				p := newPair(t, m, e, v, d)
				defer p.close()
				roundTrip(t, p, l, uint64(i)*10)
			})
		}
	})
}

// TestLayouts: arrays, cube maps, cube map arrays, 3D textures and 1D
// arrays with mip levels round-trip on every path; in host memory the
// bytes lie exactly as HostLayout documents.
func TestLayouts(t *testing.T) {
	const cube = 0x4 // D3D11_RESOURCE_MISC_TEXTURECUBE
	descs := map[string]bridge.Desc{
		"2d-array": {Dimension: bridge.DimensionTexture2D, Width: 8, Height: 4, DepthOrArraySize: 3, MipLevels: 2, SampleCount: 1, Format: bridge.FormatR8G8B8A8Unorm},
		"cube":     {Dimension: bridge.DimensionTextureCube, Width: 8, Height: 8, DepthOrArraySize: 1, MipLevels: 2, SampleCount: 1, Format: bridge.FormatR8G8B8A8Unorm, MiscFlags: cube},
		"cube-arr": {Dimension: bridge.DimensionTextureCube, Width: 4, Height: 4, DepthOrArraySize: 2, MipLevels: 1, SampleCount: 1, Format: bridge.FormatR8G8B8A8Unorm, MiscFlags: cube},
		"3d":       {Dimension: bridge.DimensionTexture3D, Width: 8, Height: 4, DepthOrArraySize: 4, MipLevels: 2, SampleCount: 1, Format: bridge.FormatR8G8B8A8Unorm},
		"1d-array": {Dimension: bridge.DimensionTexture1D, Width: 16, Height: 1, DepthOrArraySize: 3, MipLevels: 2, SampleCount: 1, Format: bridge.FormatR16G16B16A16Float},
		"bc1-arr":  {Dimension: bridge.DimensionTexture2D, Width: 8, Height: 8, DepthOrArraySize: 2, MipLevels: 2, SampleCount: 1, Format: bridge.FormatBC1Unorm},
	}
	forEachMode(t, func(t *testing.T, m mode, e *glEnv, v *share.Vulkan) {
		for name, d := range descs {
			t.Run(name, func(t *testing.T) {
				l, err := bridge.LayoutOf(d)
				if err != nil {
					t.Fatal(err)
				}
				p := newPair(t, m, e, v, d)
				defer p.close()
				roundTrip(t, p, l, 7)
				if m.wantGL != share.CopyHost {
					return
				}
				// What Vulkan wrote last is now in host memory, in the
				// documented order.
				want := texels(d.Format, l.Size, 8)
				fd, err := p.vr.ExportFD()
				if err != nil {
					t.Fatal(err)
				}
				defer unix.Close(fd)
				mem, err := unix.Mmap(fd, 0, int(l.Size), unix.PROT_READ, unix.MAP_SHARED)
				if err != nil {
					t.Fatal(err)
				}
				defer unix.Munmap(mem)
				if !bytes.Equal(mem, want) {
					t.Fatalf("host memory differs from the layout at byte %d", firstDiff(mem, want))
				}
			})
		}
	})
}

// TestOpenErrors: records the copy path cannot serve are refused with the
// reason, and the caller's fd stays open and nothing leaks.
func TestOpenErrors(t *testing.T) {
	zero := testGL(t, share.Options{})
	var r *share.GLResource
	var fd int
	var err error
	zero.ctx.Call(func() {
		if r, err = zero.g.Create(desc2D(8, 8, bridge.FormatR8G8B8A8Unorm)); err == nil {
			fd, err = r.ExportFD()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer zero.ctx.Call(func() { r.Close() })
	defer unix.Close(fd)

	// A GL without Vulkan, forced to copy, has nothing to copy Vulkan
	// memory through.
	noVK := testGL(t, share.WithNoVulkan(share.Options{ForceCopy: true}))
	check := testenv.Watch(t, fd)
	noVK.ctx.Call(func() { _, err = noVK.g.Open(r.Allocation(), fd) })
	if !errors.Is(err, bridge.ErrNoVulkan) {
		t.Fatalf("Open of Vulkan memory without Vulkan: %v, want bridge.ErrNoVulkan", err)
	}
	t.Log(err)
	check.Kept(t, "a failed Open")
	// Without ForceCopy a GL without Vulkan imports it zero-copy: that
	// needs no Vulkan in this process.
	glOnly := testGL(t, share.WithNoVulkan(share.Options{}))
	glOnly.ctx.Call(func() {
		var r2 *share.GLResource
		if r2, err = glOnly.g.Open(r.Allocation(), fd); err == nil {
			if r2.Path() != share.ZeroCopy {
				t.Errorf("GL-only open of Vulkan memory: %v (%s), want zero-copy", r2.Path(), r2.Reason())
			}
			r2.Close()
		}
	})
	if err != nil {
		t.Fatal(err)
	}

	// A host-memory record whose memfd is smaller than its layout.
	small, err := unix.MemfdCreate("small", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(small)
	if err := unix.Ftruncate(small, 16); err != nil {
		t.Fatal(err)
	}
	a := bridge.Allocation{Desc: desc2D(8, 8, bridge.FormatR8G8B8A8Unorm), Size: 256, HostMemory: true}
	check = testenv.Watch(t, small)
	noVK.ctx.Call(func() { _, err = noVK.g.Open(a, small) })
	if err == nil {
		t.Fatal("Open of a 16-byte memfd for 256 bytes succeeded")
	}
	t.Log(err)
	check.Kept(t, "a failed Open")
}
