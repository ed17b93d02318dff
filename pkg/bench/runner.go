package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"time"

	ort "github.com/yalue/onnxruntime_go"
)

// Settings control a benchmark run.
type Settings struct {
	// Runs is the number of warm runs; 0 runs for Duration instead.
	Runs int `json:"runs,omitempty"`
	// Duration is how long warm runs last when Runs is 0 (at least MinRuns).
	Duration time.Duration `json:"durationNs,omitempty"`
	MinRuns  int           `json:"minRuns,omitempty"`
	// Concurrency is the number of runs in flight at once on one session.
	Concurrency int `json:"concurrency"`
	// Timeout bounds each provider on each model (0: none).
	Timeout time.Duration `json:"timeoutNs,omitempty"`
	// Profile runs a short profiled session per non-CPU provider to find
	// nodes that silently fell back to the CPU.
	Profile         bool            `json:"profile"`
	ProviderOptions ProviderOptions `json:"providerOptions"`
}

// Option configures a Runner.
type Option func(*Runner)

// WithProviders selects the providers to try (default: Providers()). The
// CPU provider is always run: it is the reference.
func WithProviders(ps []Provider) Option { return func(r *Runner) { r.providers = ps } }

// WithRuns sets a fixed number of warm runs.
func WithRuns(n int) Option { return func(r *Runner) { r.set.Runs = n } }

// WithDuration sets how long warm runs last (with at least minRuns runs).
func WithDuration(d time.Duration, minRuns int) Option {
	return func(r *Runner) { r.set.Duration, r.set.MinRuns = d, minRuns }
}

// WithConcurrency sets the number of concurrent runs on one session.
func WithConcurrency(n int) Option { return func(r *Runner) { r.set.Concurrency = n } }

// WithTimeout bounds each provider on each model.
func WithTimeout(d time.Duration) Option { return func(r *Runner) { r.set.Timeout = d } }

// WithProfiling turns CPU-fallback detection on or off (default on).
func WithProfiling(on bool) Option { return func(r *Runner) { r.set.Profile = on } }

// WithProviderOptions sets device id, OpenVINO, CUDA and thread options.
func WithProviderOptions(po ProviderOptions) Option {
	return func(r *Runner) { r.set.ProviderOptions = po }
}

// WithGPUMemory measures per-process GPU memory through m.
func WithGPUMemory(m GPUMemory) Option { return func(r *Runner) { r.gpu = m } }

// WithProgress receives progress events (from the calling goroutine).
func WithProgress(fn func(Progress)) Option { return func(r *Runner) { r.progress = fn } }

// WithTempDir sets where profiles are written (default os.TempDir()).
func WithTempDir(dir string) Option { return func(r *Runner) { r.tempDir = dir } }

// Progress is one step of a run.
type Progress struct {
	Model    string `json:"model"`
	Provider string `json:"provider"`
	Phase    string `json:"phase"`
	// Step of Steps overall (model × provider).
	Step  int `json:"step"`
	Steps int `json:"steps"`
}

// Runner benchmarks models on providers.
type Runner struct {
	rt        *Runtime
	providers []Provider
	set       Settings
	gpu       GPUMemory
	progress  func(Progress)
	tempDir   string
	capture   stderrCapture
	eng       engine
	step      int
	steps     int
	// unusable remembers providers that failed before any model was
	// involved (missing library, no device), so they are not retried.
	unusable map[string]*providerError
	// keepInputs is set when a native call outlived its timeout: it may
	// still read the model's inputs, so they are not freed.
	keepInputs bool
}

// NewRunner returns a Runner on rt. Defaults: every provider, 2 s of warm
// runs (at least 5), concurrency 1, profiling on, Immich's provider options.
func NewRunner(rt *Runtime, opts ...Option) *Runner {
	r := &Runner{rt: rt, providers: Providers(),
		set: Settings{Duration: 2 * time.Second, MinRuns: 5, Concurrency: 1, Profile: true, ProviderOptions: DefaultProviderOptions()}}
	for _, o := range opts {
		o(r)
	}
	if r.set.Concurrency < 1 {
		r.set.Concurrency = 1
	}
	if r.set.MinRuns < 1 {
		r.set.MinRuns = 1
	}
	if r.tempDir == "" {
		r.tempDir = os.TempDir()
	}
	r.eng = &ortEngine{rt: rt, set: &r.set, capture: &r.capture}
	return r
}

