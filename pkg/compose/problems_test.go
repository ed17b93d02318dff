package compose

import (
	"go/ast"
	"testing"

	"github.com/immich-accel/immich-accel/internal/testenv"
)

// Problems are written through the registry's constants: a string literal
// would compile (an untyped constant) and, misspelt, silently read as a
// warning in doctor.
func TestProblemIDsAreConstants(t *testing.T) {
	fset, files := testenv.PackageSources(t, 5, "problems.go")
	for _, f := range files {
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
