package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/immich-accel/immich-accel/internal/iostreams"
	"github.com/immich-accel/immich-accel/internal/shell"
	"github.com/immich-accel/immich-accel/pkg/accel"
	"github.com/immich-accel/immich-accel/pkg/compose"
)

// ComposeOptions holds the compose command's dependencies and flags.
type ComposeOptions struct {
	IO          *iostreams.IOStreams
	Getwd       func() (string, error)
	LookupEnv   func(string) (string, bool) // the process environment, which overrides .env for Compose
	ComposeHost func(ctx context.Context) (ComposeHostInfo, error)

	File          string
	Backend       string
	Transcode     string
	Inline        bool
	Service       string
	ServerService string
	HwaccelFile   string
	EnvFile       string
	GPUs          []string
	DryRun        bool
	Yes           bool
	NoBackup      bool
	NoDetect      bool
	DropDigest    bool
	JSON          bool
}

// NewCmdCompose builds the compose command. runF replaces runCompose in
// tests.
func NewCmdCompose(f *Factory, runF func(context.Context, *ComposeOptions) error) *cobra.Command {
	opts := &ComposeOptions{IO: f.IOStreams, Getwd: f.Getwd, LookupEnv: f.LookupEnv, ComposeHost: f.ComposeHost}
	cmd := &cobra.Command{
		Use:   "compose [--backend BACKEND] [--transcode METHOD] [--file FILE] [--inline]",
		Short: "Enable a hardware backend for Immich ML, and hardware transcoding, in a compose file",
		Long: `compose sets up Immich's machine-learning service for a GPU/NPU backend:
it adds the backend's section of hwaccel.ml.yml (with extends:, or merged into
the service with --inline), sets the image tag suffix, shows the diff, and
writes the file atomically with a backup. Only the lines that must change are
changed; comments, blank lines, quoting and indentation are kept. When a
variable picks the variant (a tag suffix, the extends service, the whole
image), it is set in the project's .env (or --env-file) the same way.

With --transcode it does the same for video transcoding: the method's section
of hwaccel.transcoding.yml on the service that transcodes (immich-server, or
immich-microservices in files before v1.106), with no image suffix. Both can
be given in one run, for one diff.

Backends: cuda, openvino, openvino-wsl, armnn, rocm, rknn, cpu (undo), and
auto (doctor's recommendation for this host).
Transcoding methods: nvenc, quicksync, vaapi, vaapi-wsl, rkmpp, cpu (undo),
and auto. Then choose the same method in Immich: Administration → Settings →
Video Transcoding → Hardware Acceleration → Acceleration API.

EXIT STATUS
  0  done, or nothing to change
  1  error (nothing was written)
  2  bad flags, or writing needs --yes (stdin is not a terminal)
  4  --dry-run: changes are pending`,
		Example: `  immich-accel compose --backend cuda --dry-run
  immich-accel compose --backend openvino --inline --yes
  immich-accel compose --backend auto
  immich-accel compose --backend cpu          # undo
  immich-accel compose --backend cuda --transcode nvenc --dry-run
  immich-accel compose --transcode cpu        # undo transcoding`,
		Args: cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Backend == "" && opts.Transcode == "" {
				return UsageError(errors.New("compose: --backend is required (one of " + backendNames() + ", auto), or --transcode (one of " + strings.Join(compose.Transcodes, ", ") + ", auto), or both"))
			}
			if _, ok := accel.ParseBackend(opts.Backend); opts.Backend != "" && opts.Backend != "auto" && !ok {
				return UsageError(fmt.Errorf("compose: unknown backend %q; use one of %s, auto", opts.Backend, backendNames()))
			}
			if _, ok := accel.ParseTranscode(opts.Transcode); opts.Transcode != "" && opts.Transcode != "auto" && !ok {
				hint := ""
				if ts := accel.TranscodesFor(accel.FFmpegAccel(opts.Transcode)); len(ts) > 0 {
					hint = fmt.Sprintf(" (%s is Immich's Acceleration API value; the section is %s)", opts.Transcode, ts[0])
				}
				return UsageError(fmt.Errorf("compose: unknown transcoding method %q%s; use one of %s, auto", opts.Transcode, hint, strings.Join(compose.Transcodes, ", ")))
			}
			if opts.Backend == "auto" && opts.NoDetect {
				return UsageError(errors.New("compose: --backend auto needs host detection; drop --no-detect or name a backend"))
			}
			if opts.Transcode == "auto" && opts.NoDetect {
				return UsageError(errors.New("compose: --transcode auto needs host detection; drop --no-detect or name a transcoding method"))
			}
			if len(opts.GPUs) > 0 && opts.Backend != "cuda" && opts.Backend != "auto" {
				return UsageError(errors.New("compose: --gpus applies to --backend cuda only"))
			}
			if opts.Service != "" && opts.Backend == "" {
				return UsageError(errors.New("compose: --service names the machine-learning service and needs --backend; for the server use --server-service"))
			}
			if opts.ServerService != "" && opts.Transcode == "" {
				return UsageError(errors.New("compose: --server-service needs --transcode"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runCompose(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.File, "file", "f", "", "compose file (default: compose.yaml, compose.yml, docker-compose.yaml or docker-compose.yml here)")
	fl.StringVarP(&opts.Backend, "backend", "b", "", "cuda, openvino, openvino-wsl, armnn, rocm, rknn, cpu or auto")
	fl.StringVarP(&opts.Transcode, "transcode", "t", "", "hardware transcoding: nvenc, quicksync, vaapi, vaapi-wsl, rkmpp, cpu or auto")
	fl.StringVar(&opts.ServerService, "server-service", "", "name of the service that transcodes (default: immich-server, or immich-microservices in older files)")
	fl.BoolVar(&opts.Inline, "inline", false, "merge the section into the service instead of extends (Unraid, Portainer, app stores)")
	fl.StringVar(&opts.Service, "service", "", "name of the machine-learning service (default: found by image)")
	fl.StringVar(&opts.HwaccelFile, "hwaccel-file", "", "take sections from this hwaccel.ml.yml instead of the built-in one")
	fl.StringVar(&opts.EnvFile, "env-file", "", "the env file docker compose reads (default: .env next to the compose file)")
	fl.StringSliceVar(&opts.GPUs, "gpus", nil, "NVIDIA GPUs to reserve by index or UUID, e.g. 0,1 (cuda)")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "print the diff and write nothing (exit 4 when there are changes)")
	fl.BoolVarP(&opts.Yes, "yes", "y", false, "write without asking")
	fl.BoolVar(&opts.NoBackup, "no-backup", false, "do not keep <file>.bak")
	fl.BoolVar(&opts.NoDetect, "no-detect", false, "do not look at this host (no tailoring of libmali/firmware/WSL2/GPUs)")
	fl.BoolVar(&opts.DropDigest, "drop-digest", false, "drop an @sha256 digest pin from the image when changing its suffix")
	fl.BoolVar(&opts.JSON, "json", false, "print the plan and result as JSON")
	return cmd
}

// composeReport is the --json output; the text view shows the same facts.
type composeReport struct {
	File         string               `json:"file"`
	Service      string               `json:"service"`
	Backend      accel.Backend        `json:"backend"`
	Requested    string               `json:"requested"`
	Why          string               `json:"why,omitempty"`
	Mode         string               `json:"mode"`
	Changed      bool                 `json:"changed"`
	DryRun       bool                 `json:"dryRun"`
	Written      bool                 `json:"written"`
	Backup       string               `json:"backup,omitempty"`
	Backups      []string             `json:"backups,omitempty"`
	SetInUI      []compose.EnvVar     `json:"setInUI,omitempty"`
	Changes      []compose.FileChange `json:"changes"`
	ChangedLines int                  `json:"changedLines"`
	Notes        []string             `json:"notes"`
	Validation   *compose.Validation  `json:"validation,omitempty"`
	Before       *compose.Inspection  `json:"before,omitempty"`
	NextSteps    []string             `json:"nextSteps"`
	Error        *composeErrorForJSON `json:"error,omitempty"`

	// Transcoding, when --transcode is given: the section applied to
	// ServerService, what was asked for, why (auto), its compose-go check,
	// the original's transcoding inspection, and the admin setting to
	// choose in Immich.
	Transcode           accel.Transcode              `json:"transcode,omitempty"`
	TranscodeRequested  string                       `json:"transcodeRequested,omitempty"`
	TranscodeWhy        string                       `json:"transcodeWhy,omitempty"`
	ServerService       string                       `json:"serverService,omitempty"`
	TranscodeValidation *compose.Validation          `json:"transcodeValidation,omitempty"`
	TranscodeBefore     *compose.TranscodeInspection `json:"transcodeBefore,omitempty"`
	Setting             string                       `json:"setting,omitempty"`
}

type composeErrorForJSON struct {
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
}

// composeRun is one run of the compose command.
type composeRun struct {
	opts *ComposeOptions
	io   *iostreams.IOStreams
	cs   *iostreams.ColorScheme
	rep  *composeReport
}

func runCompose(ctx context.Context, opts *ComposeOptions) error {
	// compose-go reports unset variables through logrus; they are expected
	// here (unset variables take their defaults).
	logrus.SetOutput(io.Discard)
	// compose-go and YAML decode every file several times in a short run:
	// collecting garbage four times less often saves about a third of its
	// CPU time, for a heap of a few tens of MiB. GOGC still decides when
	// set.
	if gogc, _ := lookupEnv(opts.LookupEnv, "GOGC"); gogc == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	r := &composeRun{opts: opts, io: opts.IO, cs: opts.IO.ColorScheme(),
		rep: &composeReport{Requested: opts.Backend, TranscodeRequested: opts.Transcode, DryRun: opts.DryRun, Notes: []string{}, NextSteps: []string{}, Changes: []compose.FileChange{}}}
	file, explicit, err := r.composeFile()
	if err != nil {
		return r.fail(err)
	}
	r.rep.File = file
	eo, transcode, err := r.editOptions(ctx)
	if err != nil {
		return r.fail(err)
	}
	plan, err := compose.Prepare(ctx, compose.Options{EditOptions: eo, File: file, HwaccelFile: opts.HwaccelFile, EnvFile: opts.EnvFile, LookupEnv: opts.LookupEnv, Transcode: transcode, ServerService: opts.ServerService})
	if err != nil {
		return r.fail(err)
	}
	r.record(plan)
	up := upCommand(plan, file, explicit)
	r.rep.NextSteps = []string{up}
	if r.rep.Setting != "" {
		r.rep.NextSteps = append(r.rep.NextSteps, "in Immich: "+r.rep.Setting)
	}
	r.rep.NextSteps = append(r.rep.NextSteps, "immich-accel doctor")
	if len(plan.SetInUI) > 0 {
		r.rep.NextSteps = append([]string{setInUIStep(plan.SetInUI)}, r.rep.NextSteps...)
	}
	if !opts.JSON {
		r.printPlan(plan)
	}
	switch {
	case !plan.Changed() && len(plan.SetInUI) > 0:
		return r.setInUIOnly(plan, up)
	case !plan.Changed():
		return r.unchanged(plan)
	case opts.DryRun:
		return r.dryRun()
	}
	if ok, err := r.confirmed(plan); !ok || err != nil {
		return err
	}
	return r.write(plan, up)
}

// fail reports err: as JSON with --json, else as the command's error with
// the fix on its own line. It exits 1.
func (r *composeRun) fail(err error) error {
	var ce *compose.Error
	fix := ""
	if errors.As(err, &ce) {
		fix = ce.Fix
	}
	return r.failWith(ExitFailure, err, fix)
}

// failWith reports err and fix with exit code code.
func (r *composeRun) failWith(code ExitCode, err error, fix string) error {
	if r.opts.JSON {
		r.rep.Error = &composeErrorForJSON{Message: err.Error(), Fix: fix}
		if jerr := r.io.WriteJSON(r.rep); jerr != nil {
			return jerr
		}
		return Silent(code)
	}
	if fix != "" {
		err = fmt.Errorf("compose: %w\nTo fix: %s", err, fix)
	} else {
		err = fmt.Errorf("compose: %w", err)
	}
	return &ExitError{Code: code, Err: err}
}

// composeFile is --file, or the compose file in the working directory;
// explicit says it was given.
func (r *composeRun) composeFile() (file string, explicit bool, err error) {
	if r.opts.File != "" {
		return r.opts.File, true, nil
	}
	wd, err := r.opts.Getwd()
	if err != nil {
		return "", false, fmt.Errorf("finding the working directory: %w", err)
	}
	file, err = compose.FindFile(wd)
	return file, false, err
}

// editOptions turns the flags into edit options and the transcoding
// method, with the host's facts unless --no-detect, and doctor's choices
// for --backend auto and --transcode auto.
func (r *composeRun) editOptions(ctx context.Context) (compose.EditOptions, accel.Transcode, error) {
	opts := r.opts
	eo := compose.EditOptions{Backend: accel.Backend(opts.Backend), Inline: opts.Inline, Service: opts.Service, DropDigest: opts.DropDigest, GPUs: opts.GPUs}
	transcode := accel.Transcode(opts.Transcode)
	if opts.NoDetect {
		return eo, transcode, nil
	}
	info, err := opts.ComposeHost(ctx)
	switch {
	case err != nil && opts.Backend == "auto":
		return eo, "", fmt.Errorf("--backend auto needs host detection: %w; name a backend instead", err)
	case err != nil && opts.Transcode == "auto":
		return eo, "", fmt.Errorf("--transcode auto needs host detection: %w; name a transcoding method instead", err)
	case err != nil:
		r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("not tailored to this host (%v); use --no-detect to skip detection", err))
		return eo, transcode, nil
	}
	eo.Host = info.Host
	if opts.Transcode == "auto" {
		if !info.Transcode.Valid() {
			return eo, "", fmt.Errorf("host detection recommended no transcoding method (%q); run immich-accel doctor, then name a method", info.Transcode)
		}
		transcode = info.Transcode
		r.rep.TranscodeWhy = info.TranscodeWhy
		if !opts.JSON {
			fmt.Fprintf(r.io.ErrOut, "Using transcoding method %s: %s\n", r.cs.Bold(string(transcode)), info.TranscodeWhy)
		}
		if !info.TranscodeReady && transcode != accel.TranscodeCPU {
			r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("this host is not ready for %s yet: run immich-accel doctor and fix what it reports before redeploying", transcode))
		}
	}
	if opts.Backend != "auto" {
		return eo, transcode, nil
	}
	if !info.Recommended.Valid() {
		return eo, "", fmt.Errorf("host detection recommended no usable backend (%q); run immich-accel doctor, then name a backend", info.Recommended)
	}
	if len(opts.GPUs) > 0 && info.Recommended != accel.CUDA {
		return eo, "", fmt.Errorf("--gpus applies to cuda, but --backend auto chose %s (%s); drop --gpus, or name --backend cuda", info.Recommended, info.Why)
	}
	eo.Backend = info.Recommended
	r.rep.Why = info.Why
	if !opts.JSON {
		fmt.Fprintf(r.io.ErrOut, "Using backend %s: %s\n", r.cs.Bold(string(info.Recommended)), info.Why)
	}
	if !info.Ready && info.Recommended != accel.CPU {
		r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("this host is not ready for %s yet: run immich-accel doctor and fix what it reports before redeploying", info.Recommended))
	}
	return eo, transcode, nil
}

