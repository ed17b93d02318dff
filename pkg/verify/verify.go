package verify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/immich-accel/immich-accel/pkg/accel"
	"github.com/immich-accel/immich-accel/pkg/detect"
)

// Config is what to verify and how hard.
type Config struct {
	// URL is the ML server's base URL; empty means finding the container
	// through Engine. A URL is treated as remote: latency only.
	URL string
	// Container names the ML container (name or id prefix) when Docker
	// runs several; empty means the first running one.
	Container string
	// Duration is how long each task's warm phase runs.
	Duration time.Duration
	// Concurrency is how many requests are in flight at once.
	Concurrency int
	// Models names the models; empty names mean Immich's defaults.
	Models Models
	// PingTimeout bounds reaching the server (GET /ping).
	PingTimeout time.Duration
	// FirstTimeout bounds each task's first request, which may download
	// and load the model.
	FirstTimeout time.Duration
	// Timeout bounds each warm request.
	Timeout time.Duration
	// SampleInterval is how often the device is read (default 250 ms).
	SampleInterval time.Duration
	// Progress, when set, is told when each task's first request and its
	// warm phase start.
	Progress func(t TaskName, phase Phase)
}

// Phase is a part of a task's run.
type Phase string

// Phases of a task.
const (
	PhaseFirst Phase = "first request"
	PhaseWarm  Phase = "warm requests"
)

// LogScanner matches log text against the catalogue of known ML failures.
type LogScanner interface {
	Scan(text string, b accel.Backend) []LogMatch
}

// LogMatch is one known failure found in the logs.
type LogMatch struct {
	Class   string `json:"class"`
	Text    string `json:"text"`
	Meaning string `json:"meaning,omitempty"`
	Fix     string `json:"fix,omitempty"`
	// CPUFallback is true when the match says the server runs on the CPU.
	CPUFallback bool `json:"cpuFallback,omitempty"`
}

// Env is what Run reads from the outside world. Nil fields are not used.
type Env struct {
	// Engine finds the ML container; nil without Docker.
	Engine Engine
	// EngineErr says why there is no Engine, for the error when one is needed.
	EngineErr error
	// HostFS reads host files (the device and cgroup files).
	HostFS detect.HostFS
	// NVML opens the NVIDIA driver; nil disables NVIDIA watching. It is
	// used only when HostFS is this host's own root.
	NVML nvml.Interface
	// Logs scans the logs written during the run; nil skips that.
	Logs LogScanner
	// HTTP is the client for /ping (default: a plain one).
	HTTP *http.Client
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// TaskResult is the outcome of one task.
type TaskResult struct {
	Task   TaskName `json:"task"`
	Model  string   `json:"model"`
	OK     bool     `json:"ok"`
	Error  string   `json:"error,omitempty"`
	Status int      `json:"status,omitempty"`
	Body   string   `json:"body,omitempty"`
	// FirstMs is the first request's latency, which includes downloading
	// and loading the model when it was not loaded yet.
	FirstMs float64 `json:"firstMs"`
	Warm    Stats   `json:"warm"`
	// Device is what the device did during the warm phase.
	Device *DeviceUse `json:"device,omitempty"`
	// CPUSecondsPerRequest is the container's CPU time during the warm
	// phase divided by the requests completed.
	CPUSecondsPerRequest *float64 `json:"cpuSecondsPerRequest,omitempty"`
	Note                 string   `json:"note,omitempty"`
}

// Device says what was watched.
type Device struct {
	Backend accel.Backend `json:"backend"`
	// Source says what was read, empty when nothing could be.
	Source string `json:"source,omitempty"`
	// Unmeasured says why the device was not watched.
	Unmeasured string `json:"unmeasured,omitempty"`
	// CPU says where the container's CPU time was read, or why not.
	CPU string `json:"cpu"`
	// Before is what the device did in the moment before any request was
	// sent: busy from other work, which device-wide figures include.
	Before *DeviceUse `json:"before,omitempty"`
}

// Logs is what the logs written during the run say.
type Logs struct {
	Read      bool       `json:"read"`
	Error     string     `json:"error,omitempty"`
	Providers []string   `json:"providers,omitempty"`
	Matches   []LogMatch `json:"matches,omitempty"`
}

// Verdict is the answer to "does the accelerator do the work?".
type Verdict string

// Verdicts.
const (
	Accelerated   Verdict = "accelerated"
	CPUFallback   Verdict = "cpu-fallback"
	Failed        Verdict = "failed"
	NotMeasurable Verdict = "not-measurable"
)

// Report is everything Run found.
type Report struct {
	URL         string        `json:"url"`
	Remote      bool          `json:"remote"`
	Container   *Container    `json:"container,omitempty"`
	Device      *Device       `json:"device,omitempty"`
	Concurrency int           `json:"concurrency"`
	DurationS   float64       `json:"durationSeconds"`
	Tasks       []TaskResult  `json:"tasks"`
	Logs        Logs          `json:"logs"`
	Verdict     Verdict       `json:"verdict"`
	Reason      string        `json:"reason"`
	Started     time.Time     `json:"started"`
	Backend     accel.Backend `json:"backend,omitempty"`
}

func (c *Config) defaults() {
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 2
	}
	if c.Models.CLIP == "" {
		c.Models.CLIP = DefaultCLIPModel
	}
	if c.Models.Face == "" {
		c.Models.Face = DefaultFaceModel
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = 2 * time.Second
	}
	if c.FirstTimeout <= 0 {
		c.FirstTimeout = 300 * time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 60 * time.Second
	}
	if c.SampleInterval <= 0 {
		c.SampleInterval = 250 * time.Millisecond
	}
}

