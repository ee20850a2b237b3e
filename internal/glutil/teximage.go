package glutil

import (
	"fmt"

	"github.com/go-gl/gl/v3.2-compatibility/gl"
)

// BindingOf returns the glGetIntegerv pname that reports the texture bound
// to target on the active unit (GL_TEXTURE_BINDING_2D for GL_TEXTURE_2D),
// or 0 for a target that is not a texture target. A cube face target
// (GL_TEXTURE_CUBE_MAP_POSITIVE_X and the five after it) reports the cube
// map binding.
func BindingOf(target uint32) uint32 {
	if b, ok := bindings[target]; ok {
		return b
	}
	if target >= gl.TEXTURE_CUBE_MAP_POSITIVE_X && target <= gl.TEXTURE_CUBE_MAP_NEGATIVE_Z {
		return gl.TEXTURE_BINDING_CUBE_MAP
	}
	return 0
}

var bindings = map[uint32]uint32{
	gl.TEXTURE_1D:                   gl.TEXTURE_BINDING_1D,
	gl.TEXTURE_1D_ARRAY:             gl.TEXTURE_BINDING_1D_ARRAY,
	gl.TEXTURE_2D:                   gl.TEXTURE_BINDING_2D,
	gl.TEXTURE_2D_ARRAY:             gl.TEXTURE_BINDING_2D_ARRAY,
	gl.TEXTURE_3D:                   gl.TEXTURE_BINDING_3D,
	gl.TEXTURE_RECTANGLE:            gl.TEXTURE_BINDING_RECTANGLE,
	gl.TEXTURE_CUBE_MAP:             gl.TEXTURE_BINDING_CUBE_MAP,
	gl.TEXTURE_CUBE_MAP_ARRAY:       gl.TEXTURE_BINDING_CUBE_MAP_ARRAY,
	gl.TEXTURE_2D_MULTISAMPLE:       gl.TEXTURE_BINDING_2D_MULTISAMPLE,
	gl.TEXTURE_2D_MULTISAMPLE_ARRAY: gl.TEXTURE_BINDING_2D_MULTISAMPLE_ARRAY,
}

// bindTexture binds tex to target on the active unit and returns a
// function that rebinds what was bound before.
func bindTexture(tex, target uint32) (restore func(), err error) {
	pname := BindingOf(target)
	if pname == 0 {
		return nil, fmt.Errorf("glutil: 0x%04x is not a texture target", target)
	}
	var prev int32
	gl.GetIntegerv(pname, &prev)
	gl.BindTexture(target, tex)
	if err := CheckError("glBindTexture"); err != nil {
		gl.BindTexture(target, uint32(prev))
		return nil, prefixed(err)
	}
	return func() { gl.BindTexture(target, uint32(prev)) }, nil
}

// Pixel-store parameters saved and reset around transfers, the pack set
// for reads and the unpack set for writes, with their reset values. The
// compressed-block ones exist from GL 4.2 on and are skipped where the
// context rejects them.
var (
	packParams = [][2]int32{
		{gl.PACK_ALIGNMENT, 1}, {gl.PACK_ROW_LENGTH, 0}, {gl.PACK_SKIP_PIXELS, 0}, {gl.PACK_SKIP_ROWS, 0},
		{gl.PACK_IMAGE_HEIGHT, 0}, {gl.PACK_SKIP_IMAGES, 0}, {gl.PACK_SWAP_BYTES, 0}, {gl.PACK_LSB_FIRST, 0},
		{gl.PACK_COMPRESSED_BLOCK_WIDTH, 0}, {gl.PACK_COMPRESSED_BLOCK_HEIGHT, 0}, {gl.PACK_COMPRESSED_BLOCK_DEPTH, 0}, {gl.PACK_COMPRESSED_BLOCK_SIZE, 0},
	}
	unpackParams = [][2]int32{
		{gl.UNPACK_ALIGNMENT, 1}, {gl.UNPACK_ROW_LENGTH, 0}, {gl.UNPACK_SKIP_PIXELS, 0}, {gl.UNPACK_SKIP_ROWS, 0},
		{gl.UNPACK_IMAGE_HEIGHT, 0}, {gl.UNPACK_SKIP_IMAGES, 0}, {gl.UNPACK_SWAP_BYTES, 0}, {gl.UNPACK_LSB_FIRST, 0},
		{gl.UNPACK_COMPRESSED_BLOCK_WIDTH, 0}, {gl.UNPACK_COMPRESSED_BLOCK_HEIGHT, 0}, {gl.UNPACK_COMPRESSED_BLOCK_DEPTH, 0}, {gl.UNPACK_COMPRESSED_BLOCK_SIZE, 0},
	}
)

