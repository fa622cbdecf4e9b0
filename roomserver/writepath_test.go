package roomserver

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// TestOneWritePath enforces DESIGN.md principle 2: events reach storage
// only through the persist pipeline. Outside storage (which implements
// it) and this package, no Go file of the module may mention
// PersistEvents; inside this package, only the pipeline's files may call
// it.
func TestOneWritePath(t *testing.T) {
	root := moduleRoot(t)
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(root, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if base := d.Name(); name != root && (strings.HasPrefix(base, ".") || base == "testdata" || base == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		rel, _ := filepath.Rel(root, name)
		rel = filepath.ToSlash(rel)
		file, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		checked++
		for _, pos := range persistEventsUses(file) {
			if !mayPersist(rel) {
				t.Errorf("%s: %s uses PersistEvents; events must go through the roomserver pipeline", fset.Position(pos), rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("only %d Go files found under %s", checked, root)
	}
}

// mayPersist: storage and its implementations define PersistEvents; in
// this package the pipeline calls it, and tests may fake it.
func mayPersist(rel string) bool {
	dir, file := path.Split(rel)
	switch {
	case strings.HasPrefix(dir, "storage/"):
		return true
	case dir == "roomserver/":
		return strings.HasPrefix(file, "pipeline") && !strings.HasSuffix(file, "_test.go") || strings.HasSuffix(file, "_test.go") && file != "writepath_test.go"
	}
	return false
}

// persistEventsUses finds calls and references x.PersistEvents (method
// declarations and interface methods are definitions, not uses).
func persistEventsUses(file *ast.File) []token.Pos {
	var out []token.Pos
	ast.Inspect(file, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "PersistEvents" {
			out = append(out, sel.Pos())
		}
		return true
	})
	return out
}

func moduleRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}

// The check itself must catch a use.
func TestOneWritePathSeesUses(t *testing.T) {
	src := `package x
func f(s interface{ PersistEvents() }) { s.PersistEvents() }`
	file, err := parser.ParseFile(token.NewFileSet(), "x.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(persistEventsUses(file)); n != 1 {
		t.Errorf("%d uses found, want 1", n)
	}
	for rel, want := range map[string]bool{
		"clientapi/send.go": false, "federation/send.go": false, "roomserver/pipeline_commit.go": true,
		"roomserver/queries.go": false, "storage/sqlstore/events.go": true, "roomserver/memstore_test.go": true,
	} {
		if mayPersist(rel) != want {
			t.Errorf("mayPersist(%s) = %v", rel, !want)
		}
	}
}
