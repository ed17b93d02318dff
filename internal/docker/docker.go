// Package docker is a small client for the Docker Engine API over a unix
// socket or TCP (DOCKER_HOST). It covers what immich-accel needs: ping,
// engine info and version, the container list, container logs and the
// volume list. Every call takes a context and the client adds its own
// timeout, so a daemon that never answers cannot hang the caller.
package docker

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/immich-accel/immich-accel/pkg/dockerapi"
)

// The API and the types it answers with are declared in pkg/dockerapi,
// so that pkg/detect can take them; these names keep the client's code
// short.
type (
	API       = dockerapi.API
	Info      = dockerapi.Info
	Runtime   = dockerapi.Runtime
	Version   = dockerapi.Version
	Container = dockerapi.Container
	Mount     = dockerapi.Mount
	Volume    = dockerapi.Volume

	ContainerJSON  = dockerapi.ContainerJSON
	ContainerState = dockerapi.ContainerState
	Health         = dockerapi.Health
	HealthResult   = dockerapi.HealthResult
	HostConfig     = dockerapi.HostConfig
	DeviceMapping  = dockerapi.DeviceMapping
	DeviceRequest  = dockerapi.DeviceRequest
)

// DefaultSocket is the engine's standard unix socket.
const DefaultSocket = "/var/run/docker.sock"

// DefaultTimeout bounds each request when no WithTimeout is given.
const DefaultTimeout = 2 * time.Second

// Client talks to one Docker Engine endpoint.
type Client struct {
	endpoint string
	http     *http.Client
	base     string
	timeout  time.Duration
	tls      *tls.Config
	// api is the API version requests use ("1.41"), set by Ping from the
	// daemon's API-Version header; empty before, which the daemon takes
	// as its own current version.
	api atomic.Value
}

var _ API = (*Client)(nil)

// Option configures a Client.
type Option func(*Client)

// WithTimeout bounds every request (connect and read).
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithTLS talks TLS to a tcp:// daemon (DOCKER_TLS_VERIFY, a context's TLS
// material).
func WithTLS(cfg *tls.Config) Option { return func(c *Client) { c.tls = cfg } }

// MaxAPIVersion is the newest Engine API version this client speaks. Ping
// settles on the older of it and the daemon's, as the docker CLI does, so
// old daemons (Debian's 20.10 speaks 1.41) answer in their own version.
const MaxAPIVersion = "1.47"

// New returns a client for host, which is a DOCKER_HOST value
// ("unix:///path", "tcp://host:port") or empty for the default socket.
// Only the scheme and address are validated here; nothing is contacted.
func New(host string, opts ...Option) (*Client, error) {
	c := &Client{timeout: DefaultTimeout}
	for _, o := range opts {
		o(c)
	}
	if host == "" {
		host = "unix://" + DefaultSocket
	}
	u, err := url.Parse(host)
	if err != nil {
		return nil, fmt.Errorf("docker host %q: %w", host, err)
	}
	dialer := &net.Dialer{Timeout: c.timeout}
	tr := &http.Transport{
		ResponseHeaderTimeout: c.timeout,
		DisableCompression:    true,
		MaxIdleConns:          2,
	}
	switch u.Scheme {
	case "unix":
		path := u.Path
		if path == "" {
			path = u.Host
		}
		if path == "" {
			return nil, fmt.Errorf("docker host %q: no socket path", host)
		}
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "unix", path)
		}
		c.base = "http://docker"
		c.endpoint = "unix://" + path
	case "tcp", "http":
		if u.Host == "" {
			return nil, fmt.Errorf("docker host %q: no address", host)
		}
		tr.DialContext = dialer.DialContext
		c.base = "http://" + u.Host
		c.endpoint = "tcp://" + u.Host
		if c.tls != nil {
			tr.TLSClientConfig = c.tls
			c.base = "https://" + u.Host
		}
	default:
		return nil, fmt.Errorf("docker host %q: unsupported scheme %q (want unix:// or tcp://; ssh:// is not supported)", host, u.Scheme)
	}
	c.http = &http.Client{Transport: tr}
	return c, nil
}

// Endpoint says where the client connects.
func (c *Client) Endpoint() string { return c.endpoint }

// ErrTimeout is wrapped by errors from requests the daemon did not answer
// in time (dockerapi.ErrTimeout).
var ErrTimeout = dockerapi.ErrTimeout

func (c *Client) get(ctx context.Context, path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if v, _ := c.api.Load().(string); v != "" && path != "/_ping" {
		path = "/v" + v + path
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, fmt.Errorf("docker: building request %s: %w", path, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("docker: GET %s on %s: %w (%s)", path, c.endpoint, ErrTimeout, c.timeout)
		}
		return nil, fmt.Errorf("docker: GET %s on %s: %w", path, c.endpoint, unwrapURL(err))
	}
	defer resp.Body.Close()
	if path == "/_ping" {
		if v := resp.Header.Get("API-Version"); v != "" {
			c.api.Store(olderVersion(v, MaxAPIVersion))
		}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("docker: reading %s from %s: %w (%s)", path, c.endpoint, ErrTimeout, c.timeout)
		}
		return nil, fmt.Errorf("docker: reading %s from %s: %w", path, c.endpoint, err)
	}
	if resp.StatusCode != http.StatusOK {
		var m struct {
			Message string `json:"message"`
		}
		msg := strings.TrimSpace(string(body))
		if json.Unmarshal(body, &m) == nil && m.Message != "" {
			msg = m.Message
		}
		return nil, fmt.Errorf("docker: GET %s: %s: %s", path, resp.Status, msg)
	}
	return body, nil
}