// Run finds the server, runs every task and returns the report. The error
// is for what stops verification before any task ran: no server, or one
// that is not Immich's ML server (a *NotMLError).
func Run(ctx context.Context, env Env, cfg Config) (*Report, error) {
	cfg.defaults()
	now := env.Now
	if now == nil {
		now = time.Now
	}
	hc := env.HTTP
	if hc == nil {
		hc = &http.Client{}
	}
	rep := &Report{Concurrency: cfg.Concurrency, DurationS: cfg.Duration.Seconds(), Started: now()}
	var details *detailsView
	if cfg.URL != "" {
		rep.URL, rep.Remote = serverBase(cfg.URL), true
		if err := ping(ctx, hc, rep.URL, cfg.PingTimeout); err != nil {
			return nil, err
		}
	} else {
		if env.Engine == nil {
			err := env.EngineErr
			if err == nil {
				err = errors.New("no Docker Engine configured")
			}
			return nil, fmt.Errorf("finding the ML container through Docker: %w; pass --url for a server elsewhere", err)
		}
		c, d, err := findContainer(ctx, env.Engine, hc, cfg.Container, cfg.PingTimeout)
		if err != nil {
			return nil, err
		}
		rep.URL = c.url
		rep.Container = c
		rep.Backend = accel.ImageBackend(c.Image)
		details = &detailsView{id: d.ID, pid: d.State.Pid}
	}

	ts, err := tasks(cfg.Models)
	if err != nil {
		return nil, err
	}
	cl := newClient(rep.URL, cfg.Concurrency)
	defer cl.close()

	var mon *monitor
	if details != nil {
		mon = newMonitor(env, rep.Backend, details, now)
		defer mon.close()
		mon.baseline(ctx, cfg.SampleInterval)
		rep.Device = &mon.device
	}
	for i := range ts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rep.Tasks = append(rep.Tasks, runTask(ctx, cl, &ts[i], cfg, mon))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	checkCLIPAgreement(rep)
	if details != nil {
		rep.Logs = readLogs(ctx, env, details.id, rep.Backend, rep.Started)
	}
	rep.Verdict, rep.Reason = decide(rep)
	return rep, nil
}

// serverBase is the scheme and host of a server URL: Immich's server
// builds its requests with new URL('/ping', url), which drops any path
// (ml-protocol.md §2), so verify does the same.
func serverBase(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return strings.TrimRight(raw, "/")
	}
	return u.Scheme + "://" + u.Host
}

type detailsView struct {
	id  string
	pid int
}

// runTask sends the first request, then keeps cfg.Concurrency in flight
// for cfg.Duration while the monitor watches.
func runTask(ctx context.Context, cl *client, t *task, cfg Config, mon *monitor) TaskResult {
	res := TaskResult{Task: t.name, Model: t.model}
	if cfg.Progress != nil {
		cfg.Progress(t.name, PhaseFirst)
	}
	t0 := time.Now()
	note, err := cl.do(ctx, t, cfg.FirstTimeout)
	res.FirstMs = ms(time.Since(t0))
	if err != nil {
		fail(&res, err)
		return res
	}
	res.Note = note
	if cfg.Progress != nil {
		cfg.Progress(t.name, PhaseWarm)
	}
	var w *watching
	if mon != nil {
		w = mon.start(cfg.SampleInterval)
	}
	l := runWarm(ctx, cl, t, cfg.Concurrency, cfg.Duration, cfg.Timeout)
	if w != nil {
		res.Device, res.CPUSecondsPerRequest = mon.stop(ctx, w, l.stats.Requests)
	}
	res.Warm = l.stats
	if l.note != "" {
		res.Note = l.note
	}
	switch {
	case l.firstErr != nil:
		fail(&res, l.firstErr)
		res.Error = fmt.Sprintf("%d of %d warm requests failed; the first: %s", l.stats.Errors, l.stats.Errors+l.stats.Requests, res.Error)
	case l.stats.Requests == 0:
		fail(&res, cutOffErr(cfg.Duration, l.cutOff))
	default:
		res.OK = true
	}
	return res
}

func fail(res *TaskResult, err error) {
	res.OK = false
	res.Error = err.Error()
	var se *StatusError
	if errors.As(err, &se) {
		res.Status, res.Body = se.Status, se.Body
	}
	var sh *ShapeError
	if errors.As(err, &sh) {
		res.Body = sh.Body
	}
}

// checkCLIPAgreement fails textual when its embedding length differs from
// visual's: both halves of one CLIP model share one embedding space.
func checkCLIPAgreement(rep *Report) {
	var vis, txt *TaskResult
	for i := range rep.Tasks {
		switch rep.Tasks[i].Task {
		case TaskCLIPVisual:
			vis = &rep.Tasks[i]
		case TaskCLIPTextual:
			txt = &rep.Tasks[i]
		}
	}
	if vis == nil || txt == nil || !vis.OK || !txt.OK || vis.Note == txt.Note {
		return
	}
	txt.OK = false
	txt.Error = fmt.Sprintf("malformed answer: the textual model gives a %s but the visual one a %s", txt.Note, vis.Note)
}

// readLogs reads the container's logs written since the run started and
// matches them against the catalogue.
func readLogs(ctx context.Context, env Env, id string, b accel.Backend, since time.Time) Logs {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	text, err := env.Engine.LogsSince(ctx, id, since)
	if err != nil {
		return Logs{Error: err.Error()}
	}
	l := Logs{Read: true}
	l.Providers, _ = detect.LogProviders(text)
	if env.Logs != nil {
		l.Matches = env.Logs.Scan(text, b)
	}
	return l
}
