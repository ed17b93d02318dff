package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/immich-accel/immich-accel/internal/ortlib"
	"github.com/immich-accel/immich-accel/internal/testenv"
	"github.com/immich-accel/immich-accel/pkg/bench/models"
)

// testRT is the process's ONNX Runtime, opened once in TestMain (ONNX
// Runtime's environment is process-wide).
var testRT *Runtime
var testRTErr error

func TestMain(m *testing.M) {
	if p := os.Getenv(ortlib.EnvVar); p != "" {
		testRT, testRTErr = OpenRuntime(p)
	} else {
		testRTErr = fmt.Errorf("%s is not set", ortlib.EnvVar)
	}
	code := m.Run()
	if testRT != nil {
		testRT.Close()
	}
	os.Exit(code)
}

// needRT returns the runtime. Without one the test fails under CI and is
// skipped (loudly) elsewhere: `make test` installs the runtime and sets
// IMMICH_ACCEL_ORT_LIB.
func needRT(t *testing.T) *Runtime {
	t.Helper()
	testenv.RequireORT(t)
	if testRT == nil {
		t.Fatalf("ONNX Runtime from %s: %v", testenv.ORTLibEnv, testRTErr)
	}
	return testRT
}

func quick() []Option {
	return []Option{WithRuns(3), WithTempDir(os.TempDir())}
}

func cpuOnly(t *testing.T) Option {
	ps, err := SelectProviders([]string{"cpu"})
	if err != nil {
		t.Fatal(err)
	}
	return WithProviders(ps)
}

