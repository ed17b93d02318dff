// Package detect finds out what a host can do for Immich's machine-learning
// container: which accelerators are present, whether the drivers, device
// nodes, libraries and container runtime pieces each backend needs are in
// place, and which backend to use. It reads every host file under a root
// directory, talks to NVML, Docker and external commands only through small
// interfaces, and never prints: Run returns a Report.
package detect

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/immich-accel/immich-accel/pkg/accel"
	"github.com/immich-accel/immich-accel/pkg/compose"
	"github.com/immich-accel/immich-accel/pkg/dockerapi"
)

// Status is the outcome of one check.
type Status string

// Check statuses, from good to bad. Skip means the check does not apply to
// this host (for example the NVIDIA checks on a host without an NVIDIA GPU).
const (
	StatusOK   Status = "ok"
	StatusWarn Status = "warn"
	StatusFail Status = "fail"
	StatusSkip Status = "skip"
)

func (s Status) rank() int {
	switch s {
	case StatusFail:
		return 3
	case StatusWarn:
		return 2
	case StatusOK:
		return 1
	}
	return 0
}

// Worse returns the worse of two statuses (fail > warn > ok > skip).
func Worse(a, b Status) Status {
	if b.rank() > a.rank() {
		return b
	}
	return a
}

// Area groups checks in the report, one line per area in the text view.
type Area string

// The areas, in report order.
const (
	AreaPlatform   Area = "platform"
	AreaDocker     Area = "docker"
	AreaNVIDIA     Area = "nvidia"
	AreaIntel      Area = "intel"
	AreaAMD        Area = "amd"
	AreaMali       Area = "mali"
	AreaRKNN       Area = "rknn"
	AreaCPU        Area = "cpu"
	AreaTranscode  Area = "transcode"
	AreaDeployment Area = "deployment"
	AreaContainer  Area = "container"
	AreaServer     Area = "server"
)

// Areas lists every area in report order.
var Areas = []Area{AreaPlatform, AreaDocker, AreaNVIDIA, AreaIntel, AreaAMD, AreaMali, AreaRKNN, AreaCPU, AreaTranscode, AreaDeployment, AreaContainer, AreaServer}

// Title is the human name of an area.
func (a Area) Title() string {
	switch a {
	case AreaPlatform:
		return "Platform"
	case AreaDocker:
		return "Docker"
	case AreaNVIDIA:
		return "NVIDIA (CUDA)"
	case AreaIntel:
		return "Intel (OpenVINO)"
	case AreaAMD:
		return "AMD (ROCm)"
	case AreaMali:
		return "ARM Mali (ARM NN)"
	case AreaRKNN:
		return "Rockchip NPU (RKNN)"
	case AreaCPU:
		return "CPU"
	case AreaTranscode:
		return "Video transcoding"
	case AreaDeployment:
		return "Immich deployment"
	case AreaContainer:
		return "Immich ML container"
	case AreaServer:
		return "Immich server container"
	}
	return string(a)
}

// Check is the result of one check. ID is stable across releases.
type Check struct {
	ID      CheckID  `json:"id"`
	Area    Area     `json:"area"`
	Status  Status   `json:"status"`
	Finding string   `json:"finding"`
	Detail  []string `json:"detail,omitempty"`
	// Fix says what to do. With Run set, it says what that run does and
	// follows it; commands write the run as a command line and fill Fix
	// with the whole text before they print or encode the report.
	Fix string          `json:"fix,omitempty"`
	Run *compose.FixRun `json:"run,omitempty"`
}

// Report is everything Run found.
type Report struct {
	// Root is the directory host files were read under ("/" normally).
	Root           string          `json:"root"`
	Checks         []Check         `json:"checks"`
	Host           HostFacts       `json:"host"`
	Backends       []BackendStatus `json:"backends"`
	Recommendation Recommendation  `json:"recommendation"`
	// Transcodes are the verdicts for each hwaccel.transcoding.yml method,
	// and TranscodeRecommendation the one to use with its admin setting.
	Transcodes              []TranscodeStatus       `json:"transcodes"`
	TranscodeRecommendation TranscodeRecommendation `json:"transcodeRecommendation"`
	// Summary counts checks by status.
	Summary Summary `json:"summary"`
}

