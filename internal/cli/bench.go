package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/immich-accel/immich-accel/internal/iostreams"
	"github.com/immich-accel/immich-accel/internal/ortlib"
	"github.com/immich-accel/immich-accel/pkg/bench"
	"github.com/immich-accel/immich-accel/pkg/bench/models"
	"github.com/immich-accel/immich-accel/pkg/detect"
)

// autoCache is the value of a bare --immich-cache: find the Docker volume.
const autoCache = "auto"

// BenchOptions holds the flags and dependencies of `bench`.
type BenchOptions struct {
	IO     *iostreams.IOStreams
	Getenv func(string) string
	// ModelCache finds Immich's model-cache volume (nil: no Docker).
	ModelCache bench.VolumeFinder
	// GPUMemory opens per-process GPU memory measurement; nil or an error
	// means none.
	GPUMemory func(ctx context.Context) (bench.GPUMemory, func(), error)

	ORTLib      string
	Verbose     bool
	Quick       bool
	Builtin     []string
	ModelPaths  []string
	Shapes      []string
	ImmichCache string
	Providers   []string
	Runs        int
	Duration    time.Duration
	Concurrency int
	Timeout     time.Duration
	NoProfile   bool
	JSON        bool
	Plot        string
	Provider    bench.ProviderOptions
}

