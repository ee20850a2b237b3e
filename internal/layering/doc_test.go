package layering

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestDocComments fails for an exported name of a library package (every
// package but main packages, tests and this one) that has no doc comment:
// a constant or variable counts as documented when its group is.
func TestDocComments(t *testing.T) {
	root, _ := module(t)
	var missing []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin") {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(root, path)
		if rel == "internal/layering" {
			return nil
		}
		missing = append(missing, undocumented(t, path, rel)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("%s has no doc comment", m)
	}
}

// undocumented lists the exported names of the package in dir that lack a
// doc comment, as "rel: Name".
func undocumented(t *testing.T, dir, rel string) []string {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, parser.ParseComments)
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	var out []string
	for name, p := range pkgs {
		if name == "main" {
			continue
		}
		files := make([]*ast.File, 0, len(p.Files))
		for _, f := range p.Files {
			files = append(files, f)
		}
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
	}
	return out
}
