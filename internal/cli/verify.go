package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/immich-accel/immich-accel/internal/iostreams"
	"github.com/immich-accel/immich-accel/pkg/verify"
)

// VerifyOptions holds verify's dependencies and flags.
type VerifyOptions struct {
	IO     *iostreams.IOStreams
	Getenv func(string) string
	// Env builds what verify reads from the host: the Docker Engine, host
	// files under hostRoot, NVML and the failure catalogue.
	Env func(hostRoot string) verify.Env

	URL          string
	Container    string
	Duration     time.Duration
	Concurrency  int
	JSON         bool
	HostRoot     string
	CLIPModel    string
	FaceModel    string
	Timeout      time.Duration
	FirstTimeout time.Duration
}

// NewCmdVerify builds the verify command. runF replaces runVerify in tests.
func NewCmdVerify(f *Factory, runF func(context.Context, *VerifyOptions) error) *cobra.Command {
	opts := &VerifyOptions{IO: f.IOStreams, Getenv: f.Getenv, Env: f.VerifyEnv}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Prove, on the running Immich ML server, that the accelerator does the work",
		Long: `verify talks to Immich's running machine-learning server the way Immich
does (GET /ping, POST /predict) and sends it CLIP image, CLIP text and face
requests: first one of each (which loads the model), then --concurrency at a
time for --duration per task. It checks every answer's shape, measures the
first and the warm latency (mean, p50, p95) and the throughput, and while the
requests run watches the accelerator and the container's CPU time:

  NVIDIA  GPU utilisation and the container's GPU memory (NVML)
  AMD     gpu_busy_percent and mem_info_vram_used in sysfs
  Intel   the DRM fdinfo engine counters of the container's processes
  RKNN    the Rockchip NPU load file (debugfs: run with sudo)
  CPU     the container's cgroup (cpu.stat usage_usec, or cpuacct.usage)

The container's logs written during the run are checked for known failures.
The server is found through Docker (published port, host network, or its
address on its network), or given with --url for remote machine learning,
where only latency can be measured.

Exit status:
  0  every task answered and the device did the work (or, for --url, could
     not be watched)
  3  CPU fallback: the device stayed idle, the logs show CPU providers, or
     the container runs the CPU image
  1  a task failed, or no Immich ML server answered
  2  usage error`,
		Example: `  immich-accel verify
  immich-accel verify --duration 30s --concurrency 4
  immich-accel verify --url http://gpu-box:3003 --json`,
		Args: cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			if opts.HostRoot == "" && opts.Getenv != nil {
				opts.HostRoot = opts.Getenv("IMMICH_ACCEL_HOST_ROOT")
			}
			return validateVerify(opts)
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runVerify(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.URL, "url", "", "the ML server's `URL` (remote machine learning); default: find the container through Docker")
	fl.StringVar(&opts.Container, "container", "", "the ML container's `name` or id when Docker runs several (default: the running Immich ML container)")
	fl.DurationVar(&opts.Duration, "duration", 10*time.Second, "how long each task's warm requests run")
	// Immich's job concurrency defaults are 2 for smart search and face
	// detection (server/src/config.ts, ml-protocol.md §2).
	fl.IntVar(&opts.Concurrency, "concurrency", 2, "requests in flight at once (Immich's jobs send 2)")
	fl.BoolVar(&opts.JSON, "json", false, "print the report as JSON")
	fl.StringVar(&opts.HostRoot, "host-root", "", "read host files under `DIR` (also IMMICH_ACCEL_HOST_ROOT); NVML is not loaded then")
	fl.StringVar(&opts.CLIPModel, "clip-model", verify.DefaultCLIPModel, "CLIP `model` to request")
	fl.StringVar(&opts.FaceModel, "face-model", verify.DefaultFaceModel, "face detection and recognition `model` to request")
	fl.DurationVar(&opts.Timeout, "timeout", 60*time.Second, "how long one warm request may take")
	// Immich's server gives /predict undici's 300 s defaults (ml-protocol.md §2).
	fl.DurationVar(&opts.FirstTimeout, "first-timeout", 300*time.Second, "how long the first request of a task (model download and load) may take")
	return cmd
}

