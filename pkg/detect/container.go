package detect

import (
	"fmt"
	"strings"

	"github.com/immich-accel/immich-accel/pkg/accel"
)

const debugHint = "Set IMMICH_LOG_LEVEL=debug in Immich's .env and recreate the ML container (docker compose up -d) to see `Available ORT providers`; models load on first use, so run a Smart Search once."

func (e *evaluator) containerChecks(bs []BackendStatus) {
	df := e.f.docker
	ct := Check{ID: CheckMLContainer, Area: AreaContainer}
	pv := Check{ID: CheckMLProviders, Area: AreaContainer}
	if df.Info == nil && (df.NoDaemon != "" || df.PingErr != nil || df.Endpoint == "") {
		ct.Status, ct.Finding = StatusSkip, "Docker daemon not reachable"
		pv.Status, pv.Finding = StatusSkip, "Docker daemon not reachable"
		e.add(ct, pv)
		return
	}
	if df.ListErr != nil {
		ct.Status = StatusWarn
		ct.Finding = "cannot list containers: " + df.ListErr.Error()
		pv.Status, pv.Finding = StatusSkip, "no container to read logs from"
		e.add(ct, pv)
		return
	}
	ml := df.ML
	if ml == nil {
		ct.Status, ct.Finding = StatusSkip, "no Immich machine-learning container on this Docker host"
		pv.Status, pv.Finding = StatusSkip, "no container to read logs from"
		e.add(ct, pv)
		return
	}
	backend := accel.ImageBackend(ml.Image)
	if ml.State != "running" {
		ct.Status = StatusWarn
		ct.Finding = fmt.Sprintf("%s (%s) is %s", ml.Name(), ml.Image, ml.State)
		ct.Fix = "Start it (docker compose up -d) and look at `docker logs " + ml.Name() + "` if it stops again."
		pv.Status, pv.Finding = StatusSkip, "the container is not running"
		e.add(ct, pv)
		return
	}
	ct.Status = StatusOK
	ct.Finding = fmt.Sprintf("%s running image %s (%s backend)", ml.Name(), ml.Image, backend)
	var best accel.Backend
	for _, b := range bs {
		if b.State == BackendReady && b.Name != accel.CPU {
			best = b.Name
			break
		}
	}
	if backend == accel.CPU && best != "" {
		ct.Status = StatusWarn
		ct.Finding += "; this host can serve " + string(best)
		ct.Fix = e.composeCommand(best)
	}
	e.add(ct)

	if df.LogsErr != nil {
		pv.Status = StatusWarn
		pv.Finding = "cannot read the container's logs: " + df.LogsErr.Error()
		e.add(pv)
		return
	}
	lf := analyzeLogs(df.Logs)
	if len(lf.Available) > 0 {
		pv.Detail = append(pv.Detail, "available ORT providers: "+strings.Join(lf.Available, ", "))
	}
	for _, l := range lf.EPFailures {
		pv.Detail = append(pv.Detail, "log: "+l)
	}
	info, _ := backend.Info()
	want := info.Providers
	took := len(lf.Providers) > 0 && contains(want, lf.Providers[0])
	switch {
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
	e.add(pv)
}
