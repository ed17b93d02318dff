// Package detecttest loads the fake hosts under testdata/hosts for tests:
// the host tree (root/), NVML answers (nvml.json) served through go-nvml's
// mock package, Docker answers (docker.json, docker-logs.txt) and the
// commands doctor runs.
package detecttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"

	"github.com/immich-accel/immich-accel/pkg/detect"
	"github.com/immich-accel/immich-accel/pkg/dockerapi"
)

// NVMLGPU describes one GPU as NVML reports it.
type NVMLGPU struct {
	Name        string `json:"name"`
	MemoryTotal uint64 `json:"memoryTotal"`
	CCMajor     int    `json:"ccMajor"`
	CCMinor     int    `json:"ccMinor"`
	BusID       string `json:"busId"`
	UUID        string `json:"uuid"`
	// EncoderCapacity is what nvmlDeviceGetEncoderCapacity answers (spare
	// NVENC capacity in percent); absent, it answers NOT_SUPPORTED, as
	// GPUs without NVENC (A100, H100) and those older than Maxwell do.
	EncoderCapacity *int `json:"encoderCapacity,omitempty"`
}

// NVMLHost is the content of nvml.json.
type NVMLHost struct {
	// Init is the nvml.Return name Init gives ("SUCCESS",
	// "ERROR_LIBRARY_NOT_FOUND", "ERROR_DRIVER_NOT_LOADED").
	Init   string    `json:"init"`
	Driver string    `json:"driver"`
	CUDA   int       `json:"cuda"`
	GPUs   []NVMLGPU `json:"gpus"`
}

var returns = map[string]nvml.Return{
	"SUCCESS":                 nvml.SUCCESS,
	"ERROR_LIBRARY_NOT_FOUND": nvml.ERROR_LIBRARY_NOT_FOUND,
	"ERROR_DRIVER_NOT_LOADED": nvml.ERROR_DRIVER_NOT_LOADED,
	"ERROR_NO_PERMISSION":     nvml.ERROR_NO_PERMISSION,
}

// NewNVML builds a go-nvml mock that answers as h says.
func NewNVML(h NVMLHost) (*mock.Interface, error) {
	initRet, ok := returns[h.Init]
	if !ok {
		return nil, fmt.Errorf("nvml.json: unknown init result %q", h.Init)
	}
	devs := make([]nvml.Device, len(h.GPUs))
	for i, g := range h.GPUs {
		g := g
		var pci nvml.PciInfo
		setCString(pci.BusId[:], g.BusID)
		devs[i] = &mock.Device{
			GetNameFunc:                  func() (string, nvml.Return) { return g.Name, nvml.SUCCESS },
			GetMemoryInfoFunc:            func() (nvml.Memory, nvml.Return) { return nvml.Memory{Total: g.MemoryTotal}, nvml.SUCCESS },
			GetCudaComputeCapabilityFunc: func() (int, int, nvml.Return) { return g.CCMajor, g.CCMinor, nvml.SUCCESS },
			GetPciInfoFunc:               func() (nvml.PciInfo, nvml.Return) { return pci, nvml.SUCCESS },
			GetUUIDFunc:                  func() (string, nvml.Return) { return g.UUID, nvml.SUCCESS },
			GetEncoderCapacityFunc: func(nvml.EncoderType) (int, nvml.Return) {
				if g.EncoderCapacity == nil {
					return 0, nvml.ERROR_NOT_SUPPORTED
				}
				return *g.EncoderCapacity, nvml.SUCCESS
			},
		}
	}
	return &mock.Interface{
		InitFunc:                       func() nvml.Return { return initRet },
		ShutdownFunc:                   func() nvml.Return { return nvml.SUCCESS },
		SystemGetDriverVersionFunc:     func() (string, nvml.Return) { return h.Driver, nvml.SUCCESS },
		SystemGetCudaDriverVersionFunc: func() (int, nvml.Return) { return h.CUDA, nvml.SUCCESS },
		DeviceGetCountFunc:             func() (int, nvml.Return) { return len(devs), nvml.SUCCESS },
		DeviceGetHandleByIndexFunc: func(i int) (nvml.Device, nvml.Return) {
			if i < 0 || i >= len(devs) {
				return nil, nvml.ERROR_INVALID_ARGUMENT
			}
			return devs[i], nvml.SUCCESS
		},
	}, nil
}