func validateVerify(opts *VerifyOptions) error {
	if opts.Duration <= 0 {
		return UsageError(fmt.Errorf("--duration must be positive, got %s", opts.Duration))
	}
	if opts.Concurrency < 1 || opts.Concurrency > 256 {
		return UsageError(fmt.Errorf("--concurrency must be between 1 and 256, got %d", opts.Concurrency))
	}
	if opts.Timeout <= 0 || opts.FirstTimeout <= 0 {
		return UsageError(errors.New("--timeout and --first-timeout must be positive"))
	}
	if strings.TrimSpace(opts.CLIPModel) == "" || strings.TrimSpace(opts.FaceModel) == "" {
		return UsageError(errors.New("--clip-model and --face-model must not be empty"))
	}
	if opts.URL != "" && opts.Container != "" {
		return UsageError(errors.New("--url and --container exclude each other: --url talks to a server directly"))
	}
	if opts.URL != "" {
		u, err := url.Parse(opts.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return UsageError(fmt.Errorf("--url %q: want http://HOST:PORT, like Immich's machine learning URL setting (http://immich-machine-learning:3003)", opts.URL))
		}
	}
	return nil
}

func runVerify(ctx context.Context, opts *VerifyOptions) error {
	ios := opts.IO
	var env verify.Env
	if opts.Env != nil {
		env = opts.Env(opts.HostRoot)
	}
	cfg := verify.Config{
		URL: opts.URL, Container: opts.Container, Duration: opts.Duration, Concurrency: opts.Concurrency,
		Models:  verify.Models{CLIP: opts.CLIPModel, Face: opts.FaceModel},
		Timeout: opts.Timeout, FirstTimeout: opts.FirstTimeout,
	}
	if ios.IsStderrTTY() && !opts.JSON {
		cfg.Progress = func(t verify.TaskName, p verify.Phase) {
			fmt.Fprintf(ios.ErrOut, "\r\x1b[K%s: %s…", t, p)
		}
		defer fmt.Fprint(ios.ErrOut, "\r\x1b[K")
	}
	rep, err := verify.Run(ctx, env, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ne *verify.NotMLError
		switch {
		case errors.As(err, &ne):
			return &ExitError{Code: ExitFailure, Err: fmt.Errorf("verify: %w\nImmich's ML server answers GET /ping with \"pong\"; check the address (Immich's Machine Learning URL setting) and `docker ps` for the container", err)}
		case errors.Is(err, verify.ErrNoContainer):
			return &ExitError{Code: ExitFailure, Err: fmt.Errorf("verify: %w\nStart Immich (docker compose up -d), or pass --url for a server on another machine", err)}
		}
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("verify: %w", err)}
	}
	if ios.IsStderrTTY() && !opts.JSON {
		fmt.Fprint(ios.ErrOut, "\r\x1b[K")
	}
	if opts.JSON {
		if err := ios.WriteJSON(rep); err != nil {
			return err
		}
	} else {
		writeVerifyText(ios.Out, ios.ColorScheme(), rep)
	}
	switch rep.Verdict {
	case verify.Failed:
		return Silent(ExitFailure)
	case verify.CPUFallback:
		return Silent(ExitCPUOnly)
	}
	return nil
}

