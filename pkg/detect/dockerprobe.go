package detect

import (
	"context"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/immich-accel/immich-accel/internal/ansi"
	"github.com/immich-accel/immich-accel/internal/docker"
)

type dockerFacts struct {
	CLIPath        string
	ComposePath    string
	ComposeVersion string
	ComposeErr     string
	ComposeV1      string // a standalone docker-compose that is not a v2 plugin
	DesktopHints   []string

	NoDaemon   string // why the daemon was not contacted
	BadHost    bool   // DOCKER_HOST is set to an address doctor cannot use
	BadContext bool   // the docker context in use cannot be read
	Endpoint   string
	// Context is the docker context ("" when DOCKER_HOST chose the
	// endpoint or a fake daemon is used), Source what chose the endpoint.
	Context    string
	Source     string
	PingErr    error
	Info       *docker.Info
	InfoErr    error
	Version    *docker.Version
	Containers []docker.Container
	ListErr    error
	ML         *docker.Container
	Inspect    *docker.ContainerJSON
	InspectErr error
	Logs       string
	LogsErr    error
	// Server is the container that transcodes (immich-server, or
	// immich-microservices before v1.106), with its recent log.
	Server        *docker.Container
	ServerLogs    string
	ServerLogsErr error

	DaemonJSON         bool
	DaemonJSONErr      error
	DaemonJSONRuntimes []string
	DaemonJSONCDI      bool
}

// composePluginDirs are where the Docker CLI looks for plugins, system-wide.
var composePluginDirs = []string{
	"/usr/local/lib/docker/cli-plugins",
	"/usr/local/libexec/docker/cli-plugins",
	"/usr/lib/docker/cli-plugins",
	"/usr/libexec/docker/cli-plugins",
}

func (d *Detector) homeDir() string {
	if h := d.getenv("HOME"); h != "" {
		return h
	}
	return "/root"
}

func (d *Detector) probeDocker(ctx context.Context, fs fsys) dockerFacts {
	var f dockerFacts
	f.CLIPath = fs.findBinary("docker", d.pathDirs()...)
	plugDirs := []string{}
	if c := d.getenv("DOCKER_CONFIG"); c != "" {
		plugDirs = append(plugDirs, c+"/cli-plugins")
	}
	plugDirs = append(plugDirs, d.homeDir()+"/.docker/cli-plugins")
	plugDirs = append(plugDirs, composePluginDirs...)
	for _, dir := range plugDirs {
		if p := dir + "/docker-compose"; fs.exists(p) {
			f.ComposePath = p
			break
		}
	}
	if f.ComposePath == "" {
		f.ComposeV1 = fs.findBinary("docker-compose", d.pathDirs()...)
	}
	if fs.isDir("/mnt/wsl/docker-desktop") {
		f.DesktopHints = append(f.DesktopHints, "/mnt/wsl/docker-desktop")
	}
	if p := d.homeDir() + "/.docker/desktop/docker.sock"; fs.exists(p) {
		f.DesktopHints = append(f.DesktopHints, p)
	}
	d.readDaemonJSON(fs, &f)

	done := make(chan struct{})
	if f.ComposePath != "" {
		go func() {
			defer close(done)
			f.ComposeVersion, f.ComposeErr = d.composeVersion(ctx, fs.path(f.ComposePath))
		}()
	} else {
		close(done)
	}
	d.probeDaemon(ctx, fs, &f)
	<-done
	return f
}

func (d *Detector) pathDirs() []string {
	if !d.isHostRoot() {
		return nil
	}
	var dirs []string
	for _, p := range filepath.SplitList(d.getenv("PATH")) {
		if filepath.IsAbs(p) {
			dirs = append(dirs, p)
		}
	}
	return dirs
}

