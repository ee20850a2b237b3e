package bridge

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"
)

// record is a valid Allocation of dim with n layers (cubes, slices) of s
// samples, 16×16 (16 wide for 1D), 1 level, stored in f's preferred
// storage.
func record(dim Dimension, n, s uint32, f Format) Allocation {
	d := Desc{Dimension: dim, Width: 16, Height: 16, DepthOrArraySize: n, MipLevels: 1, SampleCount: s, Format: f}
	switch dim {
	case DimensionTexture1D:
		d.Height = 1
	case DimensionTextureCube:
		d.MiscFlags = miscTextureCube
	}
	fi, _ := LookupFormat(f)
	return Allocation{Desc: d, VkFormat: fi.VkFormat, Size: 1 << 16}
}

// TestGLTextureTargets checks every row of the target table in GLTexture's
// documentation, with the size arguments of the storage call each takes.
func TestGLTextureTargets(t *testing.T) {
	for _, tc := range []struct {
		dim                  Dimension
		n, s                 uint32
		target               uint32
		width, height, depth uint32
	}{
		{DimensionTexture1D, 1, 1, glTexture1D, 16, 1, 1},
		{DimensionTexture1D, 4, 1, glTexture1DArray, 16, 4, 1},
		{DimensionTexture2D, 1, 1, glTexture2D, 16, 16, 1},
		{DimensionTexture2D, 4, 1, glTexture2DArray, 16, 16, 4},
		{DimensionTexture2D, 1, 4, glTexture2DMultisample, 16, 16, 1},
		{DimensionTexture2D, 3, 4, glTexture2DMultisampleArray, 16, 16, 3},
		{DimensionTexture3D, 1, 1, glTexture3D, 16, 16, 1},
		{DimensionTexture3D, 5, 1, glTexture3D, 16, 16, 5},
		{DimensionTextureCube, 1, 1, glTextureCubeMap, 16, 16, 1},
		{DimensionTextureCube, 2, 1, glTextureCubeMapArray, 16, 16, 12},
	} {
		a := record(tc.dim, tc.n, tc.s, FormatR8G8B8A8Unorm)
		got, err := a.GLTexture()
		if err != nil {
			t.Errorf("%s: %v", a.Desc, err)
			continue
		}
		want := GLTexture{
			Target:         tc.target,
			InternalFormat: 0x8058, // GL_RGBA8
			Format:         0x1908, // GL_RGBA
			Type:           0x1401, // GL_UNSIGNED_BYTE
			Width:          tc.width, Height: tc.height, Depth: tc.depth,
			Levels: 1, Samples: tc.s,
		}
		if got != want {
			t.Errorf("%s:\n got %+v\nwant %+v", a.Desc, got, want)
		}
	}
}

// TestGLTextureStorage: the formats and swizzle are those of the storage
// the memory holds: the exporter's fallback where it chose one, the
// preferred one for host memory whatever VkFormat says; and the levels
// are the description's.
func TestGLTextureStorage(t *testing.T) {
	d24 := record(DimensionTexture2D, 1, 1, FormatD24UnormS8Uint)
	d24.VkFormat = 130 // VK_FORMAT_D32_SFLOAT_S8_UINT, the fallback
	tex, err := d24.GLTexture()
	if err != nil {
		t.Fatal(err)
	}
	if tex.InternalFormat != 0x8CAD /* GL_DEPTH32F_STENCIL8 */ || tex.Format != 0x84F9 /* GL_DEPTH_STENCIL */ || tex.Type != 0x8DAD /* GL_FLOAT_32_UNSIGNED_INT_24_8_REV */ {
		t.Errorf("D24S8 stored as D32S8: %+v", tex)
	}
	if st, err := d24.Storage(); err != nil || st.VkFormat != 130 || st.GLClientBytesPerBlock != 8 {
		t.Errorf("Storage() = %+v, %v, want the D32S8 fallback", st, err)
	}

	host := record(DimensionTexture2D, 1, 1, FormatB8G8R8A8Unorm)
	host.HostMemory, host.VkFormat = true, 0
	host.Desc.MipLevels = 5
	tex, err = host.GLTexture()
	if err != nil {
		t.Fatal(err)
	}
	if bgra := [4]Swizzle{SwizzleB, SwizzleG, SwizzleR, SwizzleA}; tex.InternalFormat != 0x8058 /* GL_RGBA8 */ || tex.Swizzle != bgra || tex.Levels != 5 {
		t.Errorf("host-memory B8G8R8A8 with 5 levels: %+v", tex)
	}

	bc7 := record(DimensionTexture3D, 4, 1, FormatBC7Unorm)
	if tex, err := bc7.GLTexture(); err != nil || tex.Target != glTexture3D || tex.Format != 0 || tex.Type != 0 {
		t.Errorf("3D BC7 (BPTC, which GL has in 3D): %+v, %v", tex, err)
	}
}

