package detect_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/immich-accel/immich-accel/internal/docker"
	"github.com/immich-accel/immich-accel/pkg/detect"
	"github.com/immich-accel/immich-accel/pkg/detect/detecttest"
)

// stateDocker is a scenario's fake daemon whose ML container has the given
// inspect data and logs.
type stateDocker struct {
	*detecttest.Docker
	cj   docker.ContainerJSON
	logs string
}

func (s stateDocker) Containers(ctx context.Context, all bool) ([]docker.Container, error) {
	cs, err := s.Docker.Containers(ctx, true)
	for i := range cs {
		if cs[i].ID == s.cj.ID {
			cs[i].State = s.cj.State.Status
		}
	}
	return cs, err
}
func (s stateDocker) Inspect(context.Context, string) (*docker.ContainerJSON, error) {
	return &s.cj, nil
}
func (s stateDocker) Logs(context.Context, string, int) (string, error) { return s.logs, nil }

// Each state the Engine reports for the ML container gets its cause and a
// fix for that cause (the end-to-end tests do the same on a real engine).
func TestContainerStates(t *testing.T) {
	sc := load(t, "nvidia-desktop")
	fake := sc.Docker.(*detecttest.Docker)
	base := func() docker.ContainerJSON {
		id := fake.H.Containers[0].ID
		cj := *fake.H.Inspect[id]
		return cj
	}
	gpu := []docker.DeviceRequest{{Driver: "nvidia", Count: 1, Capabilities: [][]string{{"gpu"}}}}
	tests := []struct {
		name    string
		edit    func(*docker.ContainerJSON)
		logs    string
		status  detect.Status
		finding []string
		fix     string
	}{
		{"start error", func(c *docker.ContainerJSON) {
			c.State = docker.ContainerState{Status: "created", ExitCode: 128, Error: `error gathering device information while adding custom device "/dev/dri": no such file or directory`}
		}, "", detect.StatusFail, []string{"could not start", "device node this host does not have"}, "driver"},
		{"created, never started", func(c *docker.ContainerJSON) { c.State = docker.ContainerState{Status: "created"} },
			"", detect.StatusWarn, []string{"never started"}, "docker compose up -d"},
		{"oom", func(c *docker.ContainerJSON) {
			c.State = docker.ContainerState{Status: "exited", ExitCode: 137, OOMKilled: true}
		},
			"", detect.StatusFail, []string{"OOMKilled", "ran out of memory"}, "memory limit"},
		{"segfault in the logs of a restart loop", func(c *docker.ContainerJSON) {
			c.State = docker.ContainerState{Status: "restarting", Restarting: true, ExitCode: 1}
			c.RestartCount = 7
		}, "[12/01/26 10:00:00] ERROR    Worker (pid:9) was sent code 139!\n", detect.StatusFail, []string{"keeps restarting (7 restarts)", "segmentation fault"}, "another model"},
		{"stopped", func(c *docker.ContainerJSON) { c.State = docker.ContainerState{Status: "exited", ExitCode: 0} },
			"", detect.StatusWarn, []string{"was stopped"}, "docker compose up -d"},
		{"unhealthy", func(c *docker.ContainerJSON) {
			c.State.Health = &docker.Health{Status: "unhealthy", FailingStreak: 4, Log: []docker.HealthResult{{ExitCode: 1, Output: "connection refused"}}}
		}, "", detect.StatusFail, []string{"unhealthy", "connection refused"}, "/ping"},
		{"cuda image without a GPU", func(c *docker.ContainerJSON) { c.HostConfig.DeviceRequests = nil },
			"", detect.StatusFail, []string{"no NVIDIA GPU reserved", "only use the CPU"}, "--backend cuda"},
		{"runtime nvidia instead of a reservation", func(c *docker.ContainerJSON) {
			c.HostConfig.DeviceRequests, c.HostConfig.Runtime = nil, "nvidia"
		}, "", detect.StatusOK, []string{"running image"}, ""},
		{"healthy with a GPU", func(c *docker.ContainerJSON) { c.HostConfig.DeviceRequests = gpu },
			"", detect.StatusOK, []string{"running image", "healthy"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cj := base()
			tt.edit(&cj)
			r := run(t, sc, detect.WithDocker(stateDocker{fake, cj, tt.logs}))
			c := r.Check(detect.CheckMLContainer)
			if c.Status != tt.status {
				t.Errorf("status %s, want %s: %q", c.Status, tt.status, c.Finding)
			}
			for _, f := range tt.finding {
				if !strings.Contains(c.Finding, f) {
					t.Errorf("finding %q lacks %q", c.Finding, f)
				}
			}
			// A fix that is a run of `immich-accel compose` carries it as
			// a structured run; its flags stand for the command line.
			fix := c.Fix
			if c.Run != nil {
				fix = "--backend " + string(c.Run.Backend) + " " + fix
			}
			if !strings.Contains(fix, tt.fix) {
				t.Errorf("fix %q lacks %q", fix, tt.fix)
			}
		})
	}
}

