package compose

import (
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/immich-accel/immich-accel/internal/testenv"
	"github.com/immich-accel/immich-accel/pkg/accel"
)

var update = flag.Bool("update", false, "rewrite golden files")

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

// sharedDir returns ../shared/<sub...> beside the module root, or "".
func sharedDir(t testing.TB, sub ...string) string {
	t.Helper()
	return testenv.SharedDir(t, sub...)
}

// allBackends lists every backend, cpu last.
var allBackends = accel.BackendNames()
