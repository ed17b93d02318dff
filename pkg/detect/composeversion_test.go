package detect

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/immich-accel/immich-accel/internal/enginetest"
)

// buildFakeCompose builds testdata/fakecompose (module
// github.com/docker/compose/v2) with the given go build flags.
func buildFakeCompose(t *testing.T, flags ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "docker-compose")
	cmd := exec.Command("go", append(append([]string{"build", "-o", bin}, flags...), "./cmd")...)
	cmd.Dir = "testdata/fakecompose"
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestComposeBuildVersion(t *testing.T) {
	withX := buildFakeCompose(t, "-ldflags=-X github.com/docker/compose/v2/internal.Version=v2.40.3")
	if got := composeBuildVersion(withX); got != "2.40.3" {
		t.Errorf("-X build: %q, want 2.40.3", got)
	}
	// Docker's release builds use -trimpath, which keeps -ldflags out of
	// the build information, and -s -w: the binary does not say.
	trimmed := buildFakeCompose(t, "-trimpath", "-ldflags=-s -w -X github.com/docker/compose/v2/internal.Version=v2.40.3")
	if got := composeBuildVersion(trimmed); got != "" {
		t.Errorf("trimpath build: %q, want \"\" (ask the plugin)", got)
	}
	// ... and then the detector asks the plugin itself.
	d := New(WithRoot("/"))
	if v, e := d.composeVersion(context.Background(), trimmed); v != "2.40.3" || e != "" {
		t.Errorf("composeVersion(trimmed) = %q, %q", v, e)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "docker-compose")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho '{\"Version\":\"v2.1.0\"}'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := composeBuildVersion(script); got != "" {
		t.Errorf("script: %q", got)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := composeBuildVersion(fifo); got != "" {
		t.Errorf("fifo: %q", got)
	}
	if got := composeBuildVersion(filepath.Join(dir, "missing")); got != "" {
		t.Errorf("missing: %q", got)
	}
}

// The test engine's plugin, built from the module proxy with -X, gives the
// same version from its build information as from running it.
func TestComposeBuildVersionRealPlugin(t *testing.T) {
	e := enginetest.Require(t)
	bin := filepath.Join(e.Config, "cli-plugins", "docker-compose")
	out, err := exec.Command(bin, "docker-cli-plugin-metadata").Output()
	if err != nil {
		t.Fatal(err)
	}
	got := composeBuildVersion(bin)
	if got == "" || !strings.Contains(string(out), `"v`+got+`"`) {
		t.Errorf("build information says %q, the plugin says %s", got, out)
	}
}

// Reading the version from the build information against running the
// plugin, on the test engine's plugin:
// go test ./pkg/detect -run - -bench ComposeVersion (with the engine's env).
func BenchmarkComposeVersion(b *testing.B) {
	e, err := enginetest.Find()
	if err != nil {
		b.Skip(err)
	}
	bin := filepath.Join(e.Config, "cli-plugins", "docker-compose")
	b.Run("buildinfo", func(b *testing.B) {
		for b.Loop() {
			if composeBuildVersion(bin) == "" {
				b.Fatal("no version")
			}
		}
	})
	b.Run("exec", func(b *testing.B) {
		for b.Loop() {
			if _, err := exec.Command(bin, "docker-cli-plugin-metadata").Output(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
