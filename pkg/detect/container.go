package detect

import (
	"fmt"
	"strings"

	"github.com/immich-accel/immich-accel/internal/docker"
	"github.com/immich-accel/immich-accel/pkg/accel"
	"github.com/immich-accel/immich-accel/pkg/failures"
)

const debugHint = "Set IMMICH_LOG_LEVEL=debug in Immich's .env and recreate the ML container (docker compose up -d) to see `Available ORT providers`; models load on first use, so run a Smart Search once."

// containerChecks reports the Immich ML container: its state, what it was
// given of the host, and what its logs say.
func (e *evaluator) containerChecks(bs []BackendStatus) {
	if ct, pv, ok := e.containerPresent(); !ok {
		e.add(ct, pv)
		return
	}
	ct, logsMatter := e.mlContainerCheck(bs)
	e.add(ct, e.providersCheck(logsMatter))
}

// containerPresent says, when there is no ML container to look at, why.
func (e *evaluator) containerPresent() (ct, pv Check, ok bool) {
	df := e.f.docker
	ct = Check{ID: CheckMLContainer, Area: AreaContainer}
	pv = Check{ID: CheckMLProviders, Area: AreaContainer}
	switch {
	case df.Info == nil && (df.NoDaemon != "" || df.PingErr != nil || df.Endpoint == ""):
		ct.Status, ct.Finding = StatusSkip, "Docker daemon not reachable"
		pv.Status, pv.Finding = StatusSkip, "Docker daemon not reachable"
	case df.ListErr != nil:
		ct.Status = StatusWarn
		ct.Finding = "cannot list containers: " + df.ListErr.Error()
		pv.Status, pv.Finding = StatusSkip, "no container to read logs from"
	case df.ML == nil:
		ct.Status, ct.Finding = StatusSkip, "no Immich machine-learning container on this Docker host"
		pv.Status, pv.Finding = StatusSkip, "no container to read logs from"
	default:
		return ct, pv, true
	}
	return ct, pv, false
}

// restartLoop is the restart count from which a container counts as
// restart-looping: Compose's `restart: always` restarts it at once after
// every crash, so a few restarts mean it cannot stay up.
const restartLoop = 3

// mlState is what is known of the ML container's state: from inspect,
// else from the container list.
type mlState struct {
	name, service, image string
	backend              accel.Backend
	status               string
	exitCode             int
	oom                  bool
	startErr             string
	restarts             int
	health               *docker.Health
	host                 *docker.HostConfig
}

func (e *evaluator) mlState() mlState {
	df := e.f.docker
	ml := df.ML
	s := mlState{name: ml.Name(), service: ml.Labels["com.docker.compose.service"], image: ml.Image, status: ml.State}
	if cj := df.Inspect; cj != nil {
		if cj.Config.Image != "" {
			s.image = cj.Config.Image
		}
		if cj.State.Status != "" {
			s.status = cj.State.Status
		}
		s.exitCode, s.oom, s.startErr = cj.State.ExitCode, cj.State.OOMKilled, strings.TrimSpace(cj.State.Error)
		s.restarts, s.health, s.host = cj.RestartCount, cj.State.Health, &cj.HostConfig
		if cj.State.Restarting {
			s.status = "restarting"
		}
	}
	s.backend = accel.ImageBackend(s.image)
	return s
}

// upCommand is the Compose command that recreates the service.
func (s mlState) upCommand() string {
	if s.service != "" {
		return "docker compose up -d " + s.service
	}
	return "docker compose up -d"
}