// setCString copies s into a C char array (int8 or uint8 by platform).
func setCString[T ~int8 | ~uint8](dst []T, s string) {
	for j := 0; j < len(s) && j < len(dst)-1; j++ {
		dst[j] = T(s[j])
	}
}

// DockerHost is the content of docker.json.
type DockerHost struct {
	Endpoint string `json:"endpoint"`
	// Hang makes every call block until its context ends.
	Hang bool `json:"hang"`
	// PingError makes Ping fail with this message.
	PingError  string                `json:"pingError"`
	Info       *dockerapi.Info       `json:"info"`
	Containers []dockerapi.Container `json:"containers"`
	Volumes    []dockerapi.Volume    `json:"volumes"`
	// Inspect maps container IDs to what GET /containers/{id}/json
	// answers; a container without an entry gets one built from its list
	// entry (state and image).
	Inspect map[string]*dockerapi.ContainerJSON `json:"inspect"`
	// Logs maps container IDs to log files next to docker.json.
	Logs map[string]string `json:"logs"`
	// ComposeVersion is what the Compose plugin reports.
	ComposeVersion string `json:"composeVersion"`
	// NoDaemon: no daemon runs; the detector looks for the socket itself.
	NoDaemon bool `json:"noDaemon"`

	dir string
}

// Docker is a fake Docker daemon.
type Docker struct{ H DockerHost }

var _ dockerapi.API = (*Docker)(nil)

func (d *Docker) wait(ctx context.Context) error {
	if d.H.Hang {
		<-ctx.Done()
		return fmt.Errorf("docker: GET on %s: %w", d.H.Endpoint, dockerapi.ErrTimeout)
	}
	return nil
}

// Endpoint implements dockerapi.API.
func (d *Docker) Endpoint() string { return d.H.Endpoint }

// Ping implements dockerapi.API.
func (d *Docker) Ping(ctx context.Context) error {
	if err := d.wait(ctx); err != nil {
		return err
	}
	if d.H.PingError != "" {
		return errors.New(d.H.PingError)
	}
	return nil
}

// Info implements dockerapi.API.
func (d *Docker) Info(ctx context.Context) (*dockerapi.Info, error) {
	if err := d.wait(ctx); err != nil {
		return nil, err
	}
	if d.H.Info == nil {
		return nil, errors.New("docker: GET /info: 500 Internal Server Error")
	}
	return d.H.Info, nil
}

// Version implements dockerapi.API.
func (d *Docker) Version(ctx context.Context) (*dockerapi.Version, error) {
	if err := d.wait(ctx); err != nil {
		return nil, err
	}
	v := &dockerapi.Version{}
	if d.H.Info != nil {
		v.Version = d.H.Info.ServerVersion
	}
	return v, nil
}

// Containers implements dockerapi.API.
func (d *Docker) Containers(ctx context.Context, all bool) ([]dockerapi.Container, error) {
	if err := d.wait(ctx); err != nil {
		return nil, err
	}
	var out []dockerapi.Container
	for _, c := range d.H.Containers {
		if all || c.State == "running" {
			out = append(out, c)
		}
	}
	return out, nil
}

// Inspect implements dockerapi.API.
func (d *Docker) Inspect(ctx context.Context, id string) (*dockerapi.ContainerJSON, error) {
	if err := d.wait(ctx); err != nil {
		return nil, err
	}
	if cj, ok := d.H.Inspect[id]; ok {
		return cj, nil
	}
	for _, c := range d.H.Containers {
		if c.ID == id {
			cj := &dockerapi.ContainerJSON{ID: c.ID, Name: "/" + c.Name(), Image: c.ImageID}
			cj.Config.Image = c.Image
			cj.Config.Labels = c.Labels
			cj.State.Status = c.State
			cj.State.Running = c.State == "running"
			return cj, nil
		}
	}
	return nil, fmt.Errorf("docker: GET /containers/%s/json: 404 Not Found: No such container: %s", id, id)
}

