// Package enginetest gives tests the real Docker Engine that the test
// command starts (scripts/test-engine.sh, run by `make test`). It finds the
// engine through IMMICH_ACCEL_TEST_DOCKER_HOST (the daemon's address, for
// example unix:///tmp/ia-engine.x/docker.sock) and
// IMMICH_ACCEL_TEST_DOCKER_CONFIG (a DOCKER_CONFIG directory holding
// cli-plugins/docker-compose). Tests built on it skip, saying why, when
// there is no engine; under CI=true a missing engine fails them instead.
package enginetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/immich-accel/immich-accel/internal/testenv"
)

// The environment variables the test command sets.
const (
	EnvHost   = "IMMICH_ACCEL_TEST_DOCKER_HOST"
	EnvConfig = "IMMICH_ACCEL_TEST_DOCKER_CONFIG"
)

// CommandTimeout bounds every docker command a test runs through Engine.
const CommandTimeout = 3 * time.Minute

// sumLabel is the image label holding the SHA-256 of the program an image
// was built from, so that BuildImage rebuilds only what changed.
const sumLabel = "org.immich-accel.test.program-sha256"

// Engine is the Docker Engine of the test run.
type Engine struct {
	// Host is the daemon's address, a DOCKER_HOST value.
	Host string
	// Config is the DOCKER_CONFIG directory with the Compose plugin.
	Config string
	// docker is the docker CLI.
	docker string
}

// Require returns the test run's engine. Without one it skips the test with
// the reason, or fails it under CI=true, where the engine is part of the
// test command.
func Require(t testing.TB) *Engine {
	t.Helper()
	e, why := find()
	if e == nil {
		testenv.Unavailable(t, "no Docker Engine for this test: %s (`make test` starts one)", why)
	}
	return e
}

func find() (*Engine, string) {
	host, config := os.Getenv(EnvHost), os.Getenv(EnvConfig)
	if host == "" {
		return nil, EnvHost + " is not set"
	}
	if config == "" {
		return nil, EnvConfig + " is not set"
	}
	if p := filepath.Join(config, "cli-plugins", "docker-compose"); !isFile(p) {
		return nil, "no Compose plugin at " + p
	}
	cli, err := exec.LookPath("docker")
	if err != nil {
		return nil, "no docker CLI on PATH"
	}
	return &Engine{Host: host, Config: config, docker: cli}, ""
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// Env is the environment for docker commands against the engine: this
// process's environment without any DOCKER_ setting of its own, plus
// DOCKER_HOST and DOCKER_CONFIG.
func (e *Engine) Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "DOCKER_") || strings.HasPrefix(kv, "COMPOSE_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "DOCKER_HOST="+e.Host, "DOCKER_CONFIG="+e.Config)
}

// Docker runs the docker CLI with args and returns its combined output,
// failing the test (with the output) when it fails.
func (e *Engine) Docker(t testing.TB, args ...string) string {
	t.Helper()
	out, err := e.Run(args...)
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// Run runs the docker CLI with args and returns its combined output and
// error, for commands that are expected to fail. It is bounded by
// CommandTimeout.
func (e *Engine) Run(args ...string) (string, error) {
	return e.run("", nil, args...)
}

// RunIn is Run in directory dir with extra environment variables.
func (e *Engine) RunIn(dir string, env []string, args ...string) (string, error) {
	return e.run(dir, env, args...)
}

func (e *Engine) run(dir string, extra []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), CommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.docker, args...)
	cmd.Dir = dir
	cmd.Env = append(e.Env(), extra...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		return out.String(), fmt.Errorf("docker %s: not done within %s: %w", args[0], CommandTimeout, ctx.Err())
	}
	return out.String(), err
}

// BuildImage builds the Go main package in pkgDir as a static binary
// (CGO_ENABLED=0) and an image FROM scratch that runs it, tagged tag. An
// image of that tag built from the same binary is kept as it is.
func (e *Engine) BuildImage(t testing.TB, tag, pkgDir string) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "prog")
	ctx, cancel := context.WithTimeout(context.Background(), CommandTimeout)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	build.Dir = pkgDir
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", pkgDir, err, out)
	}
	sum, err := fileSum(bin)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := e.Run("image", "inspect", "--format", `{{index .Config.Labels "`+sumLabel+`"}}`, tag); err == nil && strings.TrimSpace(out) == sum {
		return
	}
	dockerfile := "FROM scratch\nCOPY prog /prog\nLABEL " + sumLabel + "=" + sum + "\nENTRYPOINT [\"/prog\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := e.RunIn(dir, []string{"DOCKER_BUILDKIT=0"}, "build", "-q", "-t", tag, "."); err != nil {
		t.Fatalf("docker build -t %s: %v\n%s", tag, err, out)
	}
}

func fileSum(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ErrNoEngine is returned by Find when the test run has no engine.
var ErrNoEngine = errors.New("no Docker Engine for this test run")

// Find returns the engine without a testing.TB, for TestMain and
// benchmarks' set-up; it wraps ErrNoEngine with the reason.
func Find() (*Engine, error) {
	e, why := find()
	if e == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoEngine, why)
	}
	return e, nil
}