// mlContainerCheck diagnoses the container's state. logsMatter is false
// when the container never ran (no logs to read).
func (e *evaluator) mlContainerCheck(bs []BackendStatus) (Check, bool) {
	df := e.f.docker
	s := e.mlState()
	ct := Check{ID: CheckMLContainer, Area: AreaContainer}
	if df.InspectErr != nil {
		ct.Detail = append(ct.Detail, "cannot inspect the container: "+shortErr(df.InspectErr.Error()))
	}
	switch {
	case s.startErr != "" && s.status != "running":
		e.startFailure(&ct, s, bs)
		return ct, false
	case s.status == "created":
		ct.Status = StatusWarn
		ct.Finding = fmt.Sprintf("%s (%s) was created but never started", s.name, s.image)
		ct.Fix = "Start it with `" + s.upCommand() + "`; if that fails, run `immich-accel doctor` again: it reads the error Docker keeps."
		return ct, false
	case s.status == "restarting" || (s.status == "running" && s.restarts >= restartLoop):
		e.crashed(&ct, s, fmt.Sprintf("%s (%s) keeps restarting (%d restarts)", s.name, s.image, s.restarts))
	case s.status == "exited" || s.status == "dead":
		e.exited(&ct, s)
	case s.status == "paused":
		ct.Status = StatusWarn
		ct.Finding = fmt.Sprintf("%s (%s) is paused", s.name, s.image)
		ct.Fix = "Resume it with `docker unpause " + s.name + "`."
	case s.status != "running":
		ct.Status = StatusWarn
		ct.Finding = fmt.Sprintf("%s (%s) is %s", s.name, s.image, s.status)
		ct.Fix = "Start it with `" + s.upCommand() + "`."
	case s.health != nil && s.health.Status == "unhealthy":
		e.unhealthy(&ct, s)
	default:
		e.running(&ct, s, bs)
	}
	return ct, true
}

// startFailure: the Engine could not start the container and kept why.
func (e *evaluator) startFailure(ct *Check, s mlState, bs []BackendStatus) {
	ct.Status = StatusFail
	ct.Finding = fmt.Sprintf("%s (%s) could not start: %s", s.name, s.image, s.startErr)
	ms := failures.StartError(s.startErr, s.backend)
	if len(ms) == 0 {
		ct.Fix = "Docker refused to start it for the reason above (`" + s.upCommand() + "` prints it too); fix that, then run the command again."
		return
	}
	ct.Detail = append(ct.Detail, matchDetail(ms)...)
	ct.Finding += " — " + ms[0].Entry.Cause
	ct.Fix = ms[0].Entry.Fix
	if b := e.backendStatus(s.backend); b != nil && b.State == BackendUnavailable {
		if best := e.bestHardware(bs); best != "" {
			ct.Run = e.composeRun(best)
			ct.Fix = fmt.Sprintf("this host cannot serve %s (%s), so this switches to %s; then `%s`.", s.backend, b.Reason, best, s.upCommand())
		} else {
			ct.Run = e.composeRun(accel.CPU)
			ct.Fix = fmt.Sprintf("this host cannot serve %s (%s), so this goes back to the CPU image; then `%s`.", s.backend, b.Reason, s.upCommand())
		}
	}
}

// exited: the container stopped; its exit code and logs say why.
func (e *evaluator) exited(ct *Check, s mlState) {
	switch {
	case !s.oom && (s.exitCode == 0 || s.exitCode == 143):
		ct.Status = StatusWarn
		ct.Finding = fmt.Sprintf("%s (%s) was stopped (exit code %d)", s.name, s.image, s.exitCode)
		ct.Fix = "Start it with `" + s.upCommand() + "`."
	default:
		e.crashed(ct, s, fmt.Sprintf("%s (%s) %s", s.name, s.image, exitText(s.exitCode, s.oom)))
	}
}

// exitText describes an exit code the way people read it.
func exitText(code int, oom bool) string {
	switch {
	case oom:
		return fmt.Sprintf("was killed for lack of memory (OOMKilled, exit code %d)", code)
	case code == 139:
		return "crashed with a segmentation fault (exit code 139)"
	case code == 134:
		return "aborted (exit code 134)"
	case code == 137:
		return "was killed (exit code 137)"
	}
	return fmt.Sprintf("exited with code %d", code)
}

