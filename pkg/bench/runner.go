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
	step      int
	steps     int
	// unusable remembers providers that failed before any model was
	// involved (missing library, no device), so they are not retried.
	unusable map[string]*providerError
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
	for _, pr := range mr.Results {
		if pr.Outcome == OutcomeRan && cpu != nil && cpu.Outcome == OutcomeRan && pr.Latency.P50 > 0 {
			pr.Speedup = cpu.Latency.P50 / pr.Latency.P50
			if cpu.Throughput > 0 {
				pr.ThroughputSpeedup = pr.Throughput / cpu.Throughput
			}
		}
	}
	return mr
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
	if r.set.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.set.Timeout)
		defer cancel()
	}
	if pe := r.unusable[p.Key]; pe != nil {
		pr.Outcome, pr.Detail = pe.outcome, pe.detail
		return pr
	}
	if err := preflight(p, r.rt.Dir()); err != nil {
		r.remember(p, err)
		setOutcome(pr, err)
		return pr
	}
	wholeProcess := !resetPeakRSS()
	sess, log, err := r.newSession(m, p, mr, "")
	pr.Log = trimLog(log)
	if err != nil {
		r.remember(p, err)
		setOutcome(pr, err)
		return pr
	}
	defer sess.s.Destroy()
	pr.SessionCreateMs = ms(sess.created)

	r.emit(m.Name, p.Key, "first run")
	outs, first, err := sess.runOnce(inputs, true)
	if err != nil {
		pr.Outcome, pr.Detail = OutcomeModelFailed, shorten(strings.TrimPrefix(err.Error(), "Error running network: "), 240)
		return pr
	}
	pr.FirstRunMs = ms(first)
	pr.outputs = outs

	r.emit(m.Name, p.Key, "warm runs")
	lat, wall, err := r.warm(ctx, sess, inputs)
	if err != nil && len(lat) == 0 {
		if ctx.Err() != nil {
			pr.Outcome, pr.Detail = OutcomeCanceled, ctx.Err().Error()
		} else {
			pr.Outcome, pr.Detail = OutcomeModelFailed, shorten(err.Error(), 240)
		}
		return pr
	}
	pr.Outcome = OutcomeRan
	if err != nil {
		pr.Detail = "stopped early: " + shorten(err.Error(), 160)
	}
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
	if r.set.Profile && p.Key != "cpu" && ctx.Err() == nil {
		r.emit(m.Name, p.Key, "profiling")
		pl, err := r.profile(m, p, mr, inputs)
		if err != nil {
			pr.Detail = strings.TrimSpace(pr.Detail + " (placement unknown: " + shorten(err.Error(), 120) + ")")
		}
		pr.Placement = pl
	}
	return pr
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

type session struct {
	s       *ort.DynamicAdvancedSession
	outs    []TensorSpec
	created time.Duration
}

// newSession creates a session for p. With profilePrefix set, ONNX Runtime
// profiling is on.
func (r *Runner) newSession(m Model, p Provider, mr *ModelReport, profilePrefix string) (*session, string, error) {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, "", fmt.Errorf("creating session options: %w", err)
	}
	defer so.Destroy()
	if t := r.set.ProviderOptions.Threads; t > 0 {
		if err := so.SetIntraOpNumThreads(t); err != nil {
			return nil, "", fmt.Errorf("setting %d threads: %w", t, err)
		}
	}
	if r.set.Concurrency == 1 {
		_ = so.SetExecutionMode(ort.ExecutionModeSequential)
	}
	if profilePrefix != "" {
		if err := so.EnableProfiling(profilePrefix); err != nil {
			return nil, "", fmt.Errorf("enabling profiling: %w", err)
		}
	}
	var log string
	if p.appendTo != nil {
		log, err = r.capture.run(func() error { return p.appendTo(so, r.set.ProviderOptions) })
		if err != nil {
			return nil, log, classifyAppend(err, log)
		}
	}
	var inNames, outNames []string
	for _, s := range mr.Inputs {
		inNames = append(inNames, s.Name)
	}
	for _, s := range mr.Outputs {
		outNames = append(outNames, s.Name)
	}
	var s *ort.DynamicAdvancedSession
	start := time.Now()
	clog, err := r.capture.run(func() error {
		var err error
		if m.Data != nil {
			s, err = ort.NewDynamicAdvancedSessionWithONNXData(m.Data, inNames, outNames, so)
		} else {
			s, err = ort.NewDynamicAdvancedSession(m.Path, inNames, outNames, so)
		}
		return err
	})
	created := time.Since(start)
	log = strings.TrimSpace(log + "\n" + clog)
	if err != nil {
		pe := classifyAppend(err, log)
		if pe.outcome == OutcomeLoadFailed || pe.outcome == OutcomeNotInBuild {
			// The provider was accepted; failing now is about the model.
			pe.outcome = OutcomeModelFailed
		}
		return nil, log, pe
	}
	return &session{s: s, outs: mr.Outputs, created: created}, log, nil
}

