package bridge

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// required lists the formats issue 3 names; the table must hold them all.
var required = []string{
	"R8G8B8A8_UNORM", "R8G8B8A8_UNORM_SRGB", "R8G8B8A8_SNORM", "R8G8B8A8_UINT", "R8G8B8A8_SINT",
	"B8G8R8A8_UNORM", "B8G8R8A8_UNORM_SRGB", "B8G8R8X8_UNORM",
	"R10G10B10A2_UNORM", "R10G10B10A2_UINT", "R11G11B10_FLOAT",
	"R16G16B16A16_FLOAT", "R16G16B16A16_UNORM", "R16G16B16A16_UINT",
	"R32G32B32A32_FLOAT", "R32G32B32A32_UINT",
	"R8_UNORM", "R8G8_UNORM", "R16_FLOAT", "R16_UNORM", "R16G16_FLOAT",
	"R32_FLOAT", "R32_UINT", "R32G32_FLOAT", "B5G6R5_UNORM",
	"D16_UNORM", "D24_UNORM_S8_UINT", "D32_FLOAT", "D32_FLOAT_S8X24_UINT",
	"BC1_UNORM", "BC1_UNORM_SRGB", "BC2_UNORM", "BC2_UNORM_SRGB", "BC3_UNORM", "BC3_UNORM_SRGB",
	"BC4_UNORM", "BC4_SNORM", "BC5_UNORM", "BC5_SNORM", "BC6H_UF16", "BC6H_SF16", "BC7_UNORM", "BC7_UNORM_SRGB",
	"A8_UNORM",
	"R8G8B8A8_TYPELESS", "B8G8R8A8_TYPELESS", "R10G10B10A2_TYPELESS", "R16G16B16A16_TYPELESS",
	"R32_TYPELESS", "R24G8_TYPELESS",
}

// GL enums the consistency test needs; their values are checked against
// glext.h with everything else in TestFormatTableAgainstHeaders.
const (
	glRed            = 0x1903
	glRG             = 0x8227
	glRGB            = 0x1907
	glRGBA           = 0x1908
	glBGRA           = 0x80E1
	glRedInteger     = 0x8D94
	glRGInteger      = 0x8228
	glRGBInteger     = 0x8D98
	glRGBAInteger    = 0x8D99
	glDepthComponent = 0x1902
	glDepthStencil   = 0x84F9
)

// glComponents is the number of components each upload format moves.
var glComponents = map[uint32]uint32{
	glRed: 1, glRG: 2, glRGB: 3, glRGBA: 4, glBGRA: 4,
	glRedInteger: 1, glRGInteger: 2, glRGBInteger: 3, glRGBAInteger: 4,
	glDepthComponent: 1,
}

// glTypeSizes: bytes per component for plain types; packed types give the
// size of the whole texel (negative marks them).
var glTypeSizes = map[uint32]int{
	0x1400: 1, 0x1401: 1, // GL_BYTE, GL_UNSIGNED_BYTE
	0x1402: 2, 0x1403: 2, // GL_SHORT, GL_UNSIGNED_SHORT
	0x1404: 4, 0x1405: 4, 0x1406: 4, // GL_INT, GL_UNSIGNED_INT, GL_FLOAT
	0x140B: 2,              // GL_HALF_FLOAT
	0x8363: -2, 0x8366: -2, // GL_UNSIGNED_SHORT_5_6_5, GL_UNSIGNED_SHORT_1_5_5_5_REV
	0x8368: -4, 0x8C3B: -4, 0x8C3E: -4, // _2_10_10_10_REV, _10F_11F_11F_REV, _5_9_9_9_REV
	0x84FA: -4, 0x8DAD: -8, // GL_UNSIGNED_INT_24_8, GL_FLOAT_32_UNSIGNED_INT_24_8_REV
}

func glClientBytes(format, typ uint32) (uint32, bool) {
	size, ok := glTypeSizes[typ]
	if !ok {
		return 0, false
	}
	if size < 0 {
		return uint32(-size), true
	}
	n, ok := glComponents[format]
	if !ok {
		return 0, false
	}
	return n * uint32(size), true
}

