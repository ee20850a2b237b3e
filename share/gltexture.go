package share

import (
	"fmt"

	"github.com/go-gl/gl/v3.2-compatibility/gl"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/internal/glutil"
)

// The copy path's transfers between host memory and the GL texture of its
// own that glimport.NewTexture makes. Every function here runs on the GL
// thread.

// glImages calls f for each image GL transfers in one call: a whole level
// (every layer of an array, every slice of a 3D texture), or one face of
// a level of a cube map, with the byte range it occupies in the layout.
func glImages(target uint32, l bridge.HostLayout, f func(level, face int, off, size uint64) error) error {
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
// bridge.HostLayout order, through pb where there is one.
func uploadTexture(name, target uint32, l bridge.HostLayout, data []byte, pb *glutil.PixelBuffer) error {
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

// readTexture asks GL for every level of the texture, in
// bridge.HostLayout order: into pb where there is one, returning nil (GL
// writes it on its own schedule; mapping pb waits for it), or else into
// client memory, which it returns.
func readTexture(name, target uint32, l bridge.HostLayout, pb *glutil.PixelBuffer) ([]byte, error) {
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
		return nil, err
	}
	return out, nil
}
