package interop_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-gl/gl/v3.2-compatibility/gl"
	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/glimport"
	"github.com/glbridge/glbridge/internal/glutil"
	"github.com/glbridge/glbridge/internal/gpuenv"
	"github.com/glbridge/glbridge/vkalloc"
)

// The matrix test moves known bytes through every format and kind of
// resource the helper device says it can share, both ways, and compares
// them exactly:
//
//   - Vulkan → GL: vkalloc.WritePixels fills every level, layer, cube face
//     and 3D slice with its own bytes; GL reads each level with
//     glGetTexImage (glGetCompressedTexImage for BC blocks) using the
//     storage's GL format and type, and the bytes must be what Vulkan
//     wrote.
//   - GL → Vulkan: glTexSubImage (glCompressedTexSubImage) writes new bytes
//     into every level; vkalloc.ReadPixels must return them.
//
// The format and type pair of each storage moves texels unchanged, so no
// conversion happens and every comparison is exact, floats (whose bits are
// random, NaNs and denormals included) and sRGB (neither transfer decodes)
// included. GL's transfers ignore the texture swizzle, so BGRA, BGRX and
// A8, stored as RGBA8 and R8, read back as the bytes Vulkan stored: B first
// for BGRA, the X byte as written for BGRX.
//
// Depth and stencil: Vulkan copies one aspect at a time, GL both at once.
// D16 and D32F are 2 and 4 bytes on both sides (D32F values in [0, 1]:
// Vulkan leaves copies of others undefined, and GL clamps them). D24S8 is
// Vulkan's 32-bit depth word (24 bits of depth, the top byte undefined and
// masked) plus a stencil byte against GL's GL_UNSIGNED_INT_24_8 word
// (depth << 8 | stencil); D32S8 a float and a stencil byte against GL's
// GL_FLOAT_32_UNSIGNED_INT_24_8_REV pair (float, then a word whose low
// byte is stencil and whose other bits are unused and masked).
//
// Multisampled images cannot be copied to or from memory in Vulkan: Vulkan
// clears them (and a single-sample twin the same way), GL resolves each
// layer with a blit and reads it, and the bytes must equal the twin's; the
// other way GL clears each layer to its own texel (glClearTexSubImage) and
// vkalloc's ReadPixels, which resolves, must return that texel everywhere.
// Vulkan resolves colour only, so multisampled depth goes one way.
//
// A combination QuerySupport refuses is counted as refused by the driver;
// one glimport.CheckTexture refuses by GL's own rules (3D S3TC/RGTC) is
// counted as refused by GL; anything else that fails is a test failure.

// matrixKind is one kind of resource the matrix runs every format through.
type matrixKind struct {
	name string
	desc func(fi bridge.FormatInfo) bridge.Desc
	// only, when set, limits the kind to these formats.
	only []bridge.Format
}

const miscTextureCube = 0x4 // D3D11_RESOURCE_MISC_TEXTURECUBE

func texDesc(dim bridge.Dimension, w, h, n, mips, samples uint32) func(bridge.FormatInfo) bridge.Desc {
	return func(fi bridge.FormatInfo) bridge.Desc {
		d := bridge.Desc{Dimension: dim, Width: w, Height: h, DepthOrArraySize: n, MipLevels: mips, SampleCount: samples, Format: fi.Format}
		if dim == bridge.DimensionTextureCube {
			d.MiscFlags = miscTextureCube
		}
		if mips == 0 {
			d.MipLevels = d.MaxMipLevels()
		}
		return d
	}
}

// oddSizeFormats get the 1x1 and 67x33 kinds: one of each texel size and
// family, where row pitch and padding mistakes would show.
var oddSizeFormats = []bridge.Format{
	bridge.FormatR8G8B8A8Unorm, bridge.FormatB8G8R8A8Unorm, bridge.FormatR8Unorm, bridge.FormatR8G8Uint,
	bridge.FormatR16Float, bridge.FormatB5G6R5Unorm, bridge.FormatR32G32B32Float, bridge.FormatR32G32B32A32Uint,
	bridge.FormatD16Unorm, bridge.FormatD24UnormS8Uint, bridge.FormatD32Float, bridge.FormatD32FloatS8X24Uint,
}

var matrixKinds = []matrixKind{
	{name: "2d", desc: texDesc(bridge.DimensionTexture2D, 16, 16, 1, 1, 1)},
	{name: "2d-1x1", desc: texDesc(bridge.DimensionTexture2D, 1, 1, 1, 1, 1), only: oddSizeFormats},
	{name: "2d-67x33", desc: texDesc(bridge.DimensionTexture2D, 67, 33, 1, 1, 1), only: oddSizeFormats},
	{name: "2d-mips", desc: texDesc(bridge.DimensionTexture2D, 32, 16, 1, 0, 1)},
	{name: "2d-array", desc: texDesc(bridge.DimensionTexture2D, 16, 8, 3, 2, 1)},
	{name: "cube", desc: texDesc(bridge.DimensionTextureCube, 8, 8, 1, 2, 1)},
	{name: "cube-array", desc: texDesc(bridge.DimensionTextureCube, 8, 8, 2, 1, 1)},
	{name: "3d", desc: texDesc(bridge.DimensionTexture3D, 8, 8, 4, 2, 1)},
	{name: "1d", desc: texDesc(bridge.DimensionTexture1D, 32, 1, 1, 0, 1)},
	{name: "1d-array", desc: texDesc(bridge.DimensionTexture1D, 16, 1, 3, 2, 1)},
	{name: "2d-ms4", desc: texDesc(bridge.DimensionTexture2D, 16, 16, 1, 1, 4)},
	{name: "2d-ms4-array", desc: texDesc(bridge.DimensionTexture2D, 8, 8, 2, 1, 4)},
}

