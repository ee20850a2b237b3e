package share

import (
	"fmt"

	"github.com/go-gl/gl/v3.2-compatibility/gl"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/internal/glutil"
)

// The copy path's GL textures: textures of the GL context's own, of the
// same kind, internal format, swizzle and sampler state that glimport
// gives an imported texture, so the caller cannot tell them apart. Every
// function here runs on the GL thread.

// glTarget is the texture target of desc, as glimport chooses it for an
// imported texture (one layer makes the plain target).
func glTarget(d bridge.Desc) uint32 {
	n := max(d.DepthOrArraySize, 1)
	switch d.Dimension {
	case bridge.DimensionTexture1D:
		if n == 1 {
			return gl.TEXTURE_1D
		}
		return gl.TEXTURE_1D_ARRAY
	case bridge.DimensionTexture2D:
		if n == 1 {
			return gl.TEXTURE_2D
		}
		return gl.TEXTURE_2D_ARRAY
	case bridge.DimensionTexture3D:
		return gl.TEXTURE_3D
	case bridge.DimensionTextureCube:
		if n == 1 {
			return gl.TEXTURE_CUBE_MAP
		}
		return gl.TEXTURE_CUBE_MAP_ARRAY
	}
	return 0
}

// checkGLCopy refuses what GL cannot hold of a layout the copy path
// otherwise carries.
func checkGLCopy(l HostLayout) error {
	if l.Info.GLInternalFormat == 0 {
		return fmt.Errorf("share: %w: %s has no GL internal format", bridge.ErrUnsupportedFormat, l.Desc.Format)
	}
	if l.Desc.Dimension == bridge.DimensionTexture3D && isS3TCOrRGTC(l.Desc.Format) {
		return fmt.Errorf("share: %w: %s %s: GL has no 3D textures in S3TC or RGTC formats", bridge.ErrUnsupportedFormat, l.Desc.Format, l.Desc.Dimension)
	}
	return nil
}

func isS3TCOrRGTC(f bridge.Format) bool {
	return f >= bridge.FormatBC1Typeless && f <= bridge.FormatBC5Snorm
}

var swizzleSources = [...]int32{
	bridge.SwizzleR:    gl.RED,
	bridge.SwizzleG:    gl.GREEN,
	bridge.SwizzleB:    gl.BLUE,
	bridge.SwizzleA:    gl.ALPHA,
	bridge.SwizzleZero: gl.ZERO,
	bridge.SwizzleOne:  gl.ONE,
}

func glErr(call string) error {
	if err := glutil.CheckError(call); err != nil {
		return fmt.Errorf("share: %w", err)
	}
	return nil
}

// newOwnTexture makes a texture with immutable storage for l. The binding
// of its target is restored.
func newOwnTexture(l HostLayout) (name, target uint32, err error) {
	if err := checkGLCopy(l); err != nil {
		return 0, 0, err
	}
	d := l.Desc
	target = glTarget(d)
	levels := int32(l.Levels())
	ifmt := l.Info.GLInternalFormat
	w, h, n := int32(d.Width), int32(max(d.Height, 1)), int32(max(d.DepthOrArraySize, 1))

	glutil.DrainErrors()
	var prev int32
	gl.GetIntegerv(glutil.BindingOf(target), &prev)
	defer gl.BindTexture(target, uint32(prev))
	gl.GenTextures(1, &name)
	gl.BindTexture(target, name)
	fail := func(err error) (uint32, uint32, error) {
		gl.DeleteTextures(1, &name)
		glutil.DrainErrors()
		return 0, 0, err
	}
	call := "glTexStorage2D"
	switch target {
	case gl.TEXTURE_1D:
		call = "glTexStorage1D"
		gl.TexStorage1D(target, levels, ifmt, w)
	case gl.TEXTURE_1D_ARRAY:
		gl.TexStorage2D(target, levels, ifmt, w, n)
	case gl.TEXTURE_2D, gl.TEXTURE_CUBE_MAP:
		gl.TexStorage2D(target, levels, ifmt, w, h)
	case gl.TEXTURE_2D_ARRAY, gl.TEXTURE_3D:
		call = "glTexStorage3D"
		gl.TexStorage3D(target, levels, ifmt, w, h, n)
	case gl.TEXTURE_CUBE_MAP_ARRAY:
		call = "glTexStorage3D"
		gl.TexStorage3D(target, levels, ifmt, w, h, 6*n)
	default:
		return fail(fmt.Errorf("share: %w: dimension %s", bridge.ErrUnsupportedFormat, d.Dimension))
	}
	if err := glErr(call); err != nil {
		return fail(fmt.Errorf("%w (%s as internal format 0x%04x, %s)", err, d.Format, ifmt, d))
	}
	swizzlePnames := [4]uint32{gl.TEXTURE_SWIZZLE_R, gl.TEXTURE_SWIZZLE_G, gl.TEXTURE_SWIZZLE_B, gl.TEXTURE_SWIZZLE_A}
	identity := [4]int32{gl.RED, gl.GREEN, gl.BLUE, gl.ALPHA}
	for i, s := range l.Info.Swizzle {
		src := identity[i]
		if s != bridge.SwizzleIdentity {
			src = swizzleSources[s]
		}
		gl.TexParameteri(target, swizzlePnames[i], src)
	}
	gl.TexParameteri(target, gl.TEXTURE_MIN_FILTER, gl.NEAREST)
	gl.TexParameteri(target, gl.TEXTURE_MAG_FILTER, gl.NEAREST)
	gl.TexParameteri(target, gl.TEXTURE_BASE_LEVEL, 0)
	gl.TexParameteri(target, gl.TEXTURE_MAX_LEVEL, levels-1)
	if err := glErr("glTexParameteri"); err != nil {
		return fail(err)
	}
	return name, target, nil
}

