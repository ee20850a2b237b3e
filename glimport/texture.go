package glimport

import (
	"fmt"

	"github.com/go-gl/gl/v3.2-compatibility/gl"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/internal/glutil"
)

// Texture is a GL texture whose storage is (part of) a Memory.
type Texture struct {
	name    uint32
	target  uint32
	storage bridge.Storage
	closed  bool
}

// texShape is the GL side of a resource description: which texture target
// it becomes and how its storage is made. Adding a dimension means adding a
// case to shapeOf, not touching Texture.
type texShape struct {
	target uint32
	call   string // the storage command, for errors
	// multisample: the target takes no sampler state and has one level.
	multisample bool
	// storage calls the glTexStorageMem*EXT for target, with the texture
	// bound to it.
	storage func(levels int32, format uint32, mem uint32, offset uint64)
}

// ownStorage makes storage of GL's own for the texture bound to
// shape.target, with the glTexStorage* call that matches shape.storage,
// and returns the call's name for errors.
func ownStorage(shape texShape, d bridge.Desc, levels int32, format uint32) string {
	w, h, n, samples := int32(d.Width), int32(max(d.Height, 1)), int32(max(d.DepthOrArraySize, 1)), int32(d.SampleCount)
	switch shape.target {
	case gl.TEXTURE_1D:
		gl.TexStorage1D(shape.target, levels, format, w)
		return "glTexStorage1D"
	case gl.TEXTURE_1D_ARRAY:
		gl.TexStorage2D(shape.target, levels, format, w, n)
	case gl.TEXTURE_2D, gl.TEXTURE_CUBE_MAP:
		gl.TexStorage2D(shape.target, levels, format, w, h)
	case gl.TEXTURE_2D_MULTISAMPLE:
		gl.TexStorage2DMultisample(shape.target, samples, format, w, h, true)
		return "glTexStorage2DMultisample"
	case gl.TEXTURE_2D_MULTISAMPLE_ARRAY:
		gl.TexStorage3DMultisample(shape.target, samples, format, w, h, n, true)
		return "glTexStorage3DMultisample"
	case gl.TEXTURE_2D_ARRAY, gl.TEXTURE_3D:
		gl.TexStorage3D(shape.target, levels, format, w, h, n)
		return "glTexStorage3D"
	case gl.TEXTURE_CUBE_MAP_ARRAY:
		gl.TexStorage3D(shape.target, levels, format, w, h, 6*n)
		return "glTexStorage3D"
	}
	return "glTexStorage2D"
}