// outcome of one combination.
type outcome int

const (
	ranBoth outcome = iota
	ranVulkanToGL
	refusedByDriver
	refusedByGL
	notDirect3D
	failed
	// notRun: the subtest was filtered out by -run.
	notRun
)

func TestFormatMatrix(t *testing.T) {
	env := newEnv(t, "")
	start := time.Now()
	var counts [failed + 1]int
	var glRefusals, driverRefusals []string
	for _, fi := range bridge.Formats() {
		for _, k := range matrixKinds {
			if k.only != nil && !slices.Contains(k.only, fi.Format) {
				continue
			}
			d := k.desc(fi)
			name := fi.Name + "/" + k.name
			if err := d.Validate(); err != nil {
				counts[notDirect3D]++
				continue
			}
			o, why := notRun, ""
			t.Run(name, func(t *testing.T) {
				o, why = runCombination(t, env, d)
				if t.Failed() {
					o = failed
				}
			})
			if o == notRun {
				continue
			}
			counts[o]++
			switch o {
			case refusedByDriver:
				driverRefusals = append(driverRefusals, name+": "+why)
			case refusedByGL:
				glRefusals = append(glRefusals, name+": "+why)
			}
		}
	}
	for _, r := range driverRefusals {
		t.Logf("refused by the driver: %s", r)
	}
	for _, r := range glRefusals {
		t.Logf("refused by GL's rules: %s", r)
	}
	total := counts[ranBoth] + counts[ranVulkanToGL] + counts[refusedByDriver] + counts[refusedByGL] + counts[failed]
	t.Logf("GL %q, Vulkan %q: %d format × kind combinations, %d ran both ways, %d ran Vulkan→GL only (multisampled), %d refused by the driver, %d refused by GL's rules, %d failed; %d more are not Direct3D resources; %v",
		env.ID.Renderer, env.Dev.Caps().DeviceName, total, counts[ranBoth], counts[ranVulkanToGL], counts[refusedByDriver], counts[refusedByGL], counts[failed], counts[notDirect3D], time.Since(start).Round(time.Millisecond))
	if counts[ranBoth] == 0 && total > 0 {
		t.Fatal("no combination ran both ways")
	}
}

// runCombination runs one format × kind and says how it went; errors from
// glbridge's code are reported on t.
func runCombination(t *testing.T, env *gpuenv.Env, d bridge.Desc) (outcome, string) {
	sup, err := vkalloc.QuerySupport(env.Dev, d)
	if err != nil {
		if !errors.Is(err, bridge.ErrUnsupportedFormat) {
			t.Errorf("QuerySupport: %v does not wrap ErrUnsupportedFormat", err)
		}
		return refusedByDriver, err.Error()
	}
	if reason := beyondLimits(d, sup); reason != "" {
		return refusedByDriver, reason
	}
	a := bridge.Allocation{Desc: d, VkFormat: sup.Storage.VkFormat}
	if err := glimport.CheckTexture(a); err != nil {
		if !errors.Is(err, bridge.ErrUnsupportedFormat) {
			t.Errorf("CheckTexture on a valid description: %v", err)
		}
		return refusedByGL, err.Error()
	}
	s, err := shareErr(env, d)
	if err != nil {
		t.Errorf("QuerySupport accepted %s (VkFormat %d), but sharing it failed: %v", d, sup.Storage.VkFormat, err)
		return failed, ""
	}
	defer s.close(env)
	if d.SampleCount > 1 {
		multisampleVulkanToGL(t, env, s)
		if fi, _ := bridge.LookupFormat(d.Format); fi.Depth || fi.Stencil {
			return ranVulkanToGL, ""
		}
		multisampleGLToVulkan(t, env, s)
		return ranBoth, ""
	}
	vulkanToGL(t, env, s)
	glToVulkan(t, env, s)
	return ranBoth, ""
}

// beyondLimits says why the device's limits for the kind exclude d, or "".
func beyondLimits(d bridge.Desc, sup vkalloc.Support) string {
	l := geometryOf(d)
	switch {
	case d.SampleCount&sup.SampleCounts == 0:
		return fmt.Sprintf("%d samples not among the supported counts %#x", d.SampleCount, sup.SampleCounts)
	case l.w > sup.MaxExtent[0] || l.h > sup.MaxExtent[1] || l.depth > sup.MaxExtent[2]:
		return fmt.Sprintf("%dx%dx%d exceeds the maximum extent %v", l.w, l.h, l.depth, sup.MaxExtent)
	case d.MipLevels > sup.MaxMipLevels || l.layers > sup.MaxArrayLayers:
		return fmt.Sprintf("%d levels and %d layers exceed the maxima %d and %d", d.MipLevels, l.layers, sup.MaxMipLevels, sup.MaxArrayLayers)
	}
	return ""
}

