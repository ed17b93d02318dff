package verify

import (
	"fmt"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// nvidiaSampler reads NVIDIA GPUs through NVML: the GPU utilisation
// (nvmlDeviceGetUtilizationRates: the percent of the last sample period,
// 1/6 s to 1 s, in which a kernel ran) and the memory of the container's
// processes (nvmlDeviceGetComputeRunningProcesses).
type nvidiaSampler struct {
	lib  nvml.Interface
	devs []nvml.Device
}

// newNVIDIASampler initialises NVML; Close shuts it down.
func newNVIDIASampler(lib nvml.Interface) (s *nvidiaSampler, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("NVML panicked: %v", r)
		}
	}()
	if ret := lib.Init(); ret != nvml.SUCCESS {
		return nil, fmt.Errorf("NVML: %s", nvml.ErrorString(ret))
	}
	n, ret := lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		lib.Shutdown()
		return nil, fmt.Errorf("NVML: counting GPUs: %s", nvml.ErrorString(ret))
	}
	s = &nvidiaSampler{lib: lib}
	for i := 0; i < n; i++ {
		if d, ret := lib.DeviceGetHandleByIndex(i); ret == nvml.SUCCESS {
			s.devs = append(s.devs, d)
		}
	}
	if len(s.devs) == 0 {
		lib.Shutdown()
		return nil, fmt.Errorf("NVML sees no GPU")
	}
	return s, nil
}

func (s *nvidiaSampler) Name() string {
	return fmt.Sprintf("NVIDIA GPU utilisation and the container's GPU memory (NVML, %d GPU(s))", len(s.devs))
}

func (s *nvidiaSampler) Close() { s.lib.Shutdown() }

func (s *nvidiaSampler) Sample(pids []int) (r Reading, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("NVML panicked: %v", p)
		}
	}()
	in := make(map[uint32]bool, len(pids))
	for _, p := range pids {
		in[uint32(p)] = true
	}
	var busyAll, busyOwn float64
	own := false
	var firstErr error
	for _, d := range s.devs {
		u, ret := d.GetUtilizationRates()
		if ret != nvml.SUCCESS {
			firstErr = fmt.Errorf("NVML utilisation: %s", nvml.ErrorString(ret))
			continue
		}
		busy := float64(u.Gpu)
		busyAll = max(busyAll, busy)
		procs, ret := d.GetComputeRunningProcesses()
		if ret != nvml.SUCCESS {
			continue
		}
		mine := false
		for _, p := range procs {
			if in[p.Pid] {
				mine = true
				r.Mem += p.UsedGpuMemory
				r.MemKnown = true
			}
		}
		if mine {
			own = true
			busyOwn = max(busyOwn, busy)
		}
	}
	switch {
	case own:
		r.Busy, r.BusyKnown = busyOwn, true
	case firstErr != nil && busyAll == 0:
		return r, firstErr
	default:
		// No GPU lists a process of the container (WSL2's NVML lists no
		// processes at all): the busiest GPU stands for the container.
		r.Busy, r.BusyKnown = busyAll, true
		r.Note = "NVML lists no process of the container on any GPU; the busiest GPU is reported"
	}
	return r, nil
}