// shapeOf maps a description to its GL texture kind:
//
//	texture1d, 1 layer             GL_TEXTURE_1D                 glTexStorageMem1DEXT
//	texture1d, n layers            GL_TEXTURE_1D_ARRAY           glTexStorageMem2DEXT (height n)
//	texture2d, 1 layer             GL_TEXTURE_2D                 glTexStorageMem2DEXT
//	texture2d, n layers            GL_TEXTURE_2D_ARRAY           glTexStorageMem3DEXT (depth n)
//	texture2d, s samples           GL_TEXTURE_2D_MULTISAMPLE     glTexStorageMem2DMultisampleEXT
//	texture2d, s samples, n layers GL_TEXTURE_2D_MULTISAMPLE_ARRAY glTexStorageMem3DMultisampleEXT
//	texture3d                      GL_TEXTURE_3D                 glTexStorageMem3DEXT
//	texturecube, 1 cube            GL_TEXTURE_CUBE_MAP           glTexStorageMem2DEXT
//	texturecube, n cubes           GL_TEXTURE_CUBE_MAP_ARRAY     glTexStorageMem3DEXT (depth 6n)
//
// Direct3D records no difference between an array of one layer and a
// plain texture, so one layer always makes the plain target. Vulkan's
// standard sample locations are fixed, hence fixedSampleLocations TRUE.
func shapeOf(d bridge.Desc) (texShape, error) {
	w, h, n, samples := int32(d.Width), int32(d.Height), int32(d.DepthOrArraySize), int32(d.SampleCount)
	if samples > 1 && d.Dimension != bridge.DimensionTexture2D {
		return texShape{}, fmt.Errorf("glimport: %w: %s with %d samples: only 2D textures are multisampled", bridge.ErrUnsupportedFormat, d.Dimension, samples)
	}
	switch d.Dimension {
	case bridge.DimensionTexture1D:
		if n == 1 {
			return texShape{target: gl.TEXTURE_1D, call: "glTexStorageMem1DEXT", storage: func(levels int32, format, mem uint32, offset uint64) {
				gl.TexStorageMem1DEXT(gl.TEXTURE_1D, levels, format, w, mem, offset)
			}}, nil
		}
		return texShape{target: gl.TEXTURE_1D_ARRAY, call: "glTexStorageMem2DEXT(GL_TEXTURE_1D_ARRAY)", storage: func(levels int32, format, mem uint32, offset uint64) {
			gl.TexStorageMem2DEXT(gl.TEXTURE_1D_ARRAY, levels, format, w, n, mem, offset)
		}}, nil
	case bridge.DimensionTexture2D:
		switch {
		case samples > 1 && n == 1:
			return texShape{target: gl.TEXTURE_2D_MULTISAMPLE, call: "glTexStorageMem2DMultisampleEXT", multisample: true, storage: func(_ int32, format, mem uint32, offset uint64) {
				gl.TexStorageMem2DMultisampleEXT(gl.TEXTURE_2D_MULTISAMPLE, samples, format, w, h, true, mem, offset)
			}}, nil
		case samples > 1:
			return texShape{target: gl.TEXTURE_2D_MULTISAMPLE_ARRAY, call: "glTexStorageMem3DMultisampleEXT", multisample: true, storage: func(_ int32, format, mem uint32, offset uint64) {
				gl.TexStorageMem3DMultisampleEXT(gl.TEXTURE_2D_MULTISAMPLE_ARRAY, samples, format, w, h, n, true, mem, offset)
			}}, nil
		case n == 1:
			return texShape{target: gl.TEXTURE_2D, call: "glTexStorageMem2DEXT", storage: func(levels int32, format, mem uint32, offset uint64) {
				gl.TexStorageMem2DEXT(gl.TEXTURE_2D, levels, format, w, h, mem, offset)
			}}, nil
		}
		return texShape{target: gl.TEXTURE_2D_ARRAY, call: "glTexStorageMem3DEXT(GL_TEXTURE_2D_ARRAY)", storage: func(levels int32, format, mem uint32, offset uint64) {
			gl.TexStorageMem3DEXT(gl.TEXTURE_2D_ARRAY, levels, format, w, h, n, mem, offset)
		}}, nil
	case bridge.DimensionTexture3D:
		return texShape{target: gl.TEXTURE_3D, call: "glTexStorageMem3DEXT(GL_TEXTURE_3D)", storage: func(levels int32, format, mem uint32, offset uint64) {
			gl.TexStorageMem3DEXT(gl.TEXTURE_3D, levels, format, w, h, n, mem, offset)
		}}, nil
	case bridge.DimensionTextureCube:
		if n == 1 {
			return texShape{target: gl.TEXTURE_CUBE_MAP, call: "glTexStorageMem2DEXT(GL_TEXTURE_CUBE_MAP)", storage: func(levels int32, format, mem uint32, offset uint64) {
				gl.TexStorageMem2DEXT(gl.TEXTURE_CUBE_MAP, levels, format, w, h, mem, offset)
			}}, nil
		}
		return texShape{target: gl.TEXTURE_CUBE_MAP_ARRAY, call: "glTexStorageMem3DEXT(GL_TEXTURE_CUBE_MAP_ARRAY)", storage: func(levels int32, format, mem uint32, offset uint64) {
			gl.TexStorageMem3DEXT(gl.TEXTURE_CUBE_MAP_ARRAY, levels, format, w, h, 6*n, mem, offset)
		}}, nil
	case bridge.DimensionBuffer:
		return texShape{}, fmt.Errorf("glimport: %w: a %s is not a texture: use Memory.Buffer", bridge.ErrUnsupportedFormat, d.Dimension)
	}
	return texShape{}, fmt.Errorf("glimport: %w: dimension %s", bridge.ErrUnsupportedFormat, d.Dimension)
}

// CheckTexture reports whether Texture can make a texture for a by GL's
// rules alone, asking no driver and needing no context: the format is in
// the table, a.VkFormat is one of its storages and has a GL internal
// format, the description is one Direct3D allows, and GL has the kind of
// texture for it. GL has no 3D textures in the S3TC (BC1–BC3) and RGTC
// (BC4, BC5) formats (only BPTC, BC6H and BC7, may be 3D), so those are
// refused here rather than left to raise GL_INVALID_OPERATION. The error
// wraps bridge.ErrUnsupportedFormat (or bridge.ErrInvalidDesc) and says
// which rule.
func CheckTexture(a bridge.Allocation) error {
	_, _, err := checkTexture(a)
	return err
}

