package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// resetPeakRSS resets the kernel's peak resident set size of this process
// (VmHWM) so that the next reading covers only what follows. It reports
// false where the kernel does not allow it; the peak then covers the whole
// process life.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peakRSS returns the process's peak resident set size in bytes: VmHWM from
// /proc/self/status, or getrusage's ru_maxrss where /proc is not there.
func peakRSS() (uint64, error) {
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		if v, ok := parseVmHWM(b); ok {
			return v, nil
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("reading peak memory: %w", err)
	}
	return uint64(ru.Maxrss) * 1024, nil
}

func parseVmHWM(status []byte) (uint64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "VmHWM:") {
			continue
		}
		f := strings.Fields(strings.TrimPrefix(line, "VmHWM:"))
		if len(f) != 2 || f[1] != "kB" {
			return 0, false
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, false
		}
		return n * 1024, true
	}
	return 0, false
}

// GPUMemory reports how much GPU memory a process holds.
type GPUMemory interface {
	// ProcessMemory returns the bytes process pid holds on all GPUs; ok is
	// false when that cannot be known.
	ProcessMemory(pid int) (bytes uint64, ok bool)
}

// NVMLMemory reads per-process GPU memory through NVML.
type NVMLMemory struct {
	lib nvml.Interface
}

var _ GPUMemory = (*NVMLMemory)(nil)

// NewNVMLMemory initialises NVML through lib (nvml.New() for the real
// library), waiting no longer than ctx allows: a broken driver can make
// NVML block. It fails where there is no NVIDIA driver. Call Close when
// done.
func NewNVMLMemory(ctx context.Context, lib nvml.Interface) (*NVMLMemory, error) {
	ch := make(chan error, 1)
	go func() {
		defer func() {
			// go-nvml panics when libnvidia-ml.so cannot be loaded.
			if r := recover(); r != nil {
				ch <- fmt.Errorf("NVML: %v", r)
			}
		}()
		if ret := lib.Init(); ret != nvml.SUCCESS {
			ch <- fmt.Errorf("NVML: %s", lib.ErrorString(ret))
			return
		}
		ch <- nil
	}()
	select {
	case err := <-ch:
		if err != nil {
			return nil, err
		}
		return &NVMLMemory{lib: lib}, nil
	case <-ctx.Done():
		// An Init that returns late is balanced by its Shutdown.
		go func() {
			if <-ch == nil {
				lib.Shutdown()
			}
		}()
		return nil, fmt.Errorf("NVML did not initialise in time: %w", ctx.Err())
	}
}

// Close shuts NVML down.
func (m *NVMLMemory) Close() error {
	if ret := m.lib.Shutdown(); ret != nvml.SUCCESS {
		return errors.New("NVML shutdown: " + m.lib.ErrorString(ret))
	}
	return nil
}

// ProcessMemory sums UsedGpuMemory over the compute processes of every
// device that match pid.
func (m *NVMLMemory) ProcessMemory(pid int) (uint64, bool) {
	n, ret := m.lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return 0, false
	}
	var total uint64
	seen := false
	for i := 0; i < n; i++ {
		d, ret := m.lib.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			continue
		}
		procs, ret := d.GetComputeRunningProcesses()
		if ret != nvml.SUCCESS {
			continue
		}
		seen = true
		for _, p := range procs {
			if int(p.Pid) == pid {
				total += p.UsedGpuMemory
			}
		}
	}
	return total, seen
}
