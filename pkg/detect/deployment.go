package detect

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/immich-accel/immich-accel/internal/shell"
	"github.com/immich-accel/immich-accel/pkg/accel"
	"github.com/immich-accel/immich-accel/pkg/compose"
)

// InspectFunc inspects an Immich compose file; compose.InspectFile by default.
type InspectFunc func(path string) (*compose.Inspection, error)

// WithInspect replaces the compose file inspector.
func WithInspect(f InspectFunc) Option { return func(d *Detector) { d.inspect = f } }

// ComposeFileNames are the names docker compose looks for, in order.
var ComposeFileNames = compose.DefaultFileNames

type deployFacts struct {
	Path  string
	Given bool
	// InWorkDir: `immich-accel compose` run in the working directory finds
	// this same file without --file.
	InWorkDir bool
	In        *compose.Inspection
	Err       error
	// Sources of the ML service's volume mounts that are missing on the host.
	MissingSources []string
}

func (d *Detector) probeDeployment(fs fsys) deployFacts {
	var f deployFacts
	found := ""
	if d.workDir != "" {
		found, _ = compose.FindFile(d.workDir)
	}
	if d.composeFile != "" {
		f.Path, f.Given = d.composeFile, true
		if st, err := os.Stat(f.Path); err == nil && st.IsDir() {
			// A directory: the compose file Compose itself would use there.
			p, ferr := compose.FindFile(f.Path)
			if ferr != nil {
				f.Err = ferr
				return f
			}
			f.Path = p
		}
		f.InWorkDir = found != "" && sameFile(found, f.Path)
	} else {
		f.Path, f.InWorkDir = found, found != ""
	}
	if f.Path == "" {
		return f
	}
	if err := readableComposeFile(f.Path); err != nil {
		f.Err = err
		return f
	}
	inspect := d.inspect
	if inspect == nil {
		inspect = compose.InspectFile
	}
	f.In, f.Err = inspect(f.Path)
	if f.In != nil {
		vols := f.In.Volumes
		if f.In.Mode == "extends" && f.In.ExtendsFileFound && f.In.Backend != "" {
			vols = append(vols, extendedVolumes(f.Path, f.In)...)
		}
		for _, v := range vols {
			src, _, ok := strings.Cut(v, ":")
			if !ok || !strings.HasPrefix(src, "/") || strings.Contains(src, "$") {
				continue
			}
			if strings.Contains(src, "libmali") || strings.Contains(src, "mali_csffw") {
				if !fs.lexists(src) {
					f.MissingSources = append(f.MissingSources, src)
				}
			}
		}
	}
	return f
}

// readableComposeFile refuses paths that would block or exhaust memory
// when read whole, through the same guard compose uses.
func readableComposeFile(path string) error { return compose.CheckReadable(path) }

func sameFile(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	return err == nil && os.SameFile(sa, sb)
}

// extendedVolumes returns the volumes of the hwaccel section the service
// extends, read with the same compose parser.
func extendedVolumes(composePath string, in *compose.Inspection) []string {
	p := in.ExtendsFile
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(composePath), p)
	}
	if readableComposeFile(p) != nil {
		return nil
	}
	src, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	sec, err := compose.Inspect(src, string(in.Backend))
	if err != nil || sec == nil {
		return nil
	}
	return sec.Volumes
}

func (e *evaluator) deploymentChecks(host HostFacts, bs []BackendStatus) {
	df := e.f.deploy
	file := Check{ID: CheckComposeFile, Area: AreaDeployment}
	if df.Path == "" {
		file.Status = StatusSkip
		file.Finding = "no compose file given (--compose FILE) or found in the current directory"
		e.add(file)
		return
	}
	in := df.In
	if df.Err != nil {
		file.Status = StatusFail
		var ce *compose.Error
		var ue *compose.UnreadableError
		switch {
		case errors.Is(df.Err, os.ErrNotExist):
			file.Finding = "cannot read " + df.Path + ": not found"
			file.Fix = "Pass the path of Immich's docker-compose.yml with --compose FILE."
		case errors.As(df.Err, &ue):
			file.Finding = "cannot inspect " + df.Path + ": " + ue.Reason
			file.Fix = "Pass Immich's docker-compose.yml with --compose FILE."
		case errors.Is(df.Err, compose.ErrNoComposeFile):
			file.Finding = df.Err.Error()
			file.Fix = "Pass Immich's docker-compose.yml itself with --compose FILE."
		case errors.As(df.Err, &ce) && ce.Fix != "":
			// compose's fixes name its --file flag, which doctor takes too.
			file.Finding = "cannot inspect " + df.Path + ": " + df.Err.Error()
			file.Fix = ce.Fix
		default:
			file.Finding = "cannot inspect " + df.Path + ": " + df.Err.Error()
			file.Fix = "Check the file with `docker compose -f " + shell.Quote(df.Path) + " config`."
		}
		if !df.Given {
			file.Status = StatusSkip
			file.Finding = df.Path + " is not an Immich compose file with a machine-learning service: " + df.Err.Error()
			file.Fix = ""
		}
		e.add(file)
		return
	}
	if in == nil {
		file.Status, file.Finding = StatusSkip, "nothing inspected in "+df.Path
		e.add(file)
		return
	}
	file.Status = StatusOK
	mode := in.Mode
	if mode == "extends" {
		mode = "extends " + in.ExtendsFile
	}
	backend := string(in.Backend)
	switch {
	case in.BackendFromEnv && backend == "":
		backend = "set by a variable that names no backend"
	case backend == "":
		backend = "cpu"
	}
	file.Finding = fmt.Sprintf("%s: service %s, backend %s (%s), image %s", df.Path, in.Service, backend, mode, orNone(in.Image))
	if in.ImageResolved != "" && (in.SuffixFromEnv || in.EnvFile != "") {
		file.Finding += " = " + in.ImageResolved
	}
	if in.BackendFromEnv || in.SuffixFromEnv {
		src := "their defaults (no .env next to the compose file)"
		if in.EnvFile != "" {
			src = in.EnvFile + " and defaults"
		}
		file.Detail = append(file.Detail, "variables that select the backend are read from "+src+", as docker compose reads them; a variable set in the shell that runs docker compose overrides them")
	}
	if in.StackKind != "" {
		file.Detail = append(file.Detail, "looks like a "+in.StackKind+" stack: use compose --inline (one file, no extends)")
	}
	if len(in.Devices) > 0 {
		file.Detail = append(file.Detail, "devices: "+strings.Join(in.Devices, ", "))
	}
	e.add(file)

	for _, p := range in.Problems {
		st := problemStatus(p.ID)
		c := Check{ID: ComposeProblemCheck(p.ID), Area: AreaDeployment, Status: st, Finding: p.Message, Fix: p.Fix}
		if p.Run != nil {
			run := *p.Run
			run.File = e.runFile()
			c.Run = &run
		}
		e.add(c)
	}
	e.add(e.composeBackendCheck(in, host, bs, df.MissingSources))
}

