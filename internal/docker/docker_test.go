package docker

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// An /info answer as Docker Engine 27 on Ubuntu with the NVIDIA runtime
// registered sends it (trimmed to the fields of interest and a few others).
const infoJSON = `{"ID":"6c1d5f0e-6f2b-4d0a-9d8b-3f4f1c2b7a10","Containers":4,"ContainersRunning":4,"Images":9,
"Driver":"overlay2","ServerVersion":"27.3.1","OperatingSystem":"Ubuntu 24.04.1 LTS","OSType":"linux",
"KernelVersion":"6.8.0-45-generic","Architecture":"x86_64","NCPU":16,"MemTotal":67322540032,"Name":"homeserver",
"DefaultRuntime":"runc","Runtimes":{"io.containerd.runc.v2":{"path":"runc","status":{"org.opencontainers.runtime-spec.features":"{}"}},
"nvidia":{"path":"nvidia-container-runtime"},"runc":{"path":"runc"}},"CDISpecDirs":["/etc/cdi","/var/run/cdi"],
"SecurityOptions":["name=apparmor","name=seccomp,profile=builtin","name=cgroupns"]}`

const containersJSON = `[{"Id":"3f9c2a7d41b8","Names":["/immich_machine_learning"],
"Image":"ghcr.io/immich-app/immich-machine-learning:v2.2.3-cuda","ImageID":"sha256:8e1b","Command":"tini -- python -m immich_ml",
"Created":1732000000,"State":"running","Status":"Up 3 hours (healthy)",
"Labels":{"com.docker.compose.service":"immich-machine-learning"},
"Mounts":[{"Type":"volume","Name":"immich_model-cache","Source":"/var/lib/docker/volumes/immich_model-cache/_data","Destination":"/cache","Driver":"local","Mode":"z","RW":true}]}]`

const volumesJSON = `{"Volumes":[{"CreatedAt":"2024-11-20T09:14:02Z","Driver":"local",
"Labels":{"com.docker.compose.project":"immich","com.docker.compose.volume":"model-cache"},
"Mountpoint":"/var/lib/docker/volumes/immich_model-cache/_data","Name":"immich_model-cache","Options":null,"Scope":"local"}],"Warnings":null}`

func frame(stream byte, s string) []byte {
	h := make([]byte, 8)
	h[0] = stream
	binary.BigEndian.PutUint32(h[4:], uint32(len(s)))
	return append(h, s...)
}

// serve starts a fake engine on a unix socket and returns a client for it.
func serve(t *testing.T, h http.Handler) *Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	c, err := New("unix://"+sock, WithTimeout(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func engine() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/_ping", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("OK")) })
	mux.HandleFunc("/info", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(infoJSON)) })
	mux.HandleFunc("/version", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"Platform":{"Name":"Docker Engine - Community"},"Version":"27.3.1","ApiVersion":"1.47","MinAPIVersion":"1.24","Os":"linux","Arch":"amd64"}`))
	})
	mux.HandleFunc("/containers/json", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("all") != "1" {
			_, _ = w.Write([]byte("[]"))
			return
		}
		_, _ = w.Write([]byte(containersJSON))
	})
	mux.HandleFunc("/containers/3f9c2a7d41b8/logs", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("tail") != "100" || r.URL.Query().Get("stderr") != "1" {
			http.Error(w, `{"message":"bad query"}`, http.StatusBadRequest)
			return
		}
		_, _ = w.Write(frame(2, "[11/20/25 09:31:45] INFO     Setting execution providers to\n"))
		_, _ = w.Write(frame(1, "['CUDAExecutionProvider', 'CPUExecutionProvider']\n"))
	})
	mux.HandleFunc("/containers/nope/logs", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"message":"No such container: nope"}`))
	})
	mux.HandleFunc("/volumes", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(volumesJSON)) })
	return mux
}

func TestClientAgainstEngine(t *testing.T) {
	c := serve(t, engine())
	ctx := context.Background()
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.ServerVersion != "27.3.1" || info.Runtimes["nvidia"].Path != "nvidia-container-runtime" || len(info.CDISpecDirs) != 2 {
		t.Errorf("Info = %+v", info)
	}
	v, err := c.Version(ctx)
	if err != nil || v.APIVersion != "1.47" || v.Platform.Name != "Docker Engine - Community" {
		t.Errorf("Version = %+v, %v", v, err)
	}
	cs, err := c.Containers(ctx, true)
	if err != nil || len(cs) != 1 || cs[0].Name() != "immich_machine_learning" || cs[0].Mounts[0].Name != "immich_model-cache" {
		t.Fatalf("Containers = %+v, %v", cs, err)
	}
	logs, err := c.Logs(ctx, cs[0].ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := "[11/20/25 09:31:45] INFO     Setting execution providers to\n['CUDAExecutionProvider', 'CPUExecutionProvider']\n"
	if logs != want {
		t.Errorf("Logs = %q, want %q", logs, want)
	}
	if _, err := c.Logs(ctx, "nope", 100); err == nil || !strings.Contains(err.Error(), "No such container: nope") {
		t.Errorf("Logs(nope) error = %v", err)
	}
	vols, err := c.Volumes(ctx)
	if err != nil || len(vols) != 1 || vols[0].Name != "immich_model-cache" || vols[0].Labels["com.docker.compose.volume"] != "model-cache" {
		t.Errorf("Volumes = %+v, %v", vols, err)
	}
}

// A daemon that accepts the connection but never answers costs one timeout.
func TestClientTimesOut(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	c := serve(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-block }))
	c.timeout = 100 * time.Millisecond
	start := time.Now()
	err := c.Ping(context.Background())
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("Ping error = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Ping took %s with a 100ms timeout", d)
	}
}

func TestClientNoSocket(t *testing.T) {
	c, err := New("unix://" + filepath.Join(t.TempDir(), "missing.sock"))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Ping(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no such file or directory") {
		t.Errorf("Ping error = %v", err)
	}
}

func TestNewHosts(t *testing.T) {
	tests := []struct {
		host, endpoint string
		wantErr        bool
	}{
		{"", "unix:///var/run/docker.sock", false},
		{"unix:///run/user/1000/docker.sock", "unix:///run/user/1000/docker.sock", false},
		{"tcp://192.168.1.10:2375", "tcp://192.168.1.10:2375", false},
		{"ssh://user@nas", "", true},
		{"tcp://", "", true},
		{"unix://", "", true},
	}
	for _, tt := range tests {
		c, err := New(tt.host)
		if (err != nil) != tt.wantErr {
			t.Errorf("New(%q) error = %v, wantErr %v", tt.host, err, tt.wantErr)
			continue
		}
		if err == nil && c.Endpoint() != tt.endpoint {
			t.Errorf("New(%q).Endpoint() = %q, want %q", tt.host, c.Endpoint(), tt.endpoint)
		}
	}
}

func TestDemuxLogs(t *testing.T) {
	raw := "plain text from a TTY container\n"
	if got := DemuxLogs([]byte(raw)); got != raw {
		t.Errorf("raw logs changed: %q", got)
	}
	mux := append(frame(1, "out\n"), frame(2, "err\n")...)
	if got := DemuxLogs(mux); got != "out\nerr\n" {
		t.Errorf("DemuxLogs = %q", got)
	}
	// A truncated frame keeps what is there.
	if got := DemuxLogs(mux[:len(mux)-2]); got != "out\ner" {
		t.Errorf("truncated DemuxLogs = %q", got)
	}
}
