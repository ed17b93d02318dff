package verify

import (
	"context"
	"time"

	"github.com/immich-accel/immich-accel/pkg/accel"
)

// monitor watches the container's device and CPU time during warm phases.
type monitor struct {
	sampler Sampler
	cg      *cgroup
	device  Device
}

// newMonitor picks the sampler for the image's backend and finds the
// container's cgroup. What cannot be watched is said in device.
func newMonitor(env Env, b accel.Backend, d *detailsView, now func() time.Time) *monitor {
	m := &monitor{device: Device{Backend: b}}
	fs := env.HostFS
	cg, err := findCgroup(fs, d.pid, d.id)
	if err != nil {
		m.device.CPU = err.Error()
	} else {
		m.cg = cg
		m.device.CPU = "cgroup " + cg.dir
	}
	var s Sampler
	switch b {
	case accel.CUDA:
		switch {
		case !fs.IsHostRoot():
			err = errString("NVML is not loaded when host files are read under another root")
		case env.NVML == nil:
			err = errString("NVML is not available")
		default:
			s, err = newNVIDIASampler(env.NVML)
		}
	case accel.ROCm:
		s, err = newAMDSampler(fs)
	case accel.OpenVINO, accel.OpenVINOWSL:
		s = newIntelSampler(fs, now)
	case accel.RKNN:
		s, err = newRKNPUSampler(fs)
	case accel.ARMNN:
		err = errString("the Mali GPU has no busy counter that verify reads")
	default:
		err = errString("the container runs Immich's CPU image, which uses no accelerator")
	}
	if err != nil {
		m.device.Unmeasured = err.Error()
		return m
	}
	m.sampler = s
	m.device.Source = s.Name()
	return m
}

type errString string

func (e errString) Error() string { return string(e) }

func (m *monitor) close() {
	if m.sampler != nil {
		m.sampler.Close()
	}
}

func (m *monitor) pids() []int {
	if m.cg == nil {
		return nil
	}
	return m.cg.pids()
}

// baselineReadings is how many readings the baseline takes before any
// request is sent (a second at the default interval).
const baselineReadings = 4

// baseline watches the device for a moment before any request, so that
// busy from other work is not taken for the server's.
func (m *monitor) baseline(ctx context.Context, interval time.Duration) {
	if m.sampler == nil {
		return
	}
	w := startWatch(m.sampler, m.pids, interval)
	t := time.NewTimer(baselineReadings * interval)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	u := w.finish(ctx, 2*time.Second)
	m.device.Before = &u
}

// watching is one warm phase being watched.
type watching struct {
	w      *watch
	cpu0   time.Duration
	cpuErr error
}

func (m *monitor) start(interval time.Duration) *watching {
	w := &watching{}
	if m.cg != nil {
		w.cpu0, w.cpuErr = m.cg.cpu()
	}
	if m.sampler != nil {
		w.w = startWatch(m.sampler, m.pids, interval)
	}
	return w
}

// stop ends the phase: the device's use, and the CPU seconds per request.
func (m *monitor) stop(ctx context.Context, w *watching, requests int) (*DeviceUse, *float64) {
	var use *DeviceUse
	if w.w != nil {
		u := w.w.finish(ctx, 2*time.Second)
		use = &u
	}
	if m.cg == nil || w.cpuErr != nil || requests == 0 {
		return use, nil
	}
	cpu1, err := m.cg.cpu()
	if err != nil || cpu1 < w.cpu0 {
		return use, nil
	}
	per := round((cpu1-w.cpu0).Seconds()/float64(requests), 4)
	return use, &per
}