// Summary counts checks by status.
type Summary struct {
	OK   int `json:"ok"`
	Warn int `json:"warn"`
	Fail int `json:"fail"`
	Skip int `json:"skip"`
}

// Check returns the check with the given ID, or nil.
func (r *Report) Check(id CheckID) *Check {
	for i := range r.Checks {
		if r.Checks[i].ID == id {
			return &r.Checks[i]
		}
	}
	return nil
}

// HardwareReady reports whether some hardware (non-CPU) backend is ready
// to use, even when a more capable one needs fixes first.
func (r *Report) HardwareReady() bool {
	for _, b := range r.Backends {
		if b.Name != accel.CPU && b.State == BackendReady {
			return true
		}
	}
	return false
}

// BackendState says how far a backend is from usable on this host.
type BackendState string

// Backend states.
const (
	// BackendReady: everything the backend needs is in place.
	BackendReady BackendState = "ready"
	// BackendNeedsFixes: the hardware is there, something else is missing.
	BackendNeedsFixes BackendState = "needs-fixes"
	// BackendUnavailable: this host cannot serve the backend.
	BackendUnavailable BackendState = "unavailable"
)

// BackendStatus is the verdict for one backend.
type BackendStatus struct {
	Name   accel.Backend `json:"name"`
	State  BackendState  `json:"state"`
	Reason string        `json:"reason"`
	// Blockers are the IDs of the failed checks that keep it from ready.
	Blockers []CheckID `json:"blockers,omitempty"`
}

// Backend returns the status of the named backend, or nil.
func (r *Report) Backend(name accel.Backend) *BackendStatus {
	for i := range r.Backends {
		if r.Backends[i].Name == name {
			return &r.Backends[i]
		}
	}
	return nil
}

// Recommendation is the backend to use and how to enable it.
type Recommendation struct {
	Backend        accel.Backend `json:"backend"`
	Ready          bool          `json:"ready"`
	Reason         string        `json:"reason"`
	RunnerUp       accel.Backend `json:"runnerUp,omitempty"`
	RunnerUpReason string        `json:"runnerUpReason,omitempty"`
	// Run is the next run of `immich-accel compose`; commands write it as
	// a command line in Command.
	Run     *compose.FixRun `json:"run,omitempty"`
	Command string          `json:"command"`
}

// Logger is where the detector writes debug notes; a *slog.Logger.
type Logger = *slog.Logger

// Execer runs an external command and returns its standard output.
type Execer interface {
	Output(ctx context.Context, name string, args ...string) ([]byte, error)
}

// ExecFunc adapts a function to Execer.
type ExecFunc func(ctx context.Context, name string, args ...string) ([]byte, error)

// Output calls f.
func (f ExecFunc) Output(ctx context.Context, name string, args ...string) ([]byte, error) {
	return f(ctx, name, args...)
}

// Detector probes one host. Build it with New.
type Detector struct {
	root        string
	nvml        nvml.Interface
	nvmlSet     bool
	docker      dockerapi.API
	dockerSet   bool
	exec        Execer
	log         *slog.Logger
	getenv      func(string) string
	composeFile string
	workDir     string
	timeout     time.Duration
	goos        string
	access      func(path string) error
	inspect     InspectFunc
	immich      ImmichAPI
}

// Option configures a Detector.
type Option func(*Detector)

// WithRoot reads host files under root instead of "/". NVML is not loaded
// and commands are not run when root is not "/", unless given with
// WithNVML and WithExec.
func WithRoot(root string) Option { return func(d *Detector) { d.root = root } }

