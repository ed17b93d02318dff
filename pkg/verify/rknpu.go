package verify

import (
	"errors"
	"regexp"
	"strconv"

	"github.com/immich-accel/immich-accel/pkg/detect"
)

// rknpuLoadFiles are where Rockchip's rknpu driver reports the NPU load
// ("NPU load:  Core0: 35%, Core1:  0%, Core2:  0%," on RK3588, one figure
// on single-core SoCs): debugfs, and procfs on older BSP kernels
// (rknpu driver, drivers/rknpu/rknpu_debugger.c in Rockchip's BSP kernel).
var rknpuLoadFiles = []string{"/sys/kernel/debug/rknpu/load", "/proc/debug/rknpu/load"}

var reRKNPULoad = regexp.MustCompile(`(\d+)%`)

// rknpuSampler reads the NPU load; Busy is the busiest core.
type rknpuSampler struct {
	fs   detect.HostFS
	file string
}

func newRKNPUSampler(fs detect.HostFS) (*rknpuSampler, error) {
	var errs []error
	for _, f := range rknpuLoadFiles {
		if _, err := fs.ReadFile(f); err == nil {
			return &rknpuSampler{fs: fs, file: f}, nil
		} else {
			errs = append(errs, err)
		}
	}
	return nil, errors.Join(append([]error{errors.New("no readable RKNPU load file (debugfs is root-only; run with sudo)")}, errs...)...)
}

func (s *rknpuSampler) Name() string { return "Rockchip NPU load (" + s.file + ")" }

func (s *rknpuSampler) Close() {}

func (s *rknpuSampler) Sample([]int) (Reading, error) {
	txt, err := s.fs.ReadFile(s.file)
	if err != nil {
		return Reading{}, err
	}
	var r Reading
	for _, m := range reRKNPULoad.FindAllStringSubmatch(txt, -1) {
		n, err := strconv.Atoi(m[1])
		if err != nil || n > 100 {
			continue
		}
		r.BusyKnown = true
		r.Busy = max(r.Busy, float64(n))
	}
	if !r.BusyKnown {
		return r, errors.New(s.file + " holds no load percentage: " + snippet([]byte(txt)))
	}
	return r, nil
}
