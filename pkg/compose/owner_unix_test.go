//go:build unix

package compose

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestWriteKeepsOwner checks that the written compose file, its backup and
// a new hwaccel.ml.yml get the owner and group of the original (Immich
// stacks are often owned by a service user while immich-accel runs as
// root). Changing owners needs root.
func TestWriteKeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changing a file's owner needs root")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "docker-compose.yml")
	if err := os.WriteFile(p, readFixture(t, "basic.yml"), 0o640); err != nil {
		t.Fatal(err)
	}
	const uid, gid = 1234, 5678
	if err := os.Chown(p, uid, gid); err != nil {
		t.Fatal(err)
	}
	plan, err := Prepare(t.Context(), Options{EditOptions: EditOptions{Backend: "cuda"}, File: p})
	if err != nil {
		t.Fatal(err)
	}
	w, err := plan.Write(WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append(append([]string{}, w.Files...), w.Backup) {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		sys := st.Sys().(*syscall.Stat_t)
		if sys.Uid != uid || sys.Gid != gid {
			t.Errorf("%s: owner %d:%d, want %d:%d", filepath.Base(f), sys.Uid, sys.Gid, uid, gid)
		}
		if want := os.FileMode(0o640); st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", filepath.Base(f), st.Mode().Perm(), want)
		}
	}
	if len(w.Files) != 2 {
		t.Errorf("want the compose file and hwaccel.ml.yml written, got %v", w.Files)
	}
}
