package bench

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ort "github.com/yalue/onnxruntime_go"
)

// These tests drive the runner through a fake engine: no ONNX Runtime is
// needed. Each native step can be made to block without looking at its
// context, as a TensorRT engine build does.

type fakeEngine struct {
	preflightErr error
	preflights   int
	makeSession  func(ctx context.Context, profile bool) (benchSession, nativeLog, error)
}

func (e *fakeEngine) preflight(Provider) error { e.preflights++; return e.preflightErr }

func (e *fakeEngine) newSession(ctx context.Context, _ Model, _ Provider, _ *ModelReport, profilePrefix string) (benchSession, nativeLog, error) {
	return e.makeSession(ctx, profilePrefix != "")
}

type fakeSession struct {
	took      time.Duration
	onceFn    func(ctx context.Context) ([][]float64, time.Duration, error)
	runTime   time.Duration // each warm run
	runErr    error         // returned by every warm run
	destroyed atomic.Int32
}

func (s *fakeSession) once(ctx context.Context, _ []ort.Value, _ bool) ([][]float64, time.Duration, error) {
	if s.onceFn == nil {
		return [][]float64{{1, 2}}, time.Millisecond, nil
	}
	return s.onceFn(ctx)
}
func (s *fakeSession) worker() (worker, error) { return &fakeWorker{s: s}, nil }
func (s *fakeSession) created() time.Duration  { return s.took }
func (s *fakeSession) destroy()                { s.destroyed.Add(1) }

type fakeWorker struct{ s *fakeSession }

func (w *fakeWorker) run([]ort.Value) (time.Duration, error) { return w.s.runTime, w.s.runErr }
func (w *fakeWorker) terminate()                             {}
func (w *fakeWorker) close()                                 {}

func fakeRunner(eng engine, opts ...Option) *Runner {
	r := NewRunner(nil, append([]Option{WithRuns(4), WithTempDir("")}, opts...)...)
	r.eng = eng
	return r
}

var gpuProvider = Provider{Key: "cuda", Name: "CUDAExecutionProvider"}

// blockUntil returns a step that ignores its context and waits for
// release.
func blockUntil(release <-chan struct{}) func() {
	return func() { <-release }
}

func TestRunnerTimeoutCoversEveryStep(t *testing.T) {
	const timeout = 50 * time.Millisecond
	tests := []struct {
		name     string
		blockAt  string // "session", "first", "profile"
		wantOut  Outcome
		wantText string
	}{
		{"session creation", "session", OutcomeCanceled, "timed out creating the session"},
		{"first run", "first", OutcomeCanceled, "timed out on the first run"},
		{"profiling", "profile", OutcomeRan, "placement unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			block := blockUntil(release)
			sess := &fakeSession{took: time.Millisecond, runTime: time.Millisecond}
			profSess := &fakeSession{}
			if tt.blockAt == "first" {
				sess.onceFn = func(context.Context) ([][]float64, time.Duration, error) {
					block()
					return nil, time.Second, nil
				}
			}
			eng := &fakeEngine{makeSession: func(_ context.Context, profile bool) (benchSession, nativeLog, error) {
				if profile {
					if tt.blockAt == "profile" {
						block()
					}
					return profSess, nativeLog{}, nil
				}
				if tt.blockAt == "session" {
					block()
				}
				return sess, nativeLog{text: "native says hi"}, nil
			}}
			r := fakeRunner(eng, WithTimeout(timeout), WithProfiling(true))
			done := make(chan *ProviderRun, 1)
			go func() {
				done <- r.runProvider(context.Background(), Model{Name: "m"}, gpuProvider, &ModelReport{}, nil)
			}()
			var pr *ProviderRun
			select {
			case pr = <-done:
			case <-time.After(10 * time.Second):
				close(release)
				t.Fatalf("runProvider did not return after its %s timeout", timeout)
			}
			if pr.Outcome != tt.wantOut || !strings.Contains(pr.Detail, tt.wantText) {
				t.Errorf("outcome %s %q, want %s with %q", pr.Outcome, pr.Detail, tt.wantOut, tt.wantText)
			}
			if tt.blockAt != "profile" && !r.keepInputs {
				t.Error("a native call still running may read the inputs: they must be kept")
			}
			// What the abandoned step makes is freed once it returns.
			close(release)
			var late *fakeSession
			switch tt.blockAt {
			case "session", "first":
				late = sess
			case "profile":
				late = profSess
			}
			deadline := time.Now().Add(5 * time.Second)
			for late.destroyed.Load() == 0 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if n := late.destroyed.Load(); n != 1 {
				t.Errorf("the late session was destroyed %d times, want once", n)
			}
		})
	}
}

