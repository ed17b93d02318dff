package verify

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"

	"github.com/immich-accel/immich-accel/pkg/accel"
	"github.com/immich-accel/immich-accel/pkg/detect"
)

const testID = "9a1f3c5e7b2d4f6a8c0e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a"

// hostTree copies testdata/hosts/<name>/root into a temporary directory,
// so a test can move counters forward.
func hostTree(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("testdata", "hosts", name, "root")
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func write(t *testing.T, root, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, p), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCgroupV2(t *testing.T) {
	root := hostTree(t, "amd-rx7900")
	fs := detect.NewHostFS(root)
	cg, err := findCgroup(fs, 4242, testID)
	if err != nil {
		t.Fatal(err)
	}
	if cg.v1 || cg.dir != "/sys/fs/cgroup/system.slice/docker-"+testID+".scope" {
		t.Fatalf("cgroup = %+v", cg)
	}
	cpu, err := cg.cpu()
	if err != nil || cpu != 81234567*time.Microsecond {
		t.Fatalf("cpu = %v, %v", cpu, err)
	}
	if p := cg.pids(); len(p) != 2 || p[0] != 4242 || p[1] != 4250 {
		t.Fatalf("pids = %v", p)
	}
	// Without a readable /proc/<pid>/cgroup, the systemd driver's path by id.
	if err := os.Remove(filepath.Join(root, "proc/4242/cgroup")); err != nil {
		t.Fatal(err)
	}
	if cg, err := findCgroup(fs, 4242, testID); err != nil || cg.dir != "/sys/fs/cgroup/system.slice/docker-"+testID+".scope" {
		t.Fatalf("by id: %+v, %v", cg, err)
	}
	if _, err := findCgroup(fs, 4242, "0000"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("unknown container: %v", err)
	}
}

func TestCgroupV1(t *testing.T) {
	fs := detect.NewHostFS(hostTree(t, "rk3588-npu"))
	cg, err := findCgroup(fs, 4242, testID)
	if err != nil {
		t.Fatal(err)
	}
	if !cg.v1 || cg.dir != "/sys/fs/cgroup/cpu,cpuacct/docker/"+testID {
		t.Fatalf("cgroup = %+v", cg)
	}
	if cpu, err := cg.cpu(); err != nil || cpu != 42*time.Second {
		t.Fatalf("cpu = %v, %v", cpu, err)
	}
}

func TestCgroupBadCPUStat(t *testing.T) {
	root := hostTree(t, "amd-rx7900")
	write(t, root, "sys/fs/cgroup/system.slice/docker-"+testID+".scope/cpu.stat", "user_usec 12\n")
	if _, err := findCgroup(detect.NewHostFS(root), 4242, testID); err == nil {
		t.Fatal("a cpu.stat without usage_usec was accepted")
	}
}

func TestAMDSampler(t *testing.T) {
	root := hostTree(t, "amd-rx7900")
	s, err := newAMDSampler(detect.NewHostFS(root))
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Sample(nil)
	if err != nil || !r.BusyKnown || r.Busy != 63 || r.Mem != 2<<30 {
		t.Fatalf("reading = %+v, %v", r, err)
	}
	write(t, root, "sys/class/drm/card1/device/gpu_busy_percent", "garbage\n")
	if _, err := s.Sample(nil); err == nil || !strings.Contains(err.Error(), "not a number") {
		t.Fatalf("garbage busy file: %v", err)
	}
	if _, err := newAMDSampler(detect.NewHostFS(t.TempDir())); err == nil {
		t.Fatal("a host without amdgpu gave a sampler")
	}
}

func TestIntelSamplerI915(t *testing.T) {
	root := hostTree(t, "intel-arc-i915")
	clock := time.Unix(1000, 0)
	s := newIntelSampler(detect.NewHostFS(root), func() time.Time { return clock })
	r, err := s.Sample([]int{4242, 4250})
	if err != nil || r.BusyKnown {
		t.Fatalf("first reading = %+v, %v (it only primes the counters)", r, err)
	}
	if r.Mem != 512<<20 {
		t.Fatalf("resident memory = %d, want the one client's 512 MiB once", r.Mem)
	}
	// One second later the render engine was busy 400 ms, compute 700 ms.
	clock = clock.Add(time.Second)
	fd := strings.NewReplacer("drm-engine-render:\t1000000000 ns", "drm-engine-render:\t1400000000 ns",
		"drm-engine-compute:\t5000000000 ns", "drm-engine-compute:\t5700000000 ns")
	b, _ := os.ReadFile(filepath.Join(root, "proc/4250/fdinfo/7"))
	for _, n := range []string{"7", "8"} {
		write(t, root, "proc/4250/fdinfo/"+n, fd.Replace(string(b)))
	}
	r, err = s.Sample([]int{4242, 4250})
	if err != nil || !r.BusyKnown {
		t.Fatalf("reading = %+v, %v", r, err)
	}
	if r.Busy < 69.9 || r.Busy > 70.1 {
		t.Fatalf("busy = %.2f%%, want 70%% (the compute engine; a duplicated fd counted once, the AMD client not at all)", r.Busy)
	}
	// A process that is not the container's is not counted.
	clock = clock.Add(time.Second)
	if r, _ := s.Sample([]int{4242}); !r.BusyKnown || r.Busy != 0 || r.Note == "" {
		t.Fatalf("reading without the worker = %+v", r)
	}
}

func TestIntelSamplerXe(t *testing.T) {
	root := hostTree(t, "intel-xe")
	clock := time.Unix(1000, 0)
	s := newIntelSampler(detect.NewHostFS(root), func() time.Time { return clock })
	if _, err := s.Sample([]int{4250}); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(500 * time.Millisecond)
	write(t, root, "proc/4250/fdinfo/5", "drm-driver:\txe\ndrm-client-id:\t4\ndrm-pdev:\t0000:00:02.0\ndrm-resident-gtt:\t16 MiB\n"+
		"drm-cycles-rcs:\t150000\ndrm-total-cycles-rcs:\t2000000\ndrm-cycles-ccs:\t800000\ndrm-total-cycles-ccs:\t2000000\n")
	r, err := s.Sample([]int{4250})
	if err != nil || !r.BusyKnown || r.Busy != 60 || r.Mem != 16<<20 {
		t.Fatalf("reading = %+v, %v; want ccs 60%% busy, 16 MiB", r, err)
	}
}

func TestRKNPUSampler(t *testing.T) {
	root := hostTree(t, "rk3588-npu")
	s, err := newRKNPUSampler(detect.NewHostFS(root))
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Sample(nil)
	if err != nil || r.Busy != 35 {
		t.Fatalf("reading = %+v, %v; want the busiest core, 35%%", r, err)
	}
	write(t, root, "sys/kernel/debug/rknpu/load", "NPU load:  0%\n")
	if r, err := s.Sample(nil); err != nil || !r.BusyKnown || r.Busy != 0 {
		t.Fatalf("single-core idle = %+v, %v", r, err)
	}
	write(t, root, "sys/kernel/debug/rknpu/load", "permission denied?\n")
	if _, err := s.Sample(nil); err == nil {
		t.Fatal("a load file without a percentage was accepted")
	}
	if _, err := newRKNPUSampler(detect.NewHostFS(t.TempDir())); err == nil || !strings.Contains(err.Error(), "sudo") {
		t.Fatalf("no load file: %v", err)
	}
}

func nvmlMock(util []uint32, procs [][]nvml.ProcessInfo) *mock.Interface {
	return &mock.Interface{
		InitFunc:           func() nvml.Return { return nvml.SUCCESS },
		ShutdownFunc:       func() nvml.Return { return nvml.SUCCESS },
		DeviceGetCountFunc: func() (int, nvml.Return) { return len(util), nvml.SUCCESS },
		DeviceGetHandleByIndexFunc: func(i int) (nvml.Device, nvml.Return) {
			return &mock.Device{
				GetUtilizationRatesFunc: func() (nvml.Utilization, nvml.Return) {
					return nvml.Utilization{Gpu: util[i], Memory: 10}, nvml.SUCCESS
				},
				GetComputeRunningProcessesFunc: func() ([]nvml.ProcessInfo, nvml.Return) { return procs[i], nvml.SUCCESS },
			}, nvml.SUCCESS
		},
	}
}

func TestNVIDIASampler(t *testing.T) {
	// GPU 0 runs someone else's job at 90%; the container's worker is on GPU 1.
	lib := nvmlMock([]uint32{90, 45}, [][]nvml.ProcessInfo{
		{{Pid: 999, UsedGpuMemory: 8 << 30}},
		{{Pid: 4250, UsedGpuMemory: 1500 << 20}, {Pid: 998, UsedGpuMemory: 1 << 30}},
	})
	s, err := newNVIDIASampler(lib)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := s.Sample([]int{4242, 4250})
	if err != nil || r.Busy != 45 || r.Mem != 1500<<20 || r.Note != "" {
		t.Fatalf("reading = %+v, %v; want GPU 1's 45%% and the worker's 1500 MiB", r, err)
	}
	// No process of the container listed (WSL2): the busiest GPU, said so.
	r, err = s.Sample([]int{7})
	if err != nil || r.Busy != 90 || r.MemKnown || r.Note == "" {
		t.Fatalf("reading = %+v, %v", r, err)
	}
	if len(lib.ShutdownCalls()) != 0 {
		t.Fatal("NVML shut down while in use")
	}
}

func TestNVIDIASamplerFailures(t *testing.T) {
	bad := &mock.Interface{InitFunc: func() nvml.Return { return nvml.ERROR_DRIVER_NOT_LOADED }}
	if _, err := newNVIDIASampler(bad); err == nil {
		t.Fatal("NVML init failure not reported")
	}
	panicky := &mock.Interface{InitFunc: func() nvml.Return { panic("boom") }}
	if _, err := newNVIDIASampler(panicky); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("panic: %v", err)
	}
	none := nvmlMock(nil, nil)
	if _, err := newNVIDIASampler(none); err == nil || len(none.ShutdownCalls()) != 1 {
		t.Fatalf("no GPU: %v (shutdown calls %d)", err, len(none.ShutdownCalls()))
	}
}