// crashed names the cause of a crash or restart loop from the exit state
// and the logs of the last run.
func (e *evaluator) crashed(ct *Check, s mlState, finding string) {
	ct.Status = StatusFail
	ct.Finding = finding
	if s.status == "restarting" || s.restarts > 0 {
		ct.Detail = append(ct.Detail, fmt.Sprintf("last exit: %s; restarts: %d", exitText(s.exitCode, s.oom), s.restarts))
	}
	ms := failures.Exit(s.exitCode, s.oom, s.backend)
	if e.f.docker.LogsErr == nil {
		ms = append(ms, failures.Scan(e.f.docker.Logs, s.backend)...)
	}
	if len(ms) == 0 {
		ct.Fix = "Read `docker logs " + s.name + "`: the lines before it stopped say why."
		return
	}
	ct.Finding += " — " + ms[0].Entry.Cause
	ct.Fix = ms[0].Entry.Fix
	ct.Detail = append(ct.Detail, matchDetail(ms)...)
}

// unhealthy: running, but its healthcheck fails.
func (e *evaluator) unhealthy(ct *Check, s mlState) {
	ct.Status = StatusFail
	ct.Finding = fmt.Sprintf("%s (%s) is running but unhealthy (%d failed healthchecks in a row)", s.name, s.image, s.health.FailingStreak)
	if n := len(s.health.Log); n > 0 {
		last := s.health.Log[n-1]
		out := strings.TrimSpace(last.Output)
		if len(out) > 200 {
			out = out[:200] + "…"
		}
		ct.Finding += fmt.Sprintf("; last check exited %d: %s", last.ExitCode, orNone(out))
	}
	ms := failures.Scan(e.f.docker.Logs, s.backend)
	if len(ms) > 0 {
		ct.Finding += " — " + ms[0].Entry.Cause
		ct.Fix = ms[0].Entry.Fix
		ct.Detail = append(ct.Detail, matchDetail(ms)...)
		return
	}
	ct.Fix = "The healthcheck asks the ML server for /ping on port 3003; it fails while the server is not up. Read `docker logs " + s.name + "` for why it does not answer."
}

// running: up; check that it got what its image variant needs.
func (e *evaluator) running(ct *Check, s mlState, bs []BackendStatus) {
	ct.Status = StatusOK
	ct.Finding = fmt.Sprintf("%s running image %s (%s backend)", s.name, s.image, s.backend)
	if s.health != nil && s.health.Status != "" {
		ct.Finding += ", " + s.health.Status
	}
	if s.restarts > 0 {
		ct.Detail = append(ct.Detail, fmt.Sprintf("restarted %d times", s.restarts))
	}
	if s.host != nil {
		ct.Detail = append(ct.Detail, granted(*s.host))
		if missing := missingAccess(s.backend, *s.host); missing != "" {
			ct.Status = StatusFail
			ct.Finding += "; but " + missing + ", so ONNX Runtime can only use the CPU"
			ct.Run = e.composeRun(s.backend)
			ct.Fix = fmt.Sprintf("it adds the %s section; then `%s`.", s.backend, s.upCommand())
			return
		}
	}
	if best := e.bestHardware(bs); s.backend == accel.CPU && best != "" {
		ct.Status = StatusWarn
		ct.Finding += "; this host can serve " + string(best)
		ct.Run = e.composeRun(best)
	}
}