// kindFromName derives the numeric kind from the DXGI name's suffixes.
func kindFromName(name string) NumericKind {
	switch {
	case strings.Contains(name, "TYPELESS"):
		return KindTypeless
	case strings.HasPrefix(name, "D24_UNORM"), strings.HasPrefix(name, "D16_UNORM"):
		return KindUnorm
	case strings.HasPrefix(name, "D32_FLOAT"):
		return KindFloat
	case strings.HasSuffix(name, "_UNORM"), strings.HasSuffix(name, "_UNORM_SRGB"):
		return KindUnorm
	case strings.HasSuffix(name, "_SNORM"):
		return KindSnorm
	case strings.HasSuffix(name, "_UINT"):
		return KindUint
	case strings.HasSuffix(name, "_SINT"):
		return KindSint
	case strings.HasSuffix(name, "_FLOAT"), strings.HasSuffix(name, "_UF16"), strings.HasSuffix(name, "_SF16"), strings.HasSuffix(name, "_SHAREDEXP"):
		return KindFloat
	}
	return 0
}

func TestFormatTableConsistency(t *testing.T) {
	all := Formats()
	if len(all) < 40 {
		t.Fatalf("format table has %d formats, want at least 40", len(all))
	}
	t.Logf("format table: %d DXGI formats", len(all))
	names := map[string]bool{}
	for i, f := range all {
		if i > 0 && all[i-1].Format >= f.Format {
			t.Errorf("%s: table not strictly ordered by DXGI value (%d after %d)", f.Name, f.Format, all[i-1].Format)
		}
		if names[f.Name] {
			t.Errorf("%s: name appears twice", f.Name)
		}
		names[f.Name] = true
		if f.Format == FormatUnknown {
			t.Errorf("%s: DXGI value 0 (UNKNOWN) in the table", f.Name)
		}
		if f.Format.String() != f.Name {
			t.Errorf("%s: Format.String() = %q", f.Name, f.Format.String())
		}
		if want := kindFromName(f.Name); f.Kind != want {
			t.Errorf("%s: Kind = %v, the name says %v", f.Name, f.Kind, want)
		}
		if f.SRGB != strings.HasSuffix(f.Name, "_SRGB") {
			t.Errorf("%s: SRGB = %v", f.Name, f.SRGB)
		}
		if f.Compressed != strings.HasPrefix(f.Name, "BC") {
			t.Errorf("%s: Compressed = %v", f.Name, f.Compressed)
		}
		if f.Stencil && !f.Depth {
			t.Errorf("%s: stencil without depth", f.Name)
		}
		if f.Compressed {
			if f.BlockWidth != 4 || f.BlockHeight != 4 {
				t.Errorf("%s: compressed with %dx%d blocks", f.Name, f.BlockWidth, f.BlockHeight)
			}
			if f.BytesPerBlock != 8 && f.BytesPerBlock != 16 {
				t.Errorf("%s: compressed with %d-byte blocks", f.Name, f.BytesPerBlock)
			}
		} else if f.BlockWidth != 1 || f.BlockHeight != 1 {
			t.Errorf("%s: uncompressed with %dx%d blocks", f.Name, f.BlockWidth, f.BlockHeight)
		}
		st := f.Storages()
		if st[0].VkFormat != f.VkFormat || st[0].GLInternalFormat != f.GLInternalFormat || len(st) != 1+len(f.Fallbacks) {
			t.Errorf("%s: Storages()[0] = %+v does not mirror the row", f.Name, st[0])
		}
		for j, s := range st {
			if s.VkFormat == 0 || s.GLInternalFormat == 0 || s.BytesPerBlock == 0 {
				t.Errorf("%s: storage %d has a zero VkFormat, GL internal format or block size: %+v", f.Name, j, s)
			}
			if f.Compressed {
				if s.GLFormat != 0 || s.GLType != 0 || s.GLClientBytesPerBlock != s.BytesPerBlock {
					t.Errorf("%s: compressed storage %d has an upload pair or client size: %+v", f.Name, j, s)
				}
				continue
			}
			// The upload pair must move exactly one texel of client memory
			// per GLClientBytesPerBlock bytes.
			if s.GLFormat == glDepthStencil {
				if n, ok := glClientBytes(0, s.GLType); !ok || n != s.GLClientBytesPerBlock {
					t.Errorf("%s: storage %d: depth-stencil type %#x moves %d bytes, table says %d", f.Name, j, s.GLType, n, s.GLClientBytesPerBlock)
				}
			} else if n, ok := glClientBytes(s.GLFormat, s.GLType); !ok || n != s.GLClientBytesPerBlock {
				t.Errorf("%s: storage %d: GL format %#x type %#x moves %d bytes per texel (known: %v), table says %d", f.Name, j, s.GLFormat, s.GLType, n, ok, s.GLClientBytesPerBlock)
			}
			if f.Depth != (s.GLFormat == glDepthComponent || s.GLFormat == glDepthStencil) {
				t.Errorf("%s: storage %d: Depth = %v but GL upload format %#x", f.Name, j, f.Depth, s.GLFormat)
			}
			if f.Stencil != (s.GLFormat == glDepthStencil) {
				t.Errorf("%s: storage %d: Stencil = %v but GL upload format %#x", f.Name, j, f.Stencil, s.GLFormat)
			}
			if f.Depth {
				continue
			}
			integer := s.GLFormat == glRedInteger || s.GLFormat == glRGInteger || s.GLFormat == glRGBInteger || s.GLFormat == glRGBAInteger
			if integer != (f.Kind == KindUint || f.Kind == KindSint || (f.Kind == KindTypeless && strings.HasPrefix(f.Name, "R32"))) {
				t.Errorf("%s: storage %d: integer upload format %#x does not fit kind %v", f.Name, j, s.GLFormat, f.Kind)
			}
		}
	}
	for _, n := range required {
		if !names[n] {
			t.Errorf("required format %s missing", n)
		}
	}

	// The swizzles the issue spells out.
	wantSwizzle := map[Format][4]Swizzle{
		FormatB8G8R8A8Unorm:     {SwizzleB, SwizzleG, SwizzleR, SwizzleA},
		FormatB8G8R8A8UnormSrgb: {SwizzleB, SwizzleG, SwizzleR, SwizzleA},
		FormatB8G8R8A8Typeless:  {SwizzleB, SwizzleG, SwizzleR, SwizzleA},
		FormatB8G8R8X8Unorm:     {SwizzleB, SwizzleG, SwizzleR, SwizzleOne},
		FormatB8G8R8X8UnormSrgb: {SwizzleB, SwizzleG, SwizzleR, SwizzleOne},
		FormatB8G8R8X8Typeless:  {SwizzleB, SwizzleG, SwizzleR, SwizzleOne},
		FormatA8Unorm:           {SwizzleZero, SwizzleZero, SwizzleZero, SwizzleR},
	}
	for _, f := range all {
		want := wantSwizzle[f.Format]
		if f.Swizzle != want {
			t.Errorf("%s: Swizzle = %v, want %v", f.Name, f.Swizzle, want)
		}
		if f.HasSwizzle() != (want != [4]Swizzle{}) {
			t.Errorf("%s: HasSwizzle = %v", f.Name, f.HasSwizzle())
		}
	}

	// D24S8 falls back to D32S8 where Vulkan lacks it.
	for _, f := range []Format{FormatD24UnormS8Uint, FormatR24G8Typeless} {
		fi, err := LookupFormat(f)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Storages()
		if len(st) != 2 || st[0].VkFormat != 129 || st[1].VkFormat != 130 || st[1].GLInternalFormat != 0x8CAD {
			t.Errorf("%s: storages %+v, want D24_UNORM_S8_UINT then D32_SFLOAT_S8_UINT/GL_DEPTH32F_STENCIL8", fi.Name, st)
		}
	}
}

