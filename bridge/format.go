package bridge

import (
	"fmt"
	"slices"
)

// Format is a DXGI_FORMAT value. DXGI's numbering is the lingua franca of
// the Direct3D layers (D3D9 formats are mapped onto it, see package
// bridge/d3d), so resources are described in it and the Vulkan and GL
// formats are looked up from it.
type Format uint32

// DXGI formats glbridge knows. The values are DXGI_FORMAT's; the names are
// DXGI's with the DXGI_FORMAT_ prefix dropped and the words in Go case.
const (
	FormatUnknown              Format = 0
	FormatR32G32B32A32Typeless Format = 1
	FormatR32G32B32A32Float    Format = 2
	FormatR32G32B32A32Uint     Format = 3
	FormatR32G32B32A32Sint     Format = 4
	FormatR32G32B32Float       Format = 6
	FormatR32G32B32Uint        Format = 7
	FormatR32G32B32Sint        Format = 8
	FormatR16G16B16A16Typeless Format = 9
	FormatR16G16B16A16Float    Format = 10
	FormatR16G16B16A16Unorm    Format = 11
	FormatR16G16B16A16Uint     Format = 12
	FormatR16G16B16A16Snorm    Format = 13
	FormatR16G16B16A16Sint     Format = 14
	FormatR32G32Typeless       Format = 15
	FormatR32G32Float          Format = 16
	FormatR32G32Uint           Format = 17
	FormatR32G32Sint           Format = 18
	FormatR32G8X24Typeless     Format = 19
	FormatD32FloatS8X24Uint    Format = 20
	FormatR10G10B10A2Typeless  Format = 23
	FormatR10G10B10A2Unorm     Format = 24
	FormatR10G10B10A2Uint      Format = 25
	FormatR11G11B10Float       Format = 26
	FormatR8G8B8A8Typeless     Format = 27
	FormatR8G8B8A8Unorm        Format = 28
	FormatR8G8B8A8UnormSrgb    Format = 29
	FormatR8G8B8A8Uint         Format = 30
	FormatR8G8B8A8Snorm        Format = 31
	FormatR8G8B8A8Sint         Format = 32
	FormatR16G16Typeless       Format = 33
	FormatR16G16Float          Format = 34
	FormatR16G16Unorm          Format = 35
	FormatR16G16Uint           Format = 36
	FormatR16G16Snorm          Format = 37
	FormatR16G16Sint           Format = 38
	FormatR32Typeless          Format = 39
	FormatD32Float             Format = 40
	FormatR32Float             Format = 41
	FormatR32Uint              Format = 42
	FormatR32Sint              Format = 43
	FormatR24G8Typeless        Format = 44
	FormatD24UnormS8Uint       Format = 45
	FormatR8G8Typeless         Format = 48
	FormatR8G8Unorm            Format = 49
	FormatR8G8Uint             Format = 50
	FormatR8G8Snorm            Format = 51
	FormatR8G8Sint             Format = 52
	FormatR16Typeless          Format = 53
	FormatR16Float             Format = 54
	FormatD16Unorm             Format = 55
	FormatR16Unorm             Format = 56
	FormatR16Uint              Format = 57
	FormatR16Snorm             Format = 58
	FormatR16Sint              Format = 59
	FormatR8Typeless           Format = 60
	FormatR8Unorm              Format = 61
	FormatR8Uint               Format = 62
	FormatR8Snorm              Format = 63
	FormatR8Sint               Format = 64
	FormatA8Unorm              Format = 65
	FormatR9G9B9E5Sharedexp    Format = 67
	FormatBC1Typeless          Format = 70
	FormatBC1Unorm             Format = 71
	FormatBC1UnormSrgb         Format = 72
	FormatBC2Typeless          Format = 73
	FormatBC2Unorm             Format = 74
	FormatBC2UnormSrgb         Format = 75
	FormatBC3Typeless          Format = 76
	FormatBC3Unorm             Format = 77
	FormatBC3UnormSrgb         Format = 78
	FormatBC4Typeless          Format = 79
	FormatBC4Unorm             Format = 80
	FormatBC4Snorm             Format = 81
	FormatBC5Typeless          Format = 82
	FormatBC5Unorm             Format = 83
	FormatBC5Snorm             Format = 84
	FormatB5G6R5Unorm          Format = 85
	FormatB5G5R5A1Unorm        Format = 86
	FormatB8G8R8A8Unorm        Format = 87
	FormatB8G8R8X8Unorm        Format = 88
	FormatB8G8R8A8Typeless     Format = 90
	FormatB8G8R8A8UnormSrgb    Format = 91
	FormatB8G8R8X8Typeless     Format = 92
	FormatB8G8R8X8UnormSrgb    Format = 93
	FormatBC6HTypeless         Format = 94
	FormatBC6HUF16             Format = 95
	FormatBC6HSF16             Format = 96
	FormatBC7Typeless          Format = 97
	FormatBC7Unorm             Format = 98
	FormatBC7UnormSrgb         Format = 99
)

// Swizzle names the source of one colour channel when GL has no format
// equal to the Direct3D one and stores it in another (BGRA in RGBA).
type Swizzle uint8

// Swizzle sources. SwizzleIdentity leaves the channel as stored.
const (
	SwizzleIdentity Swizzle = iota
	SwizzleR
	SwizzleG
	SwizzleB
	SwizzleA
	SwizzleZero
	SwizzleOne
)

var swizzleNames = [...]string{"identity", "r", "g", "b", "a", "0", "1"}

// String names the swizzle source as GL_TEXTURE_SWIZZLE_* values read.
func (s Swizzle) String() string { return enumName(swizzleNames[:], s, "swizzle") }

// NumericKind is how a format's texels are read: DXGI's suffix. sRGB
// formats are KindUnorm with FormatInfo.SRGB set.
type NumericKind uint8

// Numeric kinds. The zero value is invalid so that a table row that forgot
// its kind is caught by the table test.
const (
	KindUnorm NumericKind = iota + 1
	KindSnorm
	KindUint
	KindSint
	KindFloat
	// KindTypeless: the memory has a size and a layout but no meaning until
	// a view gives it one; the table stores it as one of its typed family.
	KindTypeless
)

var kindNames = [...]string{"invalid", "unorm", "snorm", "uint", "sint", "float", "typeless"}

// String names the kind.
func (k NumericKind) String() string { return enumName(kindNames[:], k, "kind") }

// Storage is one way of holding a format in memory: the Vulkan format the
// allocator creates the image with and the GL formats that see that memory
// byte for byte. A format may have several, tried in order.
type Storage struct {
	// VkFormat is the VkFormat value of the image.
	VkFormat uint32
	// GLInternalFormat is the sized internal format glTexStorageMem*EXT
	// takes for VkFormat's memory layout.
	GLInternalFormat uint32
	// GLFormat and GLType are the glTexSubImage/glGetTexImage format and
	// type pair that moves the Direct3D texel bytes unchanged, so a test
	// can upload D3D data and read back the same bytes. Both are 0 for
	// block-compressed formats, which go through glCompressedTexSubImage
	// with GLInternalFormat.
	GLFormat uint32
	GLType   uint32
	// BytesPerBlock is the Vulkan texel block size: one texel, or one
	// block of a block-compressed format.
	BytesPerBlock uint32
	// GLClientBytesPerBlock is the size of one texel (or block) in the
	// client memory that GLFormat/GLType read and write. It differs from
	// BytesPerBlock only for packed depth-stencil: Vulkan counts
	// D32_SFLOAT_S8_UINT as 5 bytes, GL's FLOAT_32_UNSIGNED_INT_24_8_REV
	// transfers 8.
	GLClientBytesPerBlock uint32
}