func checkTexture(a bridge.Allocation) (bridge.Storage, texShape, error) {
	d := a.Desc
	if d.Dimension == bridge.DimensionBuffer {
		return bridge.Storage{}, texShape{}, fmt.Errorf("glimport: %w: a %s is not a texture: use Memory.Buffer", bridge.ErrUnsupportedFormat, d.Dimension)
	}
	info, err := bridge.LookupFormat(d.Format)
	if err != nil {
		return bridge.Storage{}, texShape{}, fmt.Errorf("glimport: %w", err)
	}
	vkFormat := a.VkFormat
	if a.HostMemory {
		// Host memory holds the format's Direct3D bytes: those of its
		// preferred storage.
		vkFormat = info.VkFormat
	}
	st, ok := info.StorageFor(vkFormat)
	if !ok {
		return bridge.Storage{}, texShape{}, fmt.Errorf("glimport: %w: %s: the record's VkFormat %d is not one of its storages", bridge.ErrUnsupportedFormat, info.Name, vkFormat)
	}
	if st.GLInternalFormat == 0 {
		return bridge.Storage{}, texShape{}, fmt.Errorf("glimport: %w: %s stored as VkFormat %d has no GL internal format", bridge.ErrUnsupportedFormat, info.Name, vkFormat)
	}
	if err := d.Validate(); err != nil {
		return bridge.Storage{}, texShape{}, fmt.Errorf("glimport: %w", err)
	}
	if d.Dimension == bridge.DimensionTexture3D && info.Compressed {
		switch d.Format {
		case bridge.FormatBC6HTypeless, bridge.FormatBC6HUF16, bridge.FormatBC6HSF16,
			bridge.FormatBC7Typeless, bridge.FormatBC7Unorm, bridge.FormatBC7UnormSrgb:
		default:
			return bridge.Storage{}, texShape{}, fmt.Errorf("glimport: %w: %s %s: GL has no 3D textures in S3TC or RGTC formats", bridge.ErrUnsupportedFormat, info.Name, d.Dimension)
		}
	}
	if a.HostMemory && a.Size == 0 {
		return bridge.Storage{}, texShape{}, fmt.Errorf("glimport: %w: a host-memory record of no size", bridge.ErrInvalidDesc)
	}
	shape, err := shapeOf(d)
	return st, shape, err
}

// swizzleSources maps bridge.Swizzle to GL_TEXTURE_SWIZZLE_* values; the
// identity is filled in per channel.
var swizzleSources = [...]int32{
	bridge.SwizzleR:    gl.RED,
	bridge.SwizzleG:    gl.GREEN,
	bridge.SwizzleB:    gl.BLUE,
	bridge.SwizzleA:    gl.ALPHA,
	bridge.SwizzleZero: gl.ZERO,
	bridge.SwizzleOne:  gl.ONE,
}

// Texture creates a texture viewing the memory as the resource a describes
// (a must be the Allocation the Memory was imported with). It must run on
// the context's thread with the context current. Each call makes a new
// texture; several may view one Memory.
//
// The kind of texture follows a.Desc (see CheckTexture for what is
// refused): 1D, 1D array, 2D, 2D array, 2D multisample (array), 3D, cube
// map and cube map array, with a.Desc.MipLevels levels. The internal
// format is that of the storage the exporter chose, a.VkFormat (D24S8 may
// have been stored as D32S8), not the format's preferred one.
//
// The texture's tiling is set to a.Tiling before its storage is made, its
// channels are swizzled as the format table says (BGRA stored as RGBA), and
// (except for multisampled textures, which have no sampler state) it is
// made complete for sampling with NEAREST filtering and MAX_LEVEL set to
// its last level. The binding of the texture's target on the active unit is
// restored. The caller owns the Texture and must Close it before the
// Memory.
func (m *Memory) Texture(a bridge.Allocation) (*Texture, error) {
	mustBeLoaded()
	if m.closed {
		return nil, fmt.Errorf("glimport: Texture on memory object %d: %w", m.name, bridge.ErrClosed)
	}
	var tiling int32
	switch a.Tiling {
	case bridge.TilingOptimal:
		tiling = gl.OPTIMAL_TILING_EXT
	case bridge.TilingLinear:
		tiling = gl.LINEAR_TILING_EXT
	default:
		return nil, fmt.Errorf("glimport: Texture: unknown tiling %v", a.Tiling)
	}
	return newTexture(a, func(t *Texture, shape texShape, levels int32) (string, error) {
		// Storage is laid out by the tiling in force when it is made.
		gl.TexParameteri(t.target, gl.TEXTURE_TILING_EXT, tiling)
		if err := glErr("glTexParameteri(GL_TEXTURE_TILING_EXT)"); err != nil {
			return "", err
		}
		shape.storage(levels, t.storage.GLInternalFormat, m.name, a.Offset)
		return shape.call, nil
	}, fmt.Sprintf(", offset %d, memory size %d", a.Offset, m.size))
}