// tightPixelStore sets the pack (or unpack) parameters to tightly packed
// rows and images with no skips, unbinds the pixel pack (or unpack)
// buffer, and returns a function that puts all of it back.
func tightPixelStore(pack bool) (restore func()) {
	params, bufTarget, bufBinding := unpackParams, uint32(gl.PIXEL_UNPACK_BUFFER), uint32(gl.PIXEL_UNPACK_BUFFER_BINDING)
	if pack {
		params, bufTarget, bufBinding = packParams, gl.PIXEL_PACK_BUFFER, gl.PIXEL_PACK_BUFFER_BINDING
	}
	type saved struct {
		pname uint32
		value int32
	}
	var keep []saved
	for _, p := range params {
		var v int32
		gl.GetIntegerv(uint32(p[0]), &v)
		if gl.GetError() != gl.NO_ERROR {
			continue // not in this GL version
		}
		keep = append(keep, saved{uint32(p[0]), v})
		gl.PixelStorei(uint32(p[0]), p[1])
	}
	var buf int32
	gl.GetIntegerv(bufBinding, &buf)
	gl.BindBuffer(bufTarget, 0)
	return func() {
		for _, s := range keep {
			gl.PixelStorei(s.pname, s.value)
		}
		gl.BindBuffer(bufTarget, uint32(buf))
	}
}

// imageTarget is the target that names one face (or the whole) of a level
// in glGetTexImage and glTexSubImage: the cube face for cube maps, the
// texture's own target otherwise.
func imageTarget(target uint32, face int) (uint32, error) {
	if target == gl.TEXTURE_CUBE_MAP {
		if face < 0 || face > 5 {
			return 0, fmt.Errorf("glutil: cube face %d", face)
		}
		return gl.TEXTURE_CUBE_MAP_POSITIVE_X + uint32(face), nil
	}
	if face != 0 {
		return 0, fmt.Errorf("glutil: face %d of a texture of target 0x%04x, which has no faces", face, target)
	}
	return target, nil
}

// LevelSize returns the width, height and depth GL reports for level of
// the texture bound to imageTarget (a cube face target for cube maps).
// Height counts the layers of a 1D array, depth those of a 2D or cube
// array (faces included).
func levelSize(imgTarget uint32, level int) (w, h, d int32) {
	gl.GetTexLevelParameteriv(imgTarget, int32(level), gl.TEXTURE_WIDTH, &w)
	gl.GetTexLevelParameteriv(imgTarget, int32(level), gl.TEXTURE_HEIGHT, &h)
	gl.GetTexLevelParameteriv(imgTarget, int32(level), gl.TEXTURE_DEPTH, &d)
	return
}

// LevelSize returns the size GL reports for level of texture tex (of
// target): width, height (layers of a 1D array) and depth (slices of a 3D
// texture, layers of a 2D array, layer-faces of a cube map array).
func LevelSize(tex, target uint32, level int) (w, h, d int, err error) {
	DrainErrors()
	restore, err := bindTexture(tex, target)
	if err != nil {
		return 0, 0, 0, err
	}
	defer restore()
	it, _ := imageTarget(target, 0)
	lw, lh, ld := levelSize(it, level)
	if err := CheckError("glGetTexLevelParameteriv"); err != nil {
		return 0, 0, 0, prefixed(err)
	}
	return int(lw), int(lh), int(ld), nil
}