// FormatInfo is one row of the format table: how a DXGI format is stored
// in Vulkan and seen in GL.
//
// VkFormat, GLInternalFormat, GLFormat, GLType, BytesPerBlock and
// GLClientBytesPerBlock are the preferred storage; Fallbacks are the
// alternatives in order of preference. Storages returns them all.
type FormatInfo struct {
	Format Format
	// Name is the DXGI name without the DXGI_FORMAT_ prefix.
	Name     string
	VkFormat uint32
	// GLInternalFormat is the sized internal format glTexStorageMem*EXT
	// takes for the Vulkan format's memory layout.
	GLInternalFormat uint32
	// GLFormat and GLType: see Storage.
	GLFormat uint32
	GLType   uint32
	// Swizzle maps the GL texture's r, g, b, a to what the D3D format
	// means (GL_TEXTURE_SWIZZLE_R, _G, _B, _A); all SwizzleIdentity when
	// the formats agree.
	Swizzle [4]Swizzle
	// BytesPerBlock is the size of one texel, or of one block for
	// block-compressed formats, as Vulkan counts it.
	BytesPerBlock uint32
	// GLClientBytesPerBlock: see Storage.
	GLClientBytesPerBlock uint32
	// BlockWidth and BlockHeight are the texel block dimensions: 4×4 for
	// block-compressed formats, 1×1 otherwise.
	BlockWidth  uint32
	BlockHeight uint32
	Kind        NumericKind
	// Depth and Stencil say the format has those aspects; Compressed that
	// it is block-compressed; SRGB that reads decode sRGB.
	Depth      bool
	Stencil    bool
	Compressed bool
	SRGB       bool
	// Fallbacks are further storages to try, in order, when the device
	// lacks the preferred one (D24S8 on AMD Vulkan drivers).
	Fallbacks []Storage
}

// Storages returns the preferred storage followed by the fallbacks: the
// order in which an allocator tries them. The slice is the caller's.
func (fi FormatInfo) Storages() []Storage {
	s := make([]Storage, 0, 1+len(fi.Fallbacks))
	s = append(s, Storage{
		VkFormat:              fi.VkFormat,
		GLInternalFormat:      fi.GLInternalFormat,
		GLFormat:              fi.GLFormat,
		GLType:                fi.GLType,
		BytesPerBlock:         fi.BytesPerBlock,
		GLClientBytesPerBlock: fi.GLClientBytesPerBlock,
	})
	return append(s, fi.Fallbacks...)
}

// HasSwizzle reports whether the GL texture needs GL_TEXTURE_SWIZZLE_* to
// read as the D3D format does.
func (fi FormatInfo) HasSwizzle() bool { return fi.Swizzle != [4]Swizzle{} }

// Shorthands for the swizzle column; the table would be unreadable with
// the full names.
var (
	swizzleBGRA = [4]Swizzle{SwizzleB, SwizzleG, SwizzleR, SwizzleA}
	swizzleBGR1 = [4]Swizzle{SwizzleB, SwizzleG, SwizzleR, SwizzleOne}
	swizzle000R = [4]Swizzle{SwizzleZero, SwizzleZero, SwizzleZero, SwizzleR}
)

// The D24S8 fallback: Vulkan drivers need not support D24_UNORM_S8_UINT
// (AMD's do not), but every driver supports D32_SFLOAT_S8_UINT or
// D24_UNORM_S8_UINT, so this is the second choice, as in DXVK. Depth
// values keep their meaning; the memory differs, which is why the chosen
// storage travels in the Allocation (VkFormat) to every importer.
var d24s8Fallbacks = []Storage{{VkFormat: 130 /* VK_FORMAT_D32_SFLOAT_S8_UINT */, GLInternalFormat: 0x8CAD, /* GL_DEPTH32F_STENCIL8 */
	GLFormat: 0x84F9 /* GL_DEPTH_STENCIL */, GLType: 0x8DAD /* GL_FLOAT_32_UNSIGNED_INT_24_8_REV */, BytesPerBlock: 5, GLClientBytesPerBlock: 8}}

