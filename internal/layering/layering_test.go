package layering

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// layers is the layer table of docs/design.md (section "Layers"); keep
// the two the same. A package may import, in its non-test files, only
// packages of a strictly lower rank, the standard library and third-party
// modules. Paths are relative to the module; "x/..." covers x and every
// package under it, and an exact path wins over a pattern. A package of
// the module that is in no layer fails TestLayers: place a new package
// deliberately, here and in docs/design.md.
var layers = []struct {
	rank int
	pkgs []string
}{
	{0, []string{"bridge"}},
	{1, []string{"bridge/d3d", "internal/fdutil", "internal/vk", "internal/egl", "internal/glutil"}},
	{2, []string{"internal/vkdevice", "glimport", "headless", "testpattern"}},
	{3, []string{"helperdev"}},
	{4, []string{"vkalloc"}},
	{5, []string{"bridge/broker"}},
	{6, []string{"handoff"}},
	{7, []string{"share"}},
	{8, []string{"internal/testenv"}}, // test support
	{9, []string{"internal/gpuenv", "internal/testenv/testbroker", "internal/interop"}}, // test support
	// samples/kit is the samples' helper, so a layer below them.
	{10, []string{"cmd/internal/...", "samples/kit"}},
	{11, []string{"cmd/glshare", "cmd/glshare-window", "samples/..."}},
}

// exempt packages are in no layer and need none.
var exempt = []string{"internal/layering"}

// frontDoor is what a sample may import of the module, besides packages
// under samples/ (a helper of theirs): the public API a renderer calls.
var frontDoor = []string{"bridge", "bridge/broker", "share", "headless", "testpattern"}

// lowLevelSamples may also import belowShare, the layers share is made
// of (still no internal package): the one sample that shows them, for a
// renderer that needs what share keeps to itself (GPU-side ordering with
// its own Vulkan work, zero-copy or an error). Its comment says so; keep
// this list that short.
var (
	lowLevelSamples = []string{"samples/gl-to-vulkan"}
	belowShare      = []string{"glimport", "helperdev", "vkalloc", "handoff"}
)

// The ranks of test support (internal/testenv and the like).
const (
	minTestSupportRank = 8
	maxTestSupportRank = 9
)

// pkg is one package of the import graph, its paths relative to the
// module root ("." for the root package itself); imports outside the
// module keep their full path.
type pkg struct {
	Path         string
	Imports      []string // non-test files
	TestImports  []string // in-package _test.go files
	XTestImports []string // package x_test files
}

// rankOf returns the layer of the module-relative path rel.
func rankOf(rel string) (int, bool) {
	best, bestLen := -1, -1
	for _, l := range layers {
		for _, p := range l.pkgs {
			if p == rel {
				return l.rank, true
			}
			if base, ok := strings.CutSuffix(p, "/..."); ok && under(rel, base) && len(base) > bestLen {
				best, bestLen = l.rank, len(base)
			}
		}
	}
	return best, best >= 0
}

// isTestSupport reports whether rank is a layer of test support.
func isTestSupport(rank int) bool {
	return rank >= minTestSupportRank && rank <= maxTestSupportRank
}

// under reports whether rel is dir or a package below it.
func under(rel, dir string) bool {
	return rel == dir || strings.HasPrefix(rel, dir+"/")
}

// isInternal reports whether a path has an element "internal", which is
// what makes a Go package internal.
func isInternal(path string) bool {
	return slices.Contains(strings.Split(path, "/"), "internal")
}

