package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/immich-accel/immich-accel/internal/docker"
	"github.com/immich-accel/immich-accel/internal/enginetest"
	"github.com/immich-accel/immich-accel/internal/iostreams"
	"github.com/immich-accel/immich-accel/internal/testenv"
	"github.com/immich-accel/immich-accel/pkg/accel"
	"github.com/immich-accel/immich-accel/pkg/detect"
)

// The stand-in for Immich's ML image, tagged like it under a repository of
// its own (the engine is shared with other tests).
const standinRepo = "localhost/immich-accel-e2e/immich-machine-learning"

// standin builds the stand-in image (internal/enginetest/testdata/mlstandin)
// and tags it with every backend suffix.
func standin(t *testing.T) *enginetest.Engine {
	t.Helper()
	e := enginetest.Require(t)
	e.BuildImage(t, standinRepo+":release", filepath.Join(testenv.ModuleRoot(t), "internal", "enginetest", "testdata", "mlstandin"))
	for _, b := range accel.Backends() {
		if b.Suffix != "" {
			e.Docker(t, "tag", standinRepo+":release", standinRepo+":release-"+b.Suffix)
		}
	}
	return e
}

// onlyContainers shows doctor the containers keep accepts: the engine is
// shared with other tests that run their own ML containers.
type onlyContainers struct {
	docker.API
	keep func(docker.Container) bool
}

func (o onlyContainers) Containers(ctx context.Context, all bool) ([]docker.Container, error) {
	cs, err := o.API.Containers(ctx, all)
	var out []docker.Container
	for _, c := range cs {
		if o.keep(c) {
			out = append(out, c)
		}
	}
	return out, err
}