// record copies the plan into the report.
func (r *composeRun) record(plan *compose.Plan) {
	rep := r.rep
	rep.File, rep.Service, rep.Backend, rep.Mode = plan.File, plan.Service, plan.Backend, plan.Mode
	rep.Changed, rep.Changes, rep.ChangedLines = plan.Changed(), plan.Changes, plan.ChangedLines
	rep.Notes = append(rep.Notes, plan.Notes...)
	rep.Validation, rep.Before = plan.Validation, plan.Before
	rep.Transcode, rep.ServerService, rep.TranscodeValidation, rep.TranscodeBefore = plan.Transcode, plan.ServerService, plan.TranscodeValidation, plan.TranscodeBefore
	if plan.Transcode != "" {
		rep.Setting = accel.AdminSetting + ": " + plan.Transcode.Accel().AdminLabel()
	}
	rep.SetInUI = plan.SetInUI
}

// setInUIStep is the step that sets variables a stack manager's UI holds.
func setInUIStep(vars []compose.EnvVar) string {
	var sets []string
	for _, v := range vars {
		sets = append(sets, v.Name+"="+v.Value)
	}
	return "set " + strings.Join(sets, " and ") + " in the stack's environment variables"
}

// setInUIOnly ends a run that has nothing to write here because the stack
// manager holds the variables (exit 4 with --dry-run, else 0).
func (r *composeRun) setInUIOnly(plan *compose.Plan, up string) error {
	if r.opts.JSON {
		if err := r.io.WriteJSON(r.rep); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(r.io.ErrOut, "Nothing to write in %s. Next: %s, then %s\n", filepath.Base(plan.File), r.rep.NextSteps[0], up)
	}
	if r.opts.DryRun {
		return Silent(ExitChanges)
	}
	return nil
}

