package docker

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// Endpoint is where the docker CLI would send its requests, and why.
type Endpoint struct {
	// Host is a DOCKER_HOST value: unix:///var/run/docker.sock, tcp://host:2376.
	Host string
	// Context is the docker context in use ("default" when none is set);
	// empty when DOCKER_HOST decides, which overrides contexts.
	Context string
	// Source says what chose the endpoint: "DOCKER_HOST", "DOCKER_CONTEXT",
	// "current context in <config.json>", "default socket", or the socket
	// found in its place ("rootless Docker socket", "Docker Desktop socket",
	// "Podman socket").
	Source string
	// TLS: talk TLS to a tcp:// host, with these files (PEM) read under the
	// host's file system; empty paths are not used.
	TLS           bool
	TLSVerify     bool
	CA, Cert, Key string
}

// Podman reports whether the endpoint looks like Podman's socket.
func (e Endpoint) Podman() bool { return strings.Contains(e.Host, "podman") }

// Env is what Resolve reads from the environment and the file system.
type Env struct {
	Getenv func(string) string
	// ReadFile reads a host file (absolute path).
	ReadFile func(name string) ([]byte, error)
	// Exists reports whether a host path exists.
	Exists func(name string) bool
	// Home is the user's home directory.
	Home string
	// UID is the user's id, for rootless sockets under /run/user/UID.
	UID int
}

// ErrContext is wrapped by errors about a docker context that cannot be used.
var ErrContext = errors.New("docker context unusable")

func (env Env) configDir() string {
	if c := env.Getenv("DOCKER_CONFIG"); c != "" {
		return c
	}
	return path.Join(env.Home, ".docker")
}

// Resolve finds the daemon the way the docker CLI does: DOCKER_HOST, else
// the context named by DOCKER_CONTEXT, else the currentContext of
// config.json ($DOCKER_CONFIG or ~/.docker), else the default socket. When
// the default socket is missing it takes, in order, rootless Docker's
// ($XDG_RUNTIME_DIR/docker.sock, /run/user/UID/docker.sock), Docker
// Desktop's and Podman's sockets, naming which. TLS settings come from
// DOCKER_TLS_VERIFY, DOCKER_TLS and DOCKER_CERT_PATH, or from the context.
func Resolve(env Env) (Endpoint, error) {
	if h := env.Getenv("DOCKER_HOST"); h != "" {
		e := Endpoint{Host: h, Source: "DOCKER_HOST"}
		envTLS(env, &e)
		return e, nil
	}
	name, src := env.Getenv("DOCKER_CONTEXT"), "DOCKER_CONTEXT"
	if name == "" {
		cfg := path.Join(env.configDir(), "config.json")
		if b, err := env.ReadFile(cfg); err == nil {
			var c struct {
				CurrentContext string `json:"currentContext"`
			}
			if err := json.Unmarshal(b, &c); err != nil {
				return Endpoint{}, fmt.Errorf("%w: reading %s: %w", ErrContext, cfg, err)
			}
			name, src = c.CurrentContext, "current context in "+cfg
		}
	}
	if name != "" && name != "default" {
		return contextEndpoint(env, name, src)
	}
	e := Endpoint{Context: "default", Host: "unix://" + DefaultSocket, Source: "default socket"}
	envTLS(env, &e)
	if env.Exists(DefaultSocket) {
		return e, nil
	}
	var cands []struct{ path, what string }
	add := func(p, what string) { cands = append(cands, struct{ path, what string }{p, what}) }
	if x := env.Getenv("XDG_RUNTIME_DIR"); x != "" {
		add(x+"/docker.sock", "rootless Docker socket")
	}
	if env.UID > 0 {
		add(fmt.Sprintf("/run/user/%d/docker.sock", env.UID), "rootless Docker socket")
	}
	add(env.Home+"/.docker/desktop/docker.sock", "Docker Desktop socket")
	if x := env.Getenv("XDG_RUNTIME_DIR"); x != "" {
		add(x+"/podman/podman.sock", "Podman socket")
	}
	if env.UID > 0 {
		add(fmt.Sprintf("/run/user/%d/podman/podman.sock", env.UID), "Podman socket")
	}
	add("/run/podman/podman.sock", "Podman socket")
	for _, c := range cands {
		if env.Exists(c.path) {
			e.Host, e.Source = "unix://"+c.path, c.what
			return e, nil
		}
	}
	return e, nil
}