// APIVersion is the API version the client settled on with the daemon
// ("" before a successful Ping).
func (c *Client) APIVersion() string {
	v, _ := c.api.Load().(string)
	return v
}

// olderVersion returns the older of two API versions ("1.41", "1.47");
// a malformed daemon version is taken as it is not: the client's is used.
func olderVersion(daemon, client string) string {
	dm, dn, ok1 := splitVersion(daemon)
	cm, cn, ok2 := splitVersion(client)
	if !ok1 || !ok2 {
		return client
	}
	if dm < cm || (dm == cm && dn < cn) {
		return daemon
	}
	return client
}

func splitVersion(v string) (int, int, bool) {
	a, b, ok := strings.Cut(v, ".")
	if !ok {
		return 0, 0, false
	}
	x, err1 := strconv.Atoi(a)
	y, err2 := strconv.Atoi(b)
	return x, y, err1 == nil && err2 == nil && x >= 0 && y >= 0
}

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func (c *Client) getJSON(ctx context.Context, path string, v any) error {
	body, err := c.get(ctx, path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("docker: decoding %s: %w", path, err)
	}
	return nil
}

// Ping checks that the daemon answers GET /_ping with OK.
func (c *Client) Ping(ctx context.Context) error {
	body, err := c.get(ctx, "/_ping")
	if err != nil {
		return err
	}
	if s := strings.TrimSpace(string(body)); s != "OK" {
		return fmt.Errorf("docker: unexpected /_ping answer %q from %s", s, c.endpoint)
	}
	return nil
}

// Info returns GET /info.
func (c *Client) Info(ctx context.Context) (*Info, error) {
	var in Info
	if err := c.getJSON(ctx, "/info", &in); err != nil {
		return nil, err
	}
	return &in, nil
}

// Version returns GET /version.
func (c *Client) Version(ctx context.Context) (*Version, error) {
	var v Version
	if err := c.getJSON(ctx, "/version", &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Containers returns GET /containers/json.
func (c *Client) Containers(ctx context.Context, all bool) ([]Container, error) {
	var cs []Container
	path := "/containers/json"
	if all {
		path += "?all=1"
	}
	if err := c.getJSON(ctx, path, &cs); err != nil {
		return nil, err
	}
	return cs, nil
}

// Volumes returns the Volumes of GET /volumes.
func (c *Client) Volumes(ctx context.Context) ([]Volume, error) {
	var v struct {
		Volumes []Volume `json:"Volumes"`
	}
	if err := c.getJSON(ctx, "/volumes", &v); err != nil {
		return nil, err
	}
	return v.Volumes, nil
}

// Inspect returns GET /containers/{id}/json.
func (c *Client) Inspect(ctx context.Context, id string) (*ContainerJSON, error) {
	if id == "" {
		return nil, errors.New("docker: inspect: empty container id")
	}
	var cj ContainerJSON
	if err := c.getJSON(ctx, "/containers/"+url.PathEscape(id)+"/json", &cj); err != nil {
		return nil, err
	}
	return &cj, nil
}

// Logs returns the last tail lines of the container's output.
func (c *Client) Logs(ctx context.Context, id string, tail int) (string, error) {
	if id == "" {
		return "", errors.New("docker: logs: empty container id")
	}
	q := url.Values{"stdout": {"1"}, "stderr": {"1"}}
	if tail > 0 {
		q.Set("tail", strconv.Itoa(tail))
	}
	body, err := c.get(ctx, "/containers/"+url.PathEscape(id)+"/logs?"+q.Encode())
	if err != nil {
		return "", err
	}
	return DemuxLogs(body), nil
}

// DemuxLogs turns the body of a logs request into text. Containers without
// a TTY send a multiplexed stream: frames of an 8-byte header (stream type,
// three zero bytes, big-endian length) followed by the payload. Containers
// with a TTY send raw text, which is returned unchanged.
func DemuxLogs(b []byte) string {
	if !isMultiplexed(b) {
		return string(b)
	}
	var out bytes.Buffer
	for len(b) >= 8 {
		n := int(binary.BigEndian.Uint32(b[4:8]))
		b = b[8:]
		if n > len(b) {
			n = len(b)
		}
		out.Write(b[:n])
		b = b[n:]
	}
	return out.String()
}

func isMultiplexed(b []byte) bool {
	if len(b) < 8 {
		return false
	}
	return b[0] <= 2 && b[1] == 0 && b[2] == 0 && b[3] == 0
}
