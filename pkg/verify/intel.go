package verify

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/immich-accel/immich-accel/pkg/detect"
)

// intelSampler reads the DRM fdinfo of the container's processes
// (/proc/<pid>/fdinfo/<fd>), the per-client engine counters that i915 and
// xe publish as the kernel's DRM client usage stats describe
// (https://docs.kernel.org/gpu/drm-usage-stats.html): i915 gives
// drm-engine-<engine> busy nanoseconds (and drm-engine-capacity-<engine>),
// xe gives drm-cycles-<class> against drm-total-cycles-<class>. Busy is
// the busiest engine's share since the previous reading.
type intelSampler struct {
	fs   detect.HostFS
	now  func() time.Time
	prev map[string]drmClient // by pdev/client-id
	at   time.Time
}

// drmClient is one DRM client's counters.
type drmClient struct {
	driver   string
	engineNs map[string]uint64
	capacity map[string]uint64
	cycles   map[string]uint64
	total    map[string]uint64
	resident uint64 // bytes
}

func newIntelSampler(fs detect.HostFS, now func() time.Time) *intelSampler {
	return &intelSampler{fs: fs, now: now}
}

func (s *intelSampler) Name() string {
	return "Intel GPU engine busy time of the container's processes (DRM fdinfo, i915/xe)"
}

func (s *intelSampler) Close() {}

// intelDrivers are the DRM drivers of Intel GPUs.
var intelDrivers = map[string]bool{"i915": true, "xe": true}

func (s *intelSampler) clients(pids []int) map[string]drmClient {
	out := map[string]drmClient{}
	for _, pid := range pids {
		dir := fmt.Sprintf("/proc/%d/fdinfo", pid)
		for _, fd := range s.fs.ReadDirNames(dir) {
			txt, err := s.fs.ReadFile(dir + "/" + fd)
			if err != nil || !strings.Contains(txt, "drm-driver:") {
				continue
			}
			key, c, ok := parseFdinfo(txt)
			if !ok || !intelDrivers[c.driver] {
				continue
			}
			// Duplicated file descriptors show the same client once each.
			out[key] = c
		}
	}
	return out
}

// parseFdinfo reads one fdinfo file's DRM keys. The key is pdev/client-id.
func parseFdinfo(txt string) (string, drmClient, bool) {
	c := drmClient{engineNs: map[string]uint64{}, capacity: map[string]uint64{}, cycles: map[string]uint64{}, total: map[string]uint64{}}
	var id, pdev string
	for _, line := range strings.Split(txt, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case k == "drm-driver":
			c.driver = v
		case k == "drm-client-id":
			id = v
		case k == "drm-pdev":
			pdev = v
		case strings.HasPrefix(k, "drm-engine-capacity-"):
			if n, ok := fdNumber(v, ""); ok {
				c.capacity[strings.TrimPrefix(k, "drm-engine-capacity-")] = n
			}
		case strings.HasPrefix(k, "drm-engine-"):
			if n, ok := fdNumber(v, "ns"); ok {
				c.engineNs[strings.TrimPrefix(k, "drm-engine-")] = n
			}
		case strings.HasPrefix(k, "drm-total-cycles-"):
			if n, ok := fdNumber(v, ""); ok {
				c.total[strings.TrimPrefix(k, "drm-total-cycles-")] = n
			}
		case strings.HasPrefix(k, "drm-cycles-"):
			if n, ok := fdNumber(v, ""); ok {
				c.cycles[strings.TrimPrefix(k, "drm-cycles-")] = n
			}
		case strings.HasPrefix(k, "drm-resident-"):
			c.resident += fdBytes(v)
		}
	}
	if c.driver == "" || id == "" {
		return "", c, false
	}
	return pdev + "/" + id, c, true
}

// fdNumber parses "<n>" or "<n> <unit>" with the given unit.
func fdNumber(v, unit string) (uint64, bool) {
	f := strings.Fields(v)
	if len(f) == 0 || len(f) > 2 || (len(f) == 2 && f[1] != unit) {
		return 0, false
	}
	n, err := strconv.ParseUint(f[0], 10, 64)
	return n, err == nil
}

// fdBytes parses a memory value: "<n>", "<n> KiB" or "<n> MiB".
func fdBytes(v string) uint64 {
	f := strings.Fields(v)
	if len(f) == 0 {
		return 0
	}
	n, err := strconv.ParseUint(f[0], 10, 64)
	if err != nil {
		return 0
	}
	if len(f) == 2 {
		switch f[1] {
		case "KiB":
			n <<= 10
		case "MiB":
			n <<= 20
		}
	}
	return n
}

func (s *intelSampler) Sample(pids []int) (Reading, error) {
	now := s.now()
	cur := s.clients(pids)
	var r Reading
	for _, c := range cur {
		r.Mem += c.resident
	}
	r.MemKnown = r.Mem > 0
	prev, at := s.prev, s.at
	s.prev, s.at = cur, now
	if prev == nil {
		if len(cur) == 0 {
			r.Note = "no process of the container has the Intel GPU open"
		}
		return r, nil
	}
	wall := now.Sub(at)
	if wall <= 0 {
		return r, errors.New("fdinfo readings taken at the same instant")
	}
	// Per engine, the busy time (or cycles) the container's clients added.
	busyNs := map[string]uint64{}
	capacity := map[string]uint64{}
	cyc, tot := map[string]uint64{}, map[string]uint64{}
	for key, c := range cur {
		p, ok := prev[key]
		if !ok {
			continue // a new client: its counters started before it was seen
		}
		for e, n := range c.engineNs {
			if n >= p.engineNs[e] {
				busyNs[e] += n - p.engineNs[e]
			}
			if k := c.capacity[e]; k > 1 {
				capacity[e] = k
			}
		}
		for e, n := range c.cycles {
			if n >= p.cycles[e] && c.total[e] > p.total[e] {
				cyc[e] += n - p.cycles[e]
				tot[e] = max(tot[e], c.total[e]-p.total[e])
			}
		}
	}
	r.BusyKnown = true
	for e, ns := range busyNs {
		k := max(capacity[e], 1)
		r.Busy = max(r.Busy, min(100, float64(ns)/float64(wall.Nanoseconds())/float64(k)*100))
	}
	for e, n := range cyc {
		r.Busy = max(r.Busy, min(100, float64(n)/float64(tot[e])*100))
	}
	if len(cur) == 0 {
		r.Note = "no process of the container has the Intel GPU open"
	}
	return r, nil
}
