package layering

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestDocComments fails for an exported name of a library package (every
// package but main packages, tests and this one) that has no doc comment:
// a constant or variable counts as documented when its group is.
func TestDocComments(t *testing.T) {
	root, _ := module(t)
	// go list knows which files build here (tags, GOOS), as parsing a
	// directory would not.
	cmd := exec.Command(goTool(t), "list", "-f", "{{.Dir}}\t{{.Name}}\t{{join .GoFiles \",\"}}", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var missing []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 || f[1] == "main" || f[2] == "" {
			continue
		}
		rel, _ := filepath.Rel(root, f[0])
		if rel == "internal/layering" {
			continue
		}
		var files []string
		for _, name := range strings.Split(f[2], ",") {
			files = append(files, filepath.Join(f[0], name))
		}
		missing = append(missing, undocumented(t, rel, files)...)
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("%s has no doc comment", m)
	}
}

// undocumented lists the exported names of the package made of files that
// lack a doc comment, as "rel: Name".
func undocumented(t *testing.T, rel string, paths []string) []string {
	fset := token.NewFileSet()
	var files []*ast.File
	for _, p := range paths {
		f, err := parser.ParseFile(fset, p, nil, parser.ParseComments)
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		files = append(files, f)
	}
	var out []string
	name := files[0].Name.Name
	dp, err := doc.NewFromFiles(fset, files, "example.invalid/"+rel)
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	if dp.Doc == "" {
		out = append(out, rel+": package "+name)
	}
	values := func(vs []*doc.Value) {
		for _, v := range vs {
			if v.Doc != "" {
				continue
			}
			for _, spec := range v.Decl.Specs {
				vs := spec.(*ast.ValueSpec)
				if vs.Doc != nil || vs.Comment != nil {
					continue
				}
				for _, n := range vs.Names {
					if n.IsExported() {
						out = append(out, rel+": "+n.Name)
					}
				}
			}
		}
	}
	funcs := func(prefix string, fs []*doc.Func) {
		for _, f := range fs {
			if f.Doc == "" {
				out = append(out, rel+": "+prefix+f.Name)
			}
		}
	}
	values(dp.Consts)
	values(dp.Vars)
	funcs("", dp.Funcs)
	for _, ty := range dp.Types {
		if ty.Doc == "" {
			out = append(out, rel+": type "+ty.Name)
		}
		values(ty.Consts)
		values(ty.Vars)
		funcs("", ty.Funcs)
		funcs(ty.Name+".", ty.Methods)
	}
	return out
}

// TestGoDocNamesNoInternal reads what a user reads, `go doc -all`, of
// every public package and fails where it names an internal package or
// something of one (a constant's value written as vk.X shows up there
// though no type mentions it).
func TestGoDocNamesNoInternal(t *testing.T) {
	root, _ := module(t)
	internalName := regexp.MustCompile(`\b(egl|vk|vkdevice|glutil|fdutil|testenv|testbroker|gpuenv|interop|layering)\.[A-Z]\w*|/internal/`)
	for _, pkg := range []string{"bridge", "bridge/d3d", "bridge/broker", "glimport", "helperdev", "headless", "testpattern", "vkalloc", "handoff", "share"} {
		cmd := exec.Command(goTool(t), "doc", "-all", "./"+pkg)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go doc %s: %v", pkg, err)
		}
		for i, line := range strings.Split(string(out), "\n") {
			if m := internalName.FindString(line); m != "" {
				t.Errorf("go doc %s, line %d, names %s: %q", pkg, i+1, m, strings.TrimSpace(line))
			}
		}
	}
}