// WithNVML uses n instead of the host's libnvidia-ml. A nil n disables NVML.
func WithNVML(n nvml.Interface) Option {
	return func(d *Detector) { d.nvml, d.nvmlSet = n, true }
}

// WithDocker uses api to talk to the Docker daemon. A nil api means no daemon.
func WithDocker(api dockerapi.API) Option {
	return func(d *Detector) { d.docker, d.dockerSet = api, true }
}

// WithExec runs external commands through e.
func WithExec(e Execer) Option { return func(d *Detector) { d.exec = e } }

// WithLogger sends debug notes to l.
func WithLogger(l *slog.Logger) Option { return func(d *Detector) { d.log = l } }

// WithGetenv reads environment variables (DOCKER_HOST, HOME) through getenv.
func WithGetenv(getenv func(string) string) Option { return func(d *Detector) { d.getenv = getenv } }

// WithComposeFile inspects the Immich compose file at path (check 9). A
// directory stands for the compose file Compose itself would use there.
func WithComposeFile(path string) Option { return func(d *Detector) { d.composeFile = path } }

// WithWorkDir looks for a compose file in dir when none is given; with one
// given, the recommended command adds --file unless it is the file found in dir.
func WithWorkDir(dir string) Option { return func(d *Detector) { d.workDir = dir } }

// DefaultTimeout is how long a probe waits for something outside the
// process (Docker, NVML, commands) unless WithTimeout says otherwise.
const DefaultTimeout = 1500 * time.Millisecond

// WithTimeout bounds each probe that talks to something outside the
// process (Docker, NVML, commands). The default is DefaultTimeout.
func WithTimeout(t time.Duration) Option { return func(d *Detector) { d.timeout = t } }

// WithGOOS overrides the operating system the detector believes it runs on
// (tests of the non-Linux path).
func WithGOOS(goos string) Option { return func(d *Detector) { d.goos = goos } }

// WithAccess replaces the check for read-write access to device nodes.
func WithAccess(access func(path string) error) Option {
	return func(d *Detector) { d.access = access }
}

