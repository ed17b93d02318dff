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