// missingAccess says what of the host a container of backend b lacks, by
// the sections of Immich's hwaccel.ml.yml: cuda reserves an NVIDIA GPU
// (deploy.resources.reservations.devices, driver nvidia, capability gpu;
// `runtime: nvidia` does the same), openvino passes /dev/dri (/dev/dxg on
// WSL2), rocm /dev/dri and /dev/kfd, armnn /dev/mali0, rknn /dev/dri.
func missingAccess(b accel.Backend, hc docker.HostConfig) string {
	has := func(dev string) bool {
		for _, d := range hc.Devices {
			if d.PathInContainer == dev || strings.HasPrefix(d.PathInContainer, dev+"/") {
				return true
			}
		}
		return false
	}
	var need []string
	switch b {
	case accel.CUDA:
		if hc.Runtime == "nvidia" {
			return ""
		}
		for _, r := range hc.DeviceRequests {
			if r.Driver == "nvidia" || r.Driver == "cdi" {
				return ""
			}
			for _, caps := range r.Capabilities {
				if contains(caps, "gpu") {
					return ""
				}
			}
		}
		return "it has no NVIDIA GPU reserved (no `driver: nvidia` device, runtime " + orNone(hc.Runtime) + ")"
	case accel.OpenVINO, accel.OpenVINOWSL:
		if has("/dev/dxg") {
			return ""
		}
		need = []string{"/dev/dri"}
	case accel.ROCm:
		need = []string{"/dev/dri", "/dev/kfd"}
	case accel.ARMNN:
		need = []string{"/dev/mali0"}
	case accel.RKNN:
		need = []string{"/dev/dri"}
	}
	var miss []string
	for _, d := range need {
		if !has(d) {
			miss = append(miss, d)
		}
	}
	if len(miss) == 0 {
		return ""
	}
	return "it was not given " + strings.Join(miss, " and ")
}

// granted says what of the host the container got, for -v.
func granted(hc docker.HostConfig) string {
	var devs, reqs []string
	for _, d := range hc.Devices {
		devs = append(devs, d.PathInContainer)
	}
	for _, r := range hc.DeviceRequests {
		var caps []string
		for _, c := range r.Capabilities {
			caps = append(caps, strings.Join(c, "+"))
		}
		reqs = append(reqs, strings.TrimSpace(r.Driver+" "+strings.Join(caps, ",")))
	}
	return fmt.Sprintf("given: devices %s; GPU requests %s; runtime %s; group_add %s",
		orNone(strings.Join(devs, ", ")), orNone(strings.Join(reqs, "; ")), orNone(hc.Runtime), orNone(strings.Join(hc.GroupAdd, ", ")))
}

// matchDetail lists the catalogue's matches with their evidence, for -v.
func matchDetail(ms []failures.Match) []string {
	var out []string
	for _, m := range ms {
		for _, l := range m.Lines {
			out = append(out, string(m.Entry.ID)+": "+l)
		}
	}
	return out
}

// bestHardware is the first ready hardware backend, or "".
func (e *evaluator) bestHardware(bs []BackendStatus) accel.Backend {
	for _, b := range bs {
		if b.State == BackendReady && b.Name != accel.CPU {
			return b.Name
		}
	}
	return ""
}

func (e *evaluator) backendStatus(name accel.Backend) *BackendStatus {
	for i := range e.backendsCache {
		if e.backendsCache[i].Name == name {
			return &e.backendsCache[i]
		}
	}
	return nil
}