// doctorOn runs `doctor --json` (and -v text) against the engine, seeing
// only the containers keep accepts, and returns the report and the text.
func doctorOn(t *testing.T, e *enginetest.Engine, composeFile string, keep func(docker.Container) bool) (*detect.Report, string) {
	t.Helper()
	c, err := docker.New(e.Host, docker.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	api := onlyContainers{c, keep}
	run := func(args ...string) string {
		ios, _, out, _ := iostreams.Test()
		f := &Factory{
			IOStreams: ios,
			Getenv:    func(string) string { return "" },
			Getwd:     func() (string, error) { return t.TempDir(), nil },
			NewDetector: func(opts ...detect.Option) *detect.Detector {
				return detect.New(append(opts, detect.WithDocker(api))...)
			},
			ComponentVersions: func() []ComponentVersion { return nil },
		}
		all := append([]string{"doctor", "--timeout", "10s"}, args...)
		if composeFile != "" {
			all = append(all, "--compose", composeFile)
		}
		Run(context.Background(), f, all)
		return out.String()
	}
	var r detect.Report
	if err := json.Unmarshal([]byte(run("--json")), &r); err != nil {
		t.Fatalf("doctor --json: %v", err)
	}
	return &r, run("-v")
}

// officialStack copies Immich's official compose file into a new directory,
// with the stand-in image and a container name of its own, and an .env.
func officialStack(t *testing.T, name string) string {
	t.Helper()
	dir := testenv.RequireShared(t, "upstream", "immich")
	src, err := os.ReadFile(filepath.Join(dir, "docker-compose.v3.1.0.yml"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(src), "ghcr.io/immich-app/immich-machine-learning:", standinRepo+":", 1)
	s = strings.Replace(s, "container_name: immich_machine_learning", "container_name: "+name, 1)
	if s == string(src) || !strings.Contains(s, name) {
		t.Fatal("Immich's compose file no longer has the lines this test replaces")
	}
	stack := t.TempDir()
	env := "UPLOAD_LOCATION=./library\nDB_DATA_LOCATION=./postgres\nIMMICH_VERSION=release\nDB_PASSWORD=postgres\nDB_USERNAME=postgres\nDB_DATABASE_NAME=immich\n"
	for n, body := range map[string]string{"docker-compose.yml": s, ".env": env} {
		if err := os.WriteFile(filepath.Join(stack, n), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return stack
}

// composeBackend runs `immich-accel compose` on the stack.
func composeBackend(t *testing.T, stack string, b accel.Backend, inline bool) {
	t.Helper()
	f, _, _, errOut := newComposeFactory(t, stack, nil)
	args := []string{"compose", "--backend", string(b), "--yes", "--no-detect", "--no-backup"}
	if inline {
		args = append(args, "--inline")
	}
	if code := Run(context.Background(), f, args); code != ExitOK {
		t.Fatalf("compose %v: exit %d: %s", args, code, errOut)
	}
}

// Every backend in both modes gives a file Docker Compose itself accepts.
func TestEngineComposeConfigEveryBackend(t *testing.T) {
	e := enginetest.Require(t)
	for _, b := range accel.BackendNames() {
		for _, inline := range []bool{false, true} {
			mode := "extends"
			if inline {
				mode = "inline"
			}
			t.Run(string(b)+"/"+mode, func(t *testing.T) {
				stack := officialStack(t, "ia_e2e_config")
				composeBackend(t, stack, b, inline)
				out := e.Docker(t, "compose", "--project-directory", stack, "-f", filepath.Join(stack, "docker-compose.yml"), "config", "--format", "json")
				var cfg struct {
					Services map[string]struct {
						Image string `json:"image"`
					} `json:"services"`
				}
				if err := json.Unmarshal([]byte(out), &cfg); err != nil {
					t.Fatalf("docker compose config: %v\n%s", err, out)
				}
				want := standinRepo + ":release"
				if s := b.Suffix(); s != "" {
					want += "-" + s
				}
				if got := cfg.Services["immich-machine-learning"].Image; got != want {
					t.Errorf("image %q, want %q", got, want)
				}
			})
		}
	}
}

// mlService is the resolved ML service of a stack (docker compose config).
type mlService struct {
	Volumes []struct {
		Type   string `json:"type"`
		Source string `json:"source"`
	} `json:"volumes"`
	Devices []struct {
		Source string `json:"source"`
	} `json:"devices"`
}

func resolveML(t *testing.T, e *enginetest.Engine, stack string) mlService {
	t.Helper()
	out := e.Docker(t, "compose", "--project-directory", stack, "config", "--format", "json")
	var cfg struct {
		Services map[string]mlService `json:"services"`
	}
	if err := json.Unmarshal([]byte(out), &cfg); err != nil {
		t.Fatal(err)
	}
	return cfg.Services["immich-machine-learning"]
}

func hostHas(p string) bool { _, err := os.Stat(p); return err == nil }

// dropMissingBinds removes the volume entries of the stack's files whose
// host source is missing, and reports whether it removed any.
func dropMissingBinds(t *testing.T, stack string, ml mlService) bool {
	t.Helper()
	var missing []string
	for _, v := range ml.Volumes {
		if v.Type == "bind" && !hostHas(v.Source) {
			missing = append(missing, v.Source)
		}
	}
	if len(missing) == 0 {
		return false
	}
	for _, name := range []string{"docker-compose.yml", "hwaccel.ml.yml"} {
		p := filepath.Join(stack, name)
		b, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		var kept []string
		for _, line := range strings.Split(string(b), "\n") {
			drop := false
			for _, m := range missing {
				if strings.HasPrefix(strings.TrimSpace(line), "- "+m+":") {
					drop = true
				}
			}
			if !drop {
				kept = append(kept, line)
			}
		}
		if err := os.WriteFile(p, []byte(strings.Join(kept, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("dropped the bind mounts of %v (missing on this host) before up", missing)
	return true
}

// After `compose --backend B`, `docker compose up -d` starts the container
// or fails the way a host without that hardware fails, and doctor names
// the cause from what the Engine kept.
func TestEngineComposeUpEveryBackend(t *testing.T) {
	e := standin(t)
	var info struct {
		Runtimes map[string]any `json:"Runtimes"`
	}
	if err := json.Unmarshal([]byte(e.Docker(t, "info", "--format", "{{json .}}")), &info); err != nil {
		t.Fatal(err)
	}
	for _, b := range accel.BackendNames() {
		t.Run(string(b), func(t *testing.T) {
			name := "ia_e2e_up_" + strings.ReplaceAll(string(b), "-", "_")
			project := strings.ReplaceAll(name, "_", "")
			stack := officialStack(t, name)
			composeBackend(t, stack, b, false)
			ml := resolveML(t, e, stack)
			// A bind mount whose source is missing would make Docker create
			// it (as a directory) on this host: such mounts (libmali.so,
			// /dev/bus/usb, /usr/lib/wsl) are dropped from this copy before
			// `up`; `docker compose config` above took the file with them.
			if dropMissingBinds(t, stack, ml) {
				ml = resolveML(t, e, stack)
			}
			for _, v := range ml.Volumes {
				if v.Type == "bind" && !hostHas(v.Source) {
					t.Fatalf("bind mount of %s, which this host lacks, still in the file", v.Source)
				}
			}
			var missing []string
			for _, d := range ml.Devices {
				if !hostHas(d.Source) {
					missing = append(missing, d.Source)
				}
			}
			t.Cleanup(func() {
				_, _ = e.RunIn(stack, nil, "compose", "-p", project, "down", "-v", "--remove-orphans", "-t", "1")
			})
			out, err := e.RunIn(stack, nil, "compose", "-p", project, "up", "-d", "--pull", "never", "immich-machine-learning")
			var wantErr string
			switch {
			case b == accel.CUDA && info.Runtimes["nvidia"] == nil:
				wantErr = `could not select device driver "nvidia" with capabilities: [[gpu]]`
			case len(missing) > 0:
				wantErr = `error gathering device information while adding custom device "` + missing[0] + `"`
			}
			if wantErr == "" {
				if err != nil {
					t.Fatalf("up: %v\n%s", err, out)
				}
			} else if err == nil || !strings.Contains(out, wantErr) {
				t.Fatalf("up: %v, want the error %q:\n%s", err, wantErr, out)
			}

			keep := func(c docker.Container) bool { return c.Labels["com.docker.compose.project"] == project }
			r, text := doctorOn(t, e, stack, keep)
			ct := r.Check("ml-container")
			if ct == nil {
				t.Fatal("no ml-container check")
			}
			if wantErr == "" {
				if ct.Status != detect.StatusOK && ct.Status != detect.StatusWarn || !strings.Contains(ct.Finding, "running image") {
					t.Errorf("ml-container = %+v, want it running", ct)
				}
				// The client settled on the engine's API version.
				api := strings.TrimSpace(e.Docker(t, "version", "--format", "{{.Server.APIVersion}}"))
				if dm := r.Check("docker-daemon"); dm == nil || !strings.Contains(dm.Finding, "(API "+api+")") {
					t.Errorf("docker-daemon = %+v, want API %s", dm, api)
				}
				return
			}
			if ct.Status != detect.StatusFail || !strings.Contains(ct.Finding, wantErr) {
				t.Errorf("ml-container = %s %q, want fail with %q", ct.Status, ct.Finding, wantErr)
			}
			if ct.Fix == "" || strings.HasPrefix(ct.Fix, "Start it") {
				t.Errorf("fix %q does not address the start error", ct.Fix)
			}
			if !strings.Contains(text, wantErr) {
				t.Errorf("doctor -v does not show the error:\n%s", text)
			}
			if pv := r.Check("ml-providers"); pv == nil || pv.Status != detect.StatusSkip {
				t.Errorf("ml-providers = %+v, want skip (never started)", pv)
			}
		})
	}
}

// waitFor polls the container until cond holds on its inspect data, for at
// most a minute.
func waitFor(t *testing.T, e *enginetest.Engine, name, what string, cond func(docker.ContainerJSON) bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var last string
	for time.Now().Before(deadline) {
		out, err := e.Run("inspect", "--type", "container", name)
		if err == nil {
			var cj []docker.ContainerJSON
			if json.Unmarshal([]byte(out), &cj) == nil && len(cj) == 1 {
				if cond(cj[0]) {
					return
				}
				last = fmt.Sprintf("%+v restarts %d", cj[0].State, cj[0].RestartCount)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: not %s within a minute; last state %s", name, what, last)
}

// A container left by each failure gets its cause named, and a fix that
// addresses it.
func TestEngineContainerFailures(t *testing.T) {
	e := standin(t)
	tests := []struct {
		name, tag string
		args      []string
		ready     func(docker.ContainerJSON) bool
		finding   []string // in the finding
		evidence  string   // in the details (doctor -v)
		fix       string   // in the fix
	}{
		{name: "segfault", tag: "release-cuda", args: []string{"segfault"},
			ready:   func(c docker.ContainerJSON) bool { return c.State.Status == "exited" },
			finding: []string{"segmentation fault (exit code 139)", "native library"}, evidence: "segfault: exit code 139", fix: "another model"},
		{name: "abort", tag: "release-openvino", args: []string{"abort"},
			ready:   func(c docker.ContainerJSON) bool { return c.State.Status == "exited" },
			finding: []string{"aborted (exit code 134)"}, evidence: "abort: exit code 134", fix: "MACHINE_LEARNING_WORKER_TIMEOUT"},
		{name: "oom", tag: "release-cuda", args: []string{"--memory", "48m", "--memory-swap", "48m", "@", "oom"},
			ready:   func(c docker.ContainerJSON) bool { return c.State.Status == "exited" },
			finding: []string{"OOMKilled", "ran out of memory"}, evidence: "out-of-memory: OOMKilled", fix: "memory limit"},
		{name: "restart-loop", tag: "release-openvino", args: []string{"--restart", "always", "@", "crash"},
			ready:   func(c docker.ContainerJSON) bool { return c.RestartCount >= 3 },
			finding: []string{"keeps restarting", "executable stack"}, evidence: "openvino-exec-stack:", fix: "onnxruntime-openvino"},
		{name: "unhealthy", tag: "release", args: []string{"--health-interval", "500ms", "--health-retries", "2", "--health-timeout", "2s", "--health-cmd", "/prog health", "@", "hang"},
			ready: func(c docker.ContainerJSON) bool {
				return c.State.Health != nil && c.State.Health.Status == "unhealthy"
			},
			finding: []string{"unhealthy", "last check exited"}, fix: "/ping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "ia-e2e-" + tt.name
			_, _ = e.Run("rm", "-f", name)
			t.Cleanup(func() { _, _ = e.Run("rm", "-f", name) })
			opts, cmd := tt.args, []string(nil)
			for i, a := range tt.args {
				if a == "@" {
					opts, cmd = tt.args[:i], tt.args[i+1:]
					break
				}
			}
			if cmd == nil {
				opts, cmd = nil, tt.args
			}
			run := append([]string{"run", "-d", "--name", name, "--network", "none"}, opts...)
			run = append(append(run, standinRepo+":"+tt.tag), cmd...)
			e.Docker(t, run...)
			waitFor(t, e, name, tt.name, tt.ready)
			r, text := doctorOn(t, e, "", func(c docker.Container) bool { return c.Name() == name })
			ct := r.Check("ml-container")
			if ct == nil || ct.Status != detect.StatusFail {
				t.Fatalf("ml-container = %+v, want fail", ct)
			}
			for _, f := range tt.finding {
				if !strings.Contains(ct.Finding, f) {
					t.Errorf("finding %q lacks %q", ct.Finding, f)
				}
			}
			if !strings.Contains(ct.Fix, tt.fix) || strings.HasPrefix(ct.Fix, "Start it") {
				t.Errorf("fix %q, want one with %q", ct.Fix, tt.fix)
			}
			if tt.evidence != "" && !strings.Contains(text, tt.evidence) {
				t.Errorf("doctor -v lacks %q:\n%s", tt.evidence, text)
			}
		})
	}
}