// GetTexImage reads a whole level of texture tex (of target) with
// glGetTexImage as format and typ, tightly packed: every layer, slice or
// layer-face of the level one after another, rows in memory order (GL's
// bottom row first, which Vulkan and Direct3D call the top). For a cube map
// face picks the face (0 to 5: +X, -X, +Y, -Y, +Z, -Z, Direct3D's order
// too); it must be 0 for every other target. texelBytes is the size of one
// texel in the client memory format and typ describe: it sizes the result,
// which is why it must be right.
//
// Depth and stencil come back through GL_DEPTH_COMPONENT,
// GL_STENCIL_INDEX or GL_DEPTH_STENCIL. Multisampled textures cannot be
// read this way: see ResolveTexImage. The binding of target and the pack
// state are restored.
func GetTexImage(tex, target uint32, level, face int, format, typ uint32, texelBytes int) ([]byte, error) {
	var out []byte
	err := getTexImage(tex, target, level, face, format, typ, texelBytes, func(n int) pixels {
		out = make([]byte, n)
		return pixels{client: out}
	})
	return out, err
}

// GetTexImageTo is GetTexImage into pb at byte offset off, which must have
// room for the level: GL writes the texels on its own schedule, and Read
// maps them. It returns the number of bytes the level takes.
func GetTexImageTo(pb *PixelBuffer, off int, tex, target uint32, level, face int, format, typ uint32, texelBytes int) (int, error) {
	var n int
	err := getTexImage(tex, target, level, face, format, typ, texelBytes, func(size int) pixels {
		n = size
		return pixels{pb: pb, off: off, n: size}
	})
	return n, err
}

// bindLevel binds tex to target (restore puts the previous binding back)
// and returns the image target of face and the size of level, which every
// whole-level transfer starts from.
func bindLevel(tex, target uint32, level, face int) (it uint32, w, h, d int32, restore func(), err error) {
	DrainErrors()
	if it, err = imageTarget(target, face); err != nil {
		return 0, 0, 0, 0, nil, err
	}
	if restore, err = bindTexture(tex, target); err != nil {
		return 0, 0, 0, 0, nil, err
	}
	w, h, d = levelSize(it, level)
	if err := CheckError("glGetTexLevelParameteriv"); err != nil {
		restore()
		return 0, 0, 0, 0, nil, prefixed(err)
	}
	return it, w, h, d, restore, nil
}

func getTexImage(tex, target uint32, level, face int, format, typ uint32, texelBytes int, dst func(n int) pixels) error {
	it, w, h, d, restore, err := bindLevel(tex, target, level, face)
	if err != nil {
		return err
	}
	defer restore()
	if w <= 0 || h <= 0 || d <= 0 {
		return fmt.Errorf("glutil: level %d of texture %d is %dx%dx%d: no such level", level, tex, w, h, d)
	}
	px := dst(int(w) * int(h) * int(d) * texelBytes)
	if err := px.check(); err != nil {
		return err
	}
	defer tightPixelStore(true)()
	defer px.bind(true)()
	gl.GetTexImage(it, int32(level), format, typ, px.ptr())
	return prefixed(CheckError(fmt.Sprintf("glGetTexImage(level %d, format 0x%04x, type 0x%04x)", level, format, typ)))
}

// GetCompressedTexImage reads a whole level (every layer) of a
// block-compressed texture with glGetCompressedTexImage, as the blocks are
// stored. face is as for GetTexImage.
func GetCompressedTexImage(tex, target uint32, level, face int) ([]byte, error) {
	DrainErrors()
	it, err := imageTarget(target, face)
	if err != nil {
		return nil, err
	}
	restore, err := bindTexture(tex, target)
	if err != nil {
		return nil, err
	}
	defer restore()
	var compressed, size int32
	gl.GetTexLevelParameteriv(it, int32(level), gl.TEXTURE_COMPRESSED, &compressed)
	gl.GetTexLevelParameteriv(it, int32(level), gl.TEXTURE_COMPRESSED_IMAGE_SIZE, &size)
	if err := CheckError("glGetTexLevelParameteriv(GL_TEXTURE_COMPRESSED_IMAGE_SIZE)"); err != nil {
		return nil, prefixed(err)
	}
	if compressed == gl.FALSE || size <= 0 {
		return nil, fmt.Errorf("glutil: level %d of texture %d is not compressed (image size %d)", level, tex, size)
	}
	// NVIDIA reports GL_TEXTURE_COMPRESSED_IMAGE_SIZE of a cube map face as
	// the size of all six faces, then returns one: where the block size of
	// the format is known, the image is as long as its blocks.
	want := int(size)
	var w, h, d, internal int32
	gl.GetTexLevelParameteriv(it, int32(level), gl.TEXTURE_WIDTH, &w)
	gl.GetTexLevelParameteriv(it, int32(level), gl.TEXTURE_HEIGHT, &h)
	gl.GetTexLevelParameteriv(it, int32(level), gl.TEXTURE_DEPTH, &d)
	gl.GetTexLevelParameteriv(it, int32(level), gl.TEXTURE_INTERNAL_FORMAT, &internal)
	if bb := compressedBlockBytes(uint32(internal)); bb > 0 {
		if n := int((w+3)/4) * int((h+3)/4) * int(max(d, 1)) * bb; n <= int(size) {
			want = n
		}
	}
	out := make([]byte, size)
	defer tightPixelStore(true)()
	gl.GetCompressedTexImage(it, int32(level), gl.Ptr(out))
	if err := CheckError(fmt.Sprintf("glGetCompressedTexImage(level %d)", level)); err != nil {
		return nil, prefixed(err)
	}
	return out[:want], nil
}