func TestRunTinyModelOnCPU(t *testing.T) {
	rt := needRT(t)
	r := NewRunner(rt, append(quick(), cpuOnly(t))...)
	rep, err := r.Run(context.Background(), []Model{{Name: "mlp", Data: mlpModel(16, 32, 8, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Models) != 1 || rep.Models[0].Error != "" {
		t.Fatalf("model report: %+v", rep.Models)
	}
	mr := rep.Models[0]
	if len(mr.Results) != 1 {
		t.Fatalf("results: %d", len(mr.Results))
	}
	cpu := mr.Results[0]
	if cpu.Outcome != OutcomeRan {
		t.Fatalf("cpu outcome %s: %s", cpu.Outcome, cpu.Detail)
	}
	if cpu.Latency.Count != 3 || len(cpu.SamplesMs) != 3 {
		t.Errorf("warm runs = %d, want 3", cpu.Latency.Count)
	}
	if cpu.Throughput <= 0 || cpu.SessionCreateMs <= 0 || cpu.FirstRunMs <= 0 {
		t.Errorf("missing timings: %+v", cpu)
	}
	if cpu.PeakHostBytes == 0 {
		t.Error("no peak memory")
	}
	if got := mr.Inputs[0].Shape; len(got) != 2 || got[0] != 1 || got[1] != 16 {
		t.Errorf("dynamic batch filled as %v, want [1 16]", got)
	}
	if rep.Runtime.Version != ortlib.Version {
		t.Logf("runtime version %s (pinned %s)", rep.Runtime.Version, ortlib.Version)
	}
}

// runCPU runs m on the CPU and returns its provider run.
func runCPU(t *testing.T, m Model, opts ...Option) *ProviderRun {
	t.Helper()
	r := NewRunner(needRT(t), append(append(quick(), cpuOnly(t)), opts...)...)
	rep, err := r.Run(context.Background(), []Model{m})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Models[0].Error != "" {
		t.Fatal(rep.Models[0].Error)
	}
	pr := rep.Models[0].Results[0]
	if pr.Outcome != OutcomeRan {
		t.Fatalf("%s: %s", pr.Outcome, pr.Detail)
	}
	// outputs are cleared after a run; take the first-run outputs again.
	return pr
}

func TestThreadCountsAgreeAndPerturbedDiffers(t *testing.T) {
	rt := needRT(t)
	base := Model{Name: "mlp", Data: mlpModel(64, 256, 32, 0)}
	perturbed := Model{Name: "mlp-perturbed", Data: mlpModel(64, 256, 32, 0.01)}
	runOne := func(m Model, threads int) *ProviderRun {
		po := DefaultProviderOptions()
		po.Threads = threads
		r := NewRunner(rt, append(quick(), cpuOnly(t), WithProviderOptions(po))...)
		mr := r.runModel(context.Background(), m, r.providers)
		if mr.Error != "" || mr.Results[0].Outcome != OutcomeRan {
			t.Fatalf("%s with %d threads: %s %+v", m.Name, threads, mr.Error, mr.Results[0])
		}
		return mr.Results[0]
	}
	one, two := runOne(base, 1), runOne(base, 2)
	for _, a := range CompareRuns(one, two, []string{"y"}, FP32) {
		if !a.Agrees {
			t.Errorf("1 vs 2 threads: %+v", a)
		}
	}
	bad := runOne(perturbed, 1)
	ag := CompareRuns(one, bad, []string{"y"}, FP32)
	if len(ag) != 1 || ag[0].Agrees {
		t.Fatalf("perturbed model not flagged: %+v", ag)
	}
	if ag[0].MaxAbsDiff == 0 {
		t.Error("perturbed model gave identical outputs")
	}
}

func TestAbsentProvidersGetOutcomeAndRunContinues(t *testing.T) {
	rt := needRT(t)
	ps, err := SelectProviders([]string{"cpu", "cuda", "xnnpack", "rocm", "armnn", "openvino"})
	if err != nil {
		t.Fatal(err)
	}
	r := NewRunner(rt, append(quick(), WithProviders(ps))...)
	rep, err := r.Run(context.Background(), []Model{
		{Name: "a", Data: mlpModel(8, 8, 4, 0)},
		{Name: "b", Data: mlpModel(8, 8, 4, 0.5)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Models) != 2 {
		t.Fatalf("%d models", len(rep.Models))
	}
	for _, mr := range rep.Models {
		got := map[string]*ProviderRun{}
		for _, pr := range mr.Results {
			got[pr.Provider.Key] = pr
			t.Logf("%s/%s: %s: %s", mr.Model.Name, pr.Provider.Key, pr.Outcome, pr.Detail)
			if pr.Outcome != OutcomeRan && pr.Detail == "" {
				t.Errorf("%s/%s: outcome %s without detail", mr.Model.Name, pr.Provider.Key, pr.Outcome)
			}
		}
		if got["cpu"].Outcome != OutcomeRan {
			t.Errorf("cpu: %s %s", got["cpu"].Outcome, got["cpu"].Detail)
		}
		if got["armnn"].Outcome != OutcomeNotORT {
			t.Errorf("armnn: %s", got["armnn"].Outcome)
		}
		// This runtime (the CPU build) has none of these; whatever the
		// reason, each must have a non-"ran" outcome of its own kind.
		for _, k := range []string{"cuda", "xnnpack", "rocm", "openvino"} {
			pr := got[k]
			if pr == nil {
				t.Fatalf("no row for %s", k)
			}
			if _, err := os.Stat(filepath.Join(rt.Dir(), "libonnxruntime_providers_cuda.so")); k == "cuda" && err == nil {
				continue // a GPU install; the outcome depends on the host
			}
			if pr.Outcome != OutcomeNotInBuild {
				t.Errorf("%s: outcome %s (%s), want %s", k, pr.Outcome, pr.Detail, OutcomeNotInBuild)
			}
		}
	}
}

func TestCorruptModelFile(t *testing.T) {
	rt := needRT(t)
	p := filepath.Join(t.TempDir(), "model.onnx")
	good := mlpModel(8, 8, 4, 0)
	if err := os.WriteFile(p, good[:len(good)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	r := NewRunner(rt, append(quick(), cpuOnly(t))...)
	rep, err := r.Run(context.Background(), []Model{{Name: "broken", Path: p}, {Name: "fine", Data: good}})
	if err != nil {
		t.Fatal(err)
	}
	if e := rep.Models[0].Error; !strings.Contains(e, "broken") || !strings.Contains(e, "cannot read it") {
		t.Errorf("error = %q", e)
	}
	if rep.Models[1].Error != "" || rep.Models[1].Results[0].Outcome != OutcomeRan {
		t.Errorf("the next model did not run: %+v", rep.Models[1])
	}
}

func TestShapes(t *testing.T) {
	rt := needRT(t)
	r := NewRunner(rt, append(quick(), cpuOnly(t))...)
	img := imageModel()
	tests := []struct {
		name    string
		shapes  []string
		wantErr string
		want    []int64
	}{
		{"no shape for dynamic H and W", nil, "--shape x=1x3xNxN", nil},
		{"given", []string{"x=1x3x32x48"}, "", []int64{1, 3, 32, 48}},
		{"wrong rank", []string{"x=1x3x32"}, "has 3 dimensions", nil},
		{"contradicts static dim", []string{"x=1x4x32x32"}, "contradicts", nil},
		{"unknown input", []string{"pixels=1x3x32x32"}, "not an input", nil},
		// 3·2^40 values: would overflow memory (or int) if it were filled.
		{"too large to fill", []string{"x=1x3x1048576x1048576"}, "too large", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			shapes, err := ParseShapes(tt.shapes)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := r.Run(context.Background(), []Model{{Name: "img", Data: img, Shapes: shapes}})
			if err != nil {
				t.Fatal(err)
			}
			mr := rep.Models[0]
			if tt.wantErr != "" {
				if !strings.Contains(mr.Error, tt.wantErr) {
					t.Fatalf("error = %q, want %q", mr.Error, tt.wantErr)
				}
				return
			}
			if mr.Error != "" {
				t.Fatal(mr.Error)
			}
			if fmt.Sprint(mr.Inputs[0].Shape) != fmt.Sprint(tt.want) || mr.Results[0].Outcome != OutcomeRan {
				t.Errorf("shape %v outcome %s", mr.Inputs[0].Shape, mr.Results[0].Outcome)
			}
		})
	}
}

func TestParseShapesErrors(t *testing.T) {
	for _, s := range []string{"x", "x=", "=1x2", "x=1xax3", "x=0x3", "x=-1"} {
		if _, err := ParseShapes([]string{s}); err == nil {
			t.Errorf("%q: no error", s)
		}
	}
	if _, err := ParseShapes([]string{"x=1", "x=2"}); err == nil {
		t.Error("duplicate: no error")
	}
}

func TestTextTokensInput(t *testing.T) {
	pr := runCPU(t, Model{Name: "text", Data: textModel(clipVocab, 4)})
	if pr.Latency.Count == 0 {
		t.Fatal("no runs")
	}
}

func TestConcurrencyAndDuration(t *testing.T) {
	rt := needRT(t)
	r := NewRunner(rt, cpuOnly(t), WithConcurrency(3), WithDuration(150*time.Millisecond, 7))
	rep, err := r.Run(context.Background(), []Model{{Name: "mlp", Data: mlpModel(16, 16, 4, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	pr := rep.Models[0].Results[0]
	if pr.Outcome != OutcomeRan || pr.Latency.Count < 7 {
		t.Fatalf("%s: %d runs", pr.Outcome, pr.Latency.Count)
	}
	if rep.Settings.Concurrency != 3 {
		t.Errorf("settings concurrency = %d", rep.Settings.Concurrency)
	}
}

func TestCanceledContext(t *testing.T) {
	rt := needRT(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := NewRunner(rt, quick()...)
	rep, err := r.Run(ctx, []Model{{Name: "mlp", Data: mlpModel(4, 4, 4, 0)}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if rep == nil || rep.Models[0].Results[0].Outcome != OutcomeCanceled {
		t.Fatalf("report: %+v", rep)
	}
}

func TestOpenRuntimeTwice(t *testing.T) {
	rt := needRT(t)
	if _, err := OpenRuntime(rt.Path()); !errors.Is(err, ErrRuntimeOpen) {
		t.Fatalf("err = %v, want ErrRuntimeOpen", err)
	}
}

func TestProfilePlacementOnCPU(t *testing.T) {
	rt := needRT(t)
	r := NewRunner(rt, append(quick(), cpuOnly(t), WithTempDir(t.TempDir()))...)
	m := Model{Name: "mlp", Data: mlpModel(8, 8, 4, 0)}
	ins, outs, err := m.ioInfo()
	if err != nil {
		t.Fatal(err)
	}
	mr := &ModelReport{}
	if mr.Inputs, err = m.resolveInputs(ins); err != nil {
		t.Fatal(err)
	}
	for _, o := range outs {
		mr.Outputs = append(mr.Outputs, TensorSpec{Name: o.Name, Declared: o.Dimensions, elem: o.DataType})
	}
	in, err := newInput(mr.Inputs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer in.Destroy()
	pl, err := r.profile(context.Background(), m, Providers()[0], mr, []ort.Value{in})
	if err != nil {
		t.Fatal(err)
	}
	if pl.Nodes == 0 || pl.NodeShare != 1 || pl.TimeShare != 1 || pl.ByProvider["CPUExecutionProvider"] != pl.Nodes {
		t.Errorf("placement %+v", pl)
	}
}

func TestParseProfileFallback(t *testing.T) {
	trace := `[
 {"cat":"Session","name":"model_loading_array","dur":10,"args":{}},
 {"cat":"Node","name":"conv_kernel_time","dur":300,"args":{"op_name":"Conv","provider":"CUDAExecutionProvider"}},
 {"cat":"Node","name":"conv_fence_before","dur":1,"args":{"op_name":"Conv"}},
 {"cat":"Node","name":"nms_kernel_time","dur":100,"args":{"op_name":"NonMaxSuppression","provider":"CPUExecutionProvider"}},
 {"cat":"Node","name":"conv_kernel_time","dur":300,"args":{"op_name":"Conv","provider":"CUDAExecutionProvider"}},
 {"cat":"Node","name":"topk_kernel_time","dur":0,"args":{"op_name":"TopK","provider":"CPUExecutionProvider"}}
]`
	pl, err := parseProfile([]byte(trace), "CUDAExecutionProvider")
	if err != nil {
		t.Fatal(err)
	}
	if pl.Nodes != 3 || pl.NodesOnProvider != 1 {
		t.Errorf("nodes %d on provider %d", pl.Nodes, pl.NodesOnProvider)
	}
	if pl.TimeShare != 600.0/700.0 {
		t.Errorf("time share %v", pl.TimeShare)
	}
	if strings.Join(pl.CPUOps, ",") != "NonMaxSuppression,TopK" {
		t.Errorf("cpu ops %v", pl.CPUOps)
	}
	if _, err := parseProfile([]byte(`[]`), "X"); err == nil {
		t.Error("empty profile: no error")
	}
	if _, err := parseProfile([]byte(`{`), "X"); err == nil {
		t.Error("bad JSON: no error")
	}
}

func TestReportTextJSONAndPlot(t *testing.T) {
	rt := needRT(t)
	ps, err := SelectProviders([]string{"cpu", "xnnpack", "rknn"})
	if err != nil {
		t.Fatal(err)
	}
	r := NewRunner(rt, append(quick(), WithProviders(ps))...)
	rep, err := r.Run(context.Background(), []Model{{Name: "mlp", Data: mlpModel(8, 8, 4, 0), FLOPs: 1000, Params: 100}, {Name: "broken", Data: []byte("nope")}})
	if err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	if err := rep.WriteText(&buf, nil, true); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"ONNX Runtime " + rt.Version(), "mlp", "cpu", "reference", "broken", "cannot read it",
		"xnnpack", "not in this ONNX Runtime build", "rknn", "not an ONNX Runtime provider", "GFLOP/s", "p99"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	dir := t.TempDir()
	for _, f := range []string{"lat.svg", "lat.png"} {
		p := filepath.Join(dir, f)
		if err := rep.WritePlot(p); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(p); err != nil || fi.Size() < 500 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if err := rep.WritePlot(filepath.Join(dir, "lat.gif")); err == nil {
		t.Error("gif accepted")
	}
	empty := &Report{Models: []*ModelReport{{Error: "x"}}}
	if err := empty.WritePlot(filepath.Join(dir, "e.svg")); !errors.Is(err, ErrNothingToPlot) {
		t.Errorf("err = %v", err)
	}
}

func TestFindImmichModels(t *testing.T) {
	dir := t.TempDir()
	write := func(rel string, data []byte) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("clip/ViT-B-32__openai/textual/model.onnx", textModel(clipVocab, 4))
	write("clip/ViT-B-32__openai/visual/model.onnx", mlpModel(8, 8, 4, 0))
	write("facial-recognition/buffalo_l/detection/model.onnx", imageModel())
	write("facial-recognition/buffalo_l/detection/model.armnn", []byte("not onnx"))
	write("clip/ViT-B-32__openai/textual/tokenizer.json", []byte("{}"))
	write("stray/model.onnx", []byte("wrong depth"))
	ms, err := FindImmichModels(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
	}
	want := "clip/ViT-B-32__openai/textual clip/ViT-B-32__openai/visual facial-recognition/buffalo_l/detection"
	if strings.Join(names, " ") != want {
		t.Fatalf("found %v, want %s", names, want)
	}
	if _, err := FindImmichModels(t.TempDir()); !errors.Is(err, ErrNoImmichModels) {
		t.Errorf("empty dir: %v", err)
	}
	rt := needRT(t)
	r := NewRunner(rt, append(quick(), cpuOnly(t))...)
	rep, err := r.Run(context.Background(), ms)
	if err != nil {
		t.Fatal(err)
	}
	for _, mr := range rep.Models {
		if mr.Error != "" || mr.Results[0].Outcome != OutcomeRan {
			t.Errorf("%s: %s %+v", mr.Model.Name, mr.Error, mr.Results[0])
		}
	}
	if got := dimString(rep.Models[2].Inputs[0].Shape); got != "1x3x640x640" {
		t.Errorf("detection input %s, want 1x3x640x640", got)
	}
	if in := rep.Models[0].Inputs[0]; in.Type != "int32" || dimString(in.Shape) != "1x77" {
		t.Errorf("textual input %s %s, want int32 1x77", in.Type, dimString(in.Shape))
	}
}

func TestProviderTimeoutStopsWarmRuns(t *testing.T) {
	rt := needRT(t)
	r := NewRunner(rt, cpuOnly(t), WithDuration(time.Minute, 1), WithTimeout(300*time.Millisecond))
	start := time.Now()
	rep, err := r.Run(context.Background(), []Model{{Name: "mlp", Data: mlpModel(64, 64, 8, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("took %s despite a 300ms timeout", d)
	}
	pr := rep.Models[0].Results[0]
	if pr.Outcome != OutcomeRan || !strings.Contains(pr.Detail, "stopped early") || pr.Latency.Count == 0 {
		t.Errorf("%s %q %d runs", pr.Outcome, pr.Detail, pr.Latency.Count)
	}
}

func TestBuiltinTinyPerturbedIsFlagged(t *testing.T) {
	rt := needRT(t)
	tiny, ok := models.ByName("tiny")
	if !ok {
		t.Fatal("no built-in tiny model")
	}
	orig, err := tiny.Build()
	if err != nil {
		t.Fatal(err)
	}
	bad, err := tiny.Build(models.WithPerturbation(models.DefaultPerturbation))
	if err != nil {
		t.Fatal(err)
	}
	r := NewRunner(rt, append(quick(), cpuOnly(t))...)
	a := r.runModel(context.Background(), Model{Name: "tiny", Data: orig}, r.providers)
	b := r.runModel(context.Background(), Model{Name: "tiny-perturbed", Data: bad}, r.providers)
	again := r.runModel(context.Background(), Model{Name: "tiny", Data: orig}, r.providers)
	names := []string{tiny.Outputs[0].Name}
	for _, ag := range CompareRuns(a.Results[0], again.Results[0], names, FP32) {
		if !ag.Agrees || ag.MaxAbsDiff != 0 {
			t.Errorf("same model twice: %+v", ag)
		}
	}
	ag := CompareRuns(a.Results[0], b.Results[0], names, FP32)
	if len(ag) != 1 || ag[0].Agrees {
		t.Errorf("perturbed built-in not flagged: %+v", ag)
	}
}

// TestSecondProviderComparedAndFallbackDetected runs a stand-in
// "accelerator" that is really the CPU provider under another name: its
// results must agree with the CPU, get a speedup, and its placement must
// show that none of the nodes ran on the provider it claims to be (a
// silent CPU fallback).
func TestSecondProviderComparedAndFallbackDetected(t *testing.T) {
	rt := needRT(t)
	fake := Provider{Key: "fakeaccel", Name: "FakeAccelExecutionProvider", Precision: FP16}
	r := NewRunner(rt, append(quick(), WithProviders([]Provider{Providers()[0], fake}), WithTempDir(t.TempDir()))...)
	rep, err := r.Run(context.Background(), []Model{{Name: "mlp", Data: mlpModel(32, 64, 16, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	pr := rep.Models[0].Results[1]
	if pr.Outcome != OutcomeRan {
		t.Fatalf("%s: %s", pr.Outcome, pr.Detail)
	}
	if pr.Agrees == nil || !*pr.Agrees || len(pr.Agreement) != 1 || pr.Agreement[0].Precision != FP16 {
		t.Errorf("agreement %+v", pr.Agreement)
	}
	if pr.Speedup <= 0 || rep.Models[0].Results[0].Speedup != 1 {
		t.Errorf("speedups %v / %v", pr.Speedup, rep.Models[0].Results[0].Speedup)
	}
	pl := pr.Placement
	if pl == nil {
		t.Fatalf("no placement: %s", pr.Detail)
	}
	if pl.NodeShare != 0 || pl.Nodes == 0 || pl.ByProvider["CPUExecutionProvider"] != pl.Nodes || len(pl.CPUOps) == 0 {
		t.Errorf("fallback not detected: %+v", pl)
	}
	var buf strings.Builder
	if err := rep.WriteText(&buf, nil, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "0% nodes, 0% time") || !strings.Contains(buf.String(), "fakeaccel: all 2 nodes ran on the CPU") {
		t.Errorf("text does not show the fallback:\n%s", buf.String())
	}
}