// allocOutputs makes the output values for one runner: preallocated when
// the shape is static, nil (allocated by ONNX Runtime on each run)
// otherwise.
func (s *session) allocOutputs() []ort.Value {
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

// runOnce runs the session once; with keep it returns the outputs as
// float64.
func (s *session) runOnce(inputs []ort.Value, keep bool) ([][]float64, time.Duration, error) {
	outs := s.allocOutputs()
	defer destroyAll(outs)
	start := time.Now()
	err := s.s.Run(inputs, outs)
	d := time.Since(start)
	if err != nil {
		return nil, d, err
	}
	if !keep {
		return nil, d, nil
	}
	vals := make([][]float64, len(outs))
	for i, v := range outs {
		if f, ok := values(v); ok {
			vals[i] = f
		}
	}
	return vals, d, nil
}

// warm runs the session Concurrency-wide until Runs runs are done or
// Duration has passed (and at least MinRuns).
func (r *Runner) warm(ctx context.Context, s *session, inputs []ort.Value) ([]time.Duration, time.Duration, error) {
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
	var wg sync.WaitGroup
	var runOpts []*ort.RunOptions
	stop := make(chan struct{})
	for i := 0; i < n; i++ {
		ro, err := ort.NewRunOptions()
		if err != nil {
			return nil, 0, err
		}
		runOpts = append(runOpts, ro)
	}
	defer func() {
		for _, ro := range runOpts {
			ro.Destroy()
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			for _, ro := range runOpts {
				_ = ro.Terminate()
			}
		case <-stop:
		}
	}()
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(ro *ort.RunOptions) {
			defer wg.Done()
			outs := s.allocOutputs()
			defer destroyAll(outs)
			fixed := make([]bool, len(outs))
			for j, v := range outs {
				fixed[j] = v != nil
			}
			for next() {
				t := time.Now()
				err := s.s.RunWithOptions(inputs, outs, ro)
				d := time.Since(t)
				for j, v := range outs {
					if !fixed[j] {
						if !isNil(v) {
							v.Destroy()
						}
						outs[j] = nil
					}
				}
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
		}(runOpts[i])
	}
	wg.Wait()
	wall := time.Since(start)
	close(stop)
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return lat, wall, firstErr
}

// profile runs a profiled session twice and reads where the nodes ran.
func (r *Runner) profile(m Model, p Provider, mr *ModelReport, inputs []ort.Value) (*Placement, error) {
	dir, err := os.MkdirTemp(r.tempDir, "immich-accel-profile-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	prefix := filepath.Join(dir, "profile")
	s, _, err := r.newSession(m, p, mr, prefix)
	if err != nil {
		return nil, err
	}
	for i := 0; i < 2; i++ {
		if _, _, err := s.runOnce(inputs, false); err != nil {
			s.s.Destroy()
			return nil, err
		}
	}
	// ONNX Runtime writes the profile when the session ends.
	s.s.Destroy()
	return readProfile(prefix, p.Name)
}