// upCommand is how the user redeploys the service after the edit.
func upCommand(plan *compose.Plan, file string, explicit bool) string {
	var services []string
	for _, s := range []string{plan.Service, plan.ServerService} {
		if s != "" {
			services = append(services, s)
		}
	}
	up := "docker compose up -d " + strings.Join(services, " ")
	if explicit {
		up = fmt.Sprintf("docker compose -f %s up -d %s", shell.Quote(file), strings.Join(services, " "))
	}
	if plan.Before != nil {
		if s := redeployStep(plan.Before.StackKind, up); s != "" {
			up = s
		}
	}
	return up
}

// printPlan shows the diffs on stdout, and the notes and the check's
// verdict on stderr.
func (r *composeRun) printPlan(plan *compose.Plan) {
	for _, c := range plan.Changes {
		writeDiff(r.io.Out, r.cs, c.Diff)
	}
	for _, n := range r.rep.Notes {
		fmt.Fprintf(r.io.ErrOut, "%s %s\n", r.cs.WarningIcon(), n)
	}
	for _, c := range []struct {
		v                *compose.Validation
		service, section string
	}{{plan.Validation, plan.Service, string(plan.Backend)}, {plan.TranscodeValidation, plan.ServerService, string(plan.Transcode)}} {
		switch v := c.v; {
		case v == nil:
		case v.Checked:
			fmt.Fprintf(r.io.ErrOut, "%s checked with compose-go: %s gets exactly the %s section, other services unchanged\n", r.cs.SuccessIcon(), c.service, c.section)
		case v.Skipped != "":
			fmt.Fprintf(r.io.ErrOut, "%s not checked with compose-go: %s\n", r.cs.WarningIcon(), v.Skipped)
		}
	}
	if r.rep.Setting != "" && plan.Changed() {
		fmt.Fprintf(r.io.ErrOut, "After redeploying, choose the same method in Immich: %s\n", r.rep.Setting)
	}
}