// checkGraph applies the layering rules to the module's packages and
// returns one line per violation, sorted. inModule tells the module's own
// import paths (module-relative) from the rest.
func checkGraph(pkgs []pkg, inModule func(string) bool) []string {
	var v []string
	bad := func(format string, args ...any) { v = append(v, fmt.Sprintf(format, args...)) }
	for _, p := range pkgs {
		if slices.Contains(exempt, p.Path) {
			continue
		}
		flagged := map[string]bool{} // non-test imports of p already reported
		// a: layers.
		rp, ranked := rankOf(p.Path)
		if !ranked {
			bad("layers: package %s is in no layer: add it to the table in docs/design.md and here (internal/layering/layering_test.go)", p.Path)
		}
		for _, q := range p.Imports {
			if !inModule(q) {
				continue
			}
			rq, ok := rankOf(q)
			switch {
			case slices.Contains(exempt, q):
				bad("layers: %s imports %s, which is for tests only", p.Path, q)
			case !ok:
				bad("layers: %s imports %s, which is in no layer", p.Path, q)
			case ranked && rq >= rp:
				note := ""
				if isTestSupport(rq) {
					note = ", and test support only in tests"
				}
				bad("layers: %s (layer %d) imports %s (layer %d): a package may import only lower layers%s", p.Path, rp, q, rq, note)
				flagged[q] = true
			}
		}
		// b: nothing outside cmd/ imports cmd/, not even a test.
		if !under(p.Path, "cmd") {
			for _, l := range []struct {
				what    string
				imports []string
			}{{"", p.Imports}, {" in its tests", p.TestImports}, {" in its x_test tests", p.XTestImports}} {
				for _, q := range l.imports {
					if inModule(q) && under(q, "cmd") {
						bad("cmd: %s imports %s%s: only cmd/ may import cmd/", p.Path, q, l.what)
					}
				}
			}
		}
		// c: samples use the public API only.
		if under(p.Path, "samples") {
			for _, q := range p.Imports {
				if inModule(q) && isInternal(q) {
					bad("samples: %s imports %s: samples may use only the public API, no internal package", p.Path, q)
					flagged[q] = true
				}
			}
		}
		// d: samples use the front door (an import c reported already is
		// not reported again).
		if under(p.Path, "samples") {
			lowLevel := slices.Contains(lowLevelSamples, p.Path)
			for _, q := range p.Imports {
				if !inModule(q) || flagged[q] || slices.Contains(frontDoor, q) || under(q, "samples") ||
					lowLevel && slices.Contains(belowShare, q) {
					continue
				}
				bad("frontdoor: %s imports %s: a sample may use only %s and samples/..., and only %s also %s",
					p.Path, q, strings.Join(frontDoor, ", "), strings.Join(lowLevelSamples, ", "), strings.Join(belowShare, ", "))
				flagged[q] = true
			}
		}
		// e: test support only in tests, in cmd/ and in test support (an
		// import a or c reported already is not reported again).
		if !under(p.Path, "cmd") && !(ranked && isTestSupport(rp)) {
			for _, q := range p.Imports {
				if rq, ok := rankOf(q); inModule(q) && ok && isTestSupport(rq) && !flagged[q] {
					bad("testsupport: %s imports test support %s (layer %d) outside its tests: only tests, cmd/ and test support may", p.Path, q, rq)
				}
			}
		}
	}
	sort.Strings(v)
	return slices.Compact(v)
}

// module finds the module root (walking up from the working directory to
// go.mod) and reads the module path from go.mod.
func module(t testing.TB) (root, path string) {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			sc := bufio.NewScanner(bytes.NewReader(data))
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				if len(f) >= 2 && f[0] == "module" {
					return dir, strings.Trim(f[1], "\"`")
				}
			}
			t.Fatalf("%s: no module line", filepath.Join(dir, "go.mod"))
		}
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = up
	}
}