// New returns a Detector with real defaults: root "/", the host's NVML
// library, the Docker daemon at DOCKER_HOST or the standard socket, real
// command execution and a discarding logger.
func New(opts ...Option) *Detector {
	d := &Detector{root: "/", timeout: DefaultTimeout, goos: runtime.GOOS}
	for _, o := range opts {
		o(d)
	}
	if d.root == "" {
		d.root = "/"
	}
	if abs, err := filepath.Abs(d.root); err == nil {
		d.root = abs
	}
	if d.getenv == nil {
		d.getenv = os.Getenv
	}
	if d.log == nil {
		d.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if d.exec == nil {
		d.exec = defaultExec{hostRoot: d.isHostRoot()}
	}
	if d.access == nil {
		d.access = accessRW
	}
	return d
}

func (d *Detector) isHostRoot() bool { return d.root == "/" }

// Run probes the host and returns the report. Probes run concurrently; each
// one that talks to something outside the process is bounded by the
// detector's timeout, and Run itself stops waiting after runBudget (or when
// ctx ends): a probe stuck on something no timeout reaches (a host file
// that blocks reading) is reported as unfinished, so Run returns in bounded
// time whatever the host does.
func (d *Detector) Run(ctx context.Context) *Report {
	return d.evaluate(d.collect(ctx, d.probes(fsys{root: d.root})))
}

// probe gathers one kind of facts. It returns what to apply to the facts,
// so that a probe that finishes late changes nothing.
type probe struct {
	name string
	run  func(ctx context.Context) func(*facts)
}

// probes lists every probe Run runs.
func (d *Detector) probes(fs fsys) []probe {
	ps := []probe{
		{"platform", func(context.Context) func(*facts) { v := d.probePlatform(fs); return func(f *facts) { f.platform = v } }},
		{"pci", func(context.Context) func(*facts) { v := d.probePCI(fs); return func(f *facts) { f.pci = v } }},
		{"nvml", func(ctx context.Context) func(*facts) {
			v := d.probeNVML(ctx, fs)
			return func(f *facts) { f.nvml = v }
		}},
		{"docker", func(ctx context.Context) func(*facts) {
			v := d.probeDocker(ctx, fs)
			return func(f *facts) { f.docker = v }
		}},
		{"toolkit", func(context.Context) func(*facts) { v := d.probeToolkit(fs); return func(f *facts) { f.toolkit = v } }},
		{"cpu", func(context.Context) func(*facts) { v := d.probeCPU(fs); return func(f *facts) { f.cpu = v } }},
		{"mali", func(context.Context) func(*facts) { v := d.probeMali(fs); return func(f *facts) { f.mali = v } }},
		{"rknn", func(context.Context) func(*facts) { v := d.probeRKNN(fs); return func(f *facts) { f.rknn = v } }},
		{"groups", func(context.Context) func(*facts) { v := probeGroups(fs); return func(f *facts) { f.groups = v } }},
		{"deployment", func(context.Context) func(*facts) { v := d.probeDeployment(fs); return func(f *facts) { f.deploy = v } }},
		{"transcode", func(context.Context) func(*facts) {
			v := d.probeTranscode(fs)
			return func(f *facts) { f.transcode = v }
		}},
	}
	if d.immich != nil {
		ps = append(ps, probe{"immich", func(ctx context.Context) func(*facts) {
			v := d.probeImmich(ctx)
			return func(f *facts) { f.immich = v }
		}})
	}
	return ps
}

// collect runs the probes at once and waits for them within the run's
// budget. The probes get a context derived from ctx that is canceled when
// collect returns, at the budget at the latest, so none that honours its
// context outlives the run; it is canceled after the facts are closed, so
// a probe woken by it changes nothing.
func (d *Detector) collect(ctx context.Context, probes []probe) *facts {
	budget := d.runBudget()
	probeCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	timer := time.NewTimer(budget)
	defer timer.Stop()
	// What the report says of a probe that does not finish.
	f := &facts{}
	f.platform.GOOS = d.goos
	f.nvml.SkipReason = "the NVML probe did not finish in time"
	f.docker.NoDaemon = "the Docker probe did not finish in time"
	if d.immich != nil {
		f.immich = immichFacts{Asked: true, Endpoint: d.immich.Endpoint(), Err: fmt.Errorf("the request did not finish in time")}
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex // guards f, pending and closed while probes run
		closed  bool
		pending = map[string]bool{}
	)
	mu.Lock() // the probes wait until every one is started
	for _, p := range probes {
		pending[p.name] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					d.log.Error("probe panicked", "probe", p.name, "panic", fmt.Sprint(r))
					mu.Lock()
					if !closed {
						f.panics = append(f.panics, fmt.Sprintf("%s probe: %v", p.name, r))
						delete(pending, p.name)
					}
					mu.Unlock()
				}
			}()
			start := time.Now()
			apply := p.run(probeCtx)
			mu.Lock()
			if !closed {
				apply(f)
				delete(pending, p.name)
			}
			mu.Unlock()
			d.log.Debug("probe done", "probe", p.name, "took", time.Since(start))
		}()
	}
	mu.Unlock()

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-timer.C:
	case <-ctx.Done():
	}
	mu.Lock()
	closed = true // late probes change nothing from here on
	for name := range pending {
		f.unfinished = append(f.unfinished, name)
	}
	mu.Unlock()
	sort.Strings(f.unfinished)
	if len(f.unfinished) > 0 {
		d.log.Warn("probes did not finish", "probes", f.unfinished, "after", budget)
	}
	f.budget = budget
	return f
}

// runBudget is how long Run waits for all probes: the Docker probe makes a
// few requests in a row, each bounded by the timeout.
func (d *Detector) runBudget() time.Duration { return 4*d.timeout + time.Second }