// compressedBlockBytes is the size of one 4×4 block of the compressed
// internal formats glbridge shares (S3TC, RGTC, BPTC), or 0.
func compressedBlockBytes(internal uint32) int {
	switch internal {
	case gl.COMPRESSED_RGB_S3TC_DXT1_EXT, gl.COMPRESSED_RGBA_S3TC_DXT1_EXT,
		gl.COMPRESSED_SRGB_S3TC_DXT1_EXT, gl.COMPRESSED_SRGB_ALPHA_S3TC_DXT1_EXT,
		gl.COMPRESSED_RED_RGTC1, gl.COMPRESSED_SIGNED_RED_RGTC1:
		return 8
	case gl.COMPRESSED_RGBA_S3TC_DXT3_EXT, gl.COMPRESSED_RGBA_S3TC_DXT5_EXT,
		gl.COMPRESSED_SRGB_ALPHA_S3TC_DXT3_EXT, gl.COMPRESSED_SRGB_ALPHA_S3TC_DXT5_EXT,
		gl.COMPRESSED_RG_RGTC2, gl.COMPRESSED_SIGNED_RG_RGTC2,
		gl.COMPRESSED_RGBA_BPTC_UNORM_ARB, gl.COMPRESSED_SRGB_ALPHA_BPTC_UNORM_ARB,
		gl.COMPRESSED_RGB_BPTC_SIGNED_FLOAT_ARB, gl.COMPRESSED_RGB_BPTC_UNSIGNED_FLOAT_ARB:
		return 16
	}
	return 0
}

// TexSubImage replaces a whole level of texture tex (of target; face as
// for GetTexImage) with data, laid out as GetTexImage returns it, through
// glTexSubImage1D, 2D or 3D with format and typ. texelBytes is the size of
// one texel of data; its length must be the level's texel count times
// that, so GL never reads past it. The binding and unpack state are
// restored.
func TexSubImage(tex, target uint32, level, face int, format, typ uint32, texelBytes int, data []byte) error {
	return texSubImage(tex, target, level, face, format, typ, texelBytes, pixels{client: data, n: len(data)})
}

// TexSubImageFrom is TexSubImage from pb at byte offset off, which holds
// the level's texels (written with PixelBuffer.Write).
func TexSubImageFrom(pb *PixelBuffer, off int, tex, target uint32, level, face int, format, typ uint32, texelBytes int) error {
	return texSubImage(tex, target, level, face, format, typ, texelBytes, pixels{pb: pb, off: off, n: -1})
}

