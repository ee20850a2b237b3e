package bridge

import "fmt"

// Format is a DXGI_FORMAT value. DXGI's numbering is the lingua franca of
// the Direct3D layers (D3D9 formats are mapped onto it), so resources are
// described in it and the Vulkan and GL formats are looked up from it.
type Format uint32

// DXGI formats glbridge knows. The values are DXGI_FORMAT's.
const (
	FormatUnknown       Format = 0
	FormatR8G8B8A8Unorm Format = 28
	FormatB8G8R8A8Unorm Format = 87
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

// FormatInfo is one row of the format table: how a DXGI format is stored
// in Vulkan and seen in GL.
type FormatInfo struct {
	Format Format
	// Name is the DXGI name without the DXGI_FORMAT_ prefix.
	Name     string
	VkFormat uint32
	// GLInternalFormat is the sized internal format glTexStorageMem*EXT
	// takes for the Vulkan format's memory layout.
	GLInternalFormat uint32
	// Swizzle maps the GL texture's r, g, b, a to what the D3D format
	// means; all SwizzleIdentity when the formats agree.
	Swizzle [4]Swizzle
	// BytesPerBlock is the size of one texel, or of one block for
	// block-compressed formats (whose blocks are 4×4 texels).
	BytesPerBlock uint32
}

// formats is the format table: data, so that every path looks formats up
// the same way instead of growing its own switch.
var formats = []FormatInfo{
	{Format: FormatR8G8B8A8Unorm, Name: "R8G8B8A8_UNORM", VkFormat: 37 /* VK_FORMAT_R8G8B8A8_UNORM */, GLInternalFormat: 0x8058 /* GL_RGBA8 */, BytesPerBlock: 4},
	{Format: FormatB8G8R8A8Unorm, Name: "B8G8R8A8_UNORM", VkFormat: 44 /* VK_FORMAT_B8G8R8A8_UNORM */, GLInternalFormat: 0x8058 /* GL_RGBA8 */, BytesPerBlock: 4,
		// GL has no BGRA8 sized format: the bytes are stored as Vulkan's
		// B8G8R8A8 and the GL texture is told which byte means what.
		Swizzle: [4]Swizzle{SwizzleB, SwizzleG, SwizzleR, SwizzleA}},
}

var formatIndex = func() map[Format]int {
	m := make(map[Format]int, len(formats))
	for i, f := range formats {
		m[f.Format] = i
	}
	return m
}()

// LookupFormat returns the table row of f. The error wraps
// ErrUnsupportedFormat.
func LookupFormat(f Format) (FormatInfo, error) {
	i, ok := formatIndex[f]
	if !ok {
		return FormatInfo{}, fmt.Errorf("bridge: %w: DXGI format %d is not in the format table", ErrUnsupportedFormat, uint32(f))
	}
	return formats[i], nil
}

// String returns the DXGI name of f, or its number when unknown.
func (f Format) String() string {
	if i, ok := formatIndex[f]; ok {
		return formats[i].Name
	}
	return fmt.Sprintf("DXGI_FORMAT(%d)", uint32(f))
}