func TestFormatLookups(t *testing.T) {
	fi, err := LookupFormat(FormatR10G10B10A2Unorm)
	if err != nil || fi.Name != "R10G10B10A2_UNORM" || fi.VkFormat != 64 || fi.GLInternalFormat != 0x8059 {
		t.Errorf("LookupFormat(R10G10B10A2_UNORM) = %+v, %v", fi, err)
	}
	if _, err := LookupFormat(Format(999)); !errors.Is(err, ErrUnsupportedFormat) || !strings.Contains(err.Error(), "999") {
		t.Errorf("LookupFormat(999) error = %v, want ErrUnsupportedFormat naming 999", err)
	}
	if _, err := LookupFormat(FormatUnknown); !errors.Is(err, ErrUnsupportedFormat) {
		t.Errorf("LookupFormat(UNKNOWN) error = %v, want ErrUnsupportedFormat", err)
	}
	for _, name := range []string{"B5G6R5_UNORM", "DXGI_FORMAT_B5G6R5_UNORM"} {
		fi, err := FormatByName(name)
		if err != nil || fi.Format != FormatB5G6R5Unorm {
			t.Errorf("FormatByName(%q) = %v, %v", name, fi.Format, err)
		}
	}
	if _, err := FormatByName("R8G8B8_UNORM"); !errors.Is(err, ErrUnsupportedFormat) || !strings.Contains(err.Error(), "R8G8B8_UNORM") {
		t.Errorf("FormatByName(R8G8B8_UNORM) error = %v", err)
	}
	if s := Format(999).String(); s != "DXGI_FORMAT(999)" {
		t.Errorf("Format(999).String() = %q", s)
	}

	// Callers get copies: editing them must not edit the table.
	a := Formats()
	a[0].Name = "CHANGED"
	d, _ := LookupFormat(FormatD24UnormS8Uint)
	d.Fallbacks[0].VkFormat = 1
	if Formats()[0].Name == "CHANGED" {
		t.Error("Formats() shares rows with the table")
	}
	if d2, _ := LookupFormat(FormatD24UnormS8Uint); d2.Fallbacks[0].VkFormat != 130 {
		t.Error("LookupFormat shares Fallbacks with the table")
	}
}

