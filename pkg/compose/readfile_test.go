package compose

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSpecialFilesAreRefused: a device, a FIFO or a huge file given as the
// compose file (or as --hwaccel-file) is refused without reading it, so the
// command neither blocks nor exhausts memory.
func TestSpecialFilesAreRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge.yml")
	if err := os.WriteFile(huge, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(huge, 64<<20); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "docker-compose.yml")
	if err := os.WriteFile(good, []byte("services:\n  immich-machine-learning:\n    image: ghcr.io/immich-app/immich-machine-learning:release\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		run  func() error
		want string
	}{
		{"dev zero inspected", func() error { _, err := InspectFile("/dev/zero"); return err }, "is a character device, not a regular file"},
		{"fifo inspected", func() error { _, err := InspectFile(fifo); return err }, "is a named pipe"},
		{"huge inspected", func() error { _, err := InspectFile(huge); return err }, "is 64 MiB, far larger than any compose file"},
		{"dev zero prepared", func() error {
			_, err := Prepare(t.Context(), Options{EditOptions: EditOptions{Backend: "cuda"}, File: "/dev/zero"})
			return err
		}, "character device"},
		{"fifo as --hwaccel-file", func() error {
			_, err := Prepare(t.Context(), Options{EditOptions: EditOptions{Backend: "cuda"}, File: good, HwaccelFile: fifo})
			return err
		}, "named pipe"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { done <- tc.run() }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.want)
				}
				if !errors.Is(err, ErrNotComposeFile) {
					t.Errorf("err = %v does not wrap ErrNotComposeFile", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("blocked reading a special file")
			}
		})
	}
}
