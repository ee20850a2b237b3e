package bridge

import "fmt"

// GL's texture rules live here, as plain data computed from the record,
// rather than in glimport: the broker (which must not need GL) tells a
// client in any language what texture to make of a resource, and glimport
// makes it, both from these rules, so that they cannot drift apart.

// GL texture targets, the values glBindTexture and glTexStorage* take.
// bridge cannot import a GL binding (it is cgo, and the resource model
// needs no GL), so the numbers are written out; gltexture_test.go checks
// each against the installed GL headers and glimport's tests against
// go-gl's constants.
const (
	glTexture1D                 = 0x0DE0 // GL_TEXTURE_1D
	glTexture2D                 = 0x0DE1 // GL_TEXTURE_2D
	glTexture3D                 = 0x806F // GL_TEXTURE_3D
	glTextureCubeMap            = 0x8513 // GL_TEXTURE_CUBE_MAP
	glTexture1DArray            = 0x8C18 // GL_TEXTURE_1D_ARRAY
	glTexture2DArray            = 0x8C1A // GL_TEXTURE_2D_ARRAY
	glTextureCubeMapArray       = 0x9009 // GL_TEXTURE_CUBE_MAP_ARRAY
	glTexture2DMultisample      = 0x9100 // GL_TEXTURE_2D_MULTISAMPLE
	glTexture2DMultisampleArray = 0x9102 // GL_TEXTURE_2D_MULTISAMPLE_ARRAY
)

// GLTexture is how GL sees a texture resource: what glTexStorageMem*EXT
// (or glTexStorage*) and glTexSubImage need, read from the record alone.
//
// Target follows the description:
//
//	texture1d, 1 layer             GL_TEXTURE_1D                   glTexStorageMem1DEXT
//	texture1d, n layers            GL_TEXTURE_1D_ARRAY             glTexStorageMem2DEXT (height n)
//	texture2d, 1 layer             GL_TEXTURE_2D                   glTexStorageMem2DEXT
//	texture2d, n layers            GL_TEXTURE_2D_ARRAY             glTexStorageMem3DEXT (depth n)
//	texture2d, s samples           GL_TEXTURE_2D_MULTISAMPLE       glTexStorageMem2DMultisampleEXT
//	texture2d, s samples, n layers GL_TEXTURE_2D_MULTISAMPLE_ARRAY glTexStorageMem3DMultisampleEXT
//	texture3d                      GL_TEXTURE_3D                   glTexStorageMem3DEXT
//	texturecube, 1 cube            GL_TEXTURE_CUBE_MAP             glTexStorageMem2DEXT
//	texturecube, n cubes           GL_TEXTURE_CUBE_MAP_ARRAY       glTexStorageMem3DEXT (depth 6n)
//
// Direct3D records no difference between an array of one layer and a
// plain texture, so one layer always makes the plain target. Vulkan's
// standard sample locations are fixed, so a multisampled storage call
// passes fixedSampleLocations TRUE.
type GLTexture struct {
	// Target is the GL texture target (GL_TEXTURE_1D … GL_TEXTURE_CUBE_MAP_ARRAY).
	Target uint32
	// InternalFormat is the storage's GLInternalFormat: that of the
	// record's VkFormat (D24S8 may be stored as D32S8), or for host
	// memory that of the format's preferred storage, whose bytes it holds.
	InternalFormat uint32
	// Format and Type are the storage's GLFormat and GLType, which move
	// its texels unchanged through glTexSubImage and glGetTexImage; both 0
	// for block-compressed formats (glCompressedTexSubImage takes
	// InternalFormat).
	Format, Type uint32
	// Swizzle is the format's GL_TEXTURE_SWIZZLE_R, _G, _B, _A (BGRA
	// stored as RGBA); SwizzleIdentity leaves a channel as stored.
	Swizzle [4]Swizzle
	// Width, Height and Depth are the size arguments of the storage call:
	// Height is the layer count of a 1D array (1 for a plain 1D texture),
	// Depth the layer count of a 2D array, the slice count of a 3D
	// texture, 6 × the cube count of a cube-map array, and 1 otherwise.
	Width, Height, Depth uint32
	// Levels is the mip level count; Samples the sample count (1 unless
	// Target is a multisample one, which takes Samples and no levels).
	Levels, Samples uint32
}

// Storage returns the storage whose bytes a's memory holds: for host
// memory (which holds the format's Direct3D bytes) the format's preferred
// storage, otherwise the one the exporter chose, a.VkFormat. The error
// wraps ErrUnsupportedFormat and says why: a buffer (which has no texel
// storage), a format outside the table, or a VkFormat that is not one of
// the format's storages.
func (a Allocation) Storage() (Storage, error) {
	_, st, err := a.storage()
	return st, err
}