// NewCmdBench builds `immich-accel bench`. runF replaces the run function in
// tests.
func NewCmdBench(f *Factory, runF func(context.Context, *BenchOptions) error) *cobra.Command {
	opts := &BenchOptions{IO: f.IOStreams, Getenv: f.Getenv, ModelCache: f.ModelCache, GPUMemory: nvmlMemory,
		Provider: bench.DefaultProviderOptions()}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Run ONNX models on every ONNX Runtime execution provider and compare with CPU",
		Long: `bench answers three questions on this host: does an accelerator really run
the models (and not fall back to the CPU silently), are its results the same
as on the CPU, and how much faster is it.

Without model flags it runs built-in models shaped like Immich's defaults
(CLIP ViT-B/32 visual encoder, a buffalo_l-sized face detector and ArcFace
recognizer), generated in memory with fixed pseudo-random weights. Every
execution provider that can exist on Linux is tried; each gets an outcome:
ran, not in this ONNX Runtime build, library failed to load (naming the
missing library), no usable device, or failed on this model. The CPU
provider always runs: it is the reference for speedup and for numerical
agreement (see the README for the tolerances).

ONNX Runtime is loaded from --ort-lib, $IMMICH_ACCEL_ORT_LIB, the cache that
'immich-accel runtime install' fills, or the system library paths (-v shows
each place tried).

EXIT STATUS
  0  every model was benchmarked and every provider that ran agrees with CPU
  1  a model could not be benchmarked, a provider's results differ from CPU,
     or ONNX Runtime could not be loaded
  2  bad flags
  130 interrupted`,
		Example: `  immich-accel bench                      # built-in models, every provider
  immich-accel bench --quick              # the tiny model only
  immich-accel bench --providers cpu,cuda --concurrency 4 --json
  immich-accel bench --model face.onnx --shape input.1=1x3x640x640
  sudo immich-accel bench --immich-cache  # the models of your Immich install
  immich-accel bench --plot latency.svg`,
		// A bare --immich-cache finds the Docker volume, so its value must
		// be attached with "="; "--immich-cache DIR" leaves DIR as the one
		// argument, which is taken as the directory.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && opts.ImmichCache == autoCache && cmd.Flags().Changed("immich-cache") {
				return nil
			}
			if len(args) > 0 {
				return &FlagError{Err: fmt.Errorf("unexpected argument %q: bench takes flags only (models are given with --model FILE or --immich-cache DIR)", args[0])}
			}
			return nil
		},
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.ImmichCache = args[0]
			}
			return validateBench(cmd, opts)
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runBench(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.ORTLib, "ort-lib", "", "path to libonnxruntime.so (default: $"+ortlib.EnvVar+", the installed runtime, system paths)")
	fl.BoolVarP(&opts.Verbose, "verbose", "v", false, "show where ONNX Runtime was looked for, all percentiles, memory, per-output agreement and native logs")
	fl.BoolVar(&opts.Quick, "quick", false, "run only the tiny built-in model (seconds)")
	fl.StringSliceVar(&opts.Builtin, "builtin", nil, "built-in models to run (default: all but tiny): "+strings.Join(models.Names(), ", "))
	fl.StringArrayVar(&opts.ModelPaths, "model", nil, "ONNX model file to run (repeatable)")
	fl.StringArrayVar(&opts.Shapes, "shape", nil, "shape of a dynamic input, NAME=1x3x224x224 (repeatable)")
	fl.StringVar(&opts.ImmichCache, "immich-cache", "", "run the models of an Immich model cache directory; without a value, find the model-cache Docker volume")
	fl.Lookup("immich-cache").NoOptDefVal = autoCache
	fl.StringSliceVar(&opts.Providers, "providers", nil, "providers to try, e.g. cpu,cuda,openvino (default: all; cpu always runs)")
	fl.IntVar(&opts.Runs, "runs", 0, "number of warm runs (default: as many as fit in --duration)")
	fl.DurationVar(&opts.Duration, "duration", 2*time.Second, "how long warm runs last per provider and model, when --runs is 0 (at least 5 runs)")
	fl.IntVar(&opts.Concurrency, "concurrency", 1, "concurrent runs on one session (Immich's MACHINE_LEARNING_REQUEST_THREADS)")
	fl.IntVar(&opts.Provider.Threads, "threads", 0, "intra-op threads per session (default: ONNX Runtime's, one per physical core)")
	fl.DurationVar(&opts.Timeout, "timeout", 10*time.Minute, "time limit per provider and model (0: none)")
	fl.BoolVar(&opts.NoProfile, "no-profile", false, "skip the profiled run that checks for silent CPU fallback")
	fl.IntVar(&opts.Provider.DeviceID, "device-id", 0, "GPU index for CUDA, TensorRT and MIGraphX")
	fl.StringVar(&opts.Provider.OpenVINODevice, "openvino-device", opts.Provider.OpenVINODevice, "OpenVINO device_type: CPU, GPU, GPU.1, NPU, AUTO:GPU,CPU")
	fl.StringVar(&opts.Provider.OpenVINOPrecision, "openvino-precision", opts.Provider.OpenVINOPrecision, "OpenVINO precision: FP32, FP16 or ACCURACY")
	fl.StringVar(&opts.Provider.CUDAArena, "cuda-arena", "same-as-requested", "CUDA arena growth: same-as-requested or next-power-of-two")
	fl.BoolVar(&opts.JSON, "json", false, "print the report as JSON")
	fl.StringVar(&opts.Plot, "plot", "", "write the latency distribution per provider and model to FILE (.svg or .png)")
	return cmd
}

func validateBench(cmd *cobra.Command, opts *BenchOptions) error {
	bad := func(format string, args ...any) error { return &FlagError{Err: fmt.Errorf(format, args...)} }
	switch {
	case opts.Runs < 0:
		return bad("--runs %d: want 0 or more", opts.Runs)
	case opts.Concurrency < 1:
		return bad("--concurrency %d: want 1 or more", opts.Concurrency)
	case opts.Duration <= 0 && opts.Runs == 0:
		return bad("--duration %s: want a positive duration, or set --runs", opts.Duration)
	case opts.Timeout < 0:
		return bad("--timeout %s: want 0 (none) or a positive duration", opts.Timeout)
	}
	if opts.Quick && (len(opts.Builtin) > 0 || len(opts.ModelPaths) > 0 || opts.ImmichCache != "") {
		return bad("--quick runs the tiny built-in model; it cannot be combined with --builtin, --model or --immich-cache")
	}
	if len(opts.Shapes) > 0 && len(opts.ModelPaths) == 0 && opts.ImmichCache == "" {
		return bad("--shape applies to --model or --immich-cache models")
	}
	if _, err := bench.ParseShapes(opts.Shapes); err != nil {
		return &FlagError{Err: err}
	}
	if _, err := bench.SelectProviders(opts.Providers); err != nil {
		return &FlagError{Err: err}
	}
	for _, n := range opts.Builtin {
		if _, ok := models.ByName(n); !ok {
			return bad("--builtin %q: unknown model; built-in models are %s", n, strings.Join(models.Names(), ", "))
		}
	}
	po, err := opts.Provider.Normalize()
	if err != nil {
		return &FlagError{Err: err}
	}
	opts.Provider = po
	if opts.Plot != "" && !strings.HasSuffix(strings.ToLower(opts.Plot), ".svg") && !strings.HasSuffix(strings.ToLower(opts.Plot), ".png") {
		return bad("--plot %s: the file name must end in .svg or .png", opts.Plot)
	}
	if opts.Plot != "" {
		// Checked now rather than after a run of minutes.
		if fi, err := os.Stat(filepath.Dir(opts.Plot)); err != nil || !fi.IsDir() {
			return bad("--plot %s: the directory %s does not exist: create it or write the plot elsewhere", opts.Plot, filepath.Dir(opts.Plot))
		}
	}
	return nil
}