// Report is the result of a run; --json prints it.
type Report struct {
	Runtime  RuntimeInfo    `json:"runtime"`
	Host     HostInfo       `json:"host"`
	Settings Settings       `json:"settings"`
	Models   []*ModelReport `json:"models"`
}

// RuntimeInfo names the ONNX Runtime used.
type RuntimeInfo struct {
	Version string `json:"version"`
	Path    string `json:"path"`
}

// HostInfo describes where the run happened.
type HostInfo struct {
	OS   string `json:"os"`
	Arch string `json:"arch"`
	CPUs int    `json:"cpus"`
}

// ModelReport is one model's results.
type ModelReport struct {
	Model   Model          `json:"model"`
	Inputs  []TensorSpec   `json:"inputs,omitempty"`
	Outputs []TensorSpec   `json:"outputs,omitempty"`
	Error   string         `json:"error,omitempty"`
	Results []*ProviderRun `json:"providers"`
}

// ProviderRun is one provider on one model.
type ProviderRun struct {
	Provider Provider `json:"provider"`
	Outcome  Outcome  `json:"outcome"`
	Detail   string   `json:"detail,omitempty"`

	SessionCreateMs float64 `json:"sessionCreateMs,omitempty"`
	FirstRunMs      float64 `json:"firstRunMs,omitempty"`
	Latency         Stats   `json:"latency"`
	// Throughput is warm runs per second over all concurrent runs.
	Throughput float64 `json:"throughput,omitempty"`
	// Speedup is the CPU's median latency over this one's (0: unknown).
	Speedup float64 `json:"speedup,omitempty"`
	// ThroughputSpeedup is this throughput over the CPU's.
	ThroughputSpeedup float64 `json:"throughputSpeedup,omitempty"`
	// PeakHostBytes is the peak resident memory while this provider ran
	// (PeakHostWholeProcess: since the process started).
	PeakHostBytes        uint64 `json:"peakHostBytes,omitempty"`
	PeakHostWholeProcess bool   `json:"peakHostWholeProcess,omitempty"`
	// GPUBytes is GPU memory held by this process after the warm runs.
	GPUBytes *uint64 `json:"gpuBytes,omitempty"`

	Agreement []Agreement `json:"agreement,omitempty"`
	// Agrees is nil when there was nothing to compare with.
	Agrees    *bool      `json:"agrees,omitempty"`
	Placement *Placement `json:"placement,omitempty"`
	// Log is what the native libraries printed while setting up.
	Log string `json:"log,omitempty"`

	// SamplesMs are the warm-run latencies, in order.
	SamplesMs []float64 `json:"samplesMs,omitempty"`

	outputs [][]float64
}

// Run benchmarks every model on every selected provider. It returns an
// error only when nothing could be measured at all (no runtime, canceled
// before the first result); per-model and per-provider failures are in the
// report.
func (r *Runner) Run(ctx context.Context, models []Model) (*Report, error) {
	set := r.set
	po, err := set.ProviderOptions.Normalize()
	if err != nil {
		return nil, err
	}
	r.set.ProviderOptions = po
	set.ProviderOptions = po
	rep := &Report{
		Runtime:  RuntimeInfo{Version: r.rt.Version(), Path: r.rt.Path()},
		Host:     HostInfo{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU()},
		Settings: set,
	}
	provs := r.providers
	hasCPU := false
	for _, p := range provs {
		hasCPU = hasCPU || p.Key == "cpu"
	}
	if !hasCPU {
		provs = append([]Provider{Providers()[0]}, provs...)
	}
	r.steps = len(models) * len(provs)
	r.step = 0
	for _, m := range models {
		mr := r.runModel(ctx, m, provs)
		rep.Models = append(rep.Models, mr)
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
	}
	return rep, nil
}

func (r *Runner) emit(model, provider, phase string) {
	if r.progress != nil {
		r.progress(Progress{Model: model, Provider: provider, Phase: phase, Step: r.step, Steps: r.steps})
	}
}

