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

// texShape is how glimport makes the storage of a bridge.GLTexture: which
// glTexStorageMem*EXT call its Target takes. What the texture is (target,
// formats, sizes, which descriptions are refused) is bridge's rule
// (Allocation.GLTexture), so that the broker can tell a client without GL
// the same; adding a target means adding a case to shapeOf and ownStorage.
type texShape struct {
	call string // the storage command, for errors
	// multisample: the target takes no sampler state and has one level.
	multisample bool
	// storage calls the glTexStorageMem*EXT for the target, with the
	// texture bound to it.
	storage func(mem uint32, offset uint64)
}

// ownStorage makes storage of GL's own for the texture bound to
// tex.Target, with the glTexStorage* call that matches shapeOf's, and
// returns the call's name for errors.
func ownStorage(tex bridge.GLTexture) string {
	levels, format := int32(tex.Levels), tex.InternalFormat
	w, h, d, samples := int32(tex.Width), int32(tex.Height), int32(tex.Depth), int32(tex.Samples)
	switch tex.Target {
	case gl.TEXTURE_1D:
		gl.TexStorage1D(tex.Target, levels, format, w)
		return "glTexStorage1D"
	case gl.TEXTURE_2D_MULTISAMPLE:
		gl.TexStorage2DMultisample(tex.Target, samples, format, w, h, true)
		return "glTexStorage2DMultisample"
	case gl.TEXTURE_2D_MULTISAMPLE_ARRAY:
		gl.TexStorage3DMultisample(tex.Target, samples, format, w, h, d, true)
		return "glTexStorage3DMultisample"
	case gl.TEXTURE_2D_ARRAY, gl.TEXTURE_3D, gl.TEXTURE_CUBE_MAP_ARRAY:
		gl.TexStorage3D(tex.Target, levels, format, w, h, d)
		return "glTexStorage3D"
	}
	// GL_TEXTURE_1D_ARRAY, GL_TEXTURE_2D, GL_TEXTURE_CUBE_MAP: shapeOf
	// refuses every other target first.
	gl.TexStorage2D(tex.Target, levels, format, w, h)
	return "glTexStorage2D"
}

// shapeOf picks the glTexStorageMem*EXT call for tex.Target (see
// bridge.GLTexture for which description becomes which target, and with
// which Width, Height and Depth). Vulkan's standard sample locations are
// fixed, hence fixedSampleLocations TRUE.
func shapeOf(tex bridge.GLTexture) (texShape, error) {
	target, levels, format := tex.Target, int32(tex.Levels), tex.InternalFormat
	w, h, d, samples := int32(tex.Width), int32(tex.Height), int32(tex.Depth), int32(tex.Samples)
	switch target {
	case gl.TEXTURE_1D:
		return texShape{call: "glTexStorageMem1DEXT", storage: func(mem uint32, offset uint64) {
			gl.TexStorageMem1DEXT(target, levels, format, w, mem, offset)
		}}, nil
	case gl.TEXTURE_2D_MULTISAMPLE:
		return texShape{call: "glTexStorageMem2DMultisampleEXT", multisample: true, storage: func(mem uint32, offset uint64) {
			gl.TexStorageMem2DMultisampleEXT(target, samples, format, w, h, true, mem, offset)
		}}, nil
	case gl.TEXTURE_2D_MULTISAMPLE_ARRAY:
		return texShape{call: "glTexStorageMem3DMultisampleEXT", multisample: true, storage: func(mem uint32, offset uint64) {
			gl.TexStorageMem3DMultisampleEXT(target, samples, format, w, h, d, true, mem, offset)
		}}, nil
	case gl.TEXTURE_1D_ARRAY, gl.TEXTURE_2D, gl.TEXTURE_CUBE_MAP:
		call := "glTexStorageMem2DEXT"
		if target != gl.TEXTURE_2D {
			call += "(" + targetNames[target] + ")"
		}
		return texShape{call: call, storage: func(mem uint32, offset uint64) {
			gl.TexStorageMem2DEXT(target, levels, format, w, h, mem, offset)
		}}, nil
	case gl.TEXTURE_2D_ARRAY, gl.TEXTURE_3D, gl.TEXTURE_CUBE_MAP_ARRAY:
		return texShape{call: "glTexStorageMem3DEXT(" + targetNames[target] + ")", storage: func(mem uint32, offset uint64) {
			gl.TexStorageMem3DEXT(target, levels, format, w, h, d, mem, offset)
		}}, nil
	}
	// bridge gave a target glimport does not know: a new kind of texture
	// that needs its storage call here.
	return texShape{}, fmt.Errorf("glimport: %w: GL target 0x%04x has no storage call", bridge.ErrUnsupportedFormat, target)
}