// builtinModels adapts the generated models to the benchmark; each is built
// only when its turn comes.
func builtinModels(names []string, quick bool) []bench.Model {
	var sel []models.Model
	switch {
	case quick:
		m, _ := models.ByName("tiny")
		sel = append(sel, m)
	case len(names) > 0:
		for _, n := range names {
			m, _ := models.ByName(n)
			sel = append(sel, m)
		}
	default:
		for _, m := range models.Builtin() {
			if m.Name != "tiny" {
				sel = append(sel, m)
			}
		}
	}
	out := make([]bench.Model, 0, len(sel))
	for _, m := range sel {
		out = append(out, bench.Model{Name: m.Name, Description: m.Description, Params: m.Params, FLOPs: m.FLOPs,
			Load: func() ([]byte, error) { return m.Build() }})
	}
	return out
}

func (opts *BenchOptions) models(ctx context.Context) ([]bench.Model, error) {
	shapes, err := bench.ParseShapes(opts.Shapes)
	if err != nil {
		return nil, err
	}
	var ms []bench.Model
	for _, p := range opts.ModelPaths {
		// Checked before ONNX Runtime is loaded, so a typo fails at once.
		if fi, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("--model %s: %w: give the path of an .onnx file", p, errors.Unwrap(err))
		} else if fi.IsDir() {
			return nil, fmt.Errorf("--model %s: is a directory: give the path of an .onnx file (for an Immich model cache use --immich-cache DIR)", p)
		}
		ms = append(ms, bench.Model{Name: p, Path: p, Shapes: shapes})
	}
	if opts.ImmichCache != "" {
		dir := opts.ImmichCache
		if dir == autoCache {
			if opts.ModelCache == nil {
				return nil, errors.New("--immich-cache: cannot look for Immich's model-cache volume without Docker: pass the directory, e.g. --immich-cache /var/lib/docker/volumes/immich_model-cache/_data")
			}
			if dir, err = opts.ModelCache.ModelCacheDir(ctx); err != nil {
				return nil, fmt.Errorf("--immich-cache: finding Immich's model-cache volume: %w: pass the directory instead (docker volume inspect shows its Mountpoint)", err)
			}
		}
		found, err := bench.FindImmichModels(dir)
		if err != nil {
			return nil, err
		}
		for i := range found {
			found[i].Shapes = shapes
		}
		ms = append(ms, found...)
	}
	if len(ms) == 0 {
		ms = builtinModels(opts.Builtin, opts.Quick)
	}
	return ms, nil
}