// unchanged reports a file that already is as asked (exit 0).
func (r *composeRun) unchanged(plan *compose.Plan) error {
	r.rep.NextSteps = []string{}
	if r.opts.JSON {
		return r.io.WriteJSON(r.rep)
	}
	switch {
	case plan.Backend == "":
	case plan.Backend == accel.CPU:
		fmt.Fprintf(r.io.ErrOut, "%s nothing to change: %s already runs %s on the CPU (no accelerator section, no image suffix)\n", r.cs.SuccessIcon(), filepath.Base(plan.File), plan.Service)
	default:
		fmt.Fprintf(r.io.ErrOut, "%s nothing to change: %s already uses %s (%s)\n", r.cs.SuccessIcon(), filepath.Base(plan.File), plan.Backend, plan.Mode)
	}
	switch {
	case plan.Transcode == "":
	case plan.Transcode == accel.TranscodeCPU:
		fmt.Fprintf(r.io.ErrOut, "%s nothing to change: %s already transcodes in software on %s (no transcoding section)\n", r.cs.SuccessIcon(), filepath.Base(plan.File), plan.ServerService)
	default:
		fmt.Fprintf(r.io.ErrOut, "%s nothing to change: %s already gives %s the %s section (%s); %s\n", r.cs.SuccessIcon(), filepath.Base(plan.File), plan.ServerService, plan.Transcode, plan.Mode, r.rep.Setting)
	}
	return nil
}