// TestFormatConstantNames checks that every Format constant's name spells
// its row's DXGI name, so FormatR10G10B10A2Unorm cannot hold 25.
func TestFormatConstantNames(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "format.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			id, ok := vs.Type.(*ast.Ident)
			if !ok || id.Name != "Format" {
				continue
			}
			for i, name := range vs.Names {
				lit := vs.Values[i].(*ast.BasicLit)
				v, _ := strconv.ParseUint(lit.Value, 0, 32)
				want := strings.ToUpper(strings.TrimPrefix(name.Name, "Format"))
				got := strings.ReplaceAll(Format(v).String(), "_", "")
				if got != want {
					t.Errorf("%s = %d, but row %d is named %s", name.Name, v, v, Format(v))
				}
				n++
			}
		}
	}
	if n != len(formats)+1 {
		t.Errorf("%d Format constants for %d rows (plus UNKNOWN)", n, len(formats))
	}
}

// headerEnums reads `NAME = value` enumerators or `#define NAME value`
// lines whose names start with prefix.
func headerEnums(t *testing.T, path, prefix string, into map[string]uint64) bool {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Logf("skipping %s: %v", path, err)
		return false
	}
	data := string(raw)
	if prefix == "VK_FORMAT_" {
		// Only the VkFormat enum: VK_FORMAT_FEATURE_* share the prefix.
		i := strings.Index(data, "typedef enum VkFormat {")
		j := strings.Index(data, "} VkFormat;")
		if i < 0 || j < i {
			t.Fatalf("%s: no VkFormat enum", path)
		}
		data = data[i:j]
	}
	re := regexp.MustCompile(`(?m)^\s*(?:#define\s+(` + prefix + `\w+)\s+(0x[0-9A-Fa-f]+|\d+)\b|(` + prefix + `\w+)\s*=\s*(0x[0-9A-Fa-f]+|\d+)\s*,)`)
	for _, m := range re.FindAllStringSubmatch(data, -1) {
		name, val := m[1], m[2]
		if name == "" {
			name, val = m[3], m[4]
		}
		v, err := strconv.ParseUint(val, 0, 64)
		if err != nil {
			t.Fatalf("%s: %s = %s: %v", path, name, val, err)
		}
		into[name] = v
	}
	return true
}

// vkTraits is what vulkan_format_traits.hpp says about one VkFormat.
type vkTraits struct {
	blockSize         uint32
	blockW, blockH    uint32
	compressed        bool
	haveSize, haveExt bool
}