func runBench(ctx context.Context, opts *BenchOptions) error {
	ios := opts.IO
	ms, err := opts.models(ctx)
	if err != nil {
		return err
	}
	res, err := ortlib.Resolve(ortlib.DefaultResolveOptions(opts.ORTLib, opts.Getenv))
	if opts.Verbose {
		fmt.Fprintln(ios.ErrOut, "Looking for ONNX Runtime:")
		for _, s := range res.Steps {
			fmt.Fprintln(ios.ErrOut, "  "+s.String())
		}
	}
	if err != nil {
		return err
	}
	rt, err := bench.OpenRuntime(res.Path)
	if err != nil {
		return err
	}
	defer rt.Close()

	provs, _ := bench.SelectProviders(opts.Providers)
	ropts := []bench.Option{
		bench.WithProviders(provs), bench.WithConcurrency(opts.Concurrency), bench.WithTimeout(opts.Timeout),
		bench.WithProfiling(!opts.NoProfile), bench.WithProviderOptions(opts.Provider),
	}
	if opts.Runs > 0 {
		ropts = append(ropts, bench.WithRuns(opts.Runs))
	} else {
		ropts = append(ropts, bench.WithDuration(opts.Duration, 5))
	}
	if opts.GPUMemory != nil {
		if g, closeFn, err := opts.GPUMemory(ctx); err == nil {
			defer closeFn()
			ropts = append(ropts, bench.WithGPUMemory(g))
		} else if opts.Verbose {
			fmt.Fprintf(ios.ErrOut, "GPU memory will not be measured: %v\n", err)
		}
	}
	if ios.IsStderrTTY() {
		ropts = append(ropts, bench.WithProgress(progressPrinter(ios.ErrOut)))
		defer fmt.Fprint(ios.ErrOut, "\r\x1b[K")
	}
	rep, runErr := bench.NewRunner(rt, ropts...).Run(ctx, ms)
	if ios.IsStderrTTY() {
		fmt.Fprint(ios.ErrOut, "\r\x1b[K")
	}
	if rep == nil {
		return runErr
	}
	if opts.JSON {
		if err := ios.WriteJSON(rep); err != nil {
			return err
		}
	} else if err := rep.WriteText(ios.Out, ios.ColorScheme(), opts.Verbose); err != nil {
		return err
	}
	if opts.Plot != "" {
		if err := rep.WritePlot(opts.Plot); err != nil {
			return err
		}
		if !opts.JSON {
			fmt.Fprintf(ios.ErrOut, "Wrote %s\n", opts.Plot)
		}
	}
	if runErr != nil {
		return runErr
	}
	return benchVerdict(rep, ios.ErrOut, opts.JSON)
}

// benchVerdict is nil when every model ran and every provider that ran
// agrees with the CPU.
func benchVerdict(rep *bench.Report, errOut io.Writer, quiet bool) error {
	failed := 0
	for _, mr := range rep.Models {
		if mr.Error != "" {
			failed++
		}
		for _, pr := range mr.Results {
			if pr.Agrees != nil && !*pr.Agrees {
				failed++
				if !quiet {
					fmt.Fprintf(errOut, "%s: %s results differ from CPU beyond tolerance: do not use this provider for this model until that is explained\n", mr.Model.Name, pr.Provider.Key)
				}
			}
		}
	}
	if failed > 0 {
		return Silent(ExitFailure)
	}
	return nil
}

func progressPrinter(w io.Writer) func(bench.Progress) {
	return func(p bench.Progress) {
		const width = 24
		done := 0
		if p.Steps > 0 {
			done = min(width, max(0, (p.Step-1)*width/p.Steps))
		}
		what := p.Model
		if p.Provider != "" {
			what += " · " + p.Provider
		}
		fmt.Fprintf(w, "\r\x1b[K[%s%s] %d/%d %s: %s", strings.Repeat("█", done), strings.Repeat("░", width-done), p.Step, p.Steps, what, p.Phase)
	}
}

// nvmlMemory opens NVML (the library doctor finds, WSL2's included) for
// per-process GPU memory; it fails where there is no NVIDIA driver, and
// waits for NVML no longer than doctor does.
func nvmlMemory(ctx context.Context) (bench.GPUMemory, func(), error) {
	ctx, cancel := context.WithTimeout(ctx, detect.DefaultTimeout)
	defer cancel()
	m, err := bench.NewNVMLMemory(ctx, detect.NVML())
	if err != nil {
		return nil, nil, err
	}
	return m, func() { _ = m.Close() }, nil
}