// composeBackendCheck judges the configured backend against this host.
func (e *evaluator) composeBackendCheck(in *compose.Inspection, host HostFacts, bs []BackendStatus, missing []string) Check {
	c := Check{ID: CheckComposeBackend, Area: AreaDeployment}
	b := in.Backend
	if b == "" {
		b = accel.CPU
	}
	var best accel.Backend
	for _, s := range bs {
		if s.State == BackendReady && s.Name != accel.CPU {
			best = s.Name
			break
		}
	}
	var status BackendStatus
	for _, s := range bs {
		if s.Name == b {
			status = s
		}
	}
	cmd := e.composeRun
	switch {
	case in.BackendFromEnv && in.Backend == "":
		c.Status = StatusSkip
		c.Finding = "the backend comes from a variable; it cannot be checked statically"
	case b == accel.OpenVINO && host.WSL:
		c.Status = StatusFail
		c.Finding = "the openvino section does not work on WSL2: it lacks /dev/dxg and /usr/lib/wsl"
		c.Run = cmd(accel.OpenVINOWSL)
	case b == accel.OpenVINOWSL && !host.WSL:
		c.Status = StatusFail
		c.Finding = "openvino-wsl is for WSL2; this host is native Linux"
		c.Run = cmd(accel.OpenVINO)
	case status.Name == "":
		c.Status = StatusWarn
		c.Finding = "unknown backend " + string(b)
	case status.State == BackendUnavailable:
		c.Status = StatusFail
		c.Finding = "configured for " + string(b) + ", which this host cannot serve: " + status.Reason
		if best != "" {
			c.Run = cmd(best)
		} else {
			c.Run = cmd(accel.CPU)
		}
	case status.State == BackendNeedsFixes:
		c.Status = StatusWarn
		c.Finding = "configured for " + string(b) + ", which needs fixes on this host first: " + status.Reason
		c.Fix = "See the failed checks: " + JoinIDs(status.Blockers) + "."
	case b == accel.CPU && best != "":
		c.Status = StatusWarn
		c.Finding = "configured for the CPU although this host can serve " + string(best)
		c.Run = cmd(best)
	default:
		c.Status = StatusOK
		c.Finding = "configured for " + string(b) + ", which this host can serve"
	}
	if b == accel.ARMNN && len(missing) > 0 && c.Status != StatusFail {
		lib := false
		for _, m := range missing {
			if strings.Contains(m, "libmali") {
				lib = true
			}
		}
		if lib {
			c.Status = StatusFail
			c.Finding = "mounts " + strings.Join(missing, ", ") + ", which this host does not have"
			if host.LibMaliPath != "" {
				c.Finding += "; libmali is at " + host.LibMaliPath
			}
			c.Fix, c.Run = "it mounts libmali from where this host has it.", cmd(accel.ARMNN)
		} else if c.Status == StatusOK {
			c.Status = StatusWarn
			c.Finding = "mounts " + strings.Join(missing, ", ") + ", which this host does not have (docker creates an empty directory there)"
			c.Fix, c.Run = "it drops the firmware mount when the file is absent.", cmd(accel.ARMNN)
		}
	}
	return c
}

// composeRun is the run of `immich-accel compose` that switches the
// inspected compose file (or, without one, the file in the working
// directory) to backend: --inline when the file already inlines its
// section or looks like a Portainer, Unraid or app-store stack, and the
// file when compose would not find it by itself.
func (e *evaluator) composeRun(backend accel.Backend) *compose.FixRun {
	r := &compose.FixRun{Backend: backend, File: e.runFile()}
	if in := e.f.deploy.In; in != nil && (in.StackKind != "" || in.Mode == "inline") {
		r.Inline = true
	}
	return r
}

// runFile is the inspected compose file when `immich-accel compose` run in
// the working directory would not find it by itself, else "".
func (e *evaluator) runFile() string {
	df := e.f.deploy
	if df.Path == "" || df.Err != nil || df.InWorkDir {
		return ""
	}
	return df.Path
}

// problemStatus is how doctor reports a compose problem: a failure when it
// keeps the deployment from working, else a warning.
func problemStatus(id compose.ProblemID) Status {
	if id.Blocking() {
		return StatusFail
	}
	return StatusWarn
}
