package detect_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/immich-accel/immich-accel/pkg/detect"
)

func TestHostFSReadsUnderRoot(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "sys/class/drm/card0/device"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "sys/class/drm/card0/device/gpu_busy_percent"), []byte("42\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(root, "sys/class/drm/card0/device/fifo"), 0o644); err != nil {
		t.Skipf("cannot make a FIFO here: %v", err)
	}
	h := detect.NewHostFS(root)
	if h.IsHostRoot() || h.Root() != root {
		t.Fatalf("Root() = %q, IsHostRoot() = %v", h.Root(), h.IsHostRoot())
	}
	s, err := h.ReadFile("/sys/class/drm/card0/device/gpu_busy_percent")
	if err != nil || s != "42\n" {
		t.Fatalf("ReadFile = %q, %v", s, err)
	}
	if _, err := h.ReadFile("/sys/class/drm/card0/device/fifo"); err == nil {
		t.Fatal("a FIFO was read")
	}
	got := h.Glob("/sys/class/drm/card*/device/gpu_busy_percent")
	if len(got) != 1 || got[0] != "/sys/class/drm/card0/device/gpu_busy_percent" {
		t.Fatalf("Glob = %q", got)
	}
	if !detect.NewHostFS("").IsHostRoot() {
		t.Fatal(`NewHostFS("") is not the host's /`)
	}
}

func TestLogProviders(t *testing.T) {
	logs := "[12/01/26 10:00:00] INFO     Setting execution providers to\n" +
		"                             ['CUDAExecutionProvider', 'CPUExecutionProvider'], in\n" +
		"                             descending order of preference\n"
	p, seen := detect.LogProviders(logs)
	if !seen || len(p) != 2 || p[0] != "CUDAExecutionProvider" {
		t.Fatalf("LogProviders = %q, %v", p, seen)
	}
	if _, seen := detect.LogProviders("Initializing Immich ML\n"); seen {
		t.Fatal("a provider line was seen in logs without one")
	}
}
