package verify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/immich-accel/immich-accel/internal/docker"
	"github.com/immich-accel/immich-accel/pkg/detect"
)

// Engine is the part of the Docker Engine API that verify uses.
type Engine interface {
	Containers(ctx context.Context, all bool) ([]docker.Container, error)
	InspectNetwork(ctx context.Context, id string) (*docker.ContainerDetails, error)
	LogsSince(ctx context.Context, id string, since time.Time) (string, error)
	Endpoint() string
}

// defaultPort is the ML server's port; the image's healthcheck reads
// IMMICH_PORT, else 3003 (ml-protocol.md §2).
const defaultPort = 3003

// Route says how verify reached a container's server.
type Route string

// Routes, in the order they are tried.
const (
	RouteHostNetwork   Route = "host-network"
	RoutePublishedPort Route = "published-port"
	RouteNetworkAddr   Route = "network-address"
	RouteURL           Route = "url"
)

// Container is the ML container verify found through Docker.
type Container struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Image string `json:"image"`
	Route Route  `json:"route"`
	// url is where its server answered.
	url string
}

// candidate is one address the server might answer at.
type candidate struct {
	url   string
	route Route
}

// ErrNoAddress: the container has no address verify could reach it at.
var ErrNoAddress = errors.New("no address to reach the container at")

// ErrNoContainer: Docker runs no Immich ML container.
var ErrNoContainer = errors.New("no running Immich machine-learning container")

// candidates lists the URLs a container's server may answer at: the host
// network, each published address of its port, then its address on each
// of its networks (reachable from a Linux host, not from Docker Desktop's).
func candidates(d *docker.ContainerDetails) []candidate {
	port := defaultPort
	if v, ok := d.Env("IMMICH_PORT"); ok {
		if n, err := strconv.Atoi(v); err == nil && n > 0 && n < 65536 {
			port = n
		}
	}
	ps := strconv.Itoa(port)
	var out []candidate
	if d.HostConfig.NetworkMode == "host" {
		out = append(out, candidate{"http://127.0.0.1:" + ps, RouteHostNetwork})
	}
	for key, bs := range d.NetworkSettings.Ports {
		if n, ok := docker.ParsePort(key); !ok || n != port {
			continue
		}
		for _, b := range bs {
			if b.HostPort == "" {
				continue
			}
			host := b.HostIP
			switch host {
			case "", "0.0.0.0":
				host = "127.0.0.1"
			case "::":
				host = "::1"
			}
			out = append(out, candidate{"http://" + net.JoinHostPort(host, b.HostPort), RoutePublishedPort})
		}
	}
	var nets []string
	for name := range d.NetworkSettings.Networks {
		nets = append(nets, name)
	}
	sort.Strings(nets)
	for _, n := range nets {
		if ip := d.NetworkSettings.Networks[n].IPAddress; ip != "" {
			out = append(out, candidate{"http://" + net.JoinHostPort(ip, ps), RouteNetworkAddr})
		}
	}
	// The same address published twice (IPv4 and IPv6 of 0.0.0.0) once.
	seen := map[string]bool{}
	uniq := out[:0]
	for _, c := range out {
		if !seen[c.url] {
			seen[c.url] = true
			uniq = append(uniq, c)
		}
	}
	return uniq
}

// findContainer picks the running ML container and reaches its server,
// trying each candidate URL with GET /ping.
func findContainer(ctx context.Context, eng Engine, hc *http.Client, name string, pingTimeout time.Duration) (*Container, *docker.ContainerDetails, error) {
	cs, err := eng.Containers(ctx, false)
	if err != nil {
		return nil, nil, fmt.Errorf("finding the ML container through Docker: %w; pass --url for a server elsewhere", err)
	}
	var ml *docker.Container
	for i := range cs {
		c := &cs[i]
		if c.State != "running" {
			continue
		}
		if name != "" && (c.Name() == name || (len(name) >= 4 && strings.HasPrefix(c.ID, name))) {
			ml = c
			break
		}
		if name == "" && detect.IsMLContainer(*c) {
			ml = c
			break
		}
	}
	if ml == nil {
		if name != "" {
			return nil, nil, fmt.Errorf("%w named %q on %s", ErrNoContainer, name, eng.Endpoint())
		}
		return nil, nil, fmt.Errorf("%w on %s", ErrNoContainer, eng.Endpoint())
	}
	d, err := eng.InspectNetwork(ctx, ml.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("inspecting %s: %w", ml.Name(), err)
	}
	cands := candidates(d)
	if len(cands) == 0 {
		return nil, nil, &NotMLError{URL: ml.Name(), Answered: "the container publishes no port " + strconv.Itoa(defaultPort) + " and has no network address", Err: ErrNoAddress}
	}
	var tried []string
	var errs []error
	for _, c := range cands {
		err := ping(ctx, hc, c.url, pingTimeout)
		if err == nil {
			image := d.Config.Image
			if image == "" {
				image = ml.Image
			}
			return &Container{ID: d.ID, Name: ml.Name(), Image: image, Route: c.route, url: c.url}, d, nil
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		var ne *NotMLError
		if errors.As(err, &ne) {
			tried = append(tried, fmt.Sprintf("%s (%s): %s", c.url, c.route, ne.Answered))
		}
		errs = append(errs, err)
	}
	return nil, nil, &NotMLError{
		URL:      ml.Name(),
		Answered: "no address of the container answered: " + strings.Join(tried, "; "),
		Err:      errors.Join(errs...),
	}
}