// formats is the format table: data, so that every path looks formats up
// the same way instead of growing its own switch. It is ordered by DXGI
// value. Every Vulkan and GL number carries its enum name in a comment;
// the table test reads those comments and checks each number against the
// installed Vulkan and GL headers. Zero BlockWidth, BlockHeight and
// GLClientBytesPerBlock mean 1, 1 and BytesPerBlock; init fills them in.
//
// Choices that are not one-to-one:
//
//   - GL has no sized BGRA format. B8G8R8A8 memory (VK_FORMAT_B8G8R8A8_*)
//     is imported as GL_RGBA8, so GL's r, g, b, a read the bytes B, G, R,
//     A; the swizzle r←b, b←r turns that back into colour. Uploads move
//     the D3D bytes as GL_RGBA/GL_UNSIGNED_BYTE, unswizzled: the swizzle
//     applies to sampling only. Vulkan has no X8 format, so B8G8R8X8 is
//     stored as B8G8R8A8 and alpha is forced to 1.
//   - A8_UNORM is stored as R8 (VK_FORMAT_A8_UNORM_KHR is too new to
//     count on) and GL reads it through (0, 0, 0, r).
//   - DXGI names packed formats from the least significant bit, Vulkan
//     and GL's packed types from the most significant bit. B5G6R5_UNORM
//     has blue in bits 0-4, green in 5-10 and red in 11-15; that is
//     VK_FORMAT_R5G6B5_UNORM_PACK16 (R in 15-11), and GL_RGB565 with
//     GL_RGB/GL_UNSIGNED_SHORT_5_6_5 (first component, red, in the top
//     bits). B5G5R5A1 likewise is VK_FORMAT_A1R5G5B5_UNORM_PACK16 and
//     GL_BGRA/GL_UNSIGNED_SHORT_1_5_5_5_REV. R10G10B10A2 is
//     A2B10G10R10_PACK32 with GL's _2_10_10_10_REV, R11G11B10 is
//     B10G11R11_UFLOAT_PACK32 with _10F_11F_11F_REV, R9G9B9E5 is
//     E5B9G9R9_UFLOAT_PACK32 with _5_9_9_9_REV.
//   - Typeless colour formats are stored as their UNORM member (UINT
//     for 32-bit channels); the allocator makes images MUTABLE_FORMAT so
//     views may reinterpret them.
//   - Typeless formats of a depth family (R16, R32, R24G8, R32G8X24) are
//     stored as the depth format: Vulkan cannot alias depth and colour
//     formats through MUTABLE_FORMAT, and a depth buffer read by shaders
//     is why Direct3D programs create these typeless resources.
//   - BC1 is stored as the RGBA variant (VK_FORMAT_BC1_RGBA_*,
//     GL_COMPRESSED_RGBA_S3TC_DXT1_EXT): DXGI BC1 decodes the 1-bit
//     alpha.
var formats = []FormatInfo{
	{Format: FormatR32G32B32A32Typeless, Name: "R32G32B32A32_TYPELESS", Kind: KindTypeless, BytesPerBlock: 16,
		VkFormat: 107 /* VK_FORMAT_R32G32B32A32_UINT */, GLInternalFormat: 0x8D70 /* GL_RGBA32UI */, GLFormat: 0x8D99 /* GL_RGBA_INTEGER */, GLType: 0x1405 /* GL_UNSIGNED_INT */},
	{Format: FormatR32G32B32A32Float, Name: "R32G32B32A32_FLOAT", Kind: KindFloat, BytesPerBlock: 16,
		VkFormat: 109 /* VK_FORMAT_R32G32B32A32_SFLOAT */, GLInternalFormat: 0x8814 /* GL_RGBA32F */, GLFormat: 0x1908 /* GL_RGBA */, GLType: 0x1406 /* GL_FLOAT */},
	{Format: FormatR32G32B32A32Uint, Name: "R32G32B32A32_UINT", Kind: KindUint, BytesPerBlock: 16,
		VkFormat: 107 /* VK_FORMAT_R32G32B32A32_UINT */, GLInternalFormat: 0x8D70 /* GL_RGBA32UI */, GLFormat: 0x8D99 /* GL_RGBA_INTEGER */, GLType: 0x1405 /* GL_UNSIGNED_INT */},
	{Format: FormatR32G32B32A32Sint, Name: "R32G32B32A32_SINT", Kind: KindSint, BytesPerBlock: 16,
		VkFormat: 108 /* VK_FORMAT_R32G32B32A32_SINT */, GLInternalFormat: 0x8D82 /* GL_RGBA32I */, GLFormat: 0x8D99 /* GL_RGBA_INTEGER */, GLType: 0x1404 /* GL_INT */},
	{Format: FormatR32G32B32Float, Name: "R32G32B32_FLOAT", Kind: KindFloat, BytesPerBlock: 12,
		VkFormat: 106 /* VK_FORMAT_R32G32B32_SFLOAT */, GLInternalFormat: 0x8815 /* GL_RGB32F */, GLFormat: 0x1907 /* GL_RGB */, GLType: 0x1406 /* GL_FLOAT */},
	{Format: FormatR32G32B32Uint, Name: "R32G32B32_UINT", Kind: KindUint, BytesPerBlock: 12,
		VkFormat: 104 /* VK_FORMAT_R32G32B32_UINT */, GLInternalFormat: 0x8D71 /* GL_RGB32UI */, GLFormat: 0x8D98 /* GL_RGB_INTEGER */, GLType: 0x1405 /* GL_UNSIGNED_INT */},
	{Format: FormatR32G32B32Sint, Name: "R32G32B32_SINT", Kind: KindSint, BytesPerBlock: 12,
		VkFormat: 105 /* VK_FORMAT_R32G32B32_SINT */, GLInternalFormat: 0x8D83 /* GL_RGB32I */, GLFormat: 0x8D98 /* GL_RGB_INTEGER */, GLType: 0x1404 /* GL_INT */},
	{Format: FormatR16G16B16A16Typeless, Name: "R16G16B16A16_TYPELESS", Kind: KindTypeless, BytesPerBlock: 8,
		VkFormat: 91 /* VK_FORMAT_R16G16B16A16_UNORM */, GLInternalFormat: 0x805B /* GL_RGBA16 */, GLFormat: 0x1908 /* GL_RGBA */, GLType: 0x1403 /* GL_UNSIGNED_SHORT */},
	{Format: FormatR16G16B16A16Float, Name: "R16G16B16A16_FLOAT", Kind: KindFloat, BytesPerBlock: 8,
		VkFormat: 97 /* VK_FORMAT_R16G16B16A16_SFLOAT */, GLInternalFormat: 0x881A /* GL_RGBA16F */, GLFormat: 0x1908 /* GL_RGBA */, GLType: 0x140B /* GL_HALF_FLOAT */},
	{Format: FormatR16G16B16A16Unorm, Name: "R16G16B16A16_UNORM", Kind: KindUnorm, BytesPerBlock: 8,
		VkFormat: 91 /* VK_FORMAT_R16G16B16A16_UNORM */, GLInternalFormat: 0x805B /* GL_RGBA16 */, GLFormat: 0x1908 /* GL_RGBA */, GLType: 0x1403 /* GL_UNSIGNED_SHORT */},
	{Format: FormatR16G16B16A16Uint, Name: "R16G16B16A16_UINT", Kind: KindUint, BytesPerBlock: 8,
		VkFormat: 95 /* VK_FORMAT_R16G16B16A16_UINT */, GLInternalFormat: 0x8D76 /* GL_RGBA16UI */, GLFormat: 0x8D99 /* GL_RGBA_INTEGER */, GLType: 0x1403 /* GL_UNSIGNED_SHORT */},
	{Format: FormatR16G16B16A16Snorm, Name: "R16G16B16A16_SNORM", Kind: KindSnorm, BytesPerBlock: 8,
		VkFormat: 92 /* VK_FORMAT_R16G16B16A16_SNORM */, GLInternalFormat: 0x8F9B /* GL_RGBA16_SNORM */, GLFormat: 0x1908 /* GL_RGBA */, GLType: 0x1402 /* GL_SHORT */},
	{Format: FormatR16G16B16A16Sint, Name: "R16G16B16A16_SINT", Kind: KindSint, BytesPerBlock: 8,
		VkFormat: 96 /* VK_FORMAT_R16G16B16A16_SINT */, GLInternalFormat: 0x8D88 /* GL_RGBA16I */, GLFormat: 0x8D99 /* GL_RGBA_INTEGER */, GLType: 0x1402 /* GL_SHORT */},
	{Format: FormatR32G32Typeless, Name: "R32G32_TYPELESS", Kind: KindTypeless, BytesPerBlock: 8,
		VkFormat: 101 /* VK_FORMAT_R32G32_UINT */, GLInternalFormat: 0x823C /* GL_RG32UI */, GLFormat: 0x8228 /* GL_RG_INTEGER */, GLType: 0x1405 /* GL_UNSIGNED_INT */},
	{Format: FormatR32G32Float, Name: "R32G32_FLOAT", Kind: KindFloat, BytesPerBlock: 8,
		VkFormat: 103 /* VK_FORMAT_R32G32_SFLOAT */, GLInternalFormat: 0x8230 /* GL_RG32F */, GLFormat: 0x8227 /* GL_RG */, GLType: 0x1406 /* GL_FLOAT */},
	{Format: FormatR32G32Uint, Name: "R32G32_UINT", Kind: KindUint, BytesPerBlock: 8,
		VkFormat: 101 /* VK_FORMAT_R32G32_UINT */, GLInternalFormat: 0x823C /* GL_RG32UI */, GLFormat: 0x8228 /* GL_RG_INTEGER */, GLType: 0x1405 /* GL_UNSIGNED_INT */},
	{Format: FormatR32G32Sint, Name: "R32G32_SINT", Kind: KindSint, BytesPerBlock: 8,
		VkFormat: 102 /* VK_FORMAT_R32G32_SINT */, GLInternalFormat: 0x823B /* GL_RG32I */, GLFormat: 0x8228 /* GL_RG_INTEGER */, GLType: 0x1404 /* GL_INT */},
	{Format: FormatR32G8X24Typeless, Name: "R32G8X24_TYPELESS", Kind: KindTypeless, Depth: true, Stencil: true, BytesPerBlock: 5, GLClientBytesPerBlock: 8,
		VkFormat: 130 /* VK_FORMAT_D32_SFLOAT_S8_UINT */, GLInternalFormat: 0x8CAD /* GL_DEPTH32F_STENCIL8 */, GLFormat: 0x84F9 /* GL_DEPTH_STENCIL */, GLType: 0x8DAD /* GL_FLOAT_32_UNSIGNED_INT_24_8_REV */},
	{Format: FormatD32FloatS8X24Uint, Name: "D32_FLOAT_S8X24_UINT", Kind: KindFloat, Depth: true, Stencil: true, BytesPerBlock: 5, GLClientBytesPerBlock: 8,
		VkFormat: 130 /* VK_FORMAT_D32_SFLOAT_S8_UINT */, GLInternalFormat: 0x8CAD /* GL_DEPTH32F_STENCIL8 */, GLFormat: 0x84F9 /* GL_DEPTH_STENCIL */, GLType: 0x8DAD /* GL_FLOAT_32_UNSIGNED_INT_24_8_REV */},
	{Format: FormatR10G10B10A2Typeless, Name: "R10G10B10A2_TYPELESS", Kind: KindTypeless, BytesPerBlock: 4,
		VkFormat: 64 /* VK_FORMAT_A2B10G10R10_UNORM_PACK32 */, GLInternalFormat: 0x8059 /* GL_RGB10_A2 */, GLFormat: 0x1908 /* GL_RGBA */, GLType: 0x8368 /* GL_UNSIGNED_INT_2_10_10_10_REV */},
	{Format: FormatR10G10B10A2Unorm, Name: "R10G10B10A2_UNORM", Kind: KindUnorm, BytesPerBlock: 4,
		VkFormat: 64 /* VK_FORMAT_A2B10G10R10_UNORM_PACK32 */, GLInternalFormat: 0x8059 /* GL_RGB10_A2 */, GLFormat: 0x1908 /* GL_RGBA */, GLType: 0x8368 /* GL_UNSIGNED_INT_2_10_10_10_REV */},
	{Format: FormatR10G10B10A2Uint, Name: "R10G10B10A2_UINT", Kind: KindUint, BytesPerBlock: 4,
		VkFormat: 68 /* VK_FORMAT_A2B10G10R10_UINT_PACK32 */, GLInternalFormat: 0x906F /* GL_RGB10_A2UI */, GLFormat: 0x8D99 /* GL_RGBA_INTEGER */, GLType: 0x8368 /* GL_UNSIGNED_INT_2_10_10_10_REV */},
	{Format: FormatR11G11B10Float, Name: "R11G11B10_FLOAT", Kind: KindFloat, BytesPerBlock: 4,
		VkFormat: 122 /* VK_FORMAT_B10G11R11_UFLOAT_PACK32 */, GLInternalFormat: 0x8C3A /* GL_R11F_G11F_B10F */, GLFormat: 0x1907 /* GL_RGB */, GLType: 0x8C3B /* GL_UNSIGNED_INT_10F_11F_11F_REV */},
	{Format: FormatR8G8B8A8Typeless, Name: "R8G8B8A8_TYPELESS", Kind: KindTypeless, BytesPerBlock: 4,
		VkFormat: 37 /* VK_FORMAT_R8G8B8A8_UNORM */, GLInternalFormat: 0x8058 /* GL_RGBA8 */, GLFormat: 0x1908 /* GL_RGBA */, GLType: 0x1401 /* GL_UNSIGNED_BYTE */},
	{Format: FormatR8G8B8A8Unorm, Name: "R8G8B8A8_UNORM", Kind: KindUnorm, BytesPerBlock: 4,
		VkFormat: 37 /* VK_FORMAT_R8G8B8A8_UNORM */, GLInternalFormat: 0x8058 /* GL_RGBA8 */, GLFormat: 0x1908 /* GL_RGBA */, GLType: 0x1401 /* GL_UNSIGNED_BYTE */},
	{Format: FormatR8G8B8A8UnormSrgb, Name: "R8G8B8A8_UNORM_SRGB", Kind: KindUnorm, SRGB: true, BytesPerBlock: 4,
		VkFormat: 43 /* VK_FORMAT_R8G8B8A8_SRGB */, GLInternalFormat: 0x8C43 /* GL_SRGB8_ALPHA8 */, GLFormat: 0x1908 /* GL_RGBA */, GLType: 0x1401 /* GL_UNSIGNED_BYTE */},
	{Format: FormatR8G8B8A8Uint, Name: "R8G8B8A8_UINT", Kind: KindUint, BytesPerBlock: 4,
		VkFormat: 41 /* VK_FORMAT_R8G8B8A8_UINT */, GLInternalFormat: 0x8D7C /* GL_RGBA8UI */, GLFormat: 0x8D99 /* GL_RGBA_INTEGER */, GLType: 0x1401 /* GL_UNSIGNED_BYTE */},
	{Format: FormatR8G8B8A8Snorm, Name: "R8G8B8A8_SNORM", Kind: KindSnorm, BytesPerBlock: 4,
		VkFormat: 38 /* VK_FORMAT_R8G8B8A8_SNORM */, GLInternalFormat: 0x8F97 /* GL_RGBA8_SNORM */, GLFormat: 0x1908 /* GL_RGBA */, GLType: 0x1400 /* GL_BYTE */},
	{Format: FormatR8G8B8A8Sint, Name: "R8G8B8A8_SINT", Kind: KindSint, BytesPerBlock: 4,
		VkFormat: 42 /* VK_FORMAT_R8G8B8A8_SINT */, GLInternalFormat: 0x8D8E /* GL_RGBA8I */, GLFormat: 0x8D99 /* GL_RGBA_INTEGER */, GLType: 0x1400 /* GL_BYTE */},
	{Format: FormatR16G16Typeless, Name: "R16G16_TYPELESS", Kind: KindTypeless, BytesPerBlock: 4,
		VkFormat: 77 /* VK_FORMAT_R16G16_UNORM */, GLInternalFormat: 0x822C /* GL_RG16 */, GLFormat: 0x8227 /* GL_RG */, GLType: 0x1403 /* GL_UNSIGNED_SHORT */},
	{Format: FormatR16G16Float, Name: "R16G16_FLOAT", Kind: KindFloat, BytesPerBlock: 4,
		VkFormat: 83 /* VK_FORMAT_R16G16_SFLOAT */, GLInternalFormat: 0x822F /* GL_RG16F */, GLFormat: 0x8227 /* GL_RG */, GLType: 0x140B /* GL_HALF_FLOAT */},
	{Format: FormatR16G16Unorm, Name: "R16G16_UNORM", Kind: KindUnorm, BytesPerBlock: 4,
		VkFormat: 77 /* VK_FORMAT_R16G16_UNORM */, GLInternalFormat: 0x822C /* GL_RG16 */, GLFormat: 0x8227 /* GL_RG */, GLType: 0x1403 /* GL_UNSIGNED_SHORT */},
	{Format: FormatR16G16Uint, Name: "R16G16_UINT", Kind: KindUint, BytesPerBlock: 4,
		VkFormat: 81 /* VK_FORMAT_R16G16_UINT */, GLInternalFormat: 0x823A /* GL_RG16UI */, GLFormat: 0x8228 /* GL_RG_INTEGER */, GLType: 0x1403 /* GL_UNSIGNED_SHORT */},
	{Format: FormatR16G16Snorm, Name: "R16G16_SNORM", Kind: KindSnorm, BytesPerBlock: 4,
		VkFormat: 78 /* VK_FORMAT_R16G16_SNORM */, GLInternalFormat: 0x8F99 /* GL_RG16_SNORM */, GLFormat: 0x8227 /* GL_RG */, GLType: 0x1402 /* GL_SHORT */},
	{Format: FormatR16G16Sint, Name: "R16G16_SINT", Kind: KindSint, BytesPerBlock: 4,
		VkFormat: 82 /* VK_FORMAT_R16G16_SINT */, GLInternalFormat: 0x8239 /* GL_RG16I */, GLFormat: 0x8228 /* GL_RG_INTEGER */, GLType: 0x1402 /* GL_SHORT */},
	{Format: FormatR32Typeless, Name: "R32_TYPELESS", Kind: KindTypeless, Depth: true, BytesPerBlock: 4,
		VkFormat: 126 /* VK_FORMAT_D32_SFLOAT */, GLInternalFormat: 0x8CAC /* GL_DEPTH_COMPONENT32F */, GLFormat: 0x1902 /* GL_DEPTH_COMPONENT */, GLType: 0x1406 /* GL_FLOAT */},
	{Format: FormatD32Float, Name: "D32_FLOAT", Kind: KindFloat, Depth: true, BytesPerBlock: 4,
		VkFormat: 126 /* VK_FORMAT_D32_SFLOAT */, GLInternalFormat: 0x8CAC /* GL_DEPTH_COMPONENT32F */, GLFormat: 0x1902 /* GL_DEPTH_COMPONENT */, GLType: 0x1406 /* GL_FLOAT */},
	{Format: FormatR32Float, Name: "R32_FLOAT", Kind: KindFloat, BytesPerBlock: 4,
		VkFormat: 100 /* VK_FORMAT_R32_SFLOAT */, GLInternalFormat: 0x822E /* GL_R32F */, GLFormat: 0x1903 /* GL_RED */, GLType: 0x1406 /* GL_FLOAT */},
	{Format: FormatR32Uint, Name: "R32_UINT", Kind: KindUint, BytesPerBlock: 4,
		VkFormat: 98 /* VK_FORMAT_R32_UINT */, GLInternalFormat: 0x8236 /* GL_R32UI */, GLFormat: 0x8D94 /* GL_RED_INTEGER */, GLType: 0x1405 /* GL_UNSIGNED_INT */},
	{Format: FormatR32Sint, Name: "R32_SINT", Kind: KindSint, BytesPerBlock: 4,
		VkFormat: 99 /* VK_FORMAT_R32_SINT */, GLInternalFormat: 0x8235 /* GL_R32I */, GLFormat: 0x8D94 /* GL_RED_INTEGER */, GLType: 0x1404 /* GL_INT */},
	{Format: FormatR24G8Typeless, Name: "R24G8_TYPELESS", Kind: KindTypeless, Depth: true, Stencil: true, BytesPerBlock: 4, Fallbacks: d24s8Fallbacks,
		VkFormat: 129 /* VK_FORMAT_D24_UNORM_S8_UINT */, GLInternalFormat: 0x88F0 /* GL_DEPTH24_STENCIL8 */, GLFormat: 0x84F9 /* GL_DEPTH_STENCIL */, GLType: 0x84FA /* GL_UNSIGNED_INT_24_8 */},
	{Format: FormatD24UnormS8Uint, Name: "D24_UNORM_S8_UINT", Kind: KindUnorm, Depth: true, Stencil: true, BytesPerBlock: 4, Fallbacks: d24s8Fallbacks,
		VkFormat: 129 /* VK_FORMAT_D24_UNORM_S8_UINT */, GLInternalFormat: 0x88F0 /* GL_DEPTH24_STENCIL8 */, GLFormat: 0x84F9 /* GL_DEPTH_STENCIL */, GLType: 0x84FA /* GL_UNSIGNED_INT_24_8 */},
	{Format: FormatR8G8Typeless, Name: "R8G8_TYPELESS", Kind: KindTypeless, BytesPerBlock: 2,
		VkFormat: 16 /* VK_FORMAT_R8G8_UNORM */, GLInternalFormat: 0x822B /* GL_RG8 */, GLFormat: 0x8227 /* GL_RG */, GLType: 0x1401 /* GL_UNSIGNED_BYTE */},
	{Format: FormatR8G8Unorm, Name: "R8G8_UNORM", Kind: KindUnorm, BytesPerBlock: 2,
		VkFormat: 16 /* VK_FORMAT_R8G8_UNORM */, GLInternalFormat: 0x822B /* GL_RG8 */, GLFormat: 0x8227 /* GL_RG */, GLType: 0x1401 /* GL_UNSIGNED_BYTE */},
	{Format: FormatR8G8Uint, Name: "R8G8_UINT", Kind: KindUint, BytesPerBlock: 2,
		VkFormat: 20 /* VK_FORMAT_R8G8_UINT */, GLInternalFormat: 0x8238 /* GL_RG8UI */, GLFormat: 0x8228 /* GL_RG_INTEGER */, GLType: 0x1401 /* GL_UNSIGNED_BYTE */},
	{Format: FormatR8G8Snorm, Name: "R8G8_SNORM", Kind: KindSnorm, BytesPerBlock: 2,
		VkFormat: 17 /* VK_FORMAT_R8G8_SNORM */, GLInternalFormat: 0x8F95 /* GL_RG8_SNORM */, GLFormat: 0x8227 /* GL_RG */, GLType: 0x1400 /* GL_BYTE */},
	{Format: FormatR8G8Sint, Name: "R8G8_SINT", Kind: KindSint, BytesPerBlock: 2,
		VkFormat: 21 /* VK_FORMAT_R8G8_SINT */, GLInternalFormat: 0x8237 /* GL_RG8I */, GLFormat: 0x8228 /* GL_RG_INTEGER */, GLType: 0x1400 /* GL_BYTE */},
	{Format: FormatR16Typeless, Name: "R16_TYPELESS", Kind: KindTypeless, Depth: true, BytesPerBlock: 2,
		VkFormat: 124 /* VK_FORMAT_D16_UNORM */, GLInternalFormat: 0x81A5 /* GL_DEPTH_COMPONENT16 */, GLFormat: 0x1902 /* GL_DEPTH_COMPONENT */, GLType: 0x1403 /* GL_UNSIGNED_SHORT */},
	{Format: FormatR16Float, Name: "R16_FLOAT", Kind: KindFloat, BytesPerBlock: 2,
		VkFormat: 76 /* VK_FORMAT_R16_SFLOAT */, GLInternalFormat: 0x822D /* GL_R16F */, GLFormat: 0x1903 /* GL_RED */, GLType: 0x140B /* GL_HALF_FLOAT */},
	{Format: FormatD16Unorm, Name: "D16_UNORM", Kind: KindUnorm, Depth: true, BytesPerBlock: 2,
		VkFormat: 124 /* VK_FORMAT_D16_UNORM */, GLInternalFormat: 0x81A5 /* GL_DEPTH_COMPONENT16 */, GLFormat: 0x1902 /* GL_DEPTH_COMPONENT */, GLType: 0x1403 /* GL_UNSIGNED_SHORT */},
	{Format: FormatR16Unorm, Name: "R16_UNORM", Kind: KindUnorm, BytesPerBlock: 2,
		VkFormat: 70 /* VK_FORMAT_R16_UNORM */, GLInternalFormat: 0x822A /* GL_R16 */, GLFormat: 0x1903 /* GL_RED */, GLType: 0x1403 /* GL_UNSIGNED_SHORT */},
	{Format: FormatR16Uint, Name: "R16_UINT", Kind: KindUint, BytesPerBlock: 2,
		VkFormat: 74 /* VK_FORMAT_R16_UINT */, GLInternalFormat: 0x8234 /* GL_R16UI */, GLFormat: 0x8D94 /* GL_RED_INTEGER */, GLType: 0x1403 /* GL_UNSIGNED_SHORT */},
	{Format: FormatR16Snorm, Name: "R16_SNORM", Kind: KindSnorm, BytesPerBlock: 2,
		VkFormat: 71 /* VK_FORMAT_R16_SNORM */, GLInternalFormat: 0x8F98 /* GL_R16_SNORM */, GLFormat: 0x1903 /* GL_RED */, GLType: 0x1402 /* GL_SHORT */},
	{Format: FormatR16Sint, Name: "R16_SINT", Kind: KindSint, BytesPerBlock: 2,
		VkFormat: 75 /* VK_FORMAT_R16_SINT */, GLInternalFormat: 0x8233 /* GL_R16I */, GLFormat: 0x8D94 /* GL_RED_INTEGER */, GLType: 0x1402 /* GL_SHORT */},
	{Format: FormatR8Typeless, Name: "R8_TYPELESS", Kind: KindTypeless, BytesPerBlock: 1,
		VkFormat: 9 /* VK_FORMAT_R8_UNORM */, GLInternalFormat: 0x8229 /* GL_R8 */, GLFormat: 0x1903 /* GL_RED */, GLType: 0x1401 /* GL_UNSIGNED_BYTE */},
	{Format: FormatR8Unorm, Name: "R8_UNORM", Kind: KindUnorm, BytesPerBlock: 1,
		VkFormat: 9 /* VK_FORMAT_R8_UNORM */, GLInternalFormat: 0x8229 /* GL_R8 */, GLFormat: 0x1903 /* GL_RED */, GLType: 0x1401 /* GL_UNSIGNED_BYTE */},
	{Format: FormatR8Uint, Name: "R8_UINT", Kind: KindUint, BytesPerBlock: 1,
		VkFormat: 13 /* VK_FORMAT_R8_UINT */, GLInternalFormat: 0x8232 /* GL_R8UI */, GLFormat: 0x8D94 /* GL_RED_INTEGER */, GLType: 0x1401 /* GL_UNSIGNED_BYTE */},
	{Format: FormatR8Snorm, Name: "R8_SNORM", Kind: KindSnorm, BytesPerBlock: 1,
		VkFormat: 10 /* VK_FORMAT_R8_SNORM */, GLInternalFormat: 0x8F94 /* GL_R8_SNORM */, GLFormat: 0x1903 /* GL_RED */, GLType: 0x1400 /* GL_BYTE */},
	{Format: FormatR8Sint, Name: "R8_SINT", Kind: KindSint, BytesPerBlock: 1,
		VkFormat: 14 /* VK_FORMAT_R8_SINT */, GLInternalFormat: 0x8231 /* GL_R8I */, GLFormat: 0x8D94 /* GL_RED_INTEGER */, GLType: 0x1400 /* GL_BYTE */},
	{Format: FormatA8Unorm, Name: "A8_UNORM", Kind: KindUnorm, BytesPerBlock: 1, Swizzle: swizzle000R,
		VkFormat: 9 /* VK_FORMAT_R8_UNORM */, GLInternalFormat: 0x8229 /* GL_R8 */, GLFormat: 0x1903 /* GL_RED */, GLType: 0x1401 /* GL_UNSIGNED_BYTE */},
	{Format: FormatR9G9B9E5Sharedexp, Name: "R9G9B9E5_SHAREDEXP", Kind: KindFloat, BytesPerBlock: 4,
		VkFormat: 123 /* VK_FORMAT_E5B9G9R9_UFLOAT_PACK32 */, GLInternalFormat: 0x8C3D /* GL_RGB9_E5 */, GLFormat: 0x1907 /* GL_RGB */, GLType: 0x8C3E /* GL_UNSIGNED_INT_5_9_9_9_REV */},
	{Format: FormatBC1Typeless, Name: "BC1_TYPELESS", Kind: KindTypeless, Compressed: true, BlockWidth: 4, BlockHeight: 4, BytesPerBlock: 8,
		VkFormat: 133 /* VK_FORMAT_BC1_RGBA_UNORM_BLOCK */, GLInternalFormat: 0x83F1 /* GL_COMPRESSED_RGBA_S3TC_DXT1_EXT */},
	{Format: FormatBC1Unorm, Name: "BC1_UNORM", Kind: KindUnorm, Compressed: true, BlockWidth: 4, BlockHeight: 4, BytesPerBlock: 8,
		VkFormat: 133 /* VK_FORMAT_BC1_RGBA_UNORM_BLOCK */, GLInternalFormat: 0x83F1 /* GL_COMPRESSED_RGBA_S3TC_DXT1_EXT */},
	{Format: FormatBC1UnormSrgb, Name: "BC1_UNORM_SRGB", Kind: KindUnorm, SRGB: true, Compressed: true, BlockWidth: 4, BlockHeight: 4, BytesPerBlock: 8,
		VkFormat: 134 /* VK_FORMAT_BC1_RGBA_SRGB_BLOCK */, GLInternalFormat: 0x8C4D /* GL_COMPRESSED_SRGB_ALPHA_S3TC_DXT1_EXT */},
	{Format: FormatBC2Typeless, Name: "BC2_TYPELESS", Kind: KindTypeless, Compressed: true, BlockWidth: 4, BlockHeight: 4, BytesPerBlock: 16,
		VkFormat: 135 /* VK_FORMAT_BC2_UNORM_BLOCK */, GLInternalFormat: 0x83F2 /* GL_COMPRESSED_RGBA_S3TC_DXT3_EXT */},
	{Format: FormatBC2Unorm, Name: "BC2_UNORM", Kind: KindUnorm, Compressed: true, BlockWidth: 4, BlockHeight: 4, BytesPerBlock: 16,
		VkFormat: 135 /* VK_FORMAT_BC2_UNORM_BLOCK */, GLInternalFormat: 0x83F2 /* GL_COMPRESSED_RGBA_S3TC_DXT3_EXT */},
	{Format: FormatBC2UnormSrgb, Name: "BC2_UNORM_SRGB", Kind: KindUnorm, SRGB: true, Compressed: true, BlockWidth: 4, BlockHeight: 4, BytesPerBlock: 16,
		VkFormat: 136 /* VK_FORMAT_BC2_SRGB_BLOCK */, GLInternalFormat: 0x8C4E /* GL_COMPRESSED_SRGB_ALPHA_S3TC_DXT3_EXT */},
	{Format: FormatBC3Typeless, Name: "BC3_TYPELESS", Kind: KindTypeless, Compressed: true, BlockWidth: 4, BlockHeight: 4, BytesPerBlock: 16,
		VkFormat: 137 /* VK_FORMAT_BC3_UNORM_BLOCK */, GLInternalFormat: 0x83F3 /* GL_COMPRESSED_RGBA_S3TC_DXT5_EXT */},
	{Format: FormatBC3Unorm, Name: "BC3_UNORM", Kind: KindUnorm, Compressed: true, BlockWidth: 4, BlockHeight: 4, BytesPerBlock: 16,
		VkFormat: 137 /* VK_FORMAT_BC3_UNORM_BLOCK */, GLInternalFormat: 0x83F3 /* GL_COMPRESSED_RGBA_S3TC_DXT5_EXT */},
	{Format: FormatBC3UnormSrgb, Name: "BC3_UNORM_SRGB", Kind: KindUnorm, SRGB: true, Compressed: true, BlockWidth: 4, BlockHeight: 4, BytesPerBlock: 16,
		VkFormat: 138 /* VK_FORMAT_BC3_SRGB_BLOCK */, GLInternalFormat: 0x8C4F /* GL_COMPRESSED_SRGB_ALPHA_S3TC_DXT5_EXT */},
	{Format: FormatBC4Typeless, Name: "BC4_TYPELESS", Kind: KindTypeless, Compressed: true, BlockWidth: 4, BlockHeight: 4, BytesPerBlock: 8,
		VkFormat: 139 /* VK_FORMAT_BC4_UNORM_BLOCK */, GLInternalFormat: 0x8DBB /* GL_COMPRESSED_RED_RGTC1 */},
	{Format: FormatBC4Unorm, Name: "BC4_UNORM", Kind: KindUnorm, Compressed: true, BlockWidth: 4, BlockHeight: 4, BytesPerBlock: 8,
		VkFormat: 139 /* VK_FORMAT_BC4_UNORM_BLOCK */, GLInternalFormat: 0x8DBB /* GL_COMPRESSED_RED_RGTC1 */},
	{Format: FormatBC4Snorm, Name: "BC4_SNORM", Kind: KindSnorm, Compressed: true, BlockWidth: 4, BlockHeight: 4, BytesPerBlock: 8,
		VkFormat: 140 /* VK_FORMAT_BC4_SNORM_BLOCK */, GLInternalFormat: 0x8DBC /* GL_COMPRESSED_SIGNED_RED_RGTC1 */},
	{Format: FormatBC5Typeless, Name: "BC5_TYPELESS", Kind: KindTypeless, Compressed: true, BlockWidth: 4, BlockHeight: 4, BytesPerBlock: 16,
		VkFormat: 141 /* VK_FORMAT_BC5_UNORM_BLOCK */, GLInternalFormat: 0x8DBD /* GL_COMPRESSED_RG_RGTC2 */},
	{Format: FormatBC5Unorm, Name: "BC5_UNORM", Kind: KindUnorm, Compressed: true, BlockWidth: 4, BlockHeight: 4, BytesPerBlock: 16,
		VkFormat: 141 /* VK_FORMAT_BC5_UNORM_BLOCK */, GLInternalFormat: 0x8DBD /* GL_COMPRESSED_RG_RGTC2 */},
	{Format: FormatBC5Snorm, Name: "BC5_SNORM", Kind: KindSnorm, Compressed: true, BlockWidth: 4, BlockHeight: 4, BytesPerBlock: 16,
		VkFormat: 142 /* VK_FORMAT_BC5_SNORM_BLOCK */, GLInternalFormat: 0x8DBE /* GL_COMPRESSED_SIGNED_RG_RGTC2 */},
	{Format: FormatB5G6R5Unorm, Name: "B5G6R5_UNORM", Kind: KindUnorm, BytesPerBlock: 2,
		VkFormat: 4 /* VK_FORMAT_R5G6B5_UNORM_PACK16 */, GLInternalFormat: 0x8D62 /* GL_RGB565 */, GLFormat: 0x1907 /* GL_RGB */, GLType: 0x8363 /* GL_UNSIGNED_SHORT_5_6_5 */},
	{Format: FormatB5G5R5A1Unorm, Name: "B5G5R5A1_UNORM", Kind: KindUnorm, BytesPerBlock: 2,
		VkFormat: 8 /* VK_FORMAT_A1R5G5B5_UNORM_PACK16 */, GLInternalFormat: 0x8057 /* GL_RGB5_A1 */, GLFormat: 0x80E1 /* GL_BGRA */, GLType: 0x8366 /* GL_UNSIGNED_SHORT_1_5_5_5_REV */},
	{Format: FormatB8G8R8A8Unorm, Name: "B8G8R8A8_UNORM", Kind: KindUnorm, BytesPerBlock: 4, Swizzle: swizzleBGRA,
		VkFormat: 44 /* VK_FORMAT_B8G8R8A8_UNORM */, GLInternalFormat: 0x8058 /* GL_RGBA8 */, GLFormat: 0x1908 /* GL_RGBA */, GLType: 0x1401 /* GL_UNSIGNED_BYTE */},
	{Format: FormatB8G8R8X8Unorm, Name: "B8G8R8X8_UNORM", Kind: KindUnorm, BytesPerBlock: 4, Swizzle: swizzleBGR1,
		VkFormat: 44 /* VK_FORMAT_B8G8R8A8_UNORM */, GLInternalFormat: 0x8058 /* GL_RGBA8 */, GLFormat: 0x1908 /* GL_RGBA */, GLType: 0x1401 /* GL_UNSIGNED_BYTE */},
	{Format: FormatB8G8R8A8Typeless, Name: "B8G8R8A8_TYPELESS", Kind: KindTypeless, BytesPerBlock: 4, Swizzle: swizzleBGRA,
		VkFormat: 44 /* VK_FORMAT_B8G8R8A8_UNORM */, GLInternalFormat: 0x8058 /* GL_RGBA8 */, GLFormat: 0x1908 /* GL_RGBA */, GLType: 0x1401 /* GL_UNSIGNED_BYTE */},
	{Format: FormatB8G8R8A8UnormSrgb, Name: "B8G8R8A8_UNORM_SRGB", Kind: KindUnorm, SRGB: true, BytesPerBlock: 4, Swizzle: swizzleBGRA,
		VkFormat: 50 /* VK_FORMAT_B8G8R8A8_SRGB */, GLInternalFormat: 0x8C43 /* GL_SRGB8_ALPHA8 */, GLFormat: 0x1908 /* GL_RGBA */, GLType: 0x1401 /* GL_UNSIGNED_BYTE */},
	{Format: FormatB8G8R8X8Typeless, Name: "B8G8R8X8_TYPELESS", Kind: KindTypeless, BytesPerBlock: 4, Swizzle: swizzleBGR1,
		VkFormat: 44 /* VK_FORMAT_B8G8R8A8_UNORM */, GLInternalFormat: 0x8058 /* GL_RGBA8 */, GLFormat: 0x1908 /* GL_RGBA */, GLType: 0x1401 /* GL_UNSIGNED_BYTE */},
	{Format: FormatB8G8R8X8UnormSrgb, Name: "B8G8R8X8_UNORM_SRGB", Kind: KindUnorm, SRGB: true, BytesPerBlock: 4, Swizzle: swizzleBGR1,
		VkFormat: 50 /* VK_FORMAT_B8G8R8A8_SRGB */, GLInternalFormat: 0x8C43 /* GL_SRGB8_ALPHA8 */, GLFormat: 0x1908 /* GL_RGBA */, GLType: 0x1401 /* GL_UNSIGNED_BYTE */},
	{Format: FormatBC6HTypeless, Name: "BC6H_TYPELESS", Kind: KindTypeless, Compressed: true, BlockWidth: 4, BlockHeight: 4, BytesPerBlock: 16,
		VkFormat: 143 /* VK_FORMAT_BC6H_UFLOAT_BLOCK */, GLInternalFormat: 0x8E8F /* GL_COMPRESSED_RGB_BPTC_UNSIGNED_FLOAT */},
	{Format: FormatBC6HUF16, Name: "BC6H_UF16", Kind: KindFloat, Compressed: true, BlockWidth: 4, BlockHeight: 4, BytesPerBlock: 16,
		VkFormat: 143 /* VK_FORMAT_BC6H_UFLOAT_BLOCK */, GLInternalFormat: 0x8E8F /* GL_COMPRESSED_RGB_BPTC_UNSIGNED_FLOAT */},
	{Format: FormatBC6HSF16, Name: "BC6H_SF16", Kind: KindFloat, Compressed: true, BlockWidth: 4, BlockHeight: 4, BytesPerBlock: 16,
		VkFormat: 144 /* VK_FORMAT_BC6H_SFLOAT_BLOCK */, GLInternalFormat: 0x8E8E /* GL_COMPRESSED_RGB_BPTC_SIGNED_FLOAT */},
	{Format: FormatBC7Typeless, Name: "BC7_TYPELESS", Kind: KindTypeless, Compressed: true, BlockWidth: 4, BlockHeight: 4, BytesPerBlock: 16,
		VkFormat: 145 /* VK_FORMAT_BC7_UNORM_BLOCK */, GLInternalFormat: 0x8E8C /* GL_COMPRESSED_RGBA_BPTC_UNORM */},
	{Format: FormatBC7Unorm, Name: "BC7_UNORM", Kind: KindUnorm, Compressed: true, BlockWidth: 4, BlockHeight: 4, BytesPerBlock: 16,
		VkFormat: 145 /* VK_FORMAT_BC7_UNORM_BLOCK */, GLInternalFormat: 0x8E8C /* GL_COMPRESSED_RGBA_BPTC_UNORM */},
	{Format: FormatBC7UnormSrgb, Name: "BC7_UNORM_SRGB", Kind: KindUnorm, SRGB: true, Compressed: true, BlockWidth: 4, BlockHeight: 4, BytesPerBlock: 16,
		VkFormat: 146 /* VK_FORMAT_BC7_SRGB_BLOCK */, GLInternalFormat: 0x8E8D /* GL_COMPRESSED_SRGB_ALPHA_BPTC_UNORM */},
}

