package compose

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/immich-accel/immich-accel/internal/enginetest"
	"github.com/immich-accel/immich-accel/internal/testenv"
	"github.com/immich-accel/immich-accel/pkg/accel"
)

// composeCLI returns the command that runs Docker Compose's own CLI
// (docker-compose, or the docker compose plugin); without one the test is
// skipped, or fails under CI=true.
func composeCLI(t *testing.T) []string {
	t.Helper()
	if p := os.Getenv("IMMICH_ACCEL_DOCKER_COMPOSE"); p != "" {
		return []string{p}
	}
	// The plugin of the test command's engine (`make test`); compose
	// config needs no daemon.
	if c := os.Getenv(enginetest.EnvConfig); c != "" {
		if p := filepath.Join(c, "cli-plugins", "docker-compose"); exec.Command(p, "version").Run() == nil {
			return []string{p}
		}
	}
	if p, err := exec.LookPath("docker-compose"); err == nil {
		return []string{p}
	}
	if p, err := exec.LookPath("docker"); err == nil {
		if exec.Command(p, "compose", "version").Run() == nil {
			return []string{p, "compose"}
		}
	}
	testenv.Unavailable(t, "Docker Compose is not installed (docker-compose, docker compose, %s, or IMMICH_ACCEL_DOCKER_COMPOSE): the check against Compose's own CLI cannot run", enginetest.EnvConfig)
	return nil
}

// TestEnvWithDockerCompose asks Docker Compose itself, with a clean
// environment, which image the edited project runs: what immich-accel
// writes into .env is what Compose reads.
func TestEnvWithDockerCompose(t *testing.T) {
	cli := composeCLI(t)
	for _, dir := range []string{"suffix-var", "suffix-var-noenv", "suffix-alt-crlf", "extends-var", "image-var-set", "image-var-unset"} {
		for _, inline := range []bool{false, true} {
			t.Run(dir+"/"+modeName(inline), func(t *testing.T) {
				d := copyFixtureDir(t, dir)
				file := filepath.Join(d, "docker-compose.yml")
				for _, b := range []accel.Backend{accel.CUDA, accel.OpenVINO, accel.CPU} {
					plan, err := Prepare(t.Context(), Options{EditOptions: EditOptions{Backend: b, Inline: inline}, File: file})
					if err != nil {
						t.Fatalf("%s: %v", b, err)
					}
					if _, err := plan.Write(WriteOptions{NoBackup: true}); err != nil {
						t.Fatal(err)
					}
					img := composeImage(t, cli, d, plan.Service)
					tag := img[strings.LastIndex(img, ":")+1:]
					if got, _ := accel.TagSuffix(tag); got.Suffix() != b.Suffix() {
						t.Errorf("%s: docker compose runs %s", b, img)
					}
				}
			})
		}
	}
}

// composeImage runs `compose config` in dir with a clean environment and
// returns the image of service.
func composeImage(t *testing.T, cli []string, dir, service string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := append(append([]string{}, cli[1:]...), "config", "--format", "yaml", service)
	cmd := exec.CommandContext(ctx, cli[0], args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("compose config: %v\n%s", err, errb.String())
	}
	for _, l := range strings.Split(out.String(), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "image: "); ok {
			return v
		}
	}
	t.Fatalf("compose config shows no image:\n%s", out.String())
	return ""
}