func writeVerifyText(w io.Writer, cs *iostreams.ColorScheme, r *verify.Report) {
	if c := r.Container; c != nil {
		fmt.Fprintf(w, "%s %s (%s, %s, reached by %s)\n", cs.Bold("Immich ML server:"), r.URL, c.Name, c.Image, c.Route)
	} else {
		fmt.Fprintf(w, "%s %s (remote: latency only)\n", cs.Bold("Immich ML server:"), r.URL)
	}
	if d := r.Device; d != nil {
		if d.Source != "" {
			fmt.Fprintf(w, "Watching: %s\n", d.Source)
			if b := d.Before; b != nil && b.Samples > 0 {
				fmt.Fprintf(w, "Before the requests: %.0f%% busy (peak %.0f%%)\n", b.BusyMeanPct, b.BusyMaxPct)
			}
		} else {
			fmt.Fprintf(w, "Device not watched: %s\n", d.Unmeasured)
		}
		fmt.Fprintf(w, "CPU time: %s\n", d.CPU)
	}
	fmt.Fprintf(w, "Load: %d in flight for %s per task\n\n", r.Concurrency, time.Duration(r.DurationS*float64(time.Second)))

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tMODEL\tFIRST\tWARM MEAN\tP50\tP95\tREQ/S\tDEVICE BUSY\tDEVICE MEM\tCPU-S/REQ")
	for _, t := range r.Tasks {
		busy, mem, cpu := "-", "-", "-"
		if d := t.Device; d != nil {
			switch {
			case d.Samples > 0:
				busy = fmt.Sprintf("%.0f%% (peak %.0f%%)", d.BusyMeanPct, d.BusyMaxPct)
			case d.Error != "":
				busy = "unreadable"
			}
			if d.MemBytes > 0 {
				mem = fmt.Sprintf("%.0f MiB", float64(d.MemBytes)/(1<<20))
			}
		}
		if t.CPUSecondsPerRequest != nil {
			cpu = fmt.Sprintf("%.3f", *t.CPUSecondsPerRequest)
		}
		warm := []string{"-", "-", "-", "-"}
		if t.Warm.Requests > 0 {
			warm = []string{latency(t.Warm.MeanMs), latency(t.Warm.P50Ms), latency(t.Warm.P95Ms), fmt.Sprintf("%.1f", t.Warm.PerSecond)}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Task, t.Model, latency(t.FirstMs), warm[0], warm[1], warm[2], warm[3], busy, mem, cpu)
	}
	_ = tw.Flush()
	for _, t := range r.Tasks {
		switch {
		case !t.OK:
			fmt.Fprintf(w, "%s %s: %s\n", cs.FailureIcon(), t.Task, t.Error)
		case t.Note != "":
			fmt.Fprintf(w, "  %s: %s (%d warm requests, %d errors)\n", t.Task, t.Note, t.Warm.Requests, t.Warm.Errors)
		}
		if t.Device != nil && t.Device.Note != "" {
			fmt.Fprintf(w, "  %s: %s\n", t.Task, t.Device.Note)
		}
		if t.Device != nil && t.Device.Error != "" {
			fmt.Fprintf(w, "  %s: device: %s\n", t.Task, t.Device.Error)
		}
	}
	if r.Container != nil {
		fmt.Fprintln(w)
		l := r.Logs
		switch {
		case !l.Read:
			fmt.Fprintf(w, "Logs during the run: unreadable: %s\n", l.Error)
		case len(l.Providers) > 0:
			fmt.Fprintf(w, "Logs during the run: execution providers %s\n", strings.Join(l.Providers, ", "))
		default:
			fmt.Fprintln(w, "Logs during the run: no model was loaded, so no execution providers were logged")
		}
		for _, m := range l.Matches {
			fmt.Fprintf(w, "  %s %s: %s\n", cs.WarningIcon(), m.Class, m.Text)
			if m.Meaning != "" {
				fmt.Fprintf(w, "      %s\n", m.Meaning)
			}
			if m.Fix != "" {
				fmt.Fprintf(w, "      %s %s\n", cs.Yellow("→"), m.Fix)
			}
		}
	}
	fmt.Fprintln(w)
	icon := cs.SuccessIcon()
	switch r.Verdict {
	case verify.Failed:
		icon = cs.FailureIcon()
	case verify.CPUFallback, verify.NotMeasurable:
		icon = cs.WarningIcon()
	}
	fmt.Fprintf(w, "%s %s: %s\n", icon, cs.Bold(verdictTitle(r.Verdict)), r.Reason)
}

func verdictTitle(v verify.Verdict) string {
	switch v {
	case verify.Accelerated:
		return "Accelerated"
	case verify.CPUFallback:
		return "CPU fallback"
	case verify.Failed:
		return "Failed"
	}
	return "Not measurable"
}

// latency formats milliseconds: "850 ms", "12.3 ms", "3.2 s".
func latency(ms float64) string {
	switch {
	case ms >= 10000:
		return fmt.Sprintf("%.0f s", ms/1000)
	case ms >= 1000:
		return fmt.Sprintf("%.1f s", ms/1000)
	case ms >= 100:
		return fmt.Sprintf("%.0f ms", ms)
	}
	return fmt.Sprintf("%.1f ms", ms)
}