// providersCheck reads the logs: the provider ONNX Runtime chose, and the
// catalogue's failures.
func (e *evaluator) providersCheck(logsMatter bool) Check {
	df := e.f.docker
	s := e.mlState()
	backend := s.backend
	pv := Check{ID: CheckMLProviders, Area: AreaContainer}
	switch {
	case !logsMatter:
		pv.Status, pv.Finding = StatusSkip, "the container never started: no logs"
		return pv
	case df.LogsErr != nil:
		pv.Status = StatusWarn
		pv.Finding = "cannot read the container's logs: " + df.LogsErr.Error()
		return pv
	}
	lf := analyzeLogs(df.Logs)
	ms := failures.Scan(df.Logs, s.backend)
	if len(lf.Available) > 0 {
		pv.Detail = append(pv.Detail, "available ORT providers: "+strings.Join(lf.Available, ", "))
	}
	for _, l := range lf.EPFailures {
		pv.Detail = append(pv.Detail, "log: "+l)
	}
	pv.Detail = append(pv.Detail, matchDetail(ms)...)
	info, _ := backend.Info()
	want := info.Providers
	took := len(lf.Providers) > 0 && contains(want, lf.Providers[0])
	cause, specific := firstCause(ms)
	switch {
	case specific:
		pv.Status = StatusFail
		pv.Finding = cause.Entry.Cause
		if len(want) > 0 && !took && lf.ProviderLineSeen {
			pv.Finding += "; the container runs on the CPU"
		}
		pv.Fix = cause.Entry.Fix
	case backend == accel.ARMNN && lf.ANNFailed:
		pv.Status = StatusFail
		pv.Finding = "ARM NN did not load: " + lf.ANNError
		pv.Fix = "Check /dev/mali0 and the libmali.so mount (see the mali checks)."
	case backend == accel.ARMNN && lf.SawDebug:
		pv.Status = StatusOK
		pv.Finding = "ARM NN loaded (no `Could not load ANN shared libraries` in the debug log)"
	case backend == accel.ARMNN:
		pv.Status = StatusWarn
		pv.Finding = "cannot tell whether ARM NN loaded: its failure is logged only at debug level"
		pv.Fix = debugHint
	case len(lf.EPFailures) > 0 && len(want) > 0 && !took:
		pv.Status = StatusFail
		pv.Finding = "ONNX Runtime could not create " + want[0] + "; the container runs on the CPU"
		pv.Fix = "See the log lines above; usually the GPU is not passed through (check the " + string(backend) + " section) or the driver is too old."
	case backend == accel.RKNN && lf.ProviderLineSeen:
		pv.Status = StatusFail
		pv.Finding = "the rknn image chose ONNX Runtime (" + strings.Join(lf.Providers, ", ") + ") instead of RKNN"
		pv.Fix = cause.Entry.Fix
	case backend == accel.RKNN:
		pv.Status = StatusSkip
		pv.Finding = "the RKNN backend runs models through the RKNN runtime, which logs no ONNX Runtime providers"
	case !lf.ProviderLineSeen:
		pv.Status = StatusWarn
		pv.Finding = "no `Setting execution providers to` line in the recent logs (no model loaded since the container started?)"
		pv.Fix = debugHint
	case len(want) > 0 && !took:
		pv.Status = StatusFail
		pv.Finding = fmt.Sprintf("the %s image fell back to %s", backend, strings.Join(lf.Providers, ", "))
		if len(lf.Providers) == 0 {
			pv.Finding = fmt.Sprintf("the %s image uses no execution provider", backend)
		}
		pv.Fix = "The accelerator is not visible inside the container: check the " + string(backend) + " section of the compose file. " + debugHint
	case len(lf.Providers) > 0 && backend == accel.CPU && lf.Providers[0] == "CPUExecutionProvider":
		pv.Status = StatusOK
		pv.Finding = "ONNX Runtime uses CPUExecutionProvider (CPU image)"
	default:
		pv.Status = StatusOK
		pv.Finding = "ONNX Runtime uses " + strings.Join(lf.Providers, ", ")
	}
	return pv
}

// firstCause is the first match that names a cause of its own, rather
// than the CPU fallback that follows from one (cpu-fallback,
// provider-fallback, rknn-not-chosen, armnn-no-libmali are reported by the
// provider logic with their context). The first match is returned either way.
func firstCause(ms []failures.Match) (failures.Match, bool) {
	for _, m := range ms {
		switch m.Entry.ID {
		case failures.CPUFallback, failures.ProviderFallback, failures.RKNNNotChosen, failures.ARMNNNoLibMali:
			continue
		}
		return m, true
	}
	if len(ms) > 0 {
		return ms[0], false
	}
	return failures.Match{}, false
}