func (r *Runner) runModel(ctx context.Context, m Model, provs []Provider) *ModelReport {
	mr := &ModelReport{Model: m}
	fail := func(err error) *ModelReport {
		mr.Error = err.Error()
		r.step += len(provs)
		return mr
	}
	if m.Data == nil && m.Path == "" && m.Load != nil {
		r.step++
		r.emit(m.Name, "", "building")
		r.step--
		data, err := m.Load()
		if err != nil {
			return fail(fmt.Errorf("model %s: %w", m.Name, err))
		}
		m.Data = data
	}
	ins, outs, err := m.ioInfo()
	if err != nil {
		return fail(err)
	}
	specs, err := m.resolveInputs(ins)
	if err != nil {
		return fail(err)
	}
	mr.Inputs = specs
	for _, o := range outs {
		mr.Outputs = append(mr.Outputs, TensorSpec{Name: o.Name, Type: typeName(o.DataType), Declared: append([]int64(nil), o.Dimensions...), elem: o.DataType})
	}
	inputs := make([]ort.Value, len(specs))
	defer func() {
		if r.keepInputs {
			return
		}
		for _, v := range inputs {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	for i, s := range specs {
		if inputs[i], err = newInput(s); err != nil {
			return fail(fmt.Errorf("model %s: input %s: %w", m.Name, s.Name, err))
		}
	}
	var cpu *ProviderRun
	for _, p := range provs {
		r.step++
		r.emit(m.Name, p.Key, "start")
		pr := r.runProvider(ctx, m, p, mr, inputs)
		if p.Key == "cpu" {
			cpu = pr
		} else if pr.Outcome == OutcomeRan && cpu != nil && cpu.Outcome == OutcomeRan {
			compareWithCPU(pr, cpu, mr.Outputs)
		}
		mr.Results = append(mr.Results, pr)
		if ctx.Err() != nil {
			break
		}
	}
	setSpeedups(mr.Results, cpu)
	return mr
}

// setSpeedups sets each run's speedups over the CPU's run, when both ran.
func setSpeedups(runs []*ProviderRun, cpu *ProviderRun) {
	if cpu == nil || cpu.Outcome != OutcomeRan {
		return
	}
	for _, pr := range runs {
		if pr.Outcome == OutcomeRan && pr.Latency.P50 > 0 {
			pr.Speedup = cpu.Latency.P50 / pr.Latency.P50
			if cpu.Throughput > 0 {
				pr.ThroughputSpeedup = pr.Throughput / cpu.Throughput
			}
		}
	}
}

func compareWithCPU(pr, cpu *ProviderRun, outs []TensorSpec) {
	ok := true
	any := false
	for i, o := range outs {
		if i >= len(pr.outputs) || i >= len(cpu.outputs) || pr.outputs[i] == nil || cpu.outputs[i] == nil {
			continue
		}
		prec := pr.Provider.Precision
		if o.elem == ort.TensorElementDataTypeFloat16 {
			prec = FP16
		}
		a := Compare(o.Name, cpu.outputs[i], pr.outputs[i], prec)
		pr.Agreement = append(pr.Agreement, a)
		ok = ok && a.Agrees
		any = true
	}
	if any {
		pr.Agrees = &ok
	}
}

// CompareRuns compares the outputs of two runs of the same model (for
// example two thread counts, or a model and a modified copy) with the
// tolerance of class p.
func CompareRuns(ref, got *ProviderRun, names []string, p Precision) []Agreement {
	var out []Agreement
	for i := range ref.outputs {
		if i >= len(got.outputs) || ref.outputs[i] == nil || got.outputs[i] == nil {
			continue
		}
		name := fmt.Sprint(i)
		if i < len(names) {
			name = names[i]
		}
		out = append(out, Compare(name, ref.outputs[i], got.outputs[i], p))
	}
	return out
}

func (r *Runner) runProvider(ctx context.Context, m Model, p Provider, mr *ModelReport, inputs []ort.Value) *ProviderRun {
	pr := &ProviderRun{Provider: p}
	if p.NotORT != "" {
		pr.Outcome, pr.Detail = OutcomeNotORT, p.NotORT
		return pr
	}
	if ctx.Err() != nil {
		pr.Outcome, pr.Detail = OutcomeCanceled, ctx.Err().Error()
		return pr
	}
	// The timeout covers everything below: making the session (TensorRT
	// builds its engines then), the first run, the warm runs and
	// profiling.
	if r.set.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.set.Timeout)
		defer cancel()
	}
	if pe := r.unusable[p.Key]; pe != nil {
		pr.Outcome, pr.Detail = pe.outcome, pe.detail
		return pr
	}
	if err := r.eng.preflight(p); err != nil {
		r.remember(p, err)
		setOutcome(pr, err)
		return pr
	}
	wholeProcess := !resetPeakRSS()
	sess, err := r.session(ctx, m, p, mr, pr, "")
	if err != nil {
		if r.stopped(ctx, pr, "creating the session") {
			return pr
		}
		r.remember(p, err)
		setOutcome(pr, err)
		return pr
	}
	defer func() {
		if sess != nil {
			sess.destroy()
		}
	}()
	pr.SessionCreateMs = ms(sess.created())

	r.emit(m.Name, p.Key, "first run")
	type firstRun struct {
		outs [][]float64
		d    time.Duration
	}
	running := sess
	first, abandoned, err := bounded(ctx, func() (firstRun, error) {
		outs, d, err := running.once(ctx, inputs, true)
		return firstRun{outs, d}, err
	}, func(firstRun) { running.destroy() })
	if abandoned {
		// The run goes on with the session and the inputs: the session is
		// destroyed when it returns, the inputs are kept.
		sess, r.keepInputs = nil, true
	}
	if err != nil {
		if r.stopped(ctx, pr, "on the first run") {
			return pr
		}
		pr.Outcome, pr.Detail = OutcomeModelFailed, shorten(strings.TrimPrefix(err.Error(), "Error running network: "), 240)
		return pr
	}
	pr.FirstRunMs = ms(first.d)
	pr.outputs = first.outs

	r.emit(m.Name, p.Key, "warm runs")
	lat, wall, err := r.warm(ctx, sess, inputs)
	if err != nil && len(lat) == 0 {
		if !r.stopped(ctx, pr, "in the warm runs") {
			pr.Outcome, pr.Detail = OutcomeModelFailed, shorten(err.Error(), 240)
		}
		return pr
	}
	pr.Outcome = OutcomeRan
	if err != nil {
		pr.Detail = "stopped early: " + shorten(err.Error(), 160)
	}
	r.measured(pr, lat, wall, wholeProcess)
	if r.set.Profile && p.Key != "cpu" && ctx.Err() == nil {
		r.emit(m.Name, p.Key, "profiling")
		pl, err := r.profile(ctx, m, p, mr, inputs)
		if err != nil {
			pr.Detail = strings.TrimSpace(pr.Detail + " (placement unknown: " + shorten(err.Error(), 120) + ")")
		}
		pr.Placement = pl
	}
	return pr
}

