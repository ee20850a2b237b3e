package layering

import (
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The exported API of a public package (one outside internal/, cmd/ and
// samples/) mentions no type of an internal package and no C type.
//
// The packages are read from the compiler's own export data (go list
// -export, then go/importer's "gc" importer reading those files), not
// from source: the source importer would run cgo again on internal/vk,
// internal/egl and go-gl's giant GL binding at every run, with its own
// idea of the C flags, whereas export data is what the build made, cgo
// already resolved, and in the build cache. A cgo type appears there as
// a named type "_Ctype_..." of the package that used C; a package "C" is
// checked as well for other importers. Scanning go doc's text would be
// cheaper, but it cannot tell a type from a word in a doc comment.

// badType says why a named type (or alias) may not appear in an exported
// API, or "" if it may.
func badType(obj types.Object) string {
	if obj == nil || obj.Pkg() == nil {
		return ""
	}
	path := obj.Pkg().Path()
	switch {
	case path == "C" || strings.HasPrefix(obj.Name(), "_Ctype_"):
		return "the C type " + strings.TrimPrefix(obj.Name(), "_Ctype_") + " (" + path + "." + obj.Name() + ")"
	case isInternal(path):
		return "the internal type " + path + "." + obj.Name()
	}
	return ""
}

// apiChecker walks the exported API of one package.
type apiChecker struct {
	pkg        *types.Package
	seen       map[*types.TypeName]bool // unexported types of pkg already walked
	violations []string
}

// checkAPI returns one line per place where pkg's exported API mentions
// an internal or C type, sorted.
func checkAPI(pkg *types.Package) []string {
	c := &apiChecker{pkg: pkg, seen: map[*types.TypeName]bool{}}
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		obj := scope.Lookup(name)
		if !obj.Exported() {
			continue
		}
		switch obj := obj.(type) {
		case *types.Func:
			c.signature("func "+name, obj.Type().(*types.Signature))
		case *types.Var:
			c.typ("var "+name, obj.Type())
		case *types.Const:
			c.typ("const "+name, obj.Type())
		case *types.TypeName:
			where := "type " + name
			switch t := obj.Type().(type) {
			case *types.Named:
				c.typeParams(where, t.TypeParams())
				c.surface(where, t)
			default: // an alias
				c.typ(where, t)
			}
		}
	}
	sort.Strings(c.violations)
	return slices.Compact(c.violations)
}

func (c *apiChecker) report(where, why string) {
	c.violations = append(c.violations, fmt.Sprintf("%s: %s mentions %s", c.pkg.Path(), where, why))
}

// surface walks what a named type of pkg shows: its underlying type
// (exported fields only) and its exported methods, promoted ones too.
func (c *apiChecker) surface(where string, t *types.Named) {
	c.typ(where, t.Underlying())
	var ms *types.MethodSet
	if types.IsInterface(t) {
		ms = types.NewMethodSet(t)
	} else {
		ms = types.NewMethodSet(types.NewPointer(t))
	}
	for sel := range ms.Methods() {
		if m := sel.Obj(); m.Exported() && !types.IsInterface(t) {
			c.signature(where+": method "+m.Name(), m.Type().(*types.Signature))
		}
	}
}

func (c *apiChecker) typeParams(where string, tps *types.TypeParamList) {
	for tp := range tps.TypeParams() {
		c.typ(where+": type parameter "+tp.Obj().Name(), tp.Constraint())
	}
}

func (c *apiChecker) signature(where string, sig *types.Signature) {
	c.typeParams(where, sig.TypeParams())
	for i := range sig.Params().Len() {
		v := sig.Params().At(i)
		c.typ(fmt.Sprintf("%s: parameter %d%s", where, i, name(v)), v.Type())
	}
	for i := range sig.Results().Len() {
		v := sig.Results().At(i)
		c.typ(fmt.Sprintf("%s: result %d%s", where, i, name(v)), v.Type())
	}
}

func name(v *types.Var) string {
	if v.Name() == "" || v.Name() == "_" {
		return ""
	}
	return " (" + v.Name() + ")"
}

// typ walks a type as it appears in the API.
func (c *apiChecker) typ(where string, t types.Type) {
	switch t := t.(type) {
	case *types.Alias:
		if why := badType(t.Obj()); why != "" {
			c.report(where, why)
			return
		}
		for a := range t.TypeArgs().Types() {
			c.typ(where+": type argument", a)
		}
		c.typ(where, t.Rhs())
	case *types.Named:
		obj := t.Obj()
		if why := badType(obj); why != "" {
			c.report(where, why)
			return
		}
		for a := range t.TypeArgs().Types() {
			c.typ(where+": type argument", a)
		}
		// An unexported type of the package is API where the API shows
		// it (a result, a field): walk what it exposes, once. Exported
		// types are walked as themselves; other packages' types are
		// those packages' concern.
		if obj.Pkg() == c.pkg && !obj.Exported() && !c.seen[obj] {
			c.seen[obj] = true
			c.surface(where+" (unexported type "+obj.Name()+")", t.Origin())
		}
	case *types.Pointer:
		c.typ(where, t.Elem())
	case *types.Slice:
		c.typ(where, t.Elem())
	case *types.Array:
		c.typ(where, t.Elem())
	case *types.Chan:
		c.typ(where, t.Elem())
	case *types.Map:
		c.typ(where, t.Key())
		c.typ(where, t.Elem())
	case *types.Signature:
		c.signature(where, t)
	case *types.Struct:
		for f := range t.Fields() {
			switch {
			case f.Exported():
				c.typ(where+": field "+f.Name(), f.Type())
			case f.Embedded():
				// Unexported, but its exported fields are promoted (its
				// methods are in the method set surface walks).
				et := f.Type()
				if p, ok := et.(*types.Pointer); ok {
					et = p.Elem()
				}
				if s, ok := et.Underlying().(*types.Struct); ok {
					c.typ(where+": embedded "+f.Name(), s)
				}
			}
		}
	case *types.Interface:
		for m := range t.Methods() {
			if m.Exported() {
				c.signature(where+": method "+m.Name(), m.Type().(*types.Signature))
			}
		}
		for e := range t.EmbeddedTypes() {
			c.typ(where+": embedded", e)
		}
	case *types.Union:
		for i := range t.Len() {
			c.typ(where+": term", t.Term(i).Type())
		}
	case *types.Tuple:
		for v := range t.Variables() {
			c.typ(where, v.Type())
		}
	case *types.Basic, *types.TypeParam, nil:
		// Type parameters are walked where they are declared.
	default:
		panic(fmt.Sprintf("%s: unexpected type %T", where, t))
	}
}

// publicPackages are the module's packages outside internal/, cmd/ and
// samples/ that have non-test files.
func publicPackages(t testing.TB, root, mod string) []string {
	var pub []string
	for _, l := range goList(t, root, "-json=ImportPath,GoFiles,CgoFiles", "./...") {
		rel := strings.TrimPrefix(strings.TrimPrefix(l.ImportPath, mod), "/")
		if isInternal(rel) || under(rel, "cmd") || under(rel, "samples") || len(l.GoFiles)+len(l.CgoFiles) == 0 {
			continue
		}
		pub = append(pub, l.ImportPath)
	}
	return pub
}

// TestExportedAPI checks every public package of the module.
func TestExportedAPI(t *testing.T) {
	root, mod := module(t)
	pub := publicPackages(t, root, mod)
	for _, want := range []string{"bridge", "bridge/d3d", "bridge/broker", "glimport", "helperdev", "headless", "vkalloc", "handoff", "share"} {
		if !slices.Contains(pub, mod+"/"+want) {
			t.Errorf("public package %s is missing from go list (moved? then update this list)", want)
		}
	}
	t.Logf("public packages: %s", strings.Join(pub, " "))

	export := map[string]string{}
	for _, l := range goList(t, root, append([]string{"-export", "-json=ImportPath,Export,Error"}, pub...)...) {
		if l.Error != nil {
			t.Errorf("go list -export: %s: %s", l.ImportPath, l.Error.Err)
			continue
		}
		export[l.ImportPath] = l.Export
	}
	imp := importer.ForCompiler(token.NewFileSet(), "gc", func(path string) (io.ReadCloser, error) {
		f, ok := export[path]
		if !ok || f == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(f)
	})
	for _, path := range pub {
		if export[path] == "" {
			continue // reported above
		}
		p, err := imp.Import(path)
		if err != nil {
			t.Errorf("import %s: %v", path, err)
			continue
		}
		if len(p.Scope().Names()) == 0 {
			t.Errorf("%s: export data has no objects", path)
		}
		for _, v := range checkAPI(p) {
			t.Error(v)
		}
	}
}

// fakeImporter type-checks made-up packages from source.
type fakeImporter struct {
	fset *token.FileSet
	src  map[string]string
	pkgs map[string]*types.Package
}

func (f *fakeImporter) Import(path string) (*types.Package, error) {
	if p := f.pkgs[path]; p != nil {
		return p, nil
	}
	if path == "C" { // what a "C" package would hold: C.VkDevice
		p := types.NewPackage("C", "C")
		tn := types.NewTypeName(token.NoPos, p, "VkDevice", nil)
		types.NewNamed(tn, types.NewPointer(types.Typ[types.Int8]), nil)
		p.Scope().Insert(tn)
		p.MarkComplete()
		f.pkgs[path] = p
		return p, nil
	}
	src, ok := f.src[path]
	if !ok {
		return nil, fmt.Errorf("no package %s", path)
	}
	file, err := parser.ParseFile(f.fset, path+".go", src, 0)
	if err != nil {
		return nil, err
	}
	conf := types.Config{Importer: f}
	p, err := conf.Check(path, f.fset, []*ast.File{file}, nil)
	if err != nil {
		return nil, err
	}
	f.pkgs[path] = p
	return p, nil
}

// TestCheckAPI shows that the API check fails for real, on made-up
// packages.
func TestCheckAPI(t *testing.T) {
	const head = `package pub
import (
	"io"
	"sync"
	"example.com/m/internal/vk"
	"example.com/m/other"
)
var _ = io.EOF
var _ sync.Mutex
var _ vk.Device
var _ other.T
`
	deps := map[string]string{
		// Stand-ins for the standard library's: public packages.
		"io": `package io
type Reader interface{ Read(p []byte) (n int, err error) }
var EOF error
`,
		"sync": `package sync
type Mutex struct{ state int32 }
func (m *Mutex) Lock() {}
func (m *Mutex) Unlock() {}
`,
		"example.com/m/internal/vk": `package vk
type Device struct{ N int }
type Handle = uint64
type Format uint32
type Getter interface{ Get() int }
func (d *Device) Self() *Device { return d }
`,
		"example.com/m/other": `package other
import "example.com/m/internal/vk"
type T struct{ D *vk.Device } // other's own problem, not pub's
`,
	}
	tests := []struct {
		name string
		src  string
		want []string // the places reported, one per violation
	}{
		{"clean", `
type Image struct {
	dev  *vk.Device
	Size int
	R    io.Reader
	sync.Mutex
	O    *other.T
}
func (i *Image) dev2() *vk.Device { return i.dev }
func (i *Image) Close() error { return nil }
type hidden struct{}
func (hidden) Dev() *vk.Device { return nil }
func New(int) (*Image, error) { return nil, nil }
func unexported(*vk.Device) {}
var v = vk.Format(0)
const Count = 3
type List[T any] []T
`, nil},
		{"func result", `func New() (*vk.Device, error) { return nil, nil }`,
			[]string{"func New: result 0 mentions the internal type example.com/m/internal/vk.Device"}},
		{"func parameter, in a slice of maps", `func Use(ds []map[string]*vk.Device) {}`,
			[]string{"func Use: parameter 0 (ds) mentions the internal type"}},
		{"exported field", `type Image struct{ Dev *vk.Device; n int }`,
			[]string{"type Image: field Dev mentions the internal type"}},
		{"embedded internal type", `type Image struct{ *vk.Device }`,
			[]string{"type Image: field Device mentions the internal type", "type Image: method Self: result 0 mentions the internal type"}},
		{"method", `type Image struct{}
func (Image) Device() chan<- vk.Device { return nil }`,
			[]string{"type Image: method Device: result 0 mentions the internal type"}},
		{"promoted method of an embedded unexported type", `type inner struct{}
func (*inner) Format() vk.Format { return 0 }
type Image struct{ *inner }`,
			[]string{"type Image: method Format: result 0 mentions the internal type example.com/m/internal/vk.Format"}},
		{"unexported type shown by an exported func", `type impl struct{ Dev vk.Device }
func New() *impl { return nil }`,
			[]string{"func New: result 0 (unexported type impl): field Dev mentions the internal type"}},
		{"var and const", `var Default *vk.Device
const Fmt = vk.Format(3)`,
			[]string{"var Default mentions", "const Fmt mentions the internal type example.com/m/internal/vk.Format"}},
		{"alias of an internal type", `type Device = vk.Device`,
			[]string{"type Device mentions the internal type example.com/m/internal/vk.Device"}},
		{"internal alias", `func H() vk.Handle { return 0 }`,
			[]string{"func H: result 0 mentions the internal type example.com/m/internal/vk.Handle"}},
		{"interface method", `type Source interface{ Next(func(vk.Format) bool) }`,
			[]string{"type Source: method Next: parameter 0: parameter 0 mentions the internal type"}},
		{"embedded internal interface", `type Source interface{ vk.Getter }`,
			[]string{"type Source: embedded mentions the internal type example.com/m/internal/vk.Getter"}},
		{"generic constraint and type argument", `func F[T interface{ ~int | vk.Format }](T) {}
type L[T any] []T
var X L[vk.Handle]`,
			[]string{"func F: type parameter T: embedded: term mentions", "var X: type argument mentions the internal type example.com/m/internal/vk.Handle"}},
		{"cgo type", `type _Ctype_int int32
func Size() _Ctype_int { return 0 }`,
			[]string{"func Size: result 0 mentions the C type int (example.com/m/pub._Ctype_int)"}},
		{"C package", `import "C"
type Handle struct{ N C.VkDevice }`,
			[]string{"type Handle: field N mentions the C type VkDevice (C.VkDevice)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := head + tt.src
			if i := strings.Index(tt.src, "import \"C\"\n"); i >= 0 { // imports go first
				src = strings.Replace(head, "import (", "import (\n\t\"C\"", 1) + tt.src[i+len("import \"C\"\n"):]
			}
			f := &fakeImporter{fset: token.NewFileSet(), src: map[string]string{"example.com/m/pub": src}, pkgs: map[string]*types.Package{}}
			for k, v := range deps {
				f.src[k] = v
			}
			p, err := f.Import("example.com/m/pub")
			if err != nil {
				t.Fatal(err)
			}
			got := checkAPI(p)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d violations, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for _, w := range tt.want {
				if !slices.ContainsFunc(got, func(g string) bool { return strings.Contains(g, w) }) {
					t.Errorf("no violation %q in:\n%s", w, strings.Join(got, "\n"))
				}
			}
		})
	}
}