func texSubImage(tex, target uint32, level, face int, format, typ uint32, texelBytes int, src pixels) error {
	it, w, h, d, restore, err := bindLevel(tex, target, level, face)
	if err != nil {
		return err
	}
	defer restore()
	want := int(w) * int(h) * int(d) * texelBytes
	if src.n < 0 {
		src.n = want
	}
	if src.n != want || want == 0 {
		return fmt.Errorf("glutil: TexSubImage: %d bytes for level %d of %dx%dx%d texels of %d bytes (%d)", src.n, level, w, h, d, texelBytes, want)
	}
	if err := src.check(); err != nil {
		return err
	}
	defer tightPixelStore(false)()
	defer src.bind(false)()
	call := "glTexSubImage2D"
	switch target {
	case gl.TEXTURE_1D:
		call = "glTexSubImage1D"
		gl.TexSubImage1D(it, int32(level), 0, w, format, typ, src.ptr())
	case gl.TEXTURE_3D, gl.TEXTURE_2D_ARRAY, gl.TEXTURE_CUBE_MAP_ARRAY:
		call = "glTexSubImage3D"
		gl.TexSubImage3D(it, int32(level), 0, 0, 0, w, h, d, format, typ, src.ptr())
	default:
		gl.TexSubImage2D(it, int32(level), 0, 0, w, h, format, typ, src.ptr())
	}
	return prefixed(CheckError(fmt.Sprintf("%s(level %d, format 0x%04x, type 0x%04x)", call, level, format, typ)))
}

// CompressedTexSubImage replaces a whole level of a block-compressed
// texture (face as for GetTexImage) with blocks, laid out as
// GetCompressedTexImage returns them, through glCompressedTexSubImage2D or
// 3D with the texture's internalFormat. GL checks the size of data against
// the level.
func CompressedTexSubImage(tex, target uint32, level, face int, internalFormat uint32, blocks []byte) error {
	it, w, h, d, restore, err := bindLevel(tex, target, level, face)
	if err != nil {
		return err
	}
	defer restore()
	if len(blocks) == 0 {
		return fmt.Errorf("glutil: CompressedTexSubImage: no data for level %d", level)
	}
	defer tightPixelStore(false)()
	call := "glCompressedTexSubImage2D"
	switch target {
	case gl.TEXTURE_3D, gl.TEXTURE_2D_ARRAY, gl.TEXTURE_CUBE_MAP_ARRAY:
		call = "glCompressedTexSubImage3D"
		gl.CompressedTexSubImage3D(it, int32(level), 0, 0, 0, w, h, d, internalFormat, int32(len(blocks)), gl.Ptr(blocks))
	case gl.TEXTURE_1D, gl.TEXTURE_1D_ARRAY:
		return fmt.Errorf("glutil: CompressedTexSubImage: target 0x%04x has no block-compressed formats", target)
	default:
		gl.CompressedTexSubImage2D(it, int32(level), 0, 0, w, h, internalFormat, int32(len(blocks)), gl.Ptr(blocks))
	}
	return prefixed(CheckError(fmt.Sprintf("%s(level %d, %dx%dx%d, %d bytes)", call, level, w, h, d, len(blocks))))
}