// targetNames names the targets that share a storage call, for errors.
var targetNames = map[uint32]string{
	gl.TEXTURE_1D_ARRAY:       "GL_TEXTURE_1D_ARRAY",
	gl.TEXTURE_CUBE_MAP:       "GL_TEXTURE_CUBE_MAP",
	gl.TEXTURE_2D_ARRAY:       "GL_TEXTURE_2D_ARRAY",
	gl.TEXTURE_3D:             "GL_TEXTURE_3D",
	gl.TEXTURE_CUBE_MAP_ARRAY: "GL_TEXTURE_CUBE_MAP_ARRAY",
}

// CheckTexture reports whether Texture can make a texture for a by GL's
// rules alone, asking no driver and needing no context: the rules of
// bridge.Allocation.GLTexture (the format is in the table, a.VkFormat is
// one of its storages and has a GL internal format, the description is
// one Direct3D allows, GL has the kind of texture for it; no 3D S3TC or
// RGTC textures, which GL lacks). The error wraps
// bridge.ErrUnsupportedFormat (or bridge.ErrInvalidDesc) and says which
// rule.
func CheckTexture(a bridge.Allocation) error {
	_, _, err := checkTexture(a)
	return err
}

// checkTexture is CheckTexture, also returning the texture and how its
// storage is made.
func checkTexture(a bridge.Allocation) (bridge.GLTexture, texShape, error) {
	tex, err := a.GLTexture()
	if err != nil {
		if a.Desc.Dimension == bridge.DimensionBuffer {
			return bridge.GLTexture{}, texShape{}, fmt.Errorf("glimport: %w: use Memory.Buffer", err)
		}
		return bridge.GLTexture{}, texShape{}, fmt.Errorf("glimport: %w", err)
	}
	shape, err := shapeOf(tex)
	return tex, shape, err
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
	return newTexture(a, func(t *Texture, _ bridge.GLTexture, shape texShape) (string, error) {
		// Storage is laid out by the tiling in force when it is made.
		gl.TexParameteri(t.target, gl.TEXTURE_TILING_EXT, tiling)
		if err := glErr("glTexParameteri(GL_TEXTURE_TILING_EXT)"); err != nil {
			return "", err
		}
		shape.storage(m.name, a.Offset)
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
	return newTexture(a, func(_ *Texture, tex bridge.GLTexture, _ texShape) (string, error) {
		return ownStorage(tex), nil
	}, "")
}

// newTexture makes the texture a describes, its storage made by storage
// (with the texture bound) and checked, then swizzled and made complete for
// sampling. detail is added to a storage error.
func newTexture(a bridge.Allocation, storage func(t *Texture, tex bridge.GLTexture, shape texShape) (string, error), detail string) (*Texture, error) {
	tex, shape, err := checkTexture(a)
	if err != nil {
		return nil, err
	}
	// GLTexture has found a's storage already, so this cannot fail.
	st, _ := a.Storage()
	info, _ := bridge.LookupFormat(a.Desc.Format)
	levels := int32(tex.Levels)

	glutil.DrainErrors()
	var prev int32
	gl.GetIntegerv(glutil.BindingOf(tex.Target), &prev)
	defer gl.BindTexture(tex.Target, uint32(prev))

	t := &Texture{target: tex.Target, storage: st}
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
	call, err := storage(t, tex, shape)
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
	for i, s := range tex.Swizzle {
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
