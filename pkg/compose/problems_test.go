package compose

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// Problems are written through the registry's constants: a string literal
// would compile (an untyped constant) and, misspelt, silently read as a
// warning in doctor.
func TestProblemIDsAreConstants(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") || name == "problems.go" {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		ast.Inspect(f, func(n ast.Node) bool {
			cl, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			if id, ok := cl.Type.(*ast.Ident); !ok || id.Name != "Problem" {
				return true
			}
			for _, el := range cl.Elts {
				kv, ok := el.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "ID" {
					if _, lit := kv.Value.(*ast.BasicLit); lit {
						t.Errorf("%s: Problem ID written as a string literal; use the ProblemID constant", fset.Position(kv.Pos()))
					}
				}
			}
			return true
		})
	}
	if checked < 5 {
		t.Fatalf("only %d source files checked", checked)
	}
}

func TestProblemRegistry(t *testing.T) {
	seen := map[ProblemID]bool{}
	for _, p := range Problems() {
		if seen[p.ID] {
			t.Errorf("%s registered twice", p.ID)
		}
		seen[p.ID] = true
	}
	if !ProblemSectionWithoutSuffix.Blocking() || ProblemImageDigestPinned.Blocking() {
		t.Error("blocking flags are wrong")
	}
	if _, ok := ProblemID("section-without-sufix").Info(); ok {
		t.Error("a misspelt problem is registered")
	}
}