// ResolveTexImage reads one layer of a multisampled texture (target
// GL_TEXTURE_2D_MULTISAMPLE, layer 0, or GL_TEXTURE_2D_MULTISAMPLE_ARRAY):
// it blit-resolves the layer into a temporary single-sample texture of the
// same internal format, with GL_NEAREST, and reads that with GetTexImage as
// format and typ. Colour is resolved as GL resolves it (an average for
// normalized and float formats, one sample for integer ones); depth and
// stencil come through as one sample's values. So only a layer whose
// samples agree reads back as exactly what was stored.
//
// The blit is unaffected by scissor, sRGB conversion and write masks, which
// are switched off for it and restored, as are the framebuffer and texture
// bindings.
func ResolveTexImage(tex, target uint32, layer int, format, typ uint32, texelBytes int) ([]byte, error) {
	if target != gl.TEXTURE_2D_MULTISAMPLE && target != gl.TEXTURE_2D_MULTISAMPLE_ARRAY {
		return nil, fmt.Errorf("glutil: ResolveTexImage: target 0x%04x is not multisampled", target)
	}
	if target == gl.TEXTURE_2D_MULTISAMPLE && layer != 0 {
		return nil, fmt.Errorf("glutil: ResolveTexImage: layer %d of a texture that has one", layer)
	}
	DrainErrors()
	restoreTex, err := bindTexture(tex, target)
	if err != nil {
		return nil, err
	}
	var ifmt, w, h, depthBits, stencilBits int32
	gl.GetTexLevelParameteriv(target, 0, gl.TEXTURE_INTERNAL_FORMAT, &ifmt)
	gl.GetTexLevelParameteriv(target, 0, gl.TEXTURE_WIDTH, &w)
	gl.GetTexLevelParameteriv(target, 0, gl.TEXTURE_HEIGHT, &h)
	gl.GetTexLevelParameteriv(target, 0, gl.TEXTURE_DEPTH_SIZE, &depthBits)
	gl.GetTexLevelParameteriv(target, 0, gl.TEXTURE_STENCIL_SIZE, &stencilBits)
	restoreTex()
	if err := CheckError("glGetTexLevelParameteriv"); err != nil {
		return nil, prefixed(err)
	}
	attachment, mask := uint32(gl.COLOR_ATTACHMENT0), uint32(gl.COLOR_BUFFER_BIT)
	switch {
	case depthBits > 0 && stencilBits > 0:
		attachment, mask = gl.DEPTH_STENCIL_ATTACHMENT, gl.DEPTH_BUFFER_BIT|gl.STENCIL_BUFFER_BIT
	case depthBits > 0:
		attachment, mask = gl.DEPTH_ATTACHMENT, gl.DEPTH_BUFFER_BIT
	case stencilBits > 0:
		attachment, mask = gl.STENCIL_ATTACHMENT, gl.STENCIL_BUFFER_BIT
	}

	// The single-sample texture the layer is resolved into.
	restore2D, err := bindTexture(0, gl.TEXTURE_2D)
	if err != nil {
		return nil, err
	}
	var resolved uint32
	gl.GenTextures(1, &resolved)
	gl.BindTexture(gl.TEXTURE_2D, resolved)
	gl.TexStorage2D(gl.TEXTURE_2D, 1, uint32(ifmt), w, h)
	restore2D()
	defer gl.DeleteTextures(1, &resolved)
	if err := CheckError(fmt.Sprintf("glTexStorage2D(internal format 0x%04x, %dx%d)", ifmt, w, h)); err != nil {
		return nil, prefixed(err)
	}

	var prevDraw, prevRead int32
	gl.GetIntegerv(gl.DRAW_FRAMEBUFFER_BINDING, &prevDraw)
	gl.GetIntegerv(gl.READ_FRAMEBUFFER_BINDING, &prevRead)
	var fbos [2]uint32 // read, draw
	gl.GenFramebuffers(2, &fbos[0])
	defer func() {
		gl.BindFramebuffer(gl.DRAW_FRAMEBUFFER, uint32(prevDraw))
		gl.BindFramebuffer(gl.READ_FRAMEBUFFER, uint32(prevRead))
		gl.DeleteFramebuffers(2, &fbos[0])
	}()
	gl.BindFramebuffer(gl.READ_FRAMEBUFFER, fbos[0])
	gl.BindFramebuffer(gl.DRAW_FRAMEBUFFER, fbos[1])
	if target == gl.TEXTURE_2D_MULTISAMPLE_ARRAY {
		gl.FramebufferTextureLayer(gl.READ_FRAMEBUFFER, attachment, tex, 0, int32(layer))
	} else {
		gl.FramebufferTexture2D(gl.READ_FRAMEBUFFER, attachment, target, tex, 0)
	}
	gl.FramebufferTexture2D(gl.DRAW_FRAMEBUFFER, attachment, gl.TEXTURE_2D, resolved, 0)
	if attachment != gl.COLOR_ATTACHMENT0 {
		// Framebuffers without colour must say so before GL 4.1.
		gl.ReadBuffer(gl.NONE)
		gl.DrawBuffer(gl.NONE)
	}
	if err := CheckError("glFramebufferTexture"); err != nil {
		return nil, prefixed(err)
	}
	if err := CheckFramebuffer(gl.READ_FRAMEBUFFER); err != nil {
		return nil, fmt.Errorf("%w (reading the multisampled texture)", err)
	}
	if err := CheckFramebuffer(gl.DRAW_FRAMEBUFFER); err != nil {
		return nil, fmt.Errorf("%w (the single-sample resolve target)", err)
	}

	scissor, srgb := gl.IsEnabled(gl.SCISSOR_TEST), gl.IsEnabled(gl.FRAMEBUFFER_SRGB)
	var colorMask [4]bool
	var depthMask bool
	var stencilMask, stencilBackMask int32
	gl.GetBooleanv(gl.COLOR_WRITEMASK, &colorMask[0])
	gl.GetBooleanv(gl.DEPTH_WRITEMASK, &depthMask)
	gl.GetIntegerv(gl.STENCIL_WRITEMASK, &stencilMask)
	gl.GetIntegerv(gl.STENCIL_BACK_WRITEMASK, &stencilBackMask)
	gl.Disable(gl.SCISSOR_TEST)
	gl.Disable(gl.FRAMEBUFFER_SRGB)
	gl.ColorMask(true, true, true, true)
	gl.DepthMask(true)
	gl.StencilMask(0xff)
	gl.BlitFramebuffer(0, 0, w, h, 0, 0, w, h, mask, gl.NEAREST)
	blitErr := CheckError("glBlitFramebuffer")
	setEnabled(gl.SCISSOR_TEST, scissor)
	setEnabled(gl.FRAMEBUFFER_SRGB, srgb)
	gl.ColorMask(colorMask[0], colorMask[1], colorMask[2], colorMask[3])
	gl.DepthMask(depthMask)
	gl.StencilMaskSeparate(gl.FRONT, uint32(stencilMask))
	gl.StencilMaskSeparate(gl.BACK, uint32(stencilBackMask))
	if blitErr != nil {
		return nil, prefixed(blitErr)
	}
	return GetTexImage(resolved, gl.TEXTURE_2D, 0, 0, format, typ, texelBytes)
}

