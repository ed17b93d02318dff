package verify

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/immich-accel/immich-accel/pkg/detect"
)

// amdSampler reads AMD GPUs through amdgpu's sysfs files: gpu_busy_percent
// (the GPU's busy percentage now) and mem_info_vram_used (bytes), as the
// kernel's amdgpu documentation describes them
// (https://docs.kernel.org/gpu/amdgpu/driver-misc.html).
type amdSampler struct {
	fs    detect.HostFS
	cards []string // /sys/class/drm/cardN/device
}

func newAMDSampler(fs detect.HostFS) (*amdSampler, error) {
	s := &amdSampler{fs: fs}
	for _, p := range fs.Glob("/sys/class/drm/card*/device/gpu_busy_percent") {
		s.cards = append(s.cards, path.Dir(p))
	}
	if len(s.cards) == 0 {
		return nil, errors.New("no /sys/class/drm/card*/device/gpu_busy_percent (amdgpu driver not loaded?)")
	}
	return s, nil
}

func (s *amdSampler) Name() string {
	return fmt.Sprintf("AMD GPU busy percentage and VRAM (sysfs gpu_busy_percent, mem_info_vram_used; %d GPU(s))", len(s.cards))
}

func (s *amdSampler) Close() {}

func (s *amdSampler) Sample([]int) (Reading, error) {
	var r Reading
	var firstErr error
	for _, c := range s.cards {
		busy, err := readUint(s.fs, c+"/gpu_busy_percent")
		if err != nil {
			firstErr = err
			continue
		}
		r.BusyKnown = true
		r.Busy = max(r.Busy, float64(busy))
		if vram, err := readUint(s.fs, c+"/mem_info_vram_used"); err == nil {
			r.Mem += vram
			r.MemKnown = true
		}
	}
	if !r.BusyKnown {
		return r, firstErr
	}
	return r, nil
}

// readUint reads a file holding one unsigned number.
func readUint(fs detect.HostFS, p string) (uint64, error) {
	s, err := fs.ReadFile(p)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", p, err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("reading %s: not a number: %q", p, snippet([]byte(s)))
	}
	return n, nil
}
