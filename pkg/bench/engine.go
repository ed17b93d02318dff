package bench

import (
	"context"
	"fmt"
	"time"

	ort "github.com/yalue/onnxruntime_go"
)

// engine makes sessions of a model on a provider. ortEngine is ONNX
// Runtime; tests stand in fakes to check the runner's outcomes, timeouts
// and speedups without it.
type engine interface {
	// preflight checks that a provider's own library can be loaded.
	preflight(p Provider) error
	// newSession creates a session; with profilePrefix set, ONNX Runtime
	// profiling is on. It returns what native code logged meanwhile.
	newSession(ctx context.Context, m Model, p Provider, mr *ModelReport, profilePrefix string) (benchSession, nativeLog, error)
}

// nativeLog is what native code wrote to stderr while a session was made.
type nativeLog struct {
	text string
	// lost is set when stderr could not be put back afterwards: later
	// messages of this process are lost.
	lost error
}

// benchSession is one session of a model on a provider.
type benchSession interface {
	// once runs the session once, stopping when ctx ends if the provider
	// allows it; with keep it returns the outputs as float64.
	once(ctx context.Context, inputs []ort.Value, keep bool) ([][]float64, time.Duration, error)
	// worker returns what one goroutine of warm runs uses.
	worker() (worker, error)
	// created is how long creating the session took.
	created() time.Duration
	destroy()
}

// worker runs a session repeatedly on one goroutine.
type worker interface {
	run(inputs []ort.Value) (time.Duration, error)
	// terminate ends a run in progress; later runs fail.
	terminate()
	close()
}

// bounded runs f on its own goroutine and waits for it until ctx ends.
// ONNX Runtime cannot always be interrupted (a session being created, a
// TensorRT engine built on the first run): on timeout f goes on in the
// background, and late receives its result when it ends, to free it. The
// caller must keep what f uses alive (abandoned reports true).
func bounded[T any](ctx context.Context, f func() (T, error), late func(T)) (v T, abandoned bool, err error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, false, r.err
	case <-ctx.Done():
		go func() { late((<-ch).v) }()
		var zero T
		return zero, true, ctx.Err()
	}
}

// ortEngine makes ONNX Runtime sessions.
type ortEngine struct {
	rt      *Runtime
	set     *Settings // the runner's, read when a session is made
	capture *stderrCapture
}

var _ engine = (*ortEngine)(nil)

func (e *ortEngine) preflight(p Provider) error { return preflight(p, e.rt.Dir()) }

// newSession appends the provider and creates the session with stderr
// captured. When ctx ends first, it returns at once with stderr restored;
// a session created later is destroyed.
func (e *ortEngine) newSession(ctx context.Context, m Model, p Provider, mr *ModelReport, profilePrefix string) (benchSession, nativeLog, error) {
	type made struct {
		s   *ortSession
		err error
	}
	ch := make(chan made, 1)
	text, lost, err := e.capture.run(ctx, func() error {
		s, err := e.create(m, p, mr, profilePrefix)
		ch <- made{s, err}
		return err
	})
	log := nativeLog{text: text, lost: lost}
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, log, classifySetup(r.err, text)
		}
		return r.s, log, nil
	default:
		go func() {
			if r := <-ch; r.s != nil {
				r.s.destroy()
			}
		}()
		return nil, log, err
	}
}

// setupError says which step of making a session failed.
type setupError struct {
	appending bool // appending the provider, not creating the session
	err       error
}

func (e *setupError) Error() string { return e.err.Error() }
func (e *setupError) Unwrap() error { return e.err }

// classifySetup turns a failure to make a session into an outcome. A
// failure after the provider was accepted is about the model.
func classifySetup(err error, log string) error {
	se, ok := err.(*setupError)
	if !ok {
		return err
	}
	pe := classifyAppend(se.err, log)
	if !se.appending && (pe.outcome == OutcomeLoadFailed || pe.outcome == OutcomeNotInBuild) {
		pe.outcome = OutcomeModelFailed
	}
	return pe
}

// create makes the session options, appends the provider and creates the
// session.
func (e *ortEngine) create(m Model, p Provider, mr *ModelReport, profilePrefix string) (*ortSession, error) {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("creating session options: %w", err)
	}
	defer so.Destroy()
	if t := e.set.ProviderOptions.Threads; t > 0 {
		if err := so.SetIntraOpNumThreads(t); err != nil {
			return nil, fmt.Errorf("setting %d threads: %w", t, err)
		}
	}
	if e.set.Concurrency == 1 {
		_ = so.SetExecutionMode(ort.ExecutionModeSequential)
	}
	if profilePrefix != "" {
		if err := so.EnableProfiling(profilePrefix); err != nil {
			return nil, fmt.Errorf("enabling profiling: %w", err)
		}
	}
	if p.appendTo != nil {
		if err := p.appendTo(so, e.set.ProviderOptions); err != nil {
			return nil, &setupError{appending: true, err: err}
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
	if m.Data != nil {
		s, err = ort.NewDynamicAdvancedSessionWithONNXData(m.Data, inNames, outNames, so)
	} else {
		s, err = ort.NewDynamicAdvancedSession(m.Path, inNames, outNames, so)
	}
	if err != nil {
		return nil, &setupError{err: err}
	}
	return &ortSession{s: s, outs: mr.Outputs, took: time.Since(start)}, nil
}

// ortSession is an ONNX Runtime session.
type ortSession struct {
	s    *ort.DynamicAdvancedSession
	outs []TensorSpec
	took time.Duration
}

var _ benchSession = (*ortSession)(nil)

func (s *ortSession) created() time.Duration { return s.took }
func (s *ortSession) destroy()               { _ = s.s.Destroy() }

// once runs the session once with run options that ctx terminates.
func (s *ortSession) once(ctx context.Context, inputs []ort.Value, keep bool) ([][]float64, time.Duration, error) {
	ro, err := ort.NewRunOptions()
	if err != nil {
		return nil, 0, err
	}
	defer ro.Destroy()
	stop := context.AfterFunc(ctx, func() { _ = ro.Terminate() })
	defer stop()
	outs := s.allocOutputs()
	defer destroyAll(outs)
	start := time.Now()
	err = s.s.RunWithOptions(inputs, outs, ro)
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

func (s *ortSession) worker() (worker, error) {
	ro, err := ort.NewRunOptions()
	if err != nil {
		return nil, err
	}
	w := &ortWorker{s: s, ro: ro, outs: s.allocOutputs()}
	w.fixed = make([]bool, len(w.outs))
	for j, v := range w.outs {
		w.fixed[j] = v != nil
	}
	return w, nil
}

// ortWorker holds one goroutine's run options and preallocated outputs.
type ortWorker struct {
	s     *ortSession
	ro    *ort.RunOptions
	outs  []ort.Value
	fixed []bool // preallocated, kept across runs
}

func (w *ortWorker) run(inputs []ort.Value) (time.Duration, error) {
	t := time.Now()
	err := w.s.s.RunWithOptions(inputs, w.outs, w.ro)
	d := time.Since(t)
	for j, v := range w.outs {
		if !w.fixed[j] {
			if !isNil(v) {
				v.Destroy()
			}
			w.outs[j] = nil
		}
	}
	return d, err
}

func (w *ortWorker) terminate() { _ = w.ro.Terminate() }

func (w *ortWorker) close() {
	destroyAll(w.outs)
	_ = w.ro.Destroy()
}
