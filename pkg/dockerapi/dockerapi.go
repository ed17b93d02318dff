// Package dockerapi declares the part of the Docker Engine API that
// immich-accel reads: the interface a client implements and the answers it
// decodes. detect takes an API; immich-accel's own client implements it,
// and fakes do in tests.
package dockerapi

import (
	"context"
	"errors"
	"strings"
)

// ErrTimeout is wrapped by an API's errors for requests the daemon did not
// answer in time.
var ErrTimeout = errors.New("docker daemon did not answer in time")

// API is the subset of the Docker Engine API that immich-accel uses.
// Fakes implement it in tests.
type API interface {
	// Ping checks that the daemon answers.
	Ping(ctx context.Context) error
	// Info returns the engine's system information (GET /info).
	Info(ctx context.Context) (*Info, error)
	// Version returns the engine's version (GET /version).
	Version(ctx context.Context) (*Version, error)
	// Containers lists containers; all includes stopped ones.
	Containers(ctx context.Context, all bool) ([]Container, error)
	// Inspect returns a container's state and configuration
	// (GET /containers/{id}/json).
	Inspect(ctx context.Context, id string) (*ContainerJSON, error)
	// Logs returns the last tail lines of a container's stdout and stderr,
	// interleaved in order.
	Logs(ctx context.Context, id string, tail int) (string, error)
	// Volumes lists volumes.
	Volumes(ctx context.Context) ([]Volume, error)
	// Endpoint says where the client connects, for reports.
	Endpoint() string
}

// Info is the part of GET /info that immich-accel reads.
type Info struct {
	ServerVersion   string             `json:"ServerVersion"`
	OperatingSystem string             `json:"OperatingSystem"`
	OSType          string             `json:"OSType"`
	KernelVersion   string             `json:"KernelVersion"`
	Architecture    string             `json:"Architecture"`
	Name            string             `json:"Name"`
	DefaultRuntime  string             `json:"DefaultRuntime"`
	Runtimes        map[string]Runtime `json:"Runtimes"`
	CDISpecDirs     []string           `json:"CDISpecDirs"`
	SecurityOptions []string           `json:"SecurityOptions"`
	Labels          []string           `json:"Labels"`
}

// Runtime is one registered OCI runtime.
type Runtime struct {
	Path string   `json:"path"`
	Args []string `json:"runtimeArgs,omitempty"`
}

// Version is the part of GET /version that immich-accel reads.
type Version struct {
	Version       string `json:"Version"`
	APIVersion    string `json:"ApiVersion"`
	MinAPIVersion string `json:"MinAPIVersion"`
	Os            string `json:"Os"`
	Arch          string `json:"Arch"`
	KernelVersion string `json:"KernelVersion"`
	Platform      struct {
		Name string `json:"Name"`
	} `json:"Platform"`
	Components []struct {
		Name    string `json:"Name"`
		Version string `json:"Version"`
	} `json:"Components"`
}

// Podman reports whether the engine is Podman's Docker-compatible service,
// which names itself among the components of /version.
func (v *Version) Podman() bool {
	for _, c := range v.Components {
		if strings.Contains(c.Name, "Podman") {
			return true
		}
	}
	return strings.Contains(v.Platform.Name, "Podman")
}

// Container is one entry of GET /containers/json.
type Container struct {
	ID      string            `json:"Id"`
	Names   []string          `json:"Names"`
	Image   string            `json:"Image"`
	ImageID string            `json:"ImageID"`
	State   string            `json:"State"`
	Status  string            `json:"Status"`
	Labels  map[string]string `json:"Labels"`
	Mounts  []Mount           `json:"Mounts"`
}

// Name returns the container's first name without the leading slash.
func (c Container) Name() string {
	if len(c.Names) == 0 {
		return ""
	}
	return strings.TrimPrefix(c.Names[0], "/")
}

// Mount is a container mount as listed by GET /containers/json.
type Mount struct {
	Type        string `json:"Type"`
	Name        string `json:"Name,omitempty"`
	Source      string `json:"Source"`
	Destination string `json:"Destination"`
}

// Volume is one entry of GET /volumes.
type Volume struct {
	Name       string            `json:"Name"`
	Driver     string            `json:"Driver"`
	Mountpoint string            `json:"Mountpoint"`
	Labels     map[string]string `json:"Labels"`
	Scope      string            `json:"Scope"`
}

// ContainerJSON is the part of GET /containers/{id}/json that immich-accel reads.
type ContainerJSON struct {
	ID           string         `json:"Id"`
	Name         string         `json:"Name"`
	Image        string         `json:"Image"`
	RestartCount int            `json:"RestartCount"`
	State        ContainerState `json:"State"`
	Config       struct {
		Image       string            `json:"Image"`
		Env         []string          `json:"Env"`
		Labels      map[string]string `json:"Labels"`
		Healthcheck *struct {
			Test []string `json:"Test"`
		} `json:"Healthcheck"`
	} `json:"Config"`
	HostConfig HostConfig `json:"HostConfig"`
}

// ContainerState is a container's State.
type ContainerState struct {
	// Status is created, running, paused, restarting, removing, exited or dead.
	Status     string `json:"Status"`
	Running    bool   `json:"Running"`
	Restarting bool   `json:"Restarting"`
	OOMKilled  bool   `json:"OOMKilled"`
	Dead       bool   `json:"Dead"`
	ExitCode   int    `json:"ExitCode"`
	// Error is why the Engine could not start the container.
	Error      string  `json:"Error"`
	StartedAt  string  `json:"StartedAt"`
	FinishedAt string  `json:"FinishedAt"`
	Health     *Health `json:"Health"`
}

// Health is the state of a container's healthcheck.
type Health struct {
	// Status is starting, healthy or unhealthy.
	Status        string         `json:"Status"`
	FailingStreak int            `json:"FailingStreak"`
	Log           []HealthResult `json:"Log"`
}

// HealthResult is one run of the healthcheck.
type HealthResult struct {
	Start    string `json:"Start"`
	End      string `json:"End"`
	ExitCode int    `json:"ExitCode"`
	Output   string `json:"Output"`
}

// HostConfig is what the container was given of the host.
type HostConfig struct {
	Runtime        string          `json:"Runtime"`
	Devices        []DeviceMapping `json:"Devices"`
	DeviceRequests []DeviceRequest `json:"DeviceRequests"`
	GroupAdd       []string        `json:"GroupAdd"`
	SecurityOpt    []string        `json:"SecurityOpt"`
	Memory         int64           `json:"Memory"`
	RestartPolicy  struct {
		Name              string `json:"Name"`
		MaximumRetryCount int    `json:"MaximumRetryCount"`
	} `json:"RestartPolicy"`
}

// DeviceMapping is a device node passed into the container (`devices:`).
type DeviceMapping struct {
	PathOnHost        string `json:"PathOnHost"`
	PathInContainer   string `json:"PathInContainer"`
	CgroupPermissions string `json:"CgroupPermissions"`
}

// DeviceRequest is a device reservation (`deploy.resources.reservations.devices`,
// `--gpus`).
type DeviceRequest struct {
	Driver       string     `json:"Driver"`
	Count        int        `json:"Count"`
	DeviceIDs    []string   `json:"DeviceIDs"`
	Capabilities [][]string `json:"Capabilities"`
}
