package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/immich-accel/immich-accel/internal/immich"
	"github.com/immich-accel/immich-accel/internal/iostreams"
	"github.com/immich-accel/immich-accel/pkg/accel"
	"github.com/immich-accel/immich-accel/pkg/detect"
)

// DoctorOptions holds doctor's dependencies and flags.
type DoctorOptions struct {
	IO          *iostreams.IOStreams
	Getenv      func(string) string
	Getwd       func() (string, error)
	NewDetector func(opts ...detect.Option) *detect.Detector

	HostRoot    string
	ComposeFile string
	// ImmichURL is Immich's address; with IMMICH_API_KEY doctor reads its
	// Acceleration API setting.
	ImmichURL string
	JSON      bool
	Verbose   bool
	Timeout   time.Duration
}

// NewCmdDoctor builds the doctor command. runF replaces runDoctor in tests.
func NewCmdDoctor(f *Factory, runF func(context.Context, *DoctorOptions) error) *cobra.Command {
	opts := &DoctorOptions{IO: f.IOStreams, Getenv: f.Getenv, Getwd: f.Getwd, NewDetector: f.NewDetector}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check what this host can accelerate for Immich ML, and what is missing",
		Long: `doctor checks the platform, Docker, every accelerator Immich's machine-learning
container supports (NVIDIA CUDA, Intel OpenVINO, AMD ROCm, ARM Mali/ARM NN,
Rockchip RKNN), the CPU, the Immich compose file (--compose FILE, or one in
the current directory), the running ML container's logs, and the same for
video transcoding: NVENC, Quick Sync, VAAPI (WSL2 included) and RKMPP on this
host, the compose file's hwaccel.transcoding.yml section and the server
container's logs; with --immich-url URL and IMMICH_API_KEY, Immich's own
Acceleration API setting. It prints a checklist with a fix under every
problem, then the backend and the transcoding method to use, the commands
that enable them and the admin setting to choose.

Nothing is changed on the host. Read-only diagnostics:
  --host-root DIR / IMMICH_ACCEL_HOST_ROOT  read host files under DIR (for
  example a host's / mounted into a container); NVML is not loaded and no
  command is run then.

Exit status:
  0  a hardware backend is ready
  3  only the CPU can serve Immich ML on this host
  1  error
  2  usage error`,
		Example: `  immich-accel doctor
  immich-accel doctor -v --compose ~/immich-app/docker-compose.yml
  immich-accel doctor --json > doctor.json
  IMMICH_API_KEY=... immich-accel doctor --immich-url http://localhost:2283`,
		Args: cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			if opts.HostRoot == "" && opts.Getenv != nil {
				opts.HostRoot = opts.Getenv("IMMICH_ACCEL_HOST_ROOT")
			}
			if opts.Timeout <= 0 {
				return UsageError(fmt.Errorf("--timeout must be positive, got %s", opts.Timeout))
			}
			if opts.ImmichURL != "" {
				key := ""
				if opts.Getenv != nil {
					key = opts.Getenv(immich.APIKeyEnv)
				}
				if _, err := immich.New(opts.ImmichURL, key, opts.Timeout); err != nil {
					return UsageError(err)
				}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runDoctor(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.HostRoot, "host-root", "", "read host files under `DIR` (diagnostics; also IMMICH_ACCEL_HOST_ROOT)")
	fl.StringVar(&opts.ComposeFile, "compose", "", "Immich compose `FILE` to check (default: one in the current directory)")
	fl.StringVarP(&opts.ComposeFile, "file", "f", "", "the same as --compose, as compose names it")
	fl.StringVar(&opts.ImmichURL, "immich-url", "", "Immich's `URL` (e.g. http://localhost:2283): read its Acceleration API setting with IMMICH_API_KEY")
	fl.BoolVar(&opts.JSON, "json", false, "print the report as JSON")
	fl.BoolVarP(&opts.Verbose, "verbose", "v", false, "show every check with its details")
	fl.DurationVar(&opts.Timeout, "timeout", 1500*time.Millisecond, "how long to wait for Docker, NVML and commands")
	return cmd
}

func runDoctor(ctx context.Context, opts *DoctorOptions) error {
	dopts := []detect.Option{detect.WithTimeout(opts.Timeout)}
	if opts.Getenv != nil {
		dopts = append(dopts, detect.WithGetenv(opts.Getenv))
	}
	if opts.HostRoot != "" {
		dopts = append(dopts, detect.WithRoot(opts.HostRoot))
	}
	if opts.ComposeFile != "" {
		dopts = append(dopts, detect.WithComposeFile(opts.ComposeFile))
	}
	if opts.ImmichURL != "" {
		c, err := immich.New(opts.ImmichURL, opts.Getenv(immich.APIKeyEnv), opts.Timeout)
		if err != nil {
			return UsageError(err)
		}
		dopts = append(dopts, detect.WithImmich(c))
	}
	// The working directory is where a compose file is looked for without
	// --compose, and tells whether the next command needs --file.
	if opts.Getwd != nil {
		if wd, err := opts.Getwd(); err == nil {
			dopts = append(dopts, detect.WithWorkDir(wd))
		}
	}
	newDet := opts.NewDetector
	if newDet == nil {
		newDet = detect.New
	}
	rep := newDet(dopts...).Run(ctx)
	if err := ctx.Err(); err != nil {
		return err
	}
	renderFixes(rep)
	if opts.JSON {
		if err := opts.IO.WriteJSON(rep); err != nil {
			return err
		}
	} else {
		writeDoctorText(opts.IO.Out, opts.IO.ColorScheme(), rep, opts.Verbose)
	}
	if rep.HardwareReady() {
		return nil
	}
	return Silent(ExitCPUOnly)
}

// statusIcon is the check-mark, warning, cross or dash for a status.
func statusIcon(cs *iostreams.ColorScheme, s detect.Status) string {
	switch s {
	case detect.StatusOK:
		return cs.SuccessIcon()
	case detect.StatusWarn:
		return cs.WarningIcon()
	case detect.StatusFail:
		return cs.FailureIcon()
	}
	return cs.SkipIcon()
}

// writeDoctorText prints the report as a checklist: one line per area,
// the problems (or, with verbose, every check) under it, each with its fix.
func writeDoctorText(w io.Writer, cs *iostreams.ColorScheme, r *detect.Report, verbose bool) {
	if verbose {
		fmt.Fprintln(w, cs.Bold("Doctor summary:"))
	} else {
		fmt.Fprintln(w, cs.Bold("Doctor summary (to see all details, run immich-accel doctor -v):"))
	}
	if r.Root != "/" && r.Root != "" {
		fmt.Fprintf(w, "Host files read under %s\n", r.Root)
	}
	areas := 0
	problemAreas := 0
	for _, a := range detect.Areas {
		var checks []detect.Check
		for _, c := range r.Checks {
			if c.Area == a {
				checks = append(checks, c)
			}
		}
		if len(checks) == 0 {
			continue
		}
		areas++
		worst := detect.StatusSkip
		for _, c := range checks {
			worst = detect.Worse(worst, c.Status)
		}
		if worst == detect.StatusWarn || worst == detect.StatusFail {
			problemAreas++
		}
		fmt.Fprintf(w, "[%s] %s: %s\n", statusIcon(cs, worst), a.Title(), areaSummary(checks, worst))
		for _, c := range checks {
			problem := c.Status == detect.StatusWarn || c.Status == detect.StatusFail
			if !verbose && !problem {
				continue
			}
			fmt.Fprintf(w, "    %s %s %s\n", statusIcon(cs, c.Status), cs.Gray(string(c.ID)+":"), c.Finding)
			if verbose {
				for _, d := range c.Detail {
					fmt.Fprintf(w, "        %s\n", d)
				}
			}
			writeFix(w, cs, c)
		}
	}
	fmt.Fprintln(w)
	s := r.Summary
	counts := fmt.Sprintf("%d ok, %s, %d failed, %d skipped", s.OK, plural(s.Warn, "warning"), s.Fail, s.Skip)
	if problemAreas == 0 {
		fmt.Fprintf(w, "%s No issues found (%s).\n", cs.SuccessIcon(), counts)
	} else {
		fmt.Fprintf(w, "%s Doctor found issues in %d of %d areas (%s).\n", cs.WarningIcon(), problemAreas, areas, counts)
	}
	fmt.Fprintln(w)
	rec := r.Recommendation
	state := "ready"
	if !rec.Ready {
		state = "not ready yet"
	}
	fmt.Fprintf(w, "%s %s (%s): %s\n", cs.Bold("Recommended backend:"), cs.Bold(string(rec.Backend)), state, rec.Reason)
	if rec.RunnerUp != "" {
		fmt.Fprintf(w, "Runner-up: %s: %s\n", rec.RunnerUp, rec.RunnerUpReason)
	}
	switch {
	case rec.Command == "":
	case rec.Ready:
		fmt.Fprintf(w, "Next: %s\n", cs.Cyan(rec.Command))
	default:
		// Switching to a backend before its problems are fixed would leave
		// the ML container unable to start or on the CPU.
		after := "the problems above"
		if b := r.Backend(rec.Backend); b != nil && len(b.Blockers) > 0 {
			after = detect.JoinIDs(b.Blockers)
		}
		fmt.Fprintf(w, "Next, after fixing %s: %s\n", after, cs.Cyan(rec.Command))
	}
	writeTranscodeRecommendation(w, cs, r)
}

// writeTranscodeRecommendation prints the transcoding method beside the ML
// backend: the command that enables it and the admin setting to choose.
func writeTranscodeRecommendation(w io.Writer, cs *iostreams.ColorScheme, r *detect.Report) {
	tr := r.TranscodeRecommendation
	if tr.Method == "" {
		return
	}
	state := "ready"
	if !tr.Ready {
		state = "not ready yet"
	}
	fmt.Fprintf(w, "%s %s (%s): %s\n", cs.Bold("Recommended transcoding:"), cs.Bold(tr.Method), state, tr.Reason)
	if tr.Method == string(accel.TranscodeCPU) {
		return
	}
	switch {
	case tr.Ready:
		fmt.Fprintf(w, "Next: %s\n", cs.Cyan(tr.Command))
	default:
		after := "the problems above"
		for _, t := range r.Transcodes {
			if t.Name == tr.Method && len(t.Blockers) > 0 {
				after = detect.JoinIDs(t.Blockers)
			}
		}
		fmt.Fprintf(w, "Next, after fixing %s: %s\n", after, cs.Cyan(tr.Command))
	}
	fmt.Fprintf(w, "Then in Immich: %s\n", tr.Setting)
}

func writeFix(w io.Writer, cs *iostreams.ColorScheme, c detect.Check) {
	if c.Fix == "" || (c.Status != detect.StatusWarn && c.Status != detect.StatusFail) {
		return
	}
	fmt.Fprintf(w, "        %s %s\n", cs.Yellow("→"), c.Fix)
}

// areaSummary is the one-line text after an area's icon: what passed when
// all is well, the count of problems (listed below it) otherwise, and why
// the area does not apply when every check was skipped.
func areaSummary(checks []detect.Check, worst detect.Status) string {
	switch worst {
	case detect.StatusOK:
		var parts []string
		for _, c := range checks {
			if c.Status == detect.StatusOK {
				parts = append(parts, c.Finding)
			}
		}
		return strings.Join(parts, "; ")
	case detect.StatusSkip:
		return checks[0].Finding
	}
	var fails, warns int
	for _, c := range checks {
		switch c.Status {
		case detect.StatusFail:
			fails++
		case detect.StatusWarn:
			warns++
		}
	}
	var parts []string
	if fails > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", fails))
	}
	if warns > 0 {
		parts = append(parts, plural(warns, "warning"))
	}
	return strings.Join(parts, ", ")
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
