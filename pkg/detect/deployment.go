package detect

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/immich-accel/immich-accel/pkg/compose"
)

// InspectFunc inspects an Immich compose file; compose.InspectFile by default.
type InspectFunc func(path string) (*compose.Inspection, error)

// WithInspect replaces the compose file inspector.
func WithInspect(f InspectFunc) Option { return func(d *Detector) { d.inspect = f } }

// ComposeFileNames are the names docker compose looks for, in order.
var ComposeFileNames = []string{"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"}

type deployFacts struct {
	Path  string
	Given bool
	In    *compose.Inspection
	Err   error
	// Sources of the ML service's volume mounts that are missing on the host.
	MissingSources []string
}

func (d *Detector) probeDeployment(fs fsys) deployFacts {
	var f deployFacts
	if d.composeFile != "" {
		f.Path, f.Given = d.composeFile, true
	} else if d.workDir != "" {
		for _, n := range ComposeFileNames {
			p := filepath.Join(d.workDir, n)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				f.Path = p
				break
			}
		}
	}
	if f.Path == "" {
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

// extendedVolumes returns the volumes of the hwaccel section the service
// extends, read with the same compose parser.
func extendedVolumes(composePath string, in *compose.Inspection) []string {
	p := in.ExtendsFile
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(composePath), p)
	}
	src, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	sec, err := compose.Inspect(src, in.Backend)
	if err != nil || sec == nil {
		return nil
	}
	return sec.Volumes
}

// problemStatus says how bad each compose.Problem is.
var problemStatus = map[string]Status{
	"extends-file-missing":    StatusFail,
	"extends-file-invalid":    StatusFail,
	"extends-section-missing": StatusFail,
	"section-without-suffix":  StatusFail,
	"suffix-without-section":  StatusFail,
	"suffix-section-mismatch": StatusFail,
	"image-suffix-unknown":    StatusFail,
	"image-legacy":            StatusFail,
	"section-incomplete":      StatusFail,
	"image-digest-pinned":     StatusWarn,
	"several-sections":        StatusWarn,
	"image-built-locally":     StatusWarn,
}

func (e *evaluator) deploymentChecks(host HostFacts, bs []BackendStatus) {
	df := e.f.deploy
	file := Check{ID: "compose-file", Area: AreaDeployment}
	if df.Path == "" {
		file.Status = StatusSkip
		file.Finding = "no compose file given (--compose FILE) or found in the current directory"
		e.add(file)
		return
	}
	in := df.In
	if in != nil && in.StackKind != "" {
		e.inline = true
	}
	if df.Err != nil {
		file.Status = StatusFail
		if errors.Is(df.Err, os.ErrNotExist) {
			file.Finding = "cannot read " + df.Path + ": not found"
			file.Fix = "Pass the path of Immich's docker-compose.yml with --compose FILE."
		} else {
			file.Finding = "cannot inspect " + df.Path + ": " + df.Err.Error()
			file.Fix = "Check the file with `docker compose -f " + df.Path + " config`."
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
	backend := in.Backend
	switch {
	case in.BackendFromEnv:
		backend = "set by a variable"
	case backend == "":
		backend = "cpu"
	}
	file.Finding = fmt.Sprintf("%s: service %s, backend %s (%s), image %s", df.Path, in.Service, backend, mode, orNone(in.Image))
	if in.StackKind != "" {
		file.Detail = append(file.Detail, "looks like a "+in.StackKind+" stack: use compose --inline (one file, no extends)")
	}
	if len(in.Devices) > 0 {
		file.Detail = append(file.Detail, "devices: "+strings.Join(in.Devices, ", "))
	}
	e.add(file)

	for _, p := range in.Problems {
		st, ok := problemStatus[p.ID]
		if !ok {
			st = StatusWarn
		}
		e.add(Check{ID: "compose-" + p.ID, Area: AreaDeployment, Status: st, Finding: p.Message, Fix: p.Fix})
	}
	e.add(e.composeBackendCheck(in, host, bs, df.MissingSources))
}

// composeBackendCheck judges the configured backend against this host.
func (e *evaluator) composeBackendCheck(in *compose.Inspection, host HostFacts, bs []BackendStatus, missing []string) Check {
	c := Check{ID: "compose-backend", Area: AreaDeployment}
	b := in.Backend
	if b == "" {
		b = BackendCPU
	}
	best := ""
	for _, s := range bs {
		if s.State == BackendReady && s.Name != BackendCPU {
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
	cmd := func(backend string) string {
		s := "immich-accel compose --backend " + backend
		if in.StackKind != "" || in.Mode == "inline" {
			s += " --inline"
		}
		return s
	}
	switch {
	case in.BackendFromEnv:
		c.Status = StatusSkip
		c.Finding = "the backend comes from a variable; it cannot be checked statically"
	case b == BackendOpenVINO && host.WSL:
		c.Status = StatusFail
		c.Finding = "the openvino section does not work on WSL2: it lacks /dev/dxg and /usr/lib/wsl"
		c.Fix = cmd(BackendOpenVINOWSL)
	case b == BackendOpenVINOWSL && !host.WSL:
		c.Status = StatusFail
		c.Finding = "openvino-wsl is for WSL2; this host is native Linux"
		c.Fix = cmd(BackendOpenVINO)
	case status.Name == "":
		c.Status = StatusWarn
		c.Finding = "unknown backend " + b
	case status.State == BackendUnavailable:
		c.Status = StatusFail
		c.Finding = "configured for " + b + ", which this host cannot serve: " + status.Reason
		if best != "" {
			c.Fix = cmd(best)
		} else {
			c.Fix = cmd(BackendCPU)
		}
	case status.State == BackendNeedsFixes:
		c.Status = StatusWarn
		c.Finding = "configured for " + b + ", which needs fixes on this host first: " + status.Reason
		c.Fix = "See the failed checks: " + strings.Join(status.Blockers, ", ") + "."
	case b == BackendCPU && best != "":
		c.Status = StatusWarn
		c.Finding = "configured for the CPU although this host can serve " + best
		c.Fix = cmd(best)
	default:
		c.Status = StatusOK
		c.Finding = "configured for " + b + ", which this host can serve"
	}
	if b == BackendARMNN && len(missing) > 0 && c.Status != StatusFail {
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
			c.Fix = cmd(BackendARMNN) + " mounts libmali from where this host has it"
		} else if c.Status == StatusOK {
			c.Status = StatusWarn
			c.Finding = "mounts " + strings.Join(missing, ", ") + ", which this host does not have (docker creates an empty directory there)"
			c.Fix = cmd(BackendARMNN) + " drops the firmware mount when the file is absent"
		}
	}
	return c
}