// stuckSampler never returns from a reading until released.
type stuckSampler struct{ release chan struct{} }

func (s stuckSampler) Name() string { return "stuck" }
func (s stuckSampler) Close()       {}
func (s stuckSampler) Sample([]int) (Reading, error) {
	<-s.release
	return Reading{}, nil
}

func TestWatchGivesUpOnAStuckDevice(t *testing.T) {
	s := stuckSampler{release: make(chan struct{})}
	defer close(s.release)
	w := startWatch(s, func() []int { return nil }, 10*time.Millisecond)
	start := time.Now()
	u := w.finish(context.Background(), 50*time.Millisecond)
	if time.Since(start) > 2*time.Second || !strings.Contains(u.Error, "stopped answering") {
		t.Fatalf("finish = %+v after %s", u, time.Since(start))
	}
}

func TestMonitorPicksTheBackendsReader(t *testing.T) {
	d := &detailsView{id: testID, pid: 4242}
	cases := []struct {
		backend accel.Backend
		tree    string
		nvml    nvml.Interface
		source  string // substring; "" means unmeasured
		why     string
	}{
		{accel.ROCm, "amd-rx7900", nil, "gpu_busy_percent", ""},
		{accel.OpenVINO, "intel-arc-i915", nil, "fdinfo", ""},
		{accel.RKNN, "rk3588-npu", nil, "rknpu/load", ""},
		{accel.CUDA, "nvidia-desktop", nvmlMock([]uint32{1}, [][]nvml.ProcessInfo{nil}), "", "another root"},
		{accel.ARMNN, "rk3588-npu", nil, "", "Mali"},
		{accel.CPU, "amd-rx7900", nil, "", "CPU image"},
		{accel.ROCm, "intel-xe", nil, "", "amdgpu"},
	}
	for _, tc := range cases {
		t.Run(string(tc.backend)+"/"+tc.tree, func(t *testing.T) {
			m := newMonitor(Env{HostFS: detect.NewHostFS(hostTree(t, tc.tree)), NVML: tc.nvml}, tc.backend, d, time.Now)
			defer m.close()
			if m.cg == nil {
				t.Fatalf("no cgroup: %s", m.device.CPU)
			}
			if tc.source != "" && !strings.Contains(m.device.Source, tc.source) {
				t.Fatalf("source = %q, unmeasured %q", m.device.Source, m.device.Unmeasured)
			}
			if tc.source == "" && (m.device.Source != "" || !strings.Contains(m.device.Unmeasured, tc.why)) {
				t.Fatalf("source = %q, unmeasured = %q, want a reason with %q", m.device.Source, m.device.Unmeasured, tc.why)
			}
		})
	}
}

// On a host with an NVIDIA driver, the sampler reads the real GPUs.
func TestNVIDIASamplerRealNVML(t *testing.T) {
	s, err := newNVIDIASampler(detect.NVML())
	if err != nil {
		t.Skipf("no usable NVIDIA driver here: %v", err)
	}
	defer s.Close()
	r, err := s.Sample([]int{os.Getpid()})
	if err != nil || !r.BusyKnown || r.Busy < 0 || r.Busy > 100 {
		t.Fatalf("reading = %+v, %v", r, err)
	}
}
