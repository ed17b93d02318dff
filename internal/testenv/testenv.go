// Package testenv locates the module root and the shared reference data
// beside it, and says why a test cannot run: a test whose inputs are
// missing is skipped with the reason, and fails under CI (CI=true), where
// everything must be present.
package testenv

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// ORTLibEnv names the ONNX Runtime library the tests load; `make test`
// installs the pinned runtime and sets it (the same variable as
// ortlib.EnvVar).
const ORTLibEnv = "IMMICH_ACCEL_ORT_LIB"

// CI reports whether the tests run under CI (CI=true).
func CI() bool { return os.Getenv("CI") == "true" }

// Unavailable ends a test whose inputs are missing: skipped with the
// reason, failed under CI.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatalf("%s (CI=true: everything a test needs must be present)", msg)
	}
	t.Skipf("SKIPPED: %s", msg)
}

// ModuleRoot walks up from the test's working directory to the directory
// that holds go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
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
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// SharedDir returns ../shared/<sub...> beside the module root, or "" when it
// is absent, saying so in the test log; for tests that also have inputs of
// their own. Under CI it must be present.
func SharedDir(t testing.TB, sub ...string) string {
	t.Helper()
	p := sharedPath(t, sub...)
	if _, err := os.Stat(p); err != nil {
		if CI() {
			t.Fatalf("%s not present (CI=true: the shared reference data must be there)", p)
		}
		t.Logf("%s not present; skipping the shared reference data", p)
		return ""
	}
	return p
}

// RequireShared returns ../shared/<sub...> beside the module root; when it
// is absent the test is skipped (failed under CI).
func RequireShared(t testing.TB, sub ...string) string {
	t.Helper()
	p := sharedPath(t, sub...)
	if _, err := os.Stat(p); err != nil {
		Unavailable(t, "needs the shared reference data at %s", p)
	}
	return p
}

func sharedPath(t testing.TB, sub ...string) string {
	t.Helper()
	return filepath.Join(append([]string{ModuleRoot(t), "..", "shared"}, sub...)...)
}

// RequireORT returns the ONNX Runtime library the tests load; without one
// the test is skipped (failed under CI).
func RequireORT(t testing.TB) string {
	t.Helper()
	p := os.Getenv(ORTLibEnv)
	if p == "" {
		Unavailable(t, "needs ONNX Runtime: %s is not set. Run `make test`, which installs the pinned ONNX Runtime and sets it", ORTLibEnv)
	}
	return p
}

// RequireCommand returns the path of an external command the test runs;
// without it the test is skipped (failed under CI).
func RequireCommand(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Unavailable(t, "needs %s(1): %v", name, err)
	}
	return p
}

// PackageSources parses the package's own non-test Go files in the current
// directory (a test's package), leaving out the files named in skip; for
// tests that read the code itself. It fails the test when fewer than min
// files were parsed, so a walk over nothing cannot pass.
func PackageSources(t testing.TB, min int, skip ...string) (*token.FileSet, []*ast.File) {
	t.Helper()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") || slices.Contains(skip, name) {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	if len(files) < min {
		t.Fatalf("only %d source files parsed, want at least %d", len(files), min)
	}
	return fset, files
}