// readVkTraits maps VK_FORMAT_* names to their traits, translating the C++
// enumerator names through vulkan_enums.hpp.
func readVkTraits(t *testing.T) map[string]*vkTraits {
	enums, err := os.ReadFile("/usr/include/vulkan/vulkan_enums.hpp")
	if err != nil {
		t.Logf("skipping Vulkan format traits: %v", err)
		return nil
	}
	traits, err := os.ReadFile("/usr/include/vulkan/vulkan_format_traits.hpp")
	if err != nil {
		t.Logf("skipping Vulkan format traits: %v", err)
		return nil
	}
	cppToC := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s*(e\w+)\s*=\s*(VK_FORMAT_\w+)\s*,?`).FindAllStringSubmatch(string(enums), -1) {
		cppToC[m[1]] = m[2]
	}
	out := map[string]*vkTraits{}
	get := func(cpp string) *vkTraits {
		c, ok := cppToC[cpp]
		if !ok {
			t.Fatalf("vulkan_format_traits.hpp names %s, which vulkan_enums.hpp lacks", cpp)
		}
		if out[c] == nil {
			out[c] = &vkTraits{}
		}
		return out[c]
	}
	// Each trait is a function whose body is a switch over the format.
	body := func(fn string) string {
		s := string(traits)
		i := strings.Index(s, " "+fn+"(")
		if i < 0 {
			t.Fatalf("vulkan_format_traits.hpp has no %s", fn)
		}
		s = s[i:]
		if j := strings.Index(s, "\n  }\n"); j >= 0 {
			s = s[:j]
		}
		return s
	}
	caseRe := `case VULKAN_HPP_NAMESPACE::Format::(e\w+):`
	for _, m := range regexp.MustCompile(caseRe+` return (\d+);`).FindAllStringSubmatch(body("blockSize"), -1) {
		v, _ := strconv.Atoi(m[2])
		tr := get(m[1])
		tr.blockSize, tr.haveSize = uint32(v), true
	}
	for _, m := range regexp.MustCompile(caseRe+` return \{ \{ (\d+), (\d+), (\d+) \} \};`).FindAllStringSubmatch(body("blockExtent"), -1) {
		w, _ := strconv.Atoi(m[2])
		h, _ := strconv.Atoi(m[3])
		tr := get(m[1])
		tr.blockW, tr.blockH, tr.haveExt = uint32(w), uint32(h), true
	}
	for _, m := range regexp.MustCompile(caseRe+` return "(\w*)";`).FindAllStringSubmatch(body("compressionScheme"), -1) {
		get(m[1]).compressed = m[2] != ""
	}
	return out
}

// TestFormatTableAgainstHeaders makes the table self-verifying: every
// Vulkan and GL number in format.go carries its enum name in a comment,
// and this test looks each name up in the installed headers. It then
// checks block sizes, block extents, compression and numeric kind against
// vulkan_format_traits.hpp.
func TestFormatTableAgainstHeaders(t *testing.T) {
	vk := map[string]uint64{}
	gl := map[string]uint64{}
	haveVk := headerEnums(t, "/usr/include/vulkan/vulkan_core.h", "VK_FORMAT_", vk)
	haveGL := headerEnums(t, "/usr/include/GL/gl.h", "GL_", gl)
	haveGL = headerEnums(t, "/usr/include/GL/glext.h", "GL_", gl) && haveGL
	if !haveVk && !haveGL {
		t.Skip("neither the Vulkan nor the GL headers are installed; numbers unchecked")
	}
	// glext.h spells a few enums as other enums; none of ours.

	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "format.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	// The comment right after a literal on the same line names it.
	commentAfter := func(lit *ast.BasicLit) string {
		line := fset.Position(lit.End()).Line
		for _, cg := range f.Comments {
			if cg.Pos() >= lit.End() && fset.Position(cg.Pos()).Line == line {
				txt := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(cg.List[0].Text, "/*"), "*/"))
				return txt
			}
		}
		return ""
	}
	checked := map[string]int{}
	ast.Inspect(f, func(n ast.Node) bool {
		kv, ok := n.(*ast.KeyValueExpr)
		if !ok {
			return true
		}
		key, ok := kv.Key.(*ast.Ident)
		if !ok {
			return true
		}
		var table map[string]uint64
		var have bool
		var prefix string
		switch key.Name {
		case "VkFormat":
			table, have, prefix = vk, haveVk, "VK_FORMAT_"
		case "GLInternalFormat", "GLFormat", "GLType":
			table, have, prefix = gl, haveGL, "GL_"
		default:
			return true
		}
		lit, ok := kv.Value.(*ast.BasicLit)
		if !ok {
			return true // Storages copying fields, not table data
		}
		val, err := strconv.ParseUint(lit.Value, 0, 32)
		if err != nil {
			t.Errorf("%s: %s = %s: %v", fset.Position(lit.Pos()), key.Name, lit.Value, err)
			return true
		}
		name := commentAfter(lit)
		if !strings.HasPrefix(name, prefix) {
			t.Errorf("%s: %s = %s has no /* %s... */ comment naming it", fset.Position(lit.Pos()), key.Name, lit.Value, prefix)
			return true
		}
		if !have {
			return true
		}
		want, ok := table[name]
		if !ok {
			t.Errorf("%s: %s is not in the installed headers", fset.Position(lit.Pos()), name)
			return true
		}
		if want != val {
			t.Errorf("%s: %s = %s, but the headers define %s = %#x (%d)", fset.Position(lit.Pos()), key.Name, lit.Value, name, want, want)
		}
		checked[key.Name]++
		return true
	})
	t.Logf("checked against headers: %v", checked)
	if haveVk && checked["VkFormat"] < len(formats) {
		t.Errorf("only %d VkFormat numbers checked for %d rows", checked["VkFormat"], len(formats))
	}

	traits := readVkTraits(t)
	if traits == nil || !haveVk {
		return
	}
	vkName := map[uint64]string{}
	for n, v := range vk {
		if _, dup := vkName[v]; !dup || strings.HasSuffix(vkName[v], "_KHR") || strings.HasSuffix(vkName[v], "_EXT") {
			vkName[v] = n
		}
	}
	numericKind := map[string]NumericKind{"UNORM": KindUnorm, "SRGB": KindUnorm, "SNORM": KindSnorm, "UINT": KindUint, "SINT": KindSint, "SFLOAT": KindFloat, "UFLOAT": KindFloat}
	for _, fi := range Formats() {
		for j, s := range fi.Storages() {
			name := vkName[uint64(s.VkFormat)]
			tr := traits[name]
			if tr == nil || !tr.haveSize {
				t.Errorf("%s: storage %d: no traits for VkFormat %d (%s)", fi.Name, j, s.VkFormat, name)
				continue
			}
			if tr.blockSize != s.BytesPerBlock {
				t.Errorf("%s: storage %d: BytesPerBlock = %d, %s blocks are %d bytes", fi.Name, j, s.BytesPerBlock, name, tr.blockSize)
			}
			if !tr.haveExt {
				tr.blockW, tr.blockH = 1, 1 // blockExtent's default case
			}
			if tr.blockW != fi.BlockWidth || tr.blockH != fi.BlockHeight {
				t.Errorf("%s: storage %d: blocks %dx%d, %s has %dx%d", fi.Name, j, fi.BlockWidth, fi.BlockHeight, name, tr.blockW, tr.blockH)
			}
			if tr.compressed != fi.Compressed {
				t.Errorf("%s: storage %d: Compressed = %v, %s compressed = %v", fi.Name, j, fi.Compressed, name, tr.compressed)
			}
			if j > 0 || fi.Kind == KindTypeless {
				continue // fallbacks and typeless storage may differ in kind
			}
			// The kind comes from the VkFormat's name: the traits header of
			// some releases (239 among them) calls BC4/BC5_SNORM "SRGB",
			// a vk.xml error fixed upstream.
			var vkKind string
			for _, tok := range strings.Split(name, "_") {
				if _, ok := numericKind[tok]; ok && vkKind == "" {
					vkKind = tok // the first: depth's, not stencil's
				}
			}
			if k := numericKind[vkKind]; k != fi.Kind {
				t.Errorf("%s: Kind = %v, but %s is %s", fi.Name, fi.Kind, name, vkKind)
			}
			if (vkKind == "SRGB") != fi.SRGB {
				t.Errorf("%s: SRGB = %v, but %s is %s", fi.Name, fi.SRGB, name, vkKind)
			}
		}
	}
}
