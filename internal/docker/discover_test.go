package docker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hostEnv is a host whose files live under a temporary directory.
func hostEnv(t *testing.T, vars map[string]string, files map[string]string) (Env, string) {
	t.Helper()
	root := t.TempDir()
	for p, s := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return Env{
		Getenv:   func(k string) string { return vars[k] },
		ReadFile: func(p string) ([]byte, error) { return os.ReadFile(filepath.Join(root, p)) },
		Exists:   func(p string) bool { _, err := os.Stat(filepath.Join(root, p)); return err == nil },
		Home:     "/home/ann",
		UID:      1000,
	}, root
}

func ctxID(name string) string { s := sha256.Sum256([]byte(name)); return hex.EncodeToString(s[:]) }

func TestResolve(t *testing.T) {
	rootlessMeta := `{"Name":"rootless","Metadata":{"Description":"Rootless mode"},"Endpoints":{"docker":{"Host":"unix:///run/user/1000/docker.sock","SkipTLSVerify":false}}}`
	nasMeta := `{"Name":"nas","Metadata":{},"Endpoints":{"docker":{"Host":"tcp://192.168.1.20:2376","SkipTLSVerify":false}}}`
	ctxFiles := map[string]string{
		"/home/ann/.docker/contexts/meta/" + ctxID("rootless") + "/meta.json": rootlessMeta,
		"/home/ann/.docker/contexts/meta/" + ctxID("nas") + "/meta.json":      nasMeta,
		"/home/ann/.docker/contexts/tls/" + ctxID("nas") + "/docker/ca.pem":   "x",
		"/home/ann/.docker/contexts/tls/" + ctxID("nas") + "/docker/cert.pem": "x",
		"/home/ann/.docker/contexts/tls/" + ctxID("nas") + "/docker/key.pem":  "x",
		"/home/ann/.docker/config.json":                                       `{"auths":{},"currentContext":"rootless"}`,
		"/srv/certs/ca.pem":                                                   "x",
	}
	tests := []struct {
		name              string
		vars              map[string]string
		files             map[string]string
		host, ctx, source string
		tls, verify       bool
		wantErr           bool
	}{
		{name: "DOCKER_HOST wins over contexts", vars: map[string]string{"DOCKER_HOST": "tcp://10.0.0.2:2375", "DOCKER_CONTEXT": "nas"}, files: ctxFiles,
			host: "tcp://10.0.0.2:2375", source: "DOCKER_HOST"},
		{name: "DOCKER_HOST with TLS", vars: map[string]string{"DOCKER_HOST": "tcp://10.0.0.2:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": "/srv/certs"}, files: ctxFiles,
			host: "tcp://10.0.0.2:2376", source: "DOCKER_HOST", tls: true, verify: true},
		{name: "DOCKER_CONTEXT over config.json", vars: map[string]string{"DOCKER_CONTEXT": "nas"}, files: ctxFiles,
			host: "tcp://192.168.1.20:2376", ctx: "nas", source: "DOCKER_CONTEXT", tls: true, verify: true},
		{name: "current context: rootless", files: ctxFiles,
			host: "unix:///run/user/1000/docker.sock", ctx: "rootless", source: "current context in /home/ann/.docker/config.json"},
		{name: "DOCKER_CONFIG moves config.json", vars: map[string]string{"DOCKER_CONFIG": "/etc/dockercfg"},
			files: map[string]string{"/etc/dockercfg/config.json": `{"currentContext":"default"}`, "/var/run/docker.sock": ""},
			host:  "unix:///var/run/docker.sock", ctx: "default", source: "default socket"},
		{name: "missing context", vars: map[string]string{"DOCKER_CONTEXT": "gone"}, files: ctxFiles, wantErr: true},
		{name: "broken config.json", files: map[string]string{"/home/ann/.docker/config.json": "{"}, wantErr: true},
		{name: "rootless socket in place of the default", vars: map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000"},
			files: map[string]string{"/run/user/1000/docker.sock": ""},
			host:  "unix:///run/user/1000/docker.sock", ctx: "default", source: "rootless Docker socket"},
		{name: "Podman socket", files: map[string]string{"/run/podman/podman.sock": ""},
			host: "unix:///run/podman/podman.sock", ctx: "default", source: "Podman socket"},
		{name: "nothing", host: "unix:///var/run/docker.sock", ctx: "default", source: "default socket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, _ := hostEnv(t, tt.vars, tt.files)
			e, err := Resolve(env)
			if tt.wantErr {
				if !errors.Is(err, ErrContext) {
					t.Fatalf("Resolve = %+v, %v; want ErrContext", e, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.Host != tt.host || e.Context != tt.ctx || e.Source != tt.source || e.TLS != tt.tls || e.TLSVerify != tt.verify {
				t.Errorf("Resolve = %+v\nwant host %s context %q source %q tls %v verify %v", e, tt.host, tt.ctx, tt.source, tt.tls, tt.verify)
			}
			if tt.tls && e.CA == "" {
				t.Errorf("TLS without the CA file: %+v", e)
			}
		})
	}
	if !(Endpoint{Host: "unix:///run/podman/podman.sock"}).Podman() {
		t.Error("podman socket not recognised")
	}
}

// A tcp:// daemon behind TLS is reached with the CA from DOCKER_CERT_PATH,
// and refused without it.
func TestTLSEndpoint(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("API-Version", "1.41")
		_, _ = w.Write([]byte("OK"))
	}))
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	host := "tcp://" + strings.TrimPrefix(srv.URL, "https://")
	env, root := hostEnv(t, map[string]string{"DOCKER_HOST": host, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": "/certs"},
		map[string]string{"/certs/ca.pem": string(ca)})
	e, err := Resolve(env)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := e.TLSConfig(env.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(e.Host, WithTLS(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(context.Background()); err != nil {
		t.Fatalf("Ping over TLS: %v", err)
	}
	if c.APIVersion() != "1.41" {
		t.Errorf("API version %q, want 1.41", c.APIVersion())
	}
	plain, _ := New(e.Host)
	if err := plain.Ping(context.Background()); err == nil {
		t.Error("plain HTTP to a TLS daemon answered")
	}
	if err := os.WriteFile(filepath.Join(root, "certs/ca.pem"), []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := e.TLSConfig(env.ReadFile); err == nil {
		t.Error("a CA file without PEM was accepted")
	}
	if _, err := (Endpoint{TLS: true, CA: "/nope"}).TLSConfig(env.ReadFile); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing CA: %v", err)
	}
}

// The client speaks the older of its own and the daemon's API version, and
// reads a container's state and host configuration.
func TestNegotiateAndInspect(t *testing.T) {
	for _, c := range []struct{ daemon, want string }{{"1.41", "1.41"}, {"1.52", MaxAPIVersion}, {"", ""}} {
		var paths []string
		mux := http.NewServeMux()
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			paths = append(paths, r.URL.Path)
			if c.daemon != "" {
				w.Header().Set("Api-Version", c.daemon)
			}
			switch strings.TrimPrefix(r.URL.Path, "/v"+c.want) {
			case "/_ping":
				_, _ = w.Write([]byte("OK"))
			case "/containers/ml/json":
				_, _ = w.Write([]byte(inspectJSON))
			default:
				http.NotFound(w, r)
			}
		})
		cl := serve(t, mux)
		ctx := context.Background()
		if err := cl.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		cj, err := cl.Inspect(ctx, "ml")
		if err != nil {
			t.Fatalf("daemon %q: %v (paths %v)", c.daemon, err, paths)
		}
		wantPath := "/containers/ml/json"
		if c.want != "" {
			wantPath = "/v" + c.want + wantPath
		}
		if paths[len(paths)-1] != wantPath {
			t.Errorf("daemon %q: asked %s, want %s", c.daemon, paths[len(paths)-1], wantPath)
		}
		st := cj.State
		if st.Status != "created" || st.ExitCode != 128 || !strings.Contains(st.Error, `could not select device driver "nvidia"`) ||
			len(cj.HostConfig.DeviceRequests) != 1 || cj.HostConfig.DeviceRequests[0].Driver != "nvidia" ||
			cj.HostConfig.DeviceRequests[0].Capabilities[0][0] != "gpu" || cj.RestartCount != 0 || cj.Config.Image != "ghcr.io/immich-app/immich-machine-learning:release-cuda" {
			t.Errorf("Inspect = %+v", cj)
		}
	}
	if _, err := (&Client{}).Inspect(context.Background(), ""); err == nil {
		t.Error("empty id accepted")
	}
}

// What Docker Engine 20.10 answers for a -cuda container that could not
// start on a host without the NVIDIA runtime (trimmed).
const inspectJSON = `{"Id":"9b1f","Created":"2026-12-01T20:00:00Z","Path":"/prog","Args":[],
"State":{"Status":"created","Running":false,"Paused":false,"Restarting":false,"OOMKilled":false,"Dead":false,"Pid":0,"ExitCode":128,
"Error":"could not select device driver \"nvidia\" with capabilities: [[gpu]]","StartedAt":"0001-01-01T00:00:00Z","FinishedAt":"0001-01-01T00:00:00Z"},
"Image":"sha256:77aa","Name":"/immich_machine_learning","RestartCount":0,
"HostConfig":{"Runtime":"runc","Devices":[],"DeviceRequests":[{"Driver":"nvidia","Count":1,"DeviceIDs":null,"Capabilities":[["gpu"]],"Options":null}],
"GroupAdd":null,"Memory":0,"RestartPolicy":{"Name":"always","MaximumRetryCount":0}},
"Config":{"Image":"ghcr.io/immich-app/immich-machine-learning:release-cuda","Env":["PATH=/usr/bin"],"Labels":{"com.docker.compose.service":"immich-machine-learning"}}}`