// glImages calls f for each image GL transfers in one call: a whole level
// (every layer of an array, every slice of a 3D texture), or one face of
// a level of a cube map, with the byte range it occupies in the layout.
func glImages(target uint32, l HostLayout, f func(level, face int, off, size uint64) error) error {
	for level := range l.Levels() {
		if target == gl.TEXTURE_CUBE_MAP {
			for face := range 6 {
				sr := l.Subresources[level*6+uint32(face)]
				if err := f(int(level), face, sr.Offset, sr.Size); err != nil {
					return err
				}
			}
			continue
		}
		off, size := l.LevelRange(level)
		if err := f(int(level), 0, off, size); err != nil {
			return err
		}
	}
	return nil
}

// uploadTexture replaces every level of the texture with data, in
// HostLayout order, through pb where there is one.
func uploadTexture(name, target uint32, l HostLayout, data []byte, pb *glutil.PixelBuffer) error {
	info := l.Info
	if pb != nil {
		if err := pb.Write(0, data); err != nil {
			return fmt.Errorf("share: filling the GL texture: %w", err)
		}
	}
	return glImages(target, l, func(level, face int, off, size uint64) error {
		var err error
		switch {
		case info.Compressed:
			err = glutil.CompressedTexSubImage(name, target, level, face, info.GLInternalFormat, data[off:off+size])
		case pb != nil:
			err = glutil.TexSubImageFrom(pb, int(off), name, target, level, face, info.GLFormat, info.GLType, int(info.GLClientBytesPerBlock))
		default:
			err = glutil.TexSubImage(name, target, level, face, info.GLFormat, info.GLType, int(info.GLClientBytesPerBlock), data[off:off+size])
		}
		if err != nil {
			return fmt.Errorf("share: filling the GL texture: %w", err)
		}
		return nil
	})
}

// downloadTexture reads every level of the texture, in HostLayout order,
// and passes the bytes to use; through pb where there is one, whose
// mapping use sees and must not keep.
func downloadTexture(name, target uint32, l HostLayout, pb *glutil.PixelBuffer, use func([]byte) error) error {
	info := l.Info
	var out []byte
	if pb == nil {
		out = make([]byte, l.Size)
	}
	err := glImages(target, l, func(level, face int, off, size uint64) error {
		var px []byte
		var n int
		var err error
		switch {
		case info.Compressed:
			px, err = glutil.GetCompressedTexImage(name, target, level, face)
			n = len(px)
		case pb != nil:
			n, err = glutil.GetTexImageTo(pb, int(off), name, target, level, face, info.GLFormat, info.GLType, int(info.GLClientBytesPerBlock))
		default:
			px, err = glutil.GetTexImage(name, target, level, face, info.GLFormat, info.GLType, int(info.GLClientBytesPerBlock))
			n = len(px)
		}
		if err != nil {
			return fmt.Errorf("share: reading the GL texture back: %w", err)
		}
		if uint64(n) != size {
			return fmt.Errorf("share: level %d face %d of the GL texture is %d bytes; the layout has %d", level, face, n, size)
		}
		if px != nil {
			copy(out[off:], px)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if pb != nil {
		return pb.Read(0, int(l.Size), use)
	}
	return use(out)
}