// TestGLTextureRefusals: each rule refuses with its sentinel and says
// which rule it is.
func TestGLTextureRefusals(t *testing.T) {
	buf := Allocation{Desc: Desc{Dimension: DimensionBuffer, Width: 4096, Height: 1, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1}, Size: 4096}
	unknown := record(DimensionTexture2D, 1, 1, FormatR8G8B8A8Unorm)
	unknown.Desc.Format = Format(9999)
	wrongStorage := record(DimensionTexture2D, 1, 1, FormatR8G8B8A8Unorm)
	wrongStorage.VkFormat = 44 // VK_FORMAT_B8G8R8A8_UNORM: not a storage of R8G8B8A8
	invalid := record(DimensionTexture2D, 1, 1, FormatR8G8B8A8Unorm)
	invalid.Desc.Height = 0
	msCube := record(DimensionTextureCube, 1, 4, FormatR8G8B8A8Unorm)
	ms3D := record(DimensionTexture3D, 4, 4, FormatR8G8B8A8Unorm)
	emptyHost := record(DimensionTexture2D, 1, 1, FormatR8G8B8A8Unorm)
	emptyHost.HostMemory, emptyHost.Size = true, 0
	cases := []struct {
		name     string
		a        Allocation
		sentinel error
		want     string
	}{
		{"buffer", buf, ErrUnsupportedFormat, "a buffer is not a texture"},
		{"unknown format", unknown, ErrUnsupportedFormat, "DXGI format 9999"},
		{"VkFormat of another format", wrongStorage, ErrUnsupportedFormat, "VkFormat 44 is not one of its storages"},
		{"height 0", invalid, ErrInvalidDesc, "Height = 0"},
		{"multisampled cube", msCube, ErrInvalidDesc, "only texture2d may be multisampled"},
		{"multisampled 3D", ms3D, ErrInvalidDesc, "only texture2d may be multisampled"},
		{"host memory of size 0", emptyHost, ErrInvalidDesc, "host-memory record of no size"},
	}
	for _, f := range []Format{FormatBC1Unorm, FormatBC2Unorm, FormatBC3UnormSrgb, FormatBC4Snorm, FormatBC5Typeless} {
		cases = append(cases, struct {
			name     string
			a        Allocation
			sentinel error
			want     string
		}{"3D " + f.String(), record(DimensionTexture3D, 4, 1, f), ErrUnsupportedFormat, "GL has no 3D textures in S3TC or RGTC formats"})
	}
	for _, tc := range cases {
		tex, err := tc.a.GLTexture()
		if !errors.Is(err, tc.sentinel) || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "bridge: ") {
			t.Errorf("%s: GLTexture() = %+v, %v; want an error wrapping %v naming %q", tc.name, tex, err, tc.sentinel, tc.want)
		}
	}
}

// TestGLTextureNoInternalFormat: a storage without a GL internal format
// is refused. No row of the table has one today, so the test makes one,
// and puts the row back.
func TestGLTextureNoInternalFormat(t *testing.T) {
	i := formatIndex[FormatR8G8B8A8Unorm]
	saved := formats[i].GLInternalFormat
	formats[i].GLInternalFormat = 0
	t.Cleanup(func() { formats[i].GLInternalFormat = saved })
	_, err := record(DimensionTexture2D, 1, 1, FormatR8G8B8A8Unorm).GLTexture()
	if !errors.Is(err, ErrUnsupportedFormat) || !strings.Contains(err.Error(), "has no GL internal format") {
		t.Errorf("GLTexture() with no GL internal format: %v", err)
	}
}

// TestGLTargetsAgainstHeaders: every target number in gltexture.go
// carries its enum name in a comment, and the installed GL headers agree
// (glimport's tests compare the same numbers with go-gl's).
func TestGLTargetsAgainstHeaders(t *testing.T) {
	gl := map[string]uint64{}
	have := headerEnums(t, "/usr/include/GL/gl.h", "GL_", gl)
	have = headerEnums(t, "/usr/include/GL/glext.h", "GL_", gl) && have
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "gltexture.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, decl := range f.Decls {
		g, ok := decl.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			lit, ok := vs.Values[0].(*ast.BasicLit)
			if !ok || !strings.HasPrefix(vs.Names[0].Name, "glTexture") {
				continue
			}
			n++
			val, err := strconv.ParseUint(lit.Value, 0, 32)
			if err != nil {
				t.Fatal(err)
			}
			name := ""
			if vs.Comment != nil {
				name = strings.TrimSpace(strings.TrimPrefix(vs.Comment.List[0].Text, "//"))
			}
			if !strings.HasPrefix(name, "GL_TEXTURE_") {
				t.Errorf("%s: %s has no // GL_TEXTURE_... comment naming it", fset.Position(lit.Pos()), vs.Names[0].Name)
				continue
			}
			if !have {
				continue
			}
			if want, ok := gl[name]; !ok {
				t.Errorf("%s: %s is not in the installed headers", fset.Position(lit.Pos()), name)
			} else if want != val {
				t.Errorf("%s: %s = %s, but the headers define %s = %#x", fset.Position(lit.Pos()), vs.Names[0].Name, lit.Value, name, want)
			}
		}
	}
	if n != 9 {
		t.Errorf("found %d target constants, want the 9 of the table", n)
	}
	if !have {
		t.Skip("GL headers not installed; numbers unchecked")
	}
}