// storage is Storage, also returning the format's table row.
func (a Allocation) storage() (FormatInfo, Storage, error) {
	if a.Desc.Dimension == DimensionBuffer {
		return FormatInfo{}, Storage{}, fmt.Errorf("bridge: %w: a %s is not a texture", ErrUnsupportedFormat, a.Desc.Dimension)
	}
	info, err := LookupFormat(a.Desc.Format)
	if err != nil {
		return FormatInfo{}, Storage{}, err
	}
	vkFormat := a.VkFormat
	if a.HostMemory {
		vkFormat = info.VkFormat
	}
	st, ok := info.StorageFor(vkFormat)
	if !ok {
		return FormatInfo{}, Storage{}, fmt.Errorf("bridge: %w: %s: the record's VkFormat %d is not one of its storages", ErrUnsupportedFormat, info.Name, vkFormat)
	}
	return info, st, nil
}

// GLTexture returns the GL texture that views the memory of a, or an
// error wrapping ErrUnsupportedFormat or ErrInvalidDesc that says which
// rule refuses it. The rules, in the order they are checked:
//
//   - buffers are not textures;
//   - the format is in the table, a.VkFormat is one of its storages (see
//     Storage), and that storage has a GL internal format;
//   - the Desc is valid (Desc.Validate), which among others refuses
//     multisampled textures other than 2D ones, which GL has no target for
//     either;
//   - GL has no 3D textures in the S3TC (BC1–BC3) and RGTC (BC4, BC5)
//     formats, only in BPTC (BC6H, BC7), so those are refused here rather
//     than left to raise GL_INVALID_OPERATION;
//   - host memory has a size (ErrInvalidDesc).
func (a Allocation) GLTexture() (GLTexture, error) {
	d := a.Desc
	info, st, err := a.storage()
	if err != nil {
		return GLTexture{}, err
	}
	if st.GLInternalFormat == 0 {
		return GLTexture{}, fmt.Errorf("bridge: %w: %s stored as VkFormat %d has no GL internal format", ErrUnsupportedFormat, info.Name, st.VkFormat)
	}
	if err := d.Validate(); err != nil {
		return GLTexture{}, err
	}
	if d.Dimension == DimensionTexture3D && info.Compressed {
		switch d.Format {
		case FormatBC6HTypeless, FormatBC6HUF16, FormatBC6HSF16,
			FormatBC7Typeless, FormatBC7Unorm, FormatBC7UnormSrgb:
		default:
			return GLTexture{}, fmt.Errorf("bridge: %w: %s %s: GL has no 3D textures in S3TC or RGTC formats", ErrUnsupportedFormat, info.Name, d.Dimension)
		}
	}
	if a.HostMemory && a.Size == 0 {
		return GLTexture{}, fmt.Errorf("bridge: %w: a host-memory record of no size", ErrInvalidDesc)
	}
	t := GLTexture{
		InternalFormat: st.GLInternalFormat, Format: st.GLFormat, Type: st.GLType, Swizzle: info.Swizzle,
		Width: d.Width, Height: d.Height, Depth: 1, Levels: d.MipLevels, Samples: d.SampleCount,
	}
	// Validate has made every count at least 1, a 1D Height 1, a cube
	// square and a multisampled texture a 2D one.
	n := d.DepthOrArraySize
	switch d.Dimension {
	case DimensionTexture1D:
		t.Target, t.Height = glTexture1D, n
		if n > 1 {
			t.Target = glTexture1DArray
		}
	case DimensionTexture2D:
		t.Depth = n
		switch {
		case d.SampleCount > 1 && n > 1:
			t.Target = glTexture2DMultisampleArray
		case d.SampleCount > 1:
			t.Target = glTexture2DMultisample
		case n > 1:
			t.Target = glTexture2DArray
		default:
			t.Target = glTexture2D
		}
	case DimensionTexture3D:
		t.Target, t.Depth = glTexture3D, n
	case DimensionTextureCube:
		t.Target = glTextureCubeMap
		if n > 1 {
			t.Target, t.Depth = glTextureCubeMapArray, 6*n
		}
	default:
		// Validate accepts no other dimension; a new one needs a case.
		return GLTexture{}, fmt.Errorf("bridge: %w: dimension %s has no GL texture target", ErrUnsupportedFormat, d.Dimension)
	}
	return t, nil
}