// goTool returns the go command: $GOROOT/bin/go where GOROOT is set (go
// test sets it, and puts $GOROOT/bin first in PATH), else go from PATH.
func goTool(t testing.TB) string {
	t.Helper()
	if r := os.Getenv("GOROOT"); r != "" {
		p := filepath.Join(r, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command in $GOROOT/bin or PATH: %v", err)
	}
	return p
}

// listed is what go list -json says of one package.
type listed struct {
	ImportPath   string
	Name         string
	Export       string
	GoFiles      []string
	CgoFiles     []string
	Imports      []string
	TestImports  []string
	XTestImports []string
	Error        *struct{ Err string }
}

// goList runs go list -e -json with args in the module root.
func goList(t testing.TB, root string, args ...string) []listed {
	t.Helper()
	cmd := exec.Command(goTool(t), append([]string{"list", "-e"}, args...)...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, stderr.Bytes())
	}
	var pkgs []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// graph is the module's import graph, every path module-relative.
func graph(t testing.TB) (pkgs []pkg, inModule func(string) bool) {
	t.Helper()
	root, mod := module(t)
	rel := func(path string) string {
		if path == mod {
			return "."
		}
		if r, ok := strings.CutPrefix(path, mod+"/"); ok {
			return r
		}
		return path
	}
	// Whatever the module imports is either in it (relative) or not; the
	// module's packages are those go list reports, plus any an import
	// names under the module path (a package that does not exist yet).
	mine := map[string]bool{}
	inModule = func(r string) bool { return mine[r] }
	conv := func(paths []string) []string {
		var out []string
		for _, p := range paths {
			if p == mod || strings.HasPrefix(p, mod+"/") {
				mine[rel(p)] = true
			}
			out = append(out, rel(p))
		}
		return out
	}
	for _, l := range goList(t, root, "-json=ImportPath,Imports,TestImports,XTestImports,Error", "./...") {
		if l.Error != nil {
			t.Errorf("go list: %s: %s", l.ImportPath, l.Error.Err)
		}
		mine[rel(l.ImportPath)] = true
		pkgs = append(pkgs, pkg{
			Path:         rel(l.ImportPath),
			Imports:      conv(l.Imports),
			TestImports:  conv(l.TestImports),
			XTestImports: conv(l.XTestImports),
		})
	}
	return pkgs, inModule
}

// TestLayers checks the module's real import graph.
func TestLayers(t *testing.T) {
	pkgs, inModule := graph(t)
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages: not the glbridge module?", len(pkgs))
	}
	for _, v := range checkGraph(pkgs, inModule) {
		t.Error(v)
	}
}

// TestLayerTable checks the table itself: every path once, ranks in order.
func TestLayerTable(t *testing.T) {
	seen := map[string]bool{}
	for i, l := range layers {
		if l.rank != i {
			t.Errorf("layer %d has rank %d", i, l.rank)
		}
		for _, p := range l.pkgs {
			if seen[p] {
				t.Errorf("%s is in two layers", p)
			}
			seen[p] = true
		}
	}
	for _, p := range exempt {
		if _, ok := rankOf(p); ok {
			t.Errorf("exempt %s has a layer", p)
		}
	}
	for rel, want := range map[string]int{
		"bridge": 0, "bridge/broker": 5, "internal/testenv": 8, "internal/testenv/testbroker": 9,
		"cmd/internal/bench": 10, "cmd/internal/x/y": 10, "cmd/glshare": 11, "samples": 11, "samples/producer": 11,
	} {
		if got, ok := rankOf(rel); !ok || got != want {
			t.Errorf("rankOf(%q) = %d, %v; want %d", rel, got, ok, want)
		}
	}
	for _, rel := range []string{"cmd", "cmd/internal2", "cmd/other", "bridgex", "internal", "internal/nosuch", "samplesx"} {
		if got, ok := rankOf(rel); ok {
			t.Errorf("rankOf(%q) = %d; want no layer", rel, got)
		}
	}
}

