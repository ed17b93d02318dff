package docker

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ContainerDetails is the network and process view of GET
// /containers/{id}/json: what immich-accel reads to reach a container's
// server and watch its processes.
type ContainerDetails struct {
	ID     string `json:"Id"`
	Name   string `json:"Name"`
	Config struct {
		Image        string              `json:"Image"`
		Env          []string            `json:"Env"`
		ExposedPorts map[string]struct{} `json:"ExposedPorts"`
	} `json:"Config"`
	State struct {
		Status    string `json:"Status"`
		Running   bool   `json:"Running"`
		Pid       int    `json:"Pid"`
		StartedAt string `json:"StartedAt"`
	} `json:"State"`
	HostConfig struct {
		NetworkMode string `json:"NetworkMode"`
	} `json:"HostConfig"`
	NetworkSettings struct {
		Ports    map[string][]PortBinding   `json:"Ports"`
		Networks map[string]EndpointNetwork `json:"Networks"`
	} `json:"NetworkSettings"`
}

// PortBinding is one host address a container port is published on.
type PortBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string `json:"HostPort"`
}

// EndpointNetwork is the container's endpoint on one network.
type EndpointNetwork struct {
	IPAddress         string `json:"IPAddress"`
	GlobalIPv6Address string `json:"GlobalIPv6Address"`
}

// Env returns the value of the container's environment variable k, and
// whether it is set.
func (d *ContainerDetails) Env(k string) (string, bool) {
	for _, kv := range d.Config.Env {
		if name, v, ok := strings.Cut(kv, "="); ok && name == k {
			return v, true
		}
	}
	return "", false
}

// InspectNetwork returns the network and process view of GET
// /containers/{id}/json.
func (c *Client) InspectNetwork(ctx context.Context, id string) (*ContainerDetails, error) {
	if id == "" {
		return nil, errors.New("docker: inspect: empty container id")
	}
	var d ContainerDetails
	if err := c.getJSON(ctx, "/containers/"+url.PathEscape(id)+"/json", &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// LogsSince returns the container's stdout and stderr written at or after
// since, interleaved in order.
func (c *Client) LogsSince(ctx context.Context, id string, since time.Time) (string, error) {
	if id == "" {
		return "", errors.New("docker: logs: empty container id")
	}
	q := url.Values{"stdout": {"1"}, "stderr": {"1"}}
	// The Engine takes a UNIX timestamp with an optional fraction.
	q.Set("since", fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond()))
	body, err := c.get(ctx, "/containers/"+url.PathEscape(id)+"/logs?"+q.Encode())
	if err != nil {
		return "", err
	}
	return DemuxLogs(body), nil
}

// ParsePort returns the number of a port key such as "3003/tcp".
func ParsePort(key string) (int, bool) {
	p, proto, _ := strings.Cut(key, "/")
	if proto != "" && proto != "tcp" {
		return 0, false
	}
	n, err := strconv.Atoi(p)
	if err != nil || n <= 0 || n > 65535 {
		return 0, false
	}
	return n, true
}