// geometry is a description as Vulkan counts it.
type geometry struct {
	w, h, depth, layers uint32
}

func geometryOf(d bridge.Desc) geometry {
	g := geometry{w: d.Width, h: d.Height, depth: 1, layers: d.DepthOrArraySize}
	switch d.Dimension {
	case bridge.DimensionTexture3D:
		g.depth, g.layers = d.DepthOrArraySize, 1
	case bridge.DimensionTextureCube:
		g.layers *= 6
	}
	return g
}

// glImage is one glGetTexImage/glTexSubImage unit: a whole level, or one
// face of a level of a cube map, and the Vulkan layers it holds in order.
type glImage struct {
	level, face int
	layers      []uint32
}

func glImages(d bridge.Desc, target uint32) []glImage {
	g := geometryOf(d)
	var out []glImage
	for l := range d.MipLevels {
		if target == gl.TEXTURE_CUBE_MAP {
			for f := range 6 {
				out = append(out, glImage{level: int(l), face: f, layers: []uint32{uint32(f)}})
			}
			continue
		}
		im := glImage{level: int(l)}
		for a := range g.layers {
			im.layers = append(im.layers, a)
		}
		out = append(out, im)
	}
	return out
}

// Vulkan formats whose depth aspect differs from GL's client layout.
const (
	vkD16    = 124
	vkX8D24  = 125
	vkD32F   = 126
	vkD16S8  = 128
	vkD24S8  = 129
	vkD32FS8 = 130
)

// depthCopyBytes is the size of one texel of the depth aspect in a Vulkan
// buffer copy: 2 for 16-bit depth, 4 for the rest.
func depthCopyBytes(vkFormat uint32) uint64 {
	if vkFormat == vkD16 || vkFormat == vkD16S8 {
		return 2
	}
	return 4
}

// rng is a small deterministic generator (xorshift64*), seeded per
// subresource so that every level, layer, face and slice differs.
type rng uint64

func newRNG(seed ...uint64) *rng {
	x := uint64(0x9e3779b97f4a7c15)
	for _, s := range seed {
		x = (x ^ s) * 0xbf58476d1ce4e5b9
		x ^= x >> 31
	}
	r := rng(x | 1)
	return &r
}

func (r *rng) next() uint64 {
	x := uint64(*r)
	x ^= x >> 12
	x ^= x << 25
	x ^= x >> 27
	*r = rng(x)
	return x * 0x2545f4914f6cdd1d
}

func (r *rng) bytes(n uint64) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.next() >> 56)
	}
	return b
}

// unitFloat is a random float32 in [0, 1), exactly representable in 24
// bits so that depth formats keep it.
func (r *rng) unitFloat() uint32 {
	return math.Float32bits(float32(r.next()>>40) / (1 << 24))
}

// aspects lists the Vulkan aspects a format is copied through.
func aspects(fi bridge.FormatInfo) []bridge.Plane {
	switch {
	case fi.Depth && fi.Stencil:
		return []bridge.Plane{bridge.PlaneDepth, bridge.PlaneStencil}
	case fi.Depth:
		return []bridge.Plane{bridge.PlaneDepth}
	}
	return []bridge.Plane{bridge.PlaneColor}
}

// vulkanData makes the bytes Vulkan writes into one aspect of one
// subresource: random, but valid depth where the format's meaning demands
// it.
func vulkanData(r *rng, vkFormat uint32, aspect bridge.Plane, n uint64) []byte {
	if aspect == bridge.PlaneDepth {
		switch vkFormat {
		case vkD32F, vkD32FS8:
			b := make([]byte, n)
			for i := uint64(0); i < n; i += 4 {
				binary.LittleEndian.PutUint32(b[i:], r.unitFloat())
			}
			return b
		case vkD24S8, vkX8D24:
			b := r.bytes(n)
			for i := uint64(3); i < n; i += 4 {
				b[i] = 0 // the undefined top byte
			}
			return b
		}
	}
	return r.bytes(n)
}

// toGL turns one subresource as Vulkan copies it (depth and stencil
// aspects apart) into GL's client layout for the storage.
func toGL(vkFormat uint32, fi bridge.FormatInfo, parts map[bridge.Plane][]byte) []byte {
	if !fi.Depth || !fi.Stencil {
		for _, p := range parts {
			return p
		}
	}
	depth, stencil := parts[bridge.PlaneDepth], parts[bridge.PlaneStencil]
	switch vkFormat {
	case vkD24S8:
		out := make([]byte, 4*len(stencil))
		for i, s := range stencil {
			z := binary.LittleEndian.Uint32(depth[4*i:]) & 0xffffff
			binary.LittleEndian.PutUint32(out[4*i:], z<<8|uint32(s))
		}
		return out
	case vkD32FS8:
		out := make([]byte, 8*len(stencil))
		for i, s := range stencil {
			copy(out[8*i:8*i+4], depth[4*i:4*i+4])
			out[8*i+4] = s
		}
		return out
	}
	panic(fmt.Sprintf("no GL layout for depth-stencil VkFormat %d", vkFormat))
}