// dryRun ends a run with changes pending (exit 4).
func (r *composeRun) dryRun() error {
	if r.opts.JSON {
		if err := r.io.WriteJSON(r.rep); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(r.io.ErrOut, "Dry run: nothing written. Re-run without --dry-run to apply.\n")
	}
	return Silent(ExitChanges)
}

// confirmed is true with --yes or when the user says yes at the prompt.
// Without --yes and a terminal to ask on, it refuses (exit 2; with --json
// the report says why).
func (r *composeRun) confirmed(plan *compose.Plan) (bool, error) {
	if r.opts.Yes {
		return true, nil
	}
	if r.opts.JSON || !r.io.CanPrompt() {
		return false, r.failWith(ExitUsage, errors.New("not writing without confirmation"), "Re-run with --yes to write, or --dry-run to preview.")
	}
	ok, err := confirm(r.io, fmt.Sprintf("Write these changes to %s? [y/N] ", filepath.Base(plan.File)))
	if err != nil {
		return false, r.fail(err)
	}
	if !ok {
		fmt.Fprintln(r.io.ErrOut, "Nothing written.")
	}
	return ok, nil
}

// write writes the plan and says what was written and what to do next.
// A file written but not synced to disk is listed, then the error given.
func (r *composeRun) write(plan *compose.Plan, up string) error {
	w, err := plan.Write(compose.WriteOptions{NoBackup: r.opts.NoBackup})
	if w != nil {
		r.rep.Written, r.rep.Backup, r.rep.Backups = len(w.Files) > 0, w.Backup, w.Backups
	}
	if err != nil {
		if w != nil && !r.opts.JSON {
			r.printWritten(w)
		}
		return r.fail(err)
	}
	if r.opts.JSON {
		return r.io.WriteJSON(r.rep)
	}
	r.printWritten(w)
	fmt.Fprintf(r.io.ErrOut, "Next: %s\n", up)
	if r.rep.Setting != "" {
		fmt.Fprintf(r.io.ErrOut, "Then in Immich: %s\n", r.rep.Setting)
	}
	fmt.Fprintf(r.io.ErrOut, "Then check it with: immich-accel doctor\n")
	return nil
}