// session makes a session within ctx, recording the native log in pr.
func (r *Runner) session(ctx context.Context, m Model, p Provider, mr *ModelReport, pr *ProviderRun, profilePrefix string) (benchSession, error) {
	type made struct {
		s   benchSession
		log nativeLog
	}
	res, abandoned, err := bounded(ctx, func() (made, error) {
		s, log, err := r.eng.newSession(ctx, m, p, mr, profilePrefix)
		return made{s, log}, err
	}, func(late made) {
		if late.s != nil {
			late.s.destroy()
		}
	})
	if abandoned {
		r.keepInputs = true
	}
	if pr != nil {
		pr.Log = trimLog(res.log.text)
		if res.log.lost != nil {
			pr.Detail = strings.TrimSpace(pr.Detail + " (" + res.log.lost.Error() + "; later messages of this run are lost)")
		}
	}
	return res.s, err
}

// stopped reports whether ctx ended, and then sets pr's outcome, saying
// in which step a timeout struck.
func (r *Runner) stopped(ctx context.Context, pr *ProviderRun, step string) bool {
	if ctx.Err() == nil {
		return false
	}
	pr.Outcome, pr.Detail = OutcomeCanceled, ctx.Err().Error()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && r.set.Timeout > 0 {
		pr.Detail = fmt.Sprintf("timed out %s (--timeout %s per provider and model)", step, r.set.Timeout)
	}
	return true
}

// measured fills in the warm-run statistics and memory of a run.
func (r *Runner) measured(pr *ProviderRun, lat []time.Duration, wall time.Duration, wholeProcess bool) {
	pr.Latency = Summarize(lat)
	pr.SamplesMs = make([]float64, len(lat))
	for i, d := range lat {
		pr.SamplesMs[i] = ms(d)
	}
	if wall > 0 {
		pr.Throughput = float64(len(lat)) / wall.Seconds()
	}
	if r.gpu != nil {
		if b, ok := r.gpu.ProcessMemory(os.Getpid()); ok {
			pr.GPUBytes = &b
		}
	}
	if peak, err := peakRSS(); err == nil {
		pr.PeakHostBytes, pr.PeakHostWholeProcess = peak, wholeProcess
	}
}

// remember records a provider-level failure (not one about the model).
func (r *Runner) remember(p Provider, err error) {
	var pe *providerError
	if !errors.As(err, &pe) || pe.outcome == OutcomeModelFailed {
		return
	}
	if r.unusable == nil {
		r.unusable = map[string]*providerError{}
	}
	r.unusable[p.Key] = pe
}