// Logs implements dockerapi.API.
func (d *Docker) Logs(ctx context.Context, id string, _ int) (string, error) {
	if err := d.wait(ctx); err != nil {
		return "", err
	}
	f, ok := d.H.Logs[id]
	if !ok {
		return "", fmt.Errorf("docker: GET /containers/%s/logs: 404 Not Found: No such container", id)
	}
	b, err := os.ReadFile(filepath.Join(d.H.dir, f))
	return string(b), err
}

// Volumes implements dockerapi.API.
func (d *Docker) Volumes(ctx context.Context) ([]dockerapi.Volume, error) {
	if err := d.wait(ctx); err != nil {
		return nil, err
	}
	return d.H.Volumes, nil
}

// Exec answers the commands doctor runs: the Compose plugin's metadata.
func Exec(composeVersion string) detect.ExecFunc {
	return func(_ context.Context, name string, args ...string) ([]byte, error) {
		if strings.HasSuffix(name, "docker-compose") && len(args) == 1 && args[0] == "docker-cli-plugin-metadata" && composeVersion != "" {
			return []byte(`{"SchemaVersion":"0.1.0","Vendor":"Docker Inc.","Version":"v` + composeVersion + `","ShortDescription":"Docker Compose","URL":"https://github.com/docker/compose"}`), nil
		}
		return nil, fmt.Errorf("running %s: exec: %q: executable file not found in $PATH", name, name)
	}
}

// Scenario is one fake host.
type Scenario struct {
	Name    string
	Dir     string // testdata/hosts/<name>
	Root    string // Dir/root
	NVML    nvml.Interface
	Docker  dockerapi.API
	Compose string // Dir/compose/docker-compose.yml when present
	compose string
}

// Load reads the scenario in dir.
func Load(dir string) (*Scenario, error) {
	s := &Scenario{Name: filepath.Base(dir), Dir: dir, Root: filepath.Join(dir, "root")}
	if st, err := os.Stat(s.Root); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("scenario %s: no root/ directory", s.Name)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "nvml.json")); err == nil {
		var h NVMLHost
		if err := json.Unmarshal(b, &h); err != nil {
			return nil, fmt.Errorf("scenario %s: nvml.json: %w", s.Name, err)
		}
		m, err := NewNVML(h)
		if err != nil {
			return nil, fmt.Errorf("scenario %s: %w", s.Name, err)
		}
		s.NVML = m
	} else {
		// No NVIDIA driver: the library is missing.
		m, _ := NewNVML(NVMLHost{Init: "ERROR_LIBRARY_NOT_FOUND"})
		s.NVML = m
	}
	if b, err := os.ReadFile(filepath.Join(dir, "docker.json")); err == nil {
		var h DockerHost
		if err := json.Unmarshal(b, &h); err != nil {
			return nil, fmt.Errorf("scenario %s: docker.json: %w", s.Name, err)
		}
		h.dir = dir
		if !h.NoDaemon {
			s.Docker = &Docker{H: h}
		}
		s.compose = h.ComposeVersion
	}
	if p := filepath.Join(dir, "compose", "docker-compose.yml"); fileExists(p) {
		s.Compose = p
	}
	return s, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Options returns the detector options that put a detector on this host.
func (s *Scenario) Options() []detect.Option {
	opts := []detect.Option{
		detect.WithRoot(s.Root),
		detect.WithNVML(s.NVML),
		detect.WithExec(Exec(s.compose)),
		detect.WithGetenv(func(k string) string {
			if k == "HOME" {
				return "/root"
			}
			return ""
		}),
		detect.WithGOOS("linux"),
	}
	if s.Docker != nil {
		opts = append(opts, detect.WithDocker(s.Docker))
	}
	if s.Compose != "" {
		opts = append(opts, detect.WithComposeFile(s.Compose))
	}
	return opts
}

// Scenarios lists the scenario directories under hostsDir.
func Scenarios(hostsDir string) ([]string, error) {
	es, err := os.ReadDir(hostsDir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range es {
		if e.IsDir() && fileExists(filepath.Join(hostsDir, e.Name(), "root")) {
			out = append(out, filepath.Join(hostsDir, e.Name()))
		}
	}
	return out, nil
}