var formatIndex, formatNameIndex = func() (map[Format]int, map[string]int) {
	byFormat := make(map[Format]int, len(formats))
	byName := make(map[string]int, len(formats))
	for i := range formats {
		f := &formats[i]
		if f.BlockWidth == 0 {
			f.BlockWidth = 1
		}
		if f.BlockHeight == 0 {
			f.BlockHeight = 1
		}
		if f.GLClientBytesPerBlock == 0 {
			f.GLClientBytesPerBlock = f.BytesPerBlock
		}
		byFormat[f.Format] = i
		byName[f.Name] = i
	}
	return byFormat, byName
}()

// copyInfo returns a row that shares no memory with the table, so callers
// cannot edit the table through Fallbacks.
func copyInfo(fi FormatInfo) FormatInfo {
	fi.Fallbacks = slices.Clone(fi.Fallbacks)
	return fi
}

// LookupFormat returns the table row of f. The error wraps
// ErrUnsupportedFormat.
func LookupFormat(f Format) (FormatInfo, error) {
	i, ok := formatIndex[f]
	if !ok {
		return FormatInfo{}, fmt.Errorf("bridge: %w: DXGI format %d is not in the format table", ErrUnsupportedFormat, uint32(f))
	}
	return copyInfo(formats[i]), nil
}