// fromGL is toGL's inverse: GL's client bytes of one subresource split
// into the Vulkan aspects, with their undefined bits zero.
func fromGL(vkFormat uint32, fi bridge.FormatInfo, b []byte) map[bridge.Plane][]byte {
	if !fi.Depth || !fi.Stencil {
		return map[bridge.Plane][]byte{aspects(fi)[0]: b}
	}
	switch vkFormat {
	case vkD24S8:
		n := len(b) / 4
		depth, stencil := make([]byte, 4*n), make([]byte, n)
		for i := range n {
			w := binary.LittleEndian.Uint32(b[4*i:])
			binary.LittleEndian.PutUint32(depth[4*i:], w>>8)
			stencil[i] = byte(w)
		}
		return map[bridge.Plane][]byte{bridge.PlaneDepth: depth, bridge.PlaneStencil: stencil}
	case vkD32FS8:
		n := len(b) / 8
		depth, stencil := make([]byte, 4*n), make([]byte, n)
		for i := range n {
			copy(depth[4*i:], b[8*i:8*i+4])
			stencil[i] = b[8*i+4]
		}
		return map[bridge.Plane][]byte{bridge.PlaneDepth: depth, bridge.PlaneStencil: stencil}
	}
	panic(fmt.Sprintf("no GL layout for depth-stencil VkFormat %d", vkFormat))
}

// glData makes bytes GL writes into one level in its client layout: random,
// with depth in [0, 1] for float depth and unused bits zero.
func glData(r *rng, st bridge.Storage, fi bridge.FormatInfo, n int) []byte {
	b := r.bytes(uint64(n))
	switch {
	case fi.Depth && st.VkFormat == vkD32F:
		for i := 0; i < n; i += 4 {
			binary.LittleEndian.PutUint32(b[i:], r.unitFloat())
		}
	case fi.Depth && st.VkFormat == vkD32FS8:
		for i := 0; i < n; i += 8 {
			binary.LittleEndian.PutUint32(b[i:], r.unitFloat())
			binary.LittleEndian.PutUint32(b[i+4:], uint32(b[i+4]))
		}
	}
	return b
}

// masked compares got with want, ignoring the bits of each texel that are
// undefined in the layout (mask has one entry per byte of a texel; nil
// compares everything), and describes the first difference.
func masked(got, want []byte, mask []byte, texelBytes int) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d bytes, want %d", len(got), len(want))
	}
	for i := range got {
		m := byte(0xff)
		if mask != nil {
			m = mask[i%len(mask)]
		}
		if got[i]&m != want[i]&m {
			t := i / texelBytes
			lo, hi := t*texelBytes, min((t+1)*texelBytes, len(got))
			return fmt.Sprintf("texel %d (byte %d) is % x, want % x", t, i, got[lo:hi], want[lo:hi])
		}
	}
	return ""
}

// glMask is the mask of GL's client layout of a storage: D32S8's word after
// the float has 24 unused bits.
func glMask(st bridge.Storage) []byte {
	if st.VkFormat == vkD32FS8 {
		return []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0}
	}
	return nil
}

// vulkanMask is the mask of one Vulkan aspect's copy layout: D24's depth
// word has an undefined top byte.
func vulkanMask(vkFormat uint32, aspect bridge.Plane) []byte {
	if aspect == bridge.PlaneDepth && (vkFormat == vkD24S8 || vkFormat == vkX8D24) {
		return []byte{0xff, 0xff, 0xff, 0}
	}
	return nil
}

func subresourceName(level, layer uint32, a bridge.Plane) string {
	s := fmt.Sprintf("level %d layer %d", level, layer)
	switch a {
	case bridge.PlaneDepth:
		s += " depth"
	case bridge.PlaneStencil:
		s += " stencil"
	}
	return s
}