// NewTexture creates a texture with storage of GL's own, of the kind,
// internal format, swizzle and sampler state Memory.Texture gives the
// memory a describes: what the copy path works on where GL cannot import
// the shared memory, so that its caller cannot tell the two apart. A
// host-memory record (a.HostMemory) takes the format's preferred storage.
// It must run on the context's thread with the context current, needs no
// GL_EXT_memory_object, and restores the binding of the texture's target.
// The caller owns the Texture and must Close it.
func NewTexture(a bridge.Allocation) (*Texture, error) {
	mustBeLoaded()
	return newTexture(a, func(t *Texture, shape texShape, levels int32) (string, error) {
		return ownStorage(shape, a.Desc, levels, t.storage.GLInternalFormat), nil
	}, "")
}

// newTexture makes the texture a describes, its storage made by storage
// (with the texture bound) and checked, then swizzled and made complete for
// sampling. detail is added to a storage error.
func newTexture(a bridge.Allocation, storage func(t *Texture, shape texShape, levels int32) (string, error), detail string) (*Texture, error) {
	st, shape, err := checkTexture(a)
	if err != nil {
		return nil, err
	}
	info, _ := bridge.LookupFormat(a.Desc.Format)
	levels := int32(max(a.Desc.MipLevels, 1))

	glutil.DrainErrors()
	var prev int32
	gl.GetIntegerv(glutil.BindingOf(shape.target), &prev)
	defer gl.BindTexture(shape.target, uint32(prev))

	t := &Texture{target: shape.target, storage: st}
	gl.GenTextures(1, &t.name)
	gl.BindTexture(t.target, t.name)
	fail := func(err error) (*Texture, error) {
		gl.DeleteTextures(1, &t.name)
		glutil.DrainErrors()
		return nil, err
	}
	if err := glErr("glBindTexture"); err != nil {
		return fail(err)
	}
	call, err := storage(t, shape, levels)
	if err != nil {
		return fail(err)
	}
	if err := glErr(call); err != nil {
		return fail(fmt.Errorf("%w (%s as internal format 0x%04x, %s%s)", err, info.Name, st.GLInternalFormat, a.Desc, detail))
	}
	// A memory object whose import the driver refused without a GL error
	// (Mesa does) yields no storage and no error either: the texture is
	// left mutable and empty. Only immutable storage proves it worked.
	var immutable int32
	gl.GetTexParameteriv(t.target, gl.TEXTURE_IMMUTABLE_FORMAT, &immutable)
	if err := glErr("glGetTexParameteriv(GL_TEXTURE_IMMUTABLE_FORMAT)"); err != nil {
		return fail(err)
	}
	if immutable == gl.FALSE {
		return fail(fmt.Errorf("glimport: %s: no storage was made, though GL reported no error (for an import: the memory object holds no memory, its import failed silently)", call))
	}
	swizzlePnames := [4]uint32{gl.TEXTURE_SWIZZLE_R, gl.TEXTURE_SWIZZLE_G, gl.TEXTURE_SWIZZLE_B, gl.TEXTURE_SWIZZLE_A}
	identity := [4]int32{gl.RED, gl.GREEN, gl.BLUE, gl.ALPHA}
	for i, s := range info.Swizzle {
		src := identity[i]
		if s != bridge.SwizzleIdentity {
			src = swizzleSources[s]
		}
		gl.TexParameteri(t.target, swizzlePnames[i], src)
	}
	if err := glErr("glTexParameteri(GL_TEXTURE_SWIZZLE_*)"); err != nil {
		return fail(err)
	}
	if !shape.multisample {
		gl.TexParameteri(t.target, gl.TEXTURE_MIN_FILTER, gl.NEAREST)
		gl.TexParameteri(t.target, gl.TEXTURE_MAG_FILTER, gl.NEAREST)
		gl.TexParameteri(t.target, gl.TEXTURE_BASE_LEVEL, 0)
		gl.TexParameteri(t.target, gl.TEXTURE_MAX_LEVEL, levels-1)
		if err := glErr("glTexParameteri"); err != nil {
			return fail(err)
		}
	}
	return t, nil
}

// Name returns the GL texture name.
func (t *Texture) Name() uint32 { return t.name }

// Target returns the texture's GL target, such as GL_TEXTURE_2D or
// GL_TEXTURE_CUBE_MAP_ARRAY.
func (t *Texture) Target() uint32 { return t.target }

// Storage returns the row of the format table the texture was made with:
// its GL internal format, and the GL format and type that move its texels
// unchanged (for glTexSubImage and glGetTexImage).
func (t *Texture) Storage() bridge.Storage { return t.storage }

// Close deletes the texture. It must run on the context's thread with the
// context current, and is idempotent.
func (t *Texture) Close() error {
	return deleteOnce(&t.closed, gl.DeleteTextures, &t.name, "glDeleteTextures")
}
