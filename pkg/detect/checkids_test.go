package detect

import (
	"go/ast"
	"go/token"
	"testing"

	"github.com/immich-accel/immich-accel/internal/testenv"
)

// Check ids are written through the registry's constants only: a string
// literal where a CheckID goes would compile (an untyped constant) and, if
// misspelt, silently read as "skip". This walks the package's sources and
// fails on any such literal.
func TestCheckIDsAreConstants(t *testing.T) {
	fset, files := testenv.PackageSources(t, 5, "checkids.go")
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.KeyValueExpr:
				if k, ok := n.Key.(*ast.Ident); ok && (k.Name == "ID" || k.Name == "Blockers") && hasStringLit(n.Value) {
					t.Errorf("%s: %s written as a string literal; use the CheckID constant", fset.Position(n.Pos()), k.Name)
				}
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				switch sel.Sel.Name {
				case "status", "finding", "verdict", "Check":
					for i, a := range n.Args {
						if sel.Sel.Name == "verdict" && i < 2 {
							continue // name and reason
						}
						if hasStringLit(a) {
							t.Errorf("%s: %s called with a string literal id; use the CheckID constant", fset.Position(a.Pos()), sel.Sel.Name)
						}
					}
				}
			}
			return true
		})
	}
}

func hasStringLit(e ast.Expr) bool {
	found := false
	ast.Inspect(e, func(n ast.Node) bool {
		if l, ok := n.(*ast.BasicLit); ok && l.Kind == token.STRING {
			found = true
		}
		return !found
	})
	return found
}

func TestRegistry(t *testing.T) {
	seen := map[CheckID]bool{}
	for _, c := range Checks() {
		if seen[c.ID] {
			t.Errorf("%s registered twice", c.ID)
		}
		seen[c.ID] = true
		if c.Doc == "" || c.Area == "" {
			t.Errorf("%s: no area or doc", c.ID)
		}
		known := false
		for _, a := range Areas {
			known = known || a == c.Area
		}
		if !known {
			t.Errorf("%s: unknown area %q", c.ID, c.Area)
		}
	}
	if info, ok := ComposeProblemCheck("section-without-suffix").Info(); !ok || info.ID != CheckComposeProblem {
		t.Errorf("compose problem ids do not map to their family: %+v %v", info, ok)
	}
	if CheckComposeFile.IsComposeProblem() || !ComposeProblemCheck("x").IsComposeProblem() {
		t.Error("IsComposeProblem confuses compose-file with a problem")
	}
	if _, ok := CheckID("nvidia-drvier").Info(); ok {
		t.Error("a misspelt id is registered")
	}
}