// vulkanToGL writes every subresource on the helper device and reads every
// level in GL.
func vulkanToGL(t *testing.T, env *gpuenv.Env, s *shared) {
	a := s.img.Allocation()
	d := a.Desc
	fi, _ := bridge.LookupFormat(d.Format)
	st := s.tex.Storage()
	g := geometryOf(d)
	written := map[[2]uint32][]byte{} // level, layer → GL client bytes
	for l := range d.MipLevels {
		for layer := range g.layers {
			parts := map[bridge.Plane][]byte{}
			for _, asp := range aspects(fi) {
				sub := bridge.Subresource{Level: l, Layer: layer, Plane: asp}
				n, err := s.img.SubresourceSize(sub)
				if err != nil {
					t.Errorf("SubresourceSize(%s): %v", subresourceName(l, layer, asp), err)
					return
				}
				b := vulkanData(newRNG(1, uint64(d.Format), uint64(l), uint64(layer), uint64(asp)), a.VkFormat, asp, n)
				if err := s.img.WritePixels(sub, b, vkalloc.Sync{}); err != nil {
					t.Errorf("WritePixels(%s): %v", subresourceName(l, layer, asp), err)
					return
				}
				parts[asp] = b
			}
			written[[2]uint32{l, layer}] = toGL(a.VkFormat, fi, parts)
		}
	}
	env.GL.Call(func() {
		for _, im := range glImages(d, s.tex.Target()) {
			var want []byte
			for _, layer := range im.layers {
				want = append(want, written[[2]uint32{uint32(im.level), layer}]...)
			}
			var got []byte
			var err error
			if fi.Compressed {
				got, err = glutil.GetCompressedTexImage(s.tex.Name(), s.tex.Target(), im.level, im.face)
			} else {
				got, err = glutil.GetTexImage(s.tex.Name(), s.tex.Target(), im.level, im.face, st.GLFormat, st.GLType, int(st.GLClientBytesPerBlock))
			}
			if err != nil {
				t.Errorf("Vulkan → GL: reading level %d face %d: %v", im.level, im.face, err)
				return
			}
			if diff := masked(got, want, glMask(st), int(st.GLClientBytesPerBlock)); diff != "" {
				t.Errorf("Vulkan → GL: level %d face %d (Vulkan layers %v): %s", im.level, im.face, im.layers, diff)
			}
		}
	})
}

// glToVulkan writes every level in GL and reads every subresource on the
// helper device.
func glToVulkan(t *testing.T, env *gpuenv.Env, s *shared) {
	a := s.img.Allocation()
	d := a.Desc
	fi, _ := bridge.LookupFormat(d.Format)
	st := s.tex.Storage()
	written := map[[2]uint32][]byte{}
	var err error
	env.GL.Call(func() {
		for _, im := range glImages(d, s.tex.Target()) {
			// The size of one layer in GL's client layout, from what
			// Vulkan says a layer of the first aspect holds.
			var per uint64
			if per, err = s.img.SubresourceSize(bridge.Subresource{Level: uint32(im.level), Plane: aspects(fi)[0]}); err != nil {
				return
			}
			if fi.Depth {
				per = per / depthCopyBytes(st.VkFormat) * uint64(st.GLClientBytesPerBlock)
			}
			data := glData(newRNG(2, uint64(d.Format), uint64(im.level), uint64(im.face)), st, fi, int(per)*len(im.layers))
			if fi.Compressed {
				err = glutil.CompressedTexSubImage(s.tex.Name(), s.tex.Target(), im.level, im.face, st.GLInternalFormat, data)
			} else {
				err = glutil.TexSubImage(s.tex.Name(), s.tex.Target(), im.level, im.face, st.GLFormat, st.GLType, int(st.GLClientBytesPerBlock), data)
			}
			if err != nil {
				err = fmt.Errorf("writing level %d face %d: %w", im.level, im.face, err)
				return
			}
			for i, layer := range im.layers {
				written[[2]uint32{uint32(im.level), layer}] = data[uint64(i)*per : uint64(i+1)*per]
			}
		}
		// No semaphores on this path: GL finishes before Vulkan reads.
		gl.Finish()
	})
	if err != nil {
		t.Errorf("GL → Vulkan: %v", err)
		return
	}
	for key, b := range written {
		l, layer := key[0], key[1]
		want := fromGL(a.VkFormat, fi, b)
		for _, asp := range aspects(fi) {
			sub := bridge.Subresource{Level: l, Layer: layer, Plane: asp}
			got, err := s.img.ReadPixels(sub, vkalloc.Sync{})
			if err != nil {
				t.Errorf("GL → Vulkan: ReadPixels(%s): %v", subresourceName(l, layer, asp), err)
				return
			}
			texel := int(st.BytesPerBlock)
			switch asp {
			case bridge.PlaneDepth:
				texel = int(depthCopyBytes(st.VkFormat))
			case bridge.PlaneStencil:
				texel = 1
			}
			if diff := masked(got, want[asp], vulkanMask(a.VkFormat, asp), texel); diff != "" {
				t.Errorf("GL → Vulkan: %s: %s", subresourceName(l, layer, asp), diff)
			}
		}
	}
}

// clearValue picks the clear for a multisampled image: one colour, or one
// depth and stencil, that every sample receives.
func clear(img *vkalloc.Image, fi bridge.FormatInfo) error {
	switch {
	case fi.Depth || fi.Stencil:
		return img.ClearDepthStencil(0.375, 0x5a, vkalloc.Sync{})
	case fi.Kind == bridge.KindUint || fi.Kind == bridge.KindSint:
		return img.ClearUint([4]uint32{1, 2, 3, 1}, vkalloc.Sync{})
	}
	return img.Clear([4]float32{0.25, 0.5, 0.75, 1}, vkalloc.Sync{})
}

