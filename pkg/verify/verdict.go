package verify

import (
	"fmt"
	"strings"

	"github.com/immich-accel/immich-accel/pkg/accel"
)

// idleBusyPct: a device whose busy figure never reached this while
// requests ran did no work for them. Drivers report whole percents
// (NVML's utilization.gpu, amdgpu's gpu_busy_percent, rknpu's load), so
// under 1% means every reading was 0.
const idleBusyPct = 1.0

// decide gives the verdict and its one-line reason. Failures come first,
// then what the logs say, then the device, then the remote case.
func decide(r *Report) (Verdict, string) {
	var failed []string
	for _, t := range r.Tasks {
		if !t.OK {
			failed = append(failed, fmt.Sprintf("%s (%s): %s", t.Task, t.Model, t.Error))
		}
	}
	if len(failed) > 0 {
		return Failed, strings.Join(failed, "; ")
	}
	warm := warmSummary(r.Tasks)
	if r.Remote {
		return NotMeasurable, "remote server: latency only (" + warm + "); run verify on the ML host to watch its device"
	}
	if why := logsSayCPU(r); why != "" {
		return CPUFallback, why + cpuPerRequest(r.Tasks)
	}
	if r.Backend == accel.CPU || r.Backend == "" {
		return CPUFallback, "the container runs Immich's CPU image (" + r.Container.Image + "), so no accelerator does the work" + cpuPerRequest(r.Tasks)
	}
	if r.Device == nil || r.Device.Source == "" {
		why := "device not watched"
		if r.Device != nil && r.Device.Unmeasured != "" {
			why = r.Device.Unmeasured
		}
		return NotMeasurable, fmt.Sprintf("the %s device could not be watched (%s): latency only (%s)", r.Backend, why, warm)
	}
	var busyMean, busyMax float64
	var n int
	var errs []string
	for _, t := range r.Tasks {
		if t.Device == nil {
			continue
		}
		if t.Device.Samples == 0 {
			if t.Device.Error != "" {
				errs = append(errs, t.Device.Error)
			}
			continue
		}
		n++
		busyMean += t.Device.BusyMeanPct
		busyMax = max(busyMax, t.Device.BusyMaxPct)
	}
	if n == 0 {
		why := "no reading was taken"
		if len(errs) > 0 {
			why = errs[0]
		}
		return NotMeasurable, fmt.Sprintf("the %s device gave no reading (%s): latency only (%s)", r.Backend, why, warm)
	}
	busyMean /= float64(n)
	if busyMax < idleBusyPct {
		return CPUFallback, fmt.Sprintf("the %s device stayed idle (0%% busy) while requests ran%s", r.Backend, cpuPerRequest(r.Tasks))
	}
	before := ""
	if b := r.Device.Before; b != nil && b.Samples > 0 {
		if b.BusyMeanPct >= busyMean {
			return NotMeasurable, fmt.Sprintf("the %s device was as busy before the requests (%.0f%%) as while they ran (%.0f%%): other work hides the server's; latency only (%s)", r.Backend, b.BusyMeanPct, busyMean, warm)
		}
		before = fmt.Sprintf(", %.0f%% before", b.BusyMeanPct)
	}
	return Accelerated, fmt.Sprintf("%s device busy %.0f%% on average (peak %.0f%%%s) while requests ran; %s", r.Backend, busyMean, busyMax, before, warm)
}

// logsSayCPU returns why the logs written during the run show the CPU
// doing the work, or "".
func logsSayCPU(r *Report) string {
	for _, m := range r.Logs.Matches {
		if m.CPUFallback {
			return "the logs say " + m.Class + ": " + m.Text
		}
	}
	want := wantProviders(r.Backend)
	if len(want) == 0 || len(r.Logs.Providers) == 0 {
		return ""
	}
	for _, w := range want {
		if r.Logs.Providers[0] == w {
			return ""
		}
	}
	return fmt.Sprintf("the logs written during the run show the %s image choosing %s", r.Backend, strings.Join(r.Logs.Providers, ", "))
}

func wantProviders(b accel.Backend) []string {
	i, ok := b.Info()
	if !ok {
		return nil
	}
	return i.Providers
}

// warmSummary is "clip-visual 12 ms, clip-textual 3 ms, faces 40 ms warm
// (mean)".
func warmSummary(ts []TaskResult) string {
	var parts []string
	for _, t := range ts {
		parts = append(parts, fmt.Sprintf("%s %s ms", t.Task, fmtMs(t.Warm.MeanMs)))
	}
	return strings.Join(parts, ", ") + " warm (mean)"
}

func cpuPerRequest(ts []TaskResult) string {
	var parts []string
	for _, t := range ts {
		if t.CPUSecondsPerRequest != nil {
			parts = append(parts, fmt.Sprintf("%s %.3f", t.Task, *t.CPUSecondsPerRequest))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "; CPU-seconds per request: " + strings.Join(parts, ", ")
}

func fmtMs(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}