// The daemon is found through the current docker context, which the
// report names; a context that does not exist is reported with what to do.
func TestDaemonThroughContext(t *testing.T) {
	root := t.TempDir() // the host: files are read under it
	home := filepath.Join(root, "home", "ann")
	sock := filepath.Join(root, "run", "user", "1000", "docker.sock")
	if err := os.MkdirAll(filepath.Dir(sock), 0o755); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/_ping", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Api-Version", "1.41")
		_, _ = w.Write([]byte("OK"))
	})
	mux.HandleFunc("/v1.41/info", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"ServerVersion":"20.10.24+dfsg1","OperatingSystem":"Debian GNU/Linux 12 (bookworm)"}`))
	})
	mux.HandleFunc("/v1.41/version", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"Version":"20.10.24+dfsg1","ApiVersion":"1.41"}`))
	})
	mux.HandleFunc("/v1.41/containers/json", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`[]`)) })
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	sum := sha256.Sum256([]byte("rootless"))
	meta := filepath.Join(home, ".docker", "contexts", "meta", hex.EncodeToString(sum[:]), "meta.json")
	for p, body := range map[string]string{
		meta: `{"Name":"rootless","Endpoints":{"docker":{"Host":"unix:///run/user/1000/docker.sock"}}}`,
		filepath.Join(home, ".docker", "config.json"): `{"currentContext":"rootless"}`,
	} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		env          map[string]string
		status       detect.Status
		finding, fix string
	}{
		{map[string]string{"HOME": "/home/ann"}, detect.StatusOK, "Docker Engine 20.10.24+dfsg1 (API 1.41) at unix://" + sock + " (context rootless)", ""},
		{map[string]string{"HOME": "/home/ann", "DOCKER_CONTEXT": "nas"}, detect.StatusFail, `context "nas" (from DOCKER_CONTEXT) does not exist`, "docker context ls"},
	} {
		r := detect.New(detect.WithRoot(root), detect.WithNVML(nil), detect.WithTimeout(time.Second),
			detect.WithGetenv(func(k string) string { return tt.env[k] })).Run(context.Background())
		c := r.Check(detect.CheckDockerDaemon)
		if c.Status != tt.status || !strings.Contains(c.Finding, tt.finding) || !strings.Contains(c.Fix, tt.fix) {
			t.Errorf("%v: docker-daemon = %s %q (fix %q), want %s with %q", tt.env, c.Status, c.Finding, c.Fix, tt.status, tt.finding)
		}
	}
}

// podmanDocker answers /version as Podman's Docker-compatible service does.
type podmanDocker struct{ *detecttest.Docker }

func (p podmanDocker) Version(context.Context) (*docker.Version, error) {
	v := &docker.Version{Version: "4.9.3", APIVersion: "1.41"}
	v.Components = append(v.Components, struct {
		Name    string `json:"Name"`
		Version string `json:"Version"`
	}{"Podman Engine", "4.9.3"})
	return v, nil
}

// A Podman socket is named as such, with Immich's Docker-only support.
func TestPodmanNamed(t *testing.T) {
	sc := load(t, "nvidia-desktop")
	r := run(t, sc, detect.WithDocker(podmanDocker{sc.Docker.(*detecttest.Docker)}))
	c := r.Check(detect.CheckDockerDaemon)
	if c.Status != detect.StatusWarn || !strings.Contains(c.Finding, "Podman") || !strings.Contains(c.Fix, "Docker Compose only") || !r.Host.Docker.Podman {
		t.Errorf("docker-daemon = %+v, podman %v", c, r.Host.Docker.Podman)
	}
}