func setOutcome(pr *ProviderRun, err error) {
	var pe *providerError
	if errors.As(err, &pe) {
		pr.Outcome, pr.Detail = pe.outcome, pe.detail
		return
	}
	pr.Outcome, pr.Detail = OutcomeModelFailed, shorten(err.Error(), 240)
}

func trimLog(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 2000 {
		s = s[len(s)-2000:]
	}
	return s
}

// allocOutputs makes the output values for one runner: preallocated when
// the shape is static, nil (allocated by ONNX Runtime on each run)
// otherwise.
func (s *ortSession) allocOutputs() []ort.Value {
	out := make([]ort.Value, len(s.outs))
	for i, o := range s.outs {
		static := true
		for _, d := range o.Declared {
			static = static && d > 0
		}
		if !static {
			continue
		}
		shape := ort.NewShape(o.Declared...)
		var v ort.Value
		var err error
		switch o.elem {
		case ort.TensorElementDataTypeFloat:
			v, err = ort.NewEmptyTensor[float32](shape)
		case ort.TensorElementDataTypeFloat16:
			v, err = ort.NewCustomDataTensor(shape, make([]byte, 2*shape.FlattenedSize()), ort.TensorElementDataTypeFloat16)
		case ort.TensorElementDataTypeInt64:
			v, err = ort.NewEmptyTensor[int64](shape)
		case ort.TensorElementDataTypeInt32:
			v, err = ort.NewEmptyTensor[int32](shape)
		}
		if err == nil {
			out[i] = v
		}
	}
	return out
}

func destroyAll(vs []ort.Value) {
	for _, v := range vs {
		if !isNil(v) {
			v.Destroy()
		}
	}
}

// isNil is true for nil and for an interface holding a nil pointer (which
// onnxruntime_go leaves behind when it cannot convert an output).
func isNil(v ort.Value) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

// warm runs the session Concurrency-wide until Runs runs are done or
// Duration has passed (and at least MinRuns). When ctx ends, runs in
// progress are terminated.
func (r *Runner) warm(ctx context.Context, s benchSession, inputs []ort.Value) ([]time.Duration, time.Duration, error) {
	n := r.set.Concurrency
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	started := 0
	deadline := time.Now().Add(r.set.Duration)
	next := func() bool {
		mu.Lock()
		defer mu.Unlock()
		if firstErr != nil || ctx.Err() != nil {
			return false
		}
		if r.set.Runs > 0 {
			if started >= r.set.Runs {
				return false
			}
		} else if started >= r.set.MinRuns && time.Now().After(deadline) {
			return false
		}
		started++
		return true
	}
	var workers []worker
	defer func() {
		for _, w := range workers {
			w.close()
		}
	}()
	for i := 0; i < n; i++ {
		w, err := s.worker()
		if err != nil {
			return nil, 0, err
		}
		workers = append(workers, w)
	}
	stop := context.AfterFunc(ctx, func() {
		for _, w := range workers {
			w.terminate()
		}
	})
	defer stop()
	var wg sync.WaitGroup
	start := time.Now()
	for _, w := range workers {
		wg.Add(1)
		go func(w worker) {
			defer wg.Done()
			for next() {
				d, err := w.run(inputs)
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
				} else {
					lat = append(lat, d)
				}
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	wall := time.Since(start)
	stop()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return lat, wall, firstErr
}

// profile runs a profiled session twice and reads where the nodes ran.
func (r *Runner) profile(ctx context.Context, m Model, p Provider, mr *ModelReport, inputs []ort.Value) (*Placement, error) {
	dir, err := os.MkdirTemp(r.tempDir, "immich-accel-profile-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	prefix := filepath.Join(dir, "profile")
	s, err := r.session(ctx, m, p, mr, nil, prefix)
	if err != nil {
		return nil, err
	}
	_, abandoned, err := bounded(ctx, func() (struct{}, error) {
		for i := 0; i < 2; i++ {
			if _, _, err := s.once(ctx, inputs, false); err != nil {
				return struct{}{}, err
			}
		}
		return struct{}{}, nil
	}, func(struct{}) { s.destroy() })
	if abandoned {
		r.keepInputs = true
		return nil, err
	}
	// ONNX Runtime writes the profile when the session ends.
	s.destroy()
	if err != nil {
		return nil, err
	}
	return readProfile(prefix, p.Name)
}