func envTLS(env Env, e *Endpoint) {
	verify := env.Getenv("DOCKER_TLS_VERIFY") != ""
	if !verify && env.Getenv("DOCKER_TLS") == "" {
		return
	}
	dir := env.Getenv("DOCKER_CERT_PATH")
	if dir == "" {
		dir = env.configDir()
	}
	e.TLS, e.TLSVerify = true, verify
	e.CA, e.Cert, e.Key = path.Join(dir, "ca.pem"), path.Join(dir, "cert.pem"), path.Join(dir, "key.pem")
	for _, p := range []*string{&e.CA, &e.Cert, &e.Key} {
		if !env.Exists(*p) {
			*p = ""
		}
	}
}

// contextEndpoint reads a context's endpoint from
// contexts/meta/<sha256 of its name>/meta.json, the docker CLI's store, and
// its TLS material from contexts/tls/<same>/docker/.
func contextEndpoint(env Env, name, src string) (Endpoint, error) {
	sum := sha256.Sum256([]byte(name))
	id := hex.EncodeToString(sum[:])
	meta := path.Join(env.configDir(), "contexts", "meta", id, "meta.json")
	b, err := env.ReadFile(meta)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Endpoint{}, fmt.Errorf("%w: context %q (from %s) does not exist: no %s; list them with `docker context ls`", ErrContext, name, src, meta)
		}
		return Endpoint{}, fmt.Errorf("%w: context %q: %w", ErrContext, name, err)
	}
	var m struct {
		Endpoints map[string]struct {
			Host          string `json:"Host"`
			SkipTLSVerify bool   `json:"SkipTLSVerify"`
		} `json:"Endpoints"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return Endpoint{}, fmt.Errorf("%w: context %q: parsing %s: %w", ErrContext, name, meta, err)
	}
	ep, ok := m.Endpoints["docker"]
	if !ok || ep.Host == "" {
		return Endpoint{}, fmt.Errorf("%w: context %q has no docker endpoint (%s)", ErrContext, name, meta)
	}
	e := Endpoint{Host: ep.Host, Context: name, Source: src}
	tlsDir := path.Join(env.configDir(), "contexts", "tls", id, "docker")
	ca, cert, key := path.Join(tlsDir, "ca.pem"), path.Join(tlsDir, "cert.pem"), path.Join(tlsDir, "key.pem")
	if env.Exists(ca) || env.Exists(cert) || ep.SkipTLSVerify {
		e.TLS, e.TLSVerify = true, !ep.SkipTLSVerify
		for p, dst := range map[string]*string{ca: &e.CA, cert: &e.Cert, key: &e.Key} {
			if env.Exists(p) {
				*dst = p
			}
		}
	}
	return e, nil
}

// TLSConfig builds the client's TLS settings from the endpoint's files.
func (e Endpoint) TLSConfig(read func(string) ([]byte, error)) (*tls.Config, error) {
	if !e.TLS {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: !e.TLSVerify} //nolint:gosec // DOCKER_TLS without _VERIFY asks for it
	if e.CA != "" {
		pem, err := read(e.CA)
		if err != nil {
			return nil, fmt.Errorf("reading the CA certificate: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", e.CA)
		}
		cfg.RootCAs = pool
	}
	if e.Cert != "" && e.Key != "" {
		c, err := read(e.Cert)
		if err != nil {
			return nil, fmt.Errorf("reading the client certificate: %w", err)
		}
		k, err := read(e.Key)
		if err != nil {
			return nil, fmt.Errorf("reading the client key: %w", err)
		}
		pair, err := tls.X509KeyPair(c, k)
		if err != nil {
			return nil, fmt.Errorf("client certificate %s and key %s: %w", e.Cert, e.Key, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}