// FormatByName returns the row whose Name is name: the DXGI name without
// the DXGI_FORMAT_ prefix, which is also accepted ("R8G8B8A8_UNORM",
// "DXGI_FORMAT_R8G8B8A8_UNORM"). The error wraps ErrUnsupportedFormat.
func FormatByName(name string) (FormatInfo, error) {
	i, ok := formatNameIndex[name]
	if !ok {
		if len(name) > len("DXGI_FORMAT_") && name[:len("DXGI_FORMAT_")] == "DXGI_FORMAT_" {
			i, ok = formatNameIndex[name[len("DXGI_FORMAT_"):]]
		}
	}
	if !ok {
		return FormatInfo{}, fmt.Errorf("bridge: %w: no DXGI format named %q in the format table", ErrUnsupportedFormat, name)
	}
	return copyInfo(formats[i]), nil
}

// Formats returns a copy of the format table, ordered by DXGI value.
func Formats() []FormatInfo {
	out := make([]FormatInfo, len(formats))
	for i, f := range formats {
		out[i] = copyInfo(f)
	}
	return out
}

// String returns the DXGI name of f, or its number when unknown.
func (f Format) String() string {
	if f == FormatUnknown {
		return "UNKNOWN"
	}
	if i, ok := formatIndex[f]; ok {
		return formats[i].Name
	}
	return fmt.Sprintf("DXGI_FORMAT(%d)", uint32(f))
}

// StorageFor returns the storage of fi whose Vulkan format is vkFormat: the
// one an exporter chose, as its allocation record names it.
func (fi FormatInfo) StorageFor(vkFormat uint32) (Storage, bool) {
	for _, s := range fi.Storages() {
		if s.VkFormat == vkFormat {
			return s, true
		}
	}
	return Storage{}, false
}