func (r *composeRun) printWritten(w *compose.Written) {
	for _, f := range w.Files {
		fmt.Fprintf(r.io.ErrOut, "%s wrote %s\n", r.cs.SuccessIcon(), f)
	}
	for _, b := range w.Backups {
		fmt.Fprintf(r.io.ErrOut, "  backup: %s\n", b)
	}
}

// redeployStep is how a stack managed by a web UI picks up the edited file;
// "" for a plain compose project.
func redeployStep(stackKind, up string) string {
	switch stackKind {
	case "portainer":
		return "paste the edited file into the stack's editor in Portainer (Stacks → your stack → Editor) and click \"Update the stack\""
	case "unraid":
		return "redeploy the stack from Unraid's Compose Manager (Compose Up), or run: " + up
	case "casaos":
		return "restart the app from the CasaOS dashboard, or run: " + up
	case "runtipi":
		return "runtipi rewrites app files on update: keep the change in user-config/<app>/docker-compose.yml, then restart the app from runtipi"
	}
	return ""
}

func confirm(io *iostreams.IOStreams, prompt string) (bool, error) {
	fmt.Fprint(io.ErrOut, prompt)
	line, err := bufio.NewReader(io.In).ReadString('\n')
	if err != nil && line == "" {
		return false, nil
	}
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes", nil
}

func writeDiff(w io.Writer, cs *iostreams.ColorScheme, diff string) {
	for _, l := range strings.SplitAfter(diff, "\n") {
		if l == "" {
			continue
		}
		body := strings.TrimSuffix(l, "\n")
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
			body = cs.Bold(body)
		case strings.HasPrefix(l, "@@"):
			body = cs.Cyan(body)
		case strings.HasPrefix(l, "+"):
			body = cs.Green(body)
		case strings.HasPrefix(l, "-"):
			body = cs.Red(body)
		}
		fmt.Fprintln(w, body)
	}
}

// backendNames lists the backends for usage messages.
func backendNames() string {
	var names []string
	for _, b := range accel.BackendNames() {
		names = append(names, string(b))
	}
	return strings.Join(names, ", ")
}

// lookupEnv reads name through lookup, which may be nil (tests).
func lookupEnv(lookup func(string) (string, bool), name string) (string, bool) {
	if lookup == nil {
		return "", false
	}
	return lookup(name)
}