func TestRunnerOutcomes(t *testing.T) {
	t.Run("provider unusable is remembered", func(t *testing.T) {
		eng := &fakeEngine{preflightErr: &providerError{outcome: OutcomeLoadFailed, detail: "libcudnn.so.9: missing"}}
		r := fakeRunner(eng)
		for i := 0; i < 2; i++ {
			pr := r.runProvider(context.Background(), Model{Name: "m"}, gpuProvider, &ModelReport{}, nil)
			if pr.Outcome != OutcomeLoadFailed || pr.Detail != "libcudnn.so.9: missing" {
				t.Errorf("try %d: %s %q", i, pr.Outcome, pr.Detail)
			}
		}
		if eng.preflights != 1 {
			t.Errorf("preflight ran %d times; an unusable provider must not be retried", eng.preflights)
		}
	})
	t.Run("no device when making the session", func(t *testing.T) {
		eng := &fakeEngine{makeSession: func(context.Context, bool) (benchSession, nativeLog, error) {
			return nil, nativeLog{text: "  cuda failure 100\n"}, &providerError{outcome: OutcomeNoDevice, detail: "no CUDA-capable device"}
		}}
		pr := fakeRunner(eng).runProvider(context.Background(), Model{Name: "m"}, gpuProvider, &ModelReport{}, nil)
		if pr.Outcome != OutcomeNoDevice || pr.Log != "cuda failure 100" {
			t.Errorf("%s %q log %q", pr.Outcome, pr.Detail, pr.Log)
		}
	})
	t.Run("first run fails on the model", func(t *testing.T) {
		sess := &fakeSession{onceFn: func(context.Context) ([][]float64, time.Duration, error) {
			return nil, 0, errors.New("Error running network: Non-zero status code returned while running Conv node")
		}}
		eng := &fakeEngine{makeSession: func(context.Context, bool) (benchSession, nativeLog, error) { return sess, nativeLog{}, nil }}
		r := fakeRunner(eng)
		pr := r.runProvider(context.Background(), Model{Name: "m"}, gpuProvider, &ModelReport{}, nil)
		if pr.Outcome != OutcomeModelFailed || !strings.HasPrefix(pr.Detail, "Non-zero status") {
			t.Errorf("%s %q", pr.Outcome, pr.Detail)
		}
		if sess.destroyed.Load() != 1 || r.keepInputs {
			t.Errorf("session destroyed %d times, keepInputs %v", sess.destroyed.Load(), r.keepInputs)
		}
	})
	t.Run("warm runs fail at once", func(t *testing.T) {
		sess := &fakeSession{runErr: errors.New("out of memory")}
		eng := &fakeEngine{makeSession: func(context.Context, bool) (benchSession, nativeLog, error) { return sess, nativeLog{}, nil }}
		pr := fakeRunner(eng).runProvider(context.Background(), Model{Name: "m"}, gpuProvider, &ModelReport{}, nil)
		if pr.Outcome != OutcomeModelFailed || pr.Detail != "out of memory" {
			t.Errorf("%s %q", pr.Outcome, pr.Detail)
		}
	})
	t.Run("stderr lost is reported", func(t *testing.T) {
		sess := &fakeSession{runTime: time.Millisecond}
		eng := &fakeEngine{makeSession: func(context.Context, bool) (benchSession, nativeLog, error) {
			return sess, nativeLog{lost: errors.New("stderr could not be restored after capturing native logs: bad file descriptor")}, nil
		}}
		pr := fakeRunner(eng, WithProfiling(false)).runProvider(context.Background(), Model{Name: "m"}, gpuProvider, &ModelReport{}, nil)
		if pr.Outcome != OutcomeRan || !strings.Contains(pr.Detail, "stderr could not be restored") {
			t.Errorf("%s %q", pr.Outcome, pr.Detail)
		}
	})
	t.Run("ran: runs counted, timings kept", func(t *testing.T) {
		sess := &fakeSession{took: 30 * time.Millisecond, runTime: 2 * time.Millisecond}
		eng := &fakeEngine{makeSession: func(context.Context, bool) (benchSession, nativeLog, error) { return sess, nativeLog{}, nil }}
		pr := fakeRunner(eng, WithRuns(7), WithConcurrency(3), WithProfiling(false)).runProvider(context.Background(), Model{Name: "m"}, gpuProvider, &ModelReport{}, nil)
		if pr.Outcome != OutcomeRan || pr.Latency.Count != 7 || len(pr.SamplesMs) != 7 || pr.Latency.P50 != 2 {
			t.Errorf("%s: %d runs, p50 %v", pr.Outcome, pr.Latency.Count, pr.Latency.P50)
		}
		if pr.SessionCreateMs != 30 || pr.FirstRunMs != 1 || len(pr.outputs) != 1 {
			t.Errorf("create %v ms, first run %v ms, outputs %v", pr.SessionCreateMs, pr.FirstRunMs, pr.outputs)
		}
	})
	t.Run("canceled before start", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		eng := &fakeEngine{}
		pr := fakeRunner(eng).runProvider(ctx, Model{Name: "m"}, gpuProvider, &ModelReport{}, nil)
		if pr.Outcome != OutcomeCanceled || eng.preflights != 0 {
			t.Errorf("%s, %d preflights", pr.Outcome, eng.preflights)
		}
	})
}

func TestSetSpeedups(t *testing.T) {
	cpu := &ProviderRun{Outcome: OutcomeRan, Latency: Stats{P50: 10}, Throughput: 100}
	gpu := &ProviderRun{Outcome: OutcomeRan, Latency: Stats{P50: 2}, Throughput: 450}
	failed := &ProviderRun{Outcome: OutcomeModelFailed}
	setSpeedups([]*ProviderRun{cpu, gpu, failed}, cpu)
	if gpu.Speedup != 5 || gpu.ThroughputSpeedup != 4.5 {
		t.Errorf("gpu speedup %v, throughput speedup %v; want 5 and 4.5", gpu.Speedup, gpu.ThroughputSpeedup)
	}
	if cpu.Speedup != 1 || failed.Speedup != 0 {
		t.Errorf("cpu %v, failed %v", cpu.Speedup, failed.Speedup)
	}
	other := &ProviderRun{Outcome: OutcomeRan, Latency: Stats{P50: 1}}
	setSpeedups([]*ProviderRun{other}, &ProviderRun{Outcome: OutcomeNoDevice})
	setSpeedups([]*ProviderRun{other}, nil)
	if other.Speedup != 0 {
		t.Errorf("speedup %v without a CPU run", other.Speedup)
	}
}
