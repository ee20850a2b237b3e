package glimport

import (
	"fmt"

	"github.com/go-gl/gl/v3.2-compatibility/gl"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/internal/glutil"
)

// Texture is a GL texture whose storage is (part of) a Memory.
type Texture struct {
	name   uint32
	target uint32
	closed bool
}

// texShape is the GL side of a resource description: which texture target
// it becomes and how its storage is made. Adding a dimension means adding a
// case to shapeOf, not touching Texture.
type texShape struct {
	target  uint32
	binding uint32 // the glGetIntegerv pname of target's current binding
	call    string // the storage command, for errors
	// storage calls the glTexStorageMem*EXT for target, with the texture
	// bound to it.
	storage func(levels int32, format uint32, d bridge.Desc, mem uint32, offset uint64)
}

// shapeOf maps a description to its GL texture kind. Kinds not done yet
// return an error wrapping bridge.ErrUnsupportedFormat that names them.
func shapeOf(d bridge.Desc) (texShape, error) {
	unsupported := func(what string) (texShape, error) {
		return texShape{}, fmt.Errorf("glimport: %w: %s textures cannot be imported yet", bridge.ErrUnsupportedFormat, what)
	}
	switch d.Dimension {
	case bridge.DimensionTexture2D:
		if d.SampleCount > 1 {
			return unsupported(fmt.Sprintf("%s with %d samples", d.Dimension, d.SampleCount))
		}
		if d.DepthOrArraySize > 1 {
			return unsupported(fmt.Sprintf("%s array (%d layers)", d.Dimension, d.DepthOrArraySize))
		}
		return texShape{
			target:  gl.TEXTURE_2D,
			binding: gl.TEXTURE_BINDING_2D,
			call:    "glTexStorageMem2DEXT",
			storage: func(levels int32, format uint32, d bridge.Desc, mem uint32, offset uint64) {
				gl.TexStorageMem2DEXT(gl.TEXTURE_2D, levels, format, int32(d.Width), int32(d.Height), mem, offset)
			},
		}, nil
	case bridge.DimensionBuffer:
		return texShape{}, fmt.Errorf("glimport: %w: a %s is not a texture (buffer import is not implemented yet)", bridge.ErrUnsupportedFormat, d.Dimension)
	}
	return unsupported(d.Dimension.String())
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
// the context's thread with the context current. Only single-sample,
// non-array 2D textures are handled so far; other kinds and formats not in
// the format table return an error wrapping bridge.ErrUnsupportedFormat.
//
// The texture's tiling is set to a.Tiling before its storage is made, its
// channels are swizzled as the format table says (BGRA stored as RGBA), and
// it is made complete for sampling with NEAREST filtering and MAX_LEVEL set
// to its last level. The binding of the texture target on the active unit
// is restored. The caller owns the Texture and must Close it before the
// Memory.
func (m *Memory) Texture(a bridge.Allocation) (*Texture, error) {
	mustBeLoaded()
	if m.closed {
		return nil, fmt.Errorf("glimport: Texture on memory object %d: %w", m.name, bridge.ErrClosed)
	}
	info, err := bridge.LookupFormat(a.Desc.Format)
	if err != nil {
		return nil, fmt.Errorf("glimport: %w", err)
	}
	if info.GLInternalFormat == 0 {
		return nil, fmt.Errorf("glimport: %w: %s has no GL internal format", bridge.ErrUnsupportedFormat, info.Name)
	}
	shape, err := shapeOf(a.Desc)
	if err != nil {
		return nil, err
	}
	if a.Desc.Width == 0 || a.Desc.Height == 0 {
		return nil, fmt.Errorf("glimport: Texture: size %dx%d", a.Desc.Width, a.Desc.Height)
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
	levels := int32(max(a.Desc.MipLevels, 1))

	glutil.DrainErrors()
	var prev int32
	gl.GetIntegerv(shape.binding, &prev)
	defer gl.BindTexture(shape.target, uint32(prev))

	t := &Texture{target: shape.target}
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
	// Storage is laid out by the tiling in force when it is made.
	gl.TexParameteri(t.target, gl.TEXTURE_TILING_EXT, tiling)
	if err := glErr("glTexParameteri(GL_TEXTURE_TILING_EXT)"); err != nil {
		return fail(err)
	}
	shape.storage(levels, info.GLInternalFormat, a.Desc, m.name, a.Offset)
	if err := glErr(shape.call); err != nil {
		return fail(fmt.Errorf("%w (%s %dx%d, %d levels, offset %d, memory size %d)", err, info.Name, a.Desc.Width, a.Desc.Height, levels, a.Offset, m.size))
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
		return fail(fmt.Errorf("glimport: %s: no storage was made, though GL reported no error: memory object %d holds no memory (its import failed silently)", shape.call, m.name))
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
	gl.TexParameteri(t.target, gl.TEXTURE_MIN_FILTER, gl.NEAREST)
	gl.TexParameteri(t.target, gl.TEXTURE_MAG_FILTER, gl.NEAREST)
	gl.TexParameteri(t.target, gl.TEXTURE_BASE_LEVEL, 0)
	gl.TexParameteri(t.target, gl.TEXTURE_MAX_LEVEL, levels-1)
	if err := glErr("glTexParameteri"); err != nil {
		return fail(err)
	}
	return t, nil
}

// Name returns the GL texture name.
func (t *Texture) Name() uint32 { return t.name }

// Target returns the texture's GL target, such as GL_TEXTURE_2D.
func (t *Texture) Target() uint32 { return t.target }

// Close deletes the texture. It must run on the context's thread with the
// context current, and is idempotent.
func (t *Texture) Close() error {
	if t.closed {
		return nil
	}
	t.closed = true
	glutil.DrainErrors()
	gl.DeleteTextures(1, &t.name)
	return glErr("glDeleteTextures")
}
