package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immich-accel/immich-accel/internal/iostreams"
	"github.com/immich-accel/immich-accel/internal/ortlib"
	"github.com/immich-accel/immich-accel/internal/testenv"
	"github.com/immich-accel/immich-accel/pkg/bench"
	"github.com/immich-accel/immich-accel/pkg/bench/models"
)

func testFactory(env map[string]string) (*Factory, *bytes.Buffer, *bytes.Buffer) {
	ios, _, out, errOut := iostreams.Test()
	f := &Factory{
		IOStreams:         ios,
		Getenv:            func(k string) string { return env[k] },
		Getwd:             os.Getwd,
		ComponentVersions: func() []ComponentVersion { return nil },
	}
	return f, out, errOut
}

// ortEnv returns the environment for tests that load ONNX Runtime: they
// fail under CI without one, and are skipped loudly elsewhere.
func ortEnv(t *testing.T) map[string]string {
	t.Helper()
	return map[string]string{ortlib.EnvVar: testenv.RequireORT(t)}
}

func TestBenchFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode ExitCode
		wantErr  string
		check    func(t *testing.T, o *BenchOptions)
	}{
		{"defaults", nil, ExitOK, "", func(t *testing.T, o *BenchOptions) {
			if o.Concurrency != 1 || o.Runs != 0 || o.Duration.Seconds() != 2 || o.Provider.CUDAArena != "kSameAsRequested" || o.Provider.OpenVINOPrecision != "FP32" {
				t.Errorf("defaults: %+v", o)
			}
		}},
		{"provider options", []string{"--device-id", "1", "--openvino-device", "NPU", "--openvino-precision", "fp16", "--cuda-arena", "next-power-of-two", "--threads", "2"}, ExitOK, "", func(t *testing.T, o *BenchOptions) {
			p := o.Provider
			if p.DeviceID != 1 || p.OpenVINODevice != "NPU" || p.OpenVINOPrecision != "FP16" || p.CUDAArena != "kNextPowerOfTwo" || p.Threads != 2 {
				t.Errorf("provider options: %+v", p)
			}
		}},
		{"bare --immich-cache means auto", []string{"--immich-cache"}, ExitOK, "", func(t *testing.T, o *BenchOptions) {
			if o.ImmichCache != autoCache {
				t.Errorf("immich cache %q", o.ImmichCache)
			}
		}},
		{"--immich-cache DIR", []string{"--immich-cache", "/srv/model-cache"}, ExitOK, "", func(t *testing.T, o *BenchOptions) {
			if o.ImmichCache != "/srv/model-cache" {
				t.Errorf("immich cache %q, want the directory", o.ImmichCache)
			}
		}},
		{"--immich-cache=DIR", []string{"--immich-cache=/srv/model-cache"}, ExitOK, "", func(t *testing.T, o *BenchOptions) {
			if o.ImmichCache != "/srv/model-cache" {
				t.Errorf("immich cache %q, want the directory", o.ImmichCache)
			}
		}},
		{"stray argument", []string{"model.onnx"}, ExitUsage, "--model FILE", nil},
		{"two arguments after --immich-cache", []string{"--immich-cache", "a", "b"}, ExitUsage, "unexpected argument", nil},
		{"bad shape", []string{"--model", "m.onnx", "--shape", "x=1xtwo"}, ExitUsage, "not a positive integer", nil},
		{"shape without model", []string{"--shape", "x=1x2"}, ExitUsage, "--shape applies", nil},
		{"unknown provider", []string{"--providers", "cpu,tpu"}, ExitUsage, "unknown provider \"tpu\"", nil},
		{"unknown builtin", []string{"--builtin", "resnet"}, ExitUsage, "unknown model", nil},
		{"quick with model", []string{"--quick", "--model", "x.onnx"}, ExitUsage, "--quick", nil},
		{"zero concurrency", []string{"--concurrency", "0"}, ExitUsage, "--concurrency", nil},
		{"bad arena", []string{"--cuda-arena", "huge"}, ExitUsage, "--cuda-arena", nil},
		{"bad plot extension", []string{"--plot", "x.gif"}, ExitUsage, ".svg or .png", nil},
		{"plot into a missing directory", []string{"--plot", "/nonexistent-dir/x.svg"}, ExitUsage, "does not exist", nil},
		{"plot in the working directory", []string{"--plot", "x.png"}, ExitOK, "", func(t *testing.T, o *BenchOptions) {
			if o.Plot != "x.png" {
				t.Errorf("plot %q", o.Plot)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _, errOut := testFactory(nil)
			var got *BenchOptions
			root := NewCmdRoot(f)
			for _, c := range root.Commands() {
				if c.Name() == "bench" {
					root.RemoveCommand(c)
				}
			}
			root.AddCommand(NewCmdBench(f, func(_ context.Context, o *BenchOptions) error { got = o; return nil }))
			root.SetArgs(append([]string{"bench"}, tt.args...))
			root.SetOut(f.IOStreams.Out)
			root.SetErr(f.IOStreams.ErrOut)
			err := root.ExecuteContext(context.Background())
			if code := exitCodeFor(err); code != tt.wantCode {
				t.Fatalf("exit %d (%v), want %d; stderr %s", code, err, tt.wantCode, errOut)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

func TestBenchQuickJSON(t *testing.T) {
	env := ortEnv(t)
	f, out, errOut := testFactory(env)
	code := Run(context.Background(), f, []string{"bench", "--quick", "--runs", "3", "--json"})
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep bench.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("JSON: %v\n%s", err, out)
	}
	if len(rep.Models) != 1 || rep.Models[0].Model.Name != "tiny" {
		t.Fatalf("models: %+v", rep.Models)
	}
	mr := rep.Models[0]
	if mr.Model.FLOPs == 0 || mr.Model.Params == 0 {
		t.Error("FLOPs/params missing")
	}
	keys := map[string]bench.Outcome{}
	for _, pr := range mr.Results {
		keys[pr.Provider.Key] = pr.Outcome
	}
	if len(keys) != len(bench.Providers()) {
		t.Errorf("%d provider rows, want one per provider (%d)", len(keys), len(bench.Providers()))
	}
	if keys["cpu"] != bench.OutcomeRan || keys["rknn"] != bench.OutcomeNotORT {
		t.Errorf("outcomes %v", keys)
	}
	if strings.Contains(errOut.String(), "\x1b[") {
		t.Error("progress drawn without a terminal")
	}
}

func TestBenchBuiltinModelsRunText(t *testing.T) {
	env := ortEnv(t)
	if testing.Short() {
		t.Skip("builds CLIP-sized models")
	}
	f, out, errOut := testFactory(env)
	plot := filepath.Join(t.TempDir(), "lat.svg")
	code := Run(context.Background(), f, []string{"bench", "--runs", "1", "--providers", "cpu,cuda,armnn", "--plot", plot})
	if code != ExitOK {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	s := out.String()
	for _, m := range models.Builtin() {
		if m.Name == "tiny" {
			continue
		}
		if !strings.Contains(s, m.Name) {
			t.Errorf("no %s in output", m.Name)
		}
	}
	for _, want := range []string{"SPEEDUP", "1.00x", "GFLOP/s", "cuda", "not in this ONNX Runtime build", "armnn", "not an ONNX Runtime provider"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if b, err := os.ReadFile(plot); err != nil || !strings.Contains(string(b), "<svg") {
		t.Errorf("plot: %v", err)
	}
}

func TestBenchCorruptModelAndMissingRuntime(t *testing.T) {
	env := ortEnv(t)
	bad := filepath.Join(t.TempDir(), "model.onnx")
	if err := os.WriteFile(bad, []byte("\x08\x07garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, out, errOut := testFactory(env)
	code := Run(context.Background(), f, []string{"bench", "--model", bad, "--providers", "cpu", "--runs", "1"})
	if code != ExitFailure {
		t.Fatalf("corrupt model: exit %d, want 1", code)
	}
	if !strings.Contains(out.String(), "cannot read it") {
		t.Errorf("corrupt model output:\n%s\n%s", out, errOut)
	}

	f, _, errOut = testFactory(map[string]string{ortlib.EnvVar: filepath.Join(t.TempDir(), "libonnxruntime.so")})
	code = Run(context.Background(), f, []string{"bench", "--quick"})
	if code != ExitFailure || !strings.Contains(errOut.String(), ortlib.EnvVar) || !strings.Contains(errOut.String(), "no such file") {
		t.Errorf("missing runtime: exit %d: %s", code, errOut)
	}
}

// A missing --model file is reported before ONNX Runtime is looked for
// (here there is none), naming the file and the reason.
func TestBenchMissingModelFileFirst(t *testing.T) {
	f, _, errOut := testFactory(map[string]string{ortlib.EnvVar: filepath.Join(t.TempDir(), "libonnxruntime.so")})
	missing := filepath.Join(t.TempDir(), "face.onnx")
	code := Run(context.Background(), f, []string{"bench", "--model", missing})
	if code != ExitFailure || !strings.Contains(errOut.String(), "--model "+missing+": no such file or directory") || strings.Contains(errOut.String(), ortlib.EnvVar) {
		t.Errorf("missing model: exit %d: %s", code, errOut)
	}
	f, _, errOut = testFactory(nil)
	code = Run(context.Background(), f, []string{"bench", "--model", t.TempDir()})
	if code != ExitFailure || !strings.Contains(errOut.String(), "is a directory") {
		t.Errorf("directory as model: exit %d: %s", code, errOut)
	}
}

type fakeFinder struct {
	dir string
	err error
}

func (f fakeFinder) ModelCacheDir(context.Context) (string, error) { return f.dir, f.err }

func TestBenchImmichCacheAuto(t *testing.T) {
	f, _, _ := testFactory(nil)
	o := &BenchOptions{IO: f.IOStreams, ImmichCache: autoCache}
	if _, err := o.models(context.Background()); err == nil || !strings.Contains(err.Error(), "without Docker") {
		t.Errorf("no finder: %v", err)
	}
	o.ModelCache = fakeFinder{err: errors.New("no immich project")}
	if _, err := o.models(context.Background()); err == nil || !strings.Contains(err.Error(), "no immich project") {
		t.Errorf("finder error: %v", err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "clip", "ViT-B-32__openai", "visual", "model.onnx")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	o.ModelCache = fakeFinder{dir: dir}
	ms, err := o.models(context.Background())
	if err != nil || len(ms) != 1 || ms[0].Path != p {
		t.Errorf("found %+v, %v", ms, err)
	}
}

func TestRuntimeInstallRejectsTamperedDownload(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	f, _, errOut := testFactory(nil)
	root := NewCmdRoot(f)
	var opts *RuntimeInstallOptions
	for _, c := range root.Commands() {
		if c.Name() == "runtime" {
			for _, s := range c.Commands() {
				if s.Name() == "install" {
					c.RemoveCommand(s)
				}
			}
			c.AddCommand(NewCmdRuntimeInstall(f, func(ctx context.Context, o *RuntimeInstallOptions) error {
				opts = o
				o.Npm = func(_ context.Context, dir string, _ ...string) error {
					return os.WriteFile(filepath.Join(dir, "onnxruntime-node-1.29.0.tgz"), []byte("not the real tarball"), 0o644)
				}
				return runRuntimeInstall(ctx, o)
			}))
		}
	}
	root.SetArgs([]string{"runtime", "install"})
	err := root.ExecuteContext(context.Background())
	if !errors.Is(err, ortlib.ErrChecksum) {
		t.Fatalf("err = %v, want a checksum error; stderr %s", err, errOut)
	}
	if opts == nil || opts.Arch == "" {
		t.Error("arch not set")
	}
}

func TestVersionListsORT(t *testing.T) {
	env := ortEnv(t)
	cv := withORTVersion(func(k string) string { return env[k] }, func() []ComponentVersion {
		return []ComponentVersion{{Name: "nvml", Detail: "not found"}}
	})()
	if len(cv) != 2 || cv[0].Name != "nvml" || cv[1].Name != "onnxruntime" || cv[1].Version != ortlib.Version {
		t.Errorf("components %+v", cv)
	}
	missing := withORTVersion(func(k string) string {
		if k == ortlib.EnvVar {
			return "/nonexistent/libonnxruntime.so"
		}
		return ""
	}, nil)()
	if len(missing) != 1 || missing[0].Version != "" || !strings.Contains(missing[0].Detail, "runtime install") {
		t.Errorf("missing: %+v", missing)
	}
}

func TestBenchProgressOnTTYOnly(t *testing.T) {
	env := ortEnv(t)
	f, out, errOut := testFactory(env)
	f.IOStreams.SetStderrTTY(true)
	if code := Run(context.Background(), f, []string{"bench", "--quick", "--runs", "2", "--providers", "cpu"}); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut.String(), "1/1 tiny · cpu") {
		t.Errorf("no progress on a terminal: %q", errOut)
	}
	if strings.Contains(out.String(), "\r") {
		t.Error("progress leaked into stdout")
	}
}
