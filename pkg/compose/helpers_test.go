package compose

import (
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/sirupsen/logrus"
)

var update = flag.Bool("update", false, "rewrite golden files")

// sharedDir returns ../shared from the module root, or "" when absent.
func sharedDir(t testing.TB, sub ...string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
	p := filepath.Join(append([]string{dir, "..", "shared"}, sub...)...)
	if _, err := os.Stat(p); err != nil {
		t.Logf("%s not present; skipping the shared reference data", p)
		return ""
	}
	return p
}

// prepareCopy copies src into a fresh directory under name and prepares a
// plan for it, with extra files (name -> content) next to it.
func prepareCopy(t testing.TB, name string, src []byte, opts Options, extra map[string][]byte) (*Plan, error) {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, src, 0o644); err != nil {
		t.Fatal(err)
	}
	for n, c := range extra {
		if err := os.WriteFile(filepath.Join(dir, n), c, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	opts.File = p
	return Prepare(context.Background(), opts)
}

// newContent returns the plan's new content for the compose file (the
// original when unchanged).
func newContent(p *Plan, orig []byte) []byte {
	for _, c := range p.Changes {
		if c.Path == p.File {
			return c.New
		}
	}
	return orig
}

func TestMain(m *testing.M) {
	// compose-go warns about unset variables through the global logrus
	// logger; the tests expect them.
	logrus.SetOutput(io.Discard)
	os.Exit(m.Run())
}