// ReadBuffer returns n bytes at off of buffer object buf, through
// glGetBufferSubData on GL_COPY_READ_BUFFER, whose binding is restored.
func ReadBuffer(buf uint32, off, n int) ([]byte, error) {
	DrainErrors()
	var prev int32
	gl.GetIntegerv(gl.COPY_READ_BUFFER, &prev)
	defer gl.BindBuffer(gl.COPY_READ_BUFFER, uint32(prev))
	gl.BindBuffer(gl.COPY_READ_BUFFER, buf)
	out := make([]byte, n)
	gl.GetBufferSubData(gl.COPY_READ_BUFFER, off, n, gl.Ptr(out))
	if err := CheckError(fmt.Sprintf("glGetBufferSubData(offset %d, %d bytes)", off, n)); err != nil {
		return nil, prefixed(err)
	}
	return out, nil
}

// CopyIntoBuffer writes data at off into buffer object buf on the GPU:
// through a temporary buffer and glCopyBufferSubData, which works on
// immutable storage, such as a memory object's, that glBufferSubData may
// not change. The GL_COPY_READ_BUFFER and GL_COPY_WRITE_BUFFER bindings
// are restored.
func CopyIntoBuffer(buf uint32, off int, data []byte) error {
	if len(data) == 0 {
		return fmt.Errorf("glutil: CopyIntoBuffer: no data")
	}
	DrainErrors()
	var prevRead, prevWrite int32
	gl.GetIntegerv(gl.COPY_READ_BUFFER, &prevRead)
	gl.GetIntegerv(gl.COPY_WRITE_BUFFER, &prevWrite)
	defer func() {
		gl.BindBuffer(gl.COPY_READ_BUFFER, uint32(prevRead))
		gl.BindBuffer(gl.COPY_WRITE_BUFFER, uint32(prevWrite))
	}()
	var tmp uint32
	gl.GenBuffers(1, &tmp)
	defer gl.DeleteBuffers(1, &tmp)
	gl.BindBuffer(gl.COPY_READ_BUFFER, tmp)
	gl.BufferData(gl.COPY_READ_BUFFER, len(data), gl.Ptr(data), gl.STREAM_COPY)
	if err := CheckError("glBufferData"); err != nil {
		return prefixed(err)
	}
	gl.BindBuffer(gl.COPY_WRITE_BUFFER, buf)
	gl.CopyBufferSubData(gl.COPY_READ_BUFFER, gl.COPY_WRITE_BUFFER, 0, off, len(data))
	return prefixed(CheckError(fmt.Sprintf("glCopyBufferSubData(offset %d, %d bytes)", off, len(data))))
}