// multisampleVulkanToGL clears the multisampled image and a single-sample
// twin the same way on the helper device; GL resolves each layer and must
// read what the twin holds.
func multisampleVulkanToGL(t *testing.T, env *gpuenv.Env, s *shared) {
	a := s.img.Allocation()
	d := a.Desc
	fi, _ := bridge.LookupFormat(d.Format)
	st := s.tex.Storage()
	td := d
	td.SampleCount = 1
	twin, err := vkalloc.NewImage(env.Dev, td)
	if err != nil {
		t.Errorf("the single-sample twin: %v", err)
		return
	}
	defer twin.Close()
	if err := clear(s.img, fi); err != nil {
		t.Errorf("clearing the multisampled image: %v", err)
		return
	}
	if err := clear(twin, fi); err != nil {
		t.Errorf("clearing the twin: %v", err)
		return
	}
	for layer := range d.DepthOrArraySize {
		parts := map[bridge.Plane][]byte{}
		for _, asp := range aspects(fi) {
			if parts[asp], err = twin.ReadPixels(bridge.Subresource{Layer: layer, Plane: asp}, vkalloc.Sync{}); err != nil {
				t.Errorf("reading the twin: %v", err)
				return
			}
		}
		want := toGL(a.VkFormat, fi, parts)
		var got []byte
		env.GL.Call(func() {
			got, err = glutil.ResolveTexImage(s.tex.Name(), s.tex.Target(), int(layer), st.GLFormat, st.GLType, int(st.GLClientBytesPerBlock))
		})
		if err != nil {
			t.Errorf("Vulkan → GL: resolving layer %d: %v", layer, err)
			return
		}
		if diff := masked(got, want, glMask(st), int(st.GLClientBytesPerBlock)); diff != "" {
			t.Errorf("Vulkan → GL: resolved layer %d: %s", layer, diff)
		}
	}
}

// multisampleGLToVulkan: GL clears each layer of a multisampled colour
// texture to a texel of its own; Vulkan resolves each layer and must find
// that texel everywhere (every sample holds it, so any resolve gives it).
func multisampleGLToVulkan(t *testing.T, env *gpuenv.Env, s *shared) {
	a := s.img.Allocation()
	d := a.Desc
	st := s.tex.Storage()
	texels := map[uint32][]byte{}
	var err error
	env.GL.Call(func() {
		for layer := range d.DepthOrArraySize {
			texel := newRNG(7, uint64(layer)).bytes(uint64(st.GLClientBytesPerBlock))
			if fi, _ := bridge.LookupFormat(d.Format); fi.Kind == bridge.KindFloat {
				// Finite values: a NaN's payload need not survive a resolve.
				for i := range texel {
					texel[i] &= 0x3b
				}
			}
			texels[layer] = texel
			glutil.DrainErrors()
			gl.ClearTexSubImage(s.tex.Name(), 0, 0, 0, int32(layer), int32(d.Width), int32(d.Height), 1, st.GLFormat, st.GLType, gl.Ptr(texel))
			if err = glutil.CheckError("glClearTexSubImage"); err != nil {
				return
			}
		}
		gl.Finish()
	})
	if err != nil {
		t.Errorf("GL → Vulkan: %v", err)
		return
	}
	for layer, texel := range texels {
		got, err := s.img.ReadPixels(bridge.Subresource{Layer: layer}, vkalloc.Sync{})
		if err != nil {
			t.Errorf("GL → Vulkan: resolving layer %d: %v", layer, err)
			return
		}
		want := bytes.Repeat(texel, len(got)/len(texel))
		if diff := masked(got, want, nil, len(texel)); diff != "" {
			t.Errorf("GL → Vulkan: resolved layer %d: %s", layer, diff)
		}
	}
}

// exportedBuffer allocates a buffer of size bytes on the helper device,
// fills it with random bytes of seed and exports it; the buffer and the
// fd are closed when the test ends. It returns them and the bytes.
func exportedBuffer(t *testing.T, env *gpuenv.Env, size uint32, seed ...uint64) (*vkalloc.Buffer, int, []byte) {
	t.Helper()
	vb, err := vkalloc.NewBuffer(env.Dev, bridge.Desc{Dimension: bridge.DimensionBuffer, Width: size, Height: 1, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vb.Close() })
	want := newRNG(seed...).bytes(uint64(size))
	if err := vb.WriteBytes(0, want, vkalloc.Sync{}); err != nil {
		t.Fatal(err)
	}
	fd, err := vb.ExportFD()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return vb, fd, want
}

// viewBuffer makes a GL buffer over mem as a describes and reads all its
// bytes; the caller closes the buffer.
func viewBuffer(mem *glimport.Memory, a bridge.Allocation) (*glimport.Buffer, []byte, error) {
	b, err := mem.Buffer(a)
	if err != nil {
		return nil, nil, err
	}
	got, err := glutil.ReadBuffer(b.Name(), 0, int(a.Desc.Width))
	if err != nil {
		b.Close()
		return nil, nil, err
	}
	return b, got, nil
}