// composeVersion reads the plugin's version from its Go build information
// when that holds it, else asks the plugin for its metadata, the call the
// Docker CLI itself makes to list plugins (running the ~100 MB binary costs
// tens of milliseconds).
func (d *Detector) composeVersion(ctx context.Context, bin string) (string, string) {
	if v := composeBuildVersion(bin); v != "" {
		return v, ""
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	out, err := d.exec.Output(ctx, bin, "docker-cli-plugin-metadata")
	if err != nil {
		if errors.Is(err, errNotRun) {
			return "", ""
		}
		if ctx.Err() != nil {
			return "", fmt.Sprintf("%s did not answer within %s", bin, d.timeout)
		}
		return "", err.Error()
	}
	var meta struct {
		Version string `json:"Version"`
	}
	if err := json.Unmarshal(out, &meta); err != nil || meta.Version == "" {
		return "", fmt.Sprintf("unexpected plugin metadata from %s", bin)
	}
	return strings.TrimPrefix(meta.Version, "v"), ""
}

// composeModule is the Go module of the Compose v2 plugin; its release
// builds set the version with -X composeModule/internal.Version=vX.Y.Z
// (docker/compose's Makefile).
const composeModule = "github.com/docker/compose/v2"

var (
	reComposeLdflag = regexp.MustCompile(`-X[= ]'?` + regexp.QuoteMeta(composeModule) + `/internal\.Version=v?(\d+\.\d+\.\d+[0-9A-Za-z.+-]*)`)
	reRelease       = regexp.MustCompile(`^v(\d+\.\d+\.\d+)$`)
)

// composeBuildVersion reads the Compose plugin's version without running
// it: from the -X flag that set internal.Version when the build recorded
// its -ldflags, or from the main module's version when the build was
// stamped from a release tag. It returns "" when the binary does not say
// (a stripped -trimpath build from a source tree, a wrapper script), and
// for anything that is not a regular file (a FIFO would block).
func composeBuildVersion(bin string) string {
	st, err := os.Stat(bin)
	if err != nil || !st.Mode().IsRegular() {
		return ""
	}
	bi, err := buildinfo.ReadFile(bin)
	if err != nil || bi.Main.Path != composeModule {
		return ""
	}
	for _, s := range bi.Settings {
		if s.Key == "-ldflags" {
			if m := reComposeLdflag.FindStringSubmatch(s.Value); m != nil {
				return m[1]
			}
		}
	}
	if m := reRelease.FindStringSubmatch(bi.Main.Version); m != nil {
		return m[1]
	}
	return ""
}

func (d *Detector) readDaemonJSON(fs fsys, f *dockerFacts) {
	s, err := fs.read("/etc/docker/daemon.json")
	if err != nil {
		if describeErr(err) != "not found" {
			f.DaemonJSONErr = err
		}
		return
	}
	f.DaemonJSON = true
	var cfg struct {
		Runtimes map[string]json.RawMessage `json:"runtimes"`
		Features map[string]bool            `json:"features"`
	}
	if err := json.Unmarshal([]byte(s), &cfg); err != nil {
		f.DaemonJSONErr = fmt.Errorf("parsing /etc/docker/daemon.json: %w", err)
		return
	}
	for k := range cfg.Runtimes {
		f.DaemonJSONRuntimes = append(f.DaemonJSONRuntimes, k)
	}
	sort.Strings(f.DaemonJSONRuntimes)
	f.DaemonJSONCDI = cfg.Features["cdi"]
}

// dockerAPI returns the client to use, or nil with the reason. It finds
// the daemon as the docker CLI does (docker.Resolve).
func (d *Detector) dockerAPI(fs fsys, f *dockerFacts) (docker.API, string) {
	if d.dockerSet {
		if d.docker == nil {
			return nil, "no Docker daemon configured"
		}
		return d.docker, ""
	}
	uid := 0
	if d.isHostRoot() {
		uid = os.Getuid()
	}
	env := docker.Env{
		Getenv:   d.getenv,
		ReadFile: func(p string) ([]byte, error) { s, err := fs.read(p); return []byte(s), err },
		Exists:   fs.exists,
		Home:     d.homeDir(),
		UID:      uid,
	}
	ep, err := docker.Resolve(env)
	if err != nil {
		f.BadContext = true
		return nil, err.Error()
	}
	f.Context, f.Source = ep.Context, ep.Source
	host := ep.Host
	if ep.Source != "DOCKER_HOST" {
		if sock, ok := strings.CutPrefix(host, "unix://"); ok {
			if !fs.exists(sock) {
				if ep.Context == "default" {
					return nil, "no Docker socket at " + docker.DefaultSocket + " and DOCKER_HOST is not set"
				}
				return nil, fmt.Sprintf("no Docker socket at %s (context %q)", sock, ep.Context)
			}
			host = "unix://" + fs.path(sock)
		}
	}
	tlsCfg, err := ep.TLSConfig(env.ReadFile)
	if err != nil {
		return nil, fmt.Sprintf("TLS for %s (%s): %v", ep.Host, ep.Source, err)
	}
	c, err := docker.New(host, docker.WithTimeout(d.timeout), docker.WithTLS(tlsCfg))
	if err != nil {
		f.BadHost = ep.Source == "DOCKER_HOST"
		return nil, err.Error()
	}
	return c, ""
}

func (d *Detector) probeDaemon(ctx context.Context, fs fsys, f *dockerFacts) {
	api, why := d.dockerAPI(fs, f)
	if api == nil {
		f.NoDaemon = why
		return
	}
	f.Endpoint = api.Endpoint()
	// One deadline for the whole conversation, so that a daemon that
	// accepts connections but never answers costs one timeout, not five.
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	if err := api.Ping(ctx); err != nil {
		f.PingErr = err
		return
	}
	f.Info, f.InfoErr = api.Info(ctx)
	f.Version, _ = api.Version(ctx)
	f.Containers, f.ListErr = api.Containers(ctx, true)
	f.Server = findServerContainer(f.Containers)
	if f.Server != nil && f.Server.State == "running" {
		f.ServerLogs, f.ServerLogsErr = api.Logs(ctx, f.Server.ID, 5000)
	}
	f.ML = findMLContainer(f.Containers)
	if f.ML == nil {
		return
	}
	f.Inspect, f.InspectErr = api.Inspect(ctx, f.ML.ID)
	// A container that never started has no logs; one that stopped or
	// restarts has those of its last run, which say why.
	if f.ML.State != "created" {
		f.Logs, f.LogsErr = api.Logs(ctx, f.ML.ID, 5000)
	}
}

// findMLContainer picks Immich's machine-learning container, preferring a
// running one.
func findMLContainer(cs []docker.Container) *docker.Container {
	var best *docker.Container
	for i := range cs {
		c := &cs[i]
		if !isMLContainer(c) {
			continue
		}
		if best == nil || (best.State != "running" && c.State == "running") {
			best = c
		}
	}
	return best
}

func isMLContainer(c *docker.Container) bool {
	if strings.Contains(c.Image, "immich-machine-learning") {
		return true
	}
	if c.Labels["com.docker.compose.service"] == "immich-machine-learning" {
		return true
	}
	n := c.Name()
	return strings.Contains(n, "immich-machine-learning") || strings.Contains(n, "immich_machine_learning")
}

// ---- NVIDIA Container Toolkit ----

type toolkitFacts struct {
	Binaries map[string]string // name → path
	CDISpecs []string          // NVIDIA CDI spec files
	CDIOther []string
	Config   bool // /etc/nvidia-container-runtime/config.toml
}

var toolkitBinaries = []string{"nvidia-ctk", "nvidia-container-runtime", "nvidia-container-runtime-hook", "nvidia-container-toolkit", "nvidia-container-cli"}

func (d *Detector) probeToolkit(fs fsys) toolkitFacts {
	t := toolkitFacts{Binaries: map[string]string{}}
	for _, b := range toolkitBinaries {
		if p := fs.findBinary(b); p != "" {
			t.Binaries[b] = p
		}
	}
	for _, dir := range []string{"/etc/cdi", "/var/run/cdi", "/run/cdi"} {
		for _, ext := range []string{"*.yaml", "*.yml", "*.json"} {
			for _, p := range fs.glob(dir + "/" + ext) {
				s, err := fs.read(p)
				if err == nil && strings.Contains(s, "nvidia.com/gpu") {
					t.CDISpecs = append(t.CDISpecs, p)
				} else {
					t.CDIOther = append(t.CDIOther, p)
				}
			}
		}
	}
	t.Config = fs.exists("/etc/nvidia-container-runtime/config.toml")
	return t
}

// ---- container logs ----

type logFindings struct {
	Providers        []string // from the last "Setting execution providers to [...]"
	Available        []string // from the last "Available ORT providers: {...}"
	ANNFailed        bool
	ANNError         string
	EPFailures       []string // "Failed to create CUDAExecutionProvider ..." lines
	SawDebug         bool
	ProviderLineSeen bool
}

var (
	reProvider  = regexp.MustCompile(`([A-Za-z]+)ExecutionProvider`)
	reSetProvs  = regexp.MustCompile(`Setting execution providers to\s*\[([^\]]*)\]`)
	reAvailable = regexp.MustCompile(`Available ORT providers:\s*\{([^}]*)\}`)
	reEPFail    = regexp.MustCompile(`Failed to create ([A-Za-z]+ExecutionProvider)[^\n]*`)
	reANN       = regexp.MustCompile(`Could not load ANN shared libraries[^\n]*`)
)

// analyzeLogs reads what Immich's ML service logs about ONNX Runtime
// providers. Rich-formatted logs wrap long lines, so the provider lists are
// matched across line breaks.
func analyzeLogs(logs string) logFindings {
	var lf logFindings
	s := unwrapRich(ansi.Strip(logs))
	if m := reSetProvs.FindAllStringSubmatch(s, -1); len(m) > 0 {
		lf.ProviderLineSeen = true
		lf.Providers = providerNames(m[len(m)-1][1])
	}
	if m := reAvailable.FindAllStringSubmatch(s, -1); len(m) > 0 {
		lf.Available = providerNames(m[len(m)-1][1])
		sort.Strings(lf.Available)
	}
	if m := reANN.FindString(s); m != "" {
		lf.ANNFailed = true
		lf.ANNError = strings.TrimSpace(m)
	}
	for _, m := range reEPFail.FindAllString(s, -1) {
		m = strings.TrimSpace(m)
		if len(m) > 200 {
			m = m[:200] + "…"
		}
		lf.EPFailures = append(lf.EPFailures, m)
	}
	lf.SawDebug = strings.Contains(s, "DEBUG")
	return lf
}

// unwrapRich joins the continuation lines that Python's rich logging
// handler wraps long messages into (indented past the time/level columns)
// and drops the padding at line ends.
func unwrapRich(s string) string {
	var b strings.Builder
	for i, line := range strings.Split(s, "\n") {
		trimmed := strings.TrimSpace(line)
		cont := len(line)-len(strings.TrimLeft(line, " ")) >= 20 && trimmed != ""
		switch {
		case i == 0:
		case cont:
			b.WriteByte(' ')
		default:
			b.WriteByte('\n')
		}
		if cont {
			b.WriteString(trimmed)
		} else {
			b.WriteString(strings.TrimRight(line, " \t\r"))
		}
	}
	return b.String()
}

func providerNames(s string) []string {
	var out []string
	for _, m := range reProvider.FindAllStringSubmatch(s, -1) {
		out = append(out, m[0])
	}
	return out
}