// TestCheckGraph shows that each rule fails for real, on made-up graphs.
func TestCheckGraph(t *testing.T) {
	fine := []pkg{
		{Path: "bridge", Imports: []string{"fmt", "errors"}},
		{Path: "bridge/d3d", Imports: []string{"bridge", "math"}},
		{Path: "vkalloc", Imports: []string{"bridge", "helperdev", "internal/vk"}, TestImports: []string{"internal/gpuenv", "share"}},
		{Path: "share", Imports: []string{"handoff", "bridge/broker", "github.com/go-gl/gl/v3.2-compatibility/gl"}, XTestImports: []string{"internal/testenv/testbroker"}},
		{Path: "internal/gpuenv", Imports: []string{"glimport", "internal/testpattern"}},
		{Path: "internal/testenv/testbroker", Imports: []string{"bridge/broker", "internal/testenv"}},
		{Path: "cmd/internal/bench", Imports: []string{"share", "internal/gpuenv", "internal/vk"}},
		{Path: "cmd/glshare", Imports: []string{"cmd/internal/bench", "internal/testpattern"}, TestImports: []string{"cmd/internal/demo"}},
		{Path: "samples/producer", Imports: []string{"share", "bridge/broker"}, XTestImports: []string{"internal/testenv"}},
		{Path: "samples", XTestImports: []string{"internal/testenv"}},
		{Path: "internal/layering", TestImports: []string{"bridge"}},
	}
	tests := []struct {
		name string
		add  pkg
		want []string // substrings, one per violation
	}{
		{"clean", pkg{Path: "headless", Imports: []string{"internal/egl", "unsafe", "C"}}, nil},
		{"same layer", pkg{Path: "glimport", Imports: []string{"headless"}},
			[]string{"layers: glimport (layer 2) imports headless (layer 2)"}},
		{"higher layer", pkg{Path: "vkalloc", Imports: []string{"handoff"}},
			[]string{"layers: vkalloc (layer 4) imports handoff (layer 6)"}},
		{"importing itself up a layer", pkg{Path: "bridge", Imports: []string{"bridge/broker"}},
			[]string{"layers: bridge (layer 0) imports bridge/broker (layer 5)"}},
		{"no layer", pkg{Path: "internal/newthing", Imports: []string{"bridge"}},
			[]string{"layers: package internal/newthing is in no layer: add it to the table in docs/design.md and here"}},
		{"imports a package in no layer", pkg{Path: "share", Imports: []string{"internal/newthing"}},
			[]string{"layers: share imports internal/newthing, which is in no layer"}},
		{"tests may import higher layers", pkg{Path: "bridge", TestImports: []string{"share"}, XTestImports: []string{"internal/gpuenv"}}, nil},
		{"library imports cmd", pkg{Path: "share", Imports: []string{"cmd/internal/bench"}},
			[]string{"layers: share (layer 7) imports cmd/internal/bench (layer 10)", "cmd: share imports cmd/internal/bench: only cmd/"}},
		{"test imports cmd", pkg{Path: "handoff", TestImports: []string{"cmd/internal/demo"}},
			[]string{"cmd: handoff imports cmd/internal/demo in its tests"}},
		{"x_test imports cmd", pkg{Path: "samples", XTestImports: []string{"cmd/glshare"}},
			[]string{"cmd: samples imports cmd/glshare in its x_test tests"}},
		{"sample imports internal", pkg{Path: "samples/consumer", Imports: []string{"internal/glutil", "share"}},
			[]string{"samples: samples/consumer imports internal/glutil"}},
		{"sample imports test support", pkg{Path: "samples/consumer", Imports: []string{"internal/testenv"}},
			[]string{"samples: samples/consumer imports internal/testenv"}},
		{"sample imports a layer below share", pkg{Path: "samples/consumer", Imports: []string{"share", "samples/kit", "vkalloc", "headless"}},
			[]string{"frontdoor: samples/consumer imports vkalloc: a sample may use only bridge, bridge/broker, share, headless, testpattern and samples/..."}},
		{"the low-level sample imports the layers below share", pkg{Path: "samples/gl-to-vulkan", Imports: []string{"glimport", "helperdev", "vkalloc", "handoff", "samples/kit"}}, nil},
		{"the low-level sample imports more", pkg{Path: "samples/gl-to-vulkan", Imports: []string{"vkalloc", "bridge/d3d"}},
			[]string{"frontdoor: samples/gl-to-vulkan imports bridge/d3d"}},
		{"library imports test support", pkg{Path: "share", Imports: []string{"internal/testenv"}},
			[]string{"layers: share (layer 7) imports internal/testenv (layer 8): a package may import only lower layers, and test support only in tests"}},
		{"package in no layer imports test support", pkg{Path: "internal/newthing", Imports: []string{"internal/gpuenv"}, TestImports: []string{"internal/testenv"}},
			[]string{"layers: package internal/newthing is in no layer", "testsupport: internal/newthing imports test support internal/gpuenv (layer 9) outside its tests"}},
		{"exempt package imported", pkg{Path: "cmd/glshare-window", Imports: []string{"internal/layering"}},
			[]string{"layers: cmd/glshare-window imports internal/layering, which is for tests only"}},
	}
	// The made-up module holds every package of the table, the listed
	// ones and internal/newthing; fmt, math, unsafe, C and go-gl are not
	// in it.
	mod := func(pkgs []pkg) func(string) bool {
		return func(p string) bool {
			_, ranked := rankOf(p)
			return ranked || p == "internal/newthing" || slices.Contains(exempt, p) ||
				slices.ContainsFunc(pkgs, func(q pkg) bool { return q.Path == p })
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkgs := append(slices.Clone(fine), tt.add)
			got := checkGraph(pkgs, mod(pkgs))
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