// onMemory imports fd, the memory a describes, into GL and runs f with it
// on the GL thread; the memory is closed after. It returns the import's
// error or f's.
func onMemory(env *gpuenv.Env, a bridge.Allocation, fd int, f func(mem *glimport.Memory) error) (err error) {
	env.GL.Call(func() {
		var mem *glimport.Memory
		if mem, err = glimport.ImportMemory(a, fd); err != nil {
			return
		}
		defer mem.Close()
		err = f(mem)
	})
	return err
}

// readViaGL imports fd, the memory a describes, into GL and reads the
// bytes of a GL buffer over it as view describes.
func readViaGL(env *gpuenv.Env, a, view bridge.Allocation, fd int) (got []byte, err error) {
	err = onMemory(env, a, fd, func(mem *glimport.Memory) error {
		b, read, err := viewBuffer(mem, view)
		if err == nil {
			got = read
			b.Close()
		}
		return err
	})
	return got, err
}

// bufferSlack makes the Vulkan buffer of TestBuffersBothWays longer than
// the GL view of it, so that the second view can start past the first.
const bufferSlack = 64

// TestBuffersBothWays: a buffer's bytes cross from Vulkan to GL and back;
// glBufferSubData on the memory-object buffer does what its storage flags
// say; a second GL buffer over part of the same memory object sees the
// same bytes, and writes through it reach Vulkan. The Vulkan buffer is
// bufferSlack bytes longer than the GL one.
func TestBuffersBothWays(t *testing.T) {
	env := newEnv(t, "")
	const size = 4099
	vb, fd, want := exportedBuffer(t, env, size+bufferSlack, 3)
	a := vb.Allocation()
	whole := a
	whole.Desc.Width = size
	// A second view of the first 1000 bytes. (Non-zero offsets: see
	// TestBufferOffset.)
	part := a
	part.Desc.Width = 1000
	patch := []byte("written by GL through glCopyBufferSubData")
	subData := []byte{1, 2, 3, 4}
	var subDataWrote bool
	err := onMemory(env, a, fd, func(mem *glimport.Memory) error {
		// The caller's binding of GL_COPY_WRITE_BUFFER must survive.
		var mine uint32
		gl.GenBuffers(1, &mine)
		defer gl.DeleteBuffers(1, &mine)
		gl.BindBuffer(gl.COPY_WRITE_BUFFER, mine)
		defer gl.BindBuffer(gl.COPY_WRITE_BUFFER, 0)
		b, err := mem.Buffer(whole)
		if err != nil {
			return err
		}
		defer b.Close()
		var bound int32
		gl.GetIntegerv(gl.COPY_WRITE_BUFFER, &bound)
		if uint32(bound) != mine {
			t.Errorf("GL_COPY_WRITE_BUFFER is %d after Buffer, want the caller's %d", bound, mine)
		}
		if b.Size() != size {
			t.Errorf("Size() = %d", b.Size())
		}
		got, err := glutil.ReadBuffer(b.Name(), 0, size)
		if err != nil {
			return err
		}
		if diff := masked(got, want[:size], nil, 1); diff != "" {
			t.Errorf("Vulkan → GL buffer: %s", diff)
		}
		sub, got, err := viewBuffer(mem, part)
		if err != nil {
			return err
		}
		defer sub.Close()
		if diff := masked(got, want[:1000], nil, 1); diff != "" {
			t.Errorf("second buffer over the first 1000 bytes of the memory: %s", diff)
		}

		// glBufferSubData must do what the buffer's storage flags say.
		// glBufferStorageMemEXT takes no flags, and the field notes (after
		// piglit) expect none, so GL_INVALID_OPERATION; Mesa 22.3 reports
		// GL_DYNAMIC_STORAGE_BIT and accepts the write, which then must
		// reach the shared memory (checked from Vulkan below).
		glutil.DrainErrors()
		gl.BindBuffer(gl.COPY_WRITE_BUFFER, b.Name())
		var flags int32
		gl.GetBufferParameteriv(gl.COPY_WRITE_BUFFER, gl.BUFFER_STORAGE_FLAGS, &flags)
		gl.BufferSubData(gl.COPY_WRITE_BUFFER, 0, 4, gl.Ptr(subData))
		e := gl.GetError()
		gl.BindBuffer(gl.COPY_WRITE_BUFFER, mine)
		subDataWrote = flags&gl.DYNAMIC_STORAGE_BIT != 0
		switch {
		case !subDataWrote && e != gl.INVALID_OPERATION:
			t.Errorf("glBufferSubData on a memory-object buffer without GL_DYNAMIC_STORAGE_BIT (flags %#x): %s, want GL_INVALID_OPERATION", flags, glutil.GLErrorName(e))
		case subDataWrote && e != gl.NO_ERROR:
			t.Errorf("glBufferSubData on a memory-object buffer with GL_DYNAMIC_STORAGE_BIT (flags %#x): %s", flags, glutil.GLErrorName(e))
		case subDataWrote:
			t.Logf("this GL gives memory-object buffers GL_BUFFER_STORAGE_FLAGS %#x (GL_DYNAMIC_STORAGE_BIT): glBufferSubData is accepted, not GL_INVALID_OPERATION", flags)
		default:
			t.Logf("glBufferSubData on a memory-object buffer (flags %#x): GL_INVALID_OPERATION", flags)
		}

		// GL writes through the part view and the whole one.
		if err := glutil.CopyIntoBuffer(b.Name(), 3000, patch); err != nil {
			t.Error(err)
		}
		if err := glutil.CopyIntoBuffer(sub.Name(), 10, patch[:8]); err != nil {
			t.Error(err)
		}
		gl.Finish()
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	got, err := vb.ReadBytes(0, size+bufferSlack, vkalloc.Sync{})
	if err != nil {
		t.Fatal(err)
	}
	copy(want[3000:], patch)
	copy(want[10:], patch[:8])
	if subDataWrote {
		copy(want, subData)
	}
	if diff := masked(got, want, nil, 1); diff != "" {
		t.Fatalf("GL → Vulkan buffer: %s", diff)
	}
	// The bad-description paths.
	err = onMemory(env, a, fd, func(mem *glimport.Memory) error {
		big := a
		big.Desc.Width = uint32(a.Size) + 1
		if _, err := mem.Buffer(big); err == nil || !strings.Contains(err.Error(), "do not fit") {
			t.Errorf("a buffer larger than the memory: %v", err)
		}
		tex := a
		tex.Desc = desc2D(4, 4, bridge.FormatR8G8B8A8Unorm)
		if _, err := mem.Buffer(tex); !errors.Is(err, bridge.ErrUnsupportedFormat) {
			t.Errorf("Buffer with a texture description: %v", err)
		}
		if _, err := mem.Texture(a); !errors.Is(err, bridge.ErrUnsupportedFormat) {
			t.Errorf("Texture with a buffer description: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// TestBufferWholeRecord imports an exported buffer exactly as its record
// describes it, as a consumer in another process would, and reads every
// byte. llvmpipe needs a few bytes of memory past a buffer's end, which
// vkalloc.NewBuffer allocates; any failure fails the test.
func TestBufferWholeRecord(t *testing.T) {
	env := newEnv(t, "")
	for _, size := range []uint32{1, 4096, 4099, 65536} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			vb, fd, want := exportedBuffer(t, env, size, 4, uint64(size))
			a := vb.Allocation()
			got, err := readViaGL(env, a, a, fd)
			if err != nil {
				t.Fatalf("%d-byte buffer with %d bytes of memory: %v", size, a.Size, err)
			}
			if diff := masked(got, want, nil, 1); diff != "" {
				t.Errorf("%d-byte buffer: %s", size, diff)
			}
		})
	}
}

// TestBufferOffset views a buffer at a non-zero offset into its memory
// object (glBufferStorageMemEXT's offset). Mesa 22.3's llvmpipe ignores the
// offset for buffers and shows the memory's first bytes; that is logged as
// the driver bug it is. Elsewhere the view must show the bytes at the
// offset.
func TestBufferOffset(t *testing.T) {
	env := newEnv(t, "")
	vb, fd, want := exportedBuffer(t, env, 4096, 5)
	a := vb.Allocation()
	part := a
	part.Offset, part.Desc.Width = 1024, 1000
	got, err := readViaGL(env, a, part, fd)
	if err != nil {
		t.Fatal(err)
	}
	diff := masked(got, want[1024:2024], nil, 1)
	switch {
	case diff == "":
	case strings.Contains(env.ID.Renderer, "llvmpipe") && masked(got, want[:1000], nil, 1) == "":
		t.Logf("KNOWN MESA BUG: llvmpipe ignores glBufferStorageMemEXT's offset (1024): the view shows the memory's first bytes")
	default:
		t.Errorf("buffer at offset 1024: %s", diff)
	}
}

// TestSeveralTexturesOneMemory: two textures over one memory object of a
// cube map with mips, and two of a 2D array, see every face, layer and
// level Vulkan wrote.
func TestSeveralTexturesOneMemory(t *testing.T) {
	env := newEnv(t, "")
	for _, d := range []bridge.Desc{
		texDesc(bridge.DimensionTextureCube, 8, 8, 1, 2, 1)(bridge.FormatInfo{Format: bridge.FormatR8G8B8A8Unorm}),
		texDesc(bridge.DimensionTexture2D, 16, 8, 3, 2, 1)(bridge.FormatInfo{Format: bridge.FormatR16G16Float}),
	} {
		t.Run(d.String(), func(t *testing.T) {
			s := share(t, env, d)
			defer s.close(env)
			var second *glimport.Texture
			var err error
			env.GL.Call(func() { second, err = s.mem.Texture(s.img.Allocation()) })
			if err != nil {
				t.Fatal(err)
			}
			defer env.GL.Call(func() { second.Close() })
			if second.Name() == s.tex.Name() {
				t.Fatal("two Texture calls returned one texture")
			}
			vulkanToGL(t, env, s)
			first := s.tex
			s.tex = second
			vulkanToGL(t, env, s)
			s.tex = first
		})
	}
}
