// Package testenv locates the module root and the shared reference data
// beside it, for tests.
package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

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
// is absent, saying so in the test log: conformance tests over the shared
// reference data run only where it is present.
func SharedDir(t testing.TB, sub ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{ModuleRoot(t), "..", "shared"}, sub...)...)
	if _, err := os.Stat(p); err != nil {
		t.Logf("%s not present; skipping the shared reference data", p)
		return ""
	}
	return p
}
