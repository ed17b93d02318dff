package detect_test

import (
	"context"
	"errors"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"

	"github.com/immich-accel/immich-accel/internal/docker"
	"github.com/immich-accel/immich-accel/internal/testenv"
	"github.com/immich-accel/immich-accel/pkg/detect"
	"github.com/immich-accel/immich-accel/pkg/detect/detecttest"
)

const hostsDir = "../../testdata/hosts"

func load(t testing.TB, name string) *detecttest.Scenario {
	t.Helper()
	sc, err := detecttest.Load(filepath.Join(hostsDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func run(t testing.TB, sc *detecttest.Scenario, extra ...detect.Option) *detect.Report {
	t.Helper()
	opts := append(sc.Options(), detect.WithTimeout(200*time.Millisecond))
	return detect.New(append(opts, extra...)...).Run(context.Background())
}

func TestScenarios(t *testing.T) {
	tests := []struct {
		host     string
		backend  string
		ready    bool
		runnerUp string
		hwReady  bool
		checks   map[string]detect.Status
		facts    func(t *testing.T, h detect.HostFacts)
	}{
		{host: "no-gpu-server", backend: "cpu", ready: true, checks: map[string]detect.Status{
			"nvidia-driver": detect.StatusSkip, "intel-gpu": detect.StatusSkip, "docker-daemon": detect.StatusOK, "cpu": detect.StatusOK}},
		{host: "nvidia-desktop", backend: "cuda", ready: true, runnerUp: "cpu", hwReady: true, checks: map[string]detect.Status{
			"nvidia-driver": detect.StatusOK, "nvidia-gpu": detect.StatusOK, "nvidia-toolkit": detect.StatusOK,
			"ml-providers": detect.StatusOK, "compose-backend": detect.StatusOK},
			facts: func(t *testing.T, h detect.HostFacts) {
				if h.NVIDIAGPUs != 1 || h.NVIDIADriver != "550.120" || h.CUDADriver != "12.4" {
					t.Errorf("NVIDIA facts = %d GPUs, driver %q, CUDA %q", h.NVIDIAGPUs, h.NVIDIADriver, h.CUDADriver)
				}
			}},
		{host: "nvidia-no-toolkit", backend: "cuda", ready: false, runnerUp: "openvino", hwReady: true, checks: map[string]detect.Status{
			"nvidia-toolkit": detect.StatusFail, "nvidia-driver": detect.StatusOK, "intel-gpu": detect.StatusOK,
			"ml-container": detect.StatusFail, "compose-backend": detect.StatusWarn}},
		{host: "nvidia-old-driver", backend: "cuda", ready: false, checks: map[string]detect.Status{
			"nvidia-driver": detect.StatusFail, "nvidia-gpu": detect.StatusOK}},
		{host: "nvidia-gt710", backend: "cpu", ready: true, checks: map[string]detect.Status{
			"nvidia-gpu": detect.StatusFail, "nvidia-driver": detect.StatusFail}},
		{host: "nvidia-rtx5090", backend: "cuda", ready: true, hwReady: true, checks: map[string]detect.Status{
			"nvidia-gpu": detect.StatusWarn, "nvidia-toolkit": detect.StatusOK}},
		{host: "nvidia-no-driver", backend: "cuda", ready: false, checks: map[string]detect.Status{
			"nvidia-driver": detect.StatusFail, "nvidia-gpu": detect.StatusSkip},
			facts: func(t *testing.T, h detect.HostFacts) {
				if h.NVIDIAGPUs != 1 {
					t.Errorf("NVIDIAGPUs = %d, want 1 counted from PCI", h.NVIDIAGPUs)
				}
			}},
		{host: "wsl2-nvidia", backend: "cuda", ready: true, hwReady: true, checks: map[string]detect.Status{
			"platform-os": detect.StatusOK, "nvidia-toolkit": detect.StatusOK, "nvidia-driver": detect.StatusOK},
			facts: func(t *testing.T, h detect.HostFacts) {
				if !h.WSL || !h.Docker.Desktop {
					t.Errorf("WSL=%v Desktop=%v, want both", h.WSL, h.Docker.Desktop)
				}
			}},
		{host: "wsl2-intel", backend: "openvino-wsl", ready: true, hwReady: true, checks: map[string]detect.Status{
			"intel-gpu": detect.StatusOK, "docker-daemon": detect.StatusFail, "compose-backend": detect.StatusFail},
			facts: func(t *testing.T, h detect.HostFacts) {
				if !h.WSL || h.RenderGID != 109 || h.VideoGID != 44 {
					t.Errorf("WSL=%v render=%d video=%d", h.WSL, h.RenderGID, h.VideoGID)
				}
			}},
		{host: "intel-n100", backend: "openvino", ready: true, hwReady: true, checks: map[string]detect.Status{
			"intel-gpu": detect.StatusOK, "ml-providers": detect.StatusOK, "compose-backend": detect.StatusOK}},
		{host: "intel-arc", backend: "openvino", ready: true, hwReady: true, checks: map[string]detect.Status{
			"intel-gpu": detect.StatusOK, "ml-providers": detect.StatusFail, "compose-suffix-without-section": detect.StatusFail}},
		{host: "amd-rocm", backend: "rocm", ready: false, checks: map[string]detect.Status{
			"amd-gpu": detect.StatusOK, "amd-gfx": detect.StatusWarn},
			facts: func(t *testing.T, h detect.HostFacts) {
				if !h.KFD || len(h.GFXTargets) != 1 || h.GFXTargets[0] != "gfx1031" {
					t.Errorf("KFD=%v targets=%v, want gfx1031", h.KFD, h.GFXTargets)
				}
			}},
		{host: "rk3588-mali", backend: "rknn", ready: true, runnerUp: "armnn", hwReady: true, checks: map[string]detect.Status{
			"rknn-soc": detect.StatusOK, "rknn-driver": detect.StatusOK, "mali-device": detect.StatusOK,
			"mali-libmali": detect.StatusOK, "mali-firmware": detect.StatusOK},
			facts: func(t *testing.T, h detect.HostFacts) {
				if h.Arch != "arm64" || h.LibMaliPath != "/usr/lib/libmali.so" || !h.MaliFirmware || h.SoC != "rk3588" || h.RKNPUDriver != "0.9.8" {
					t.Errorf("facts = %+v", h)
				}
				if h.CPUModel != "ARM Cortex-A55 + ARM Cortex-A76" || h.CPUCores != 8 || !contains(h.CPUFlags, "asimd") {
					t.Errorf("CPU = %q, %d cores, flags %v; want both kinds of core, 8 cores, NEON", h.CPUModel, h.CPUCores, h.CPUFlags)
				}
			}},
		{host: "mali-libmali-elsewhere", backend: "armnn", ready: true, hwReady: true, checks: map[string]detect.Status{
			"mali-libmali": detect.StatusWarn, "mali-firmware": detect.StatusOK, "rknn-soc": detect.StatusSkip,
			"compose-backend": detect.StatusFail, "ml-providers": detect.StatusFail},
			facts: func(t *testing.T, h detect.HostFacts) {
				if h.LibMaliPath != "/usr/lib/aarch64-linux-gnu/libmali.so.1" || h.MaliFirmware {
					t.Errorf("LibMaliPath=%q MaliFirmware=%v", h.LibMaliPath, h.MaliFirmware)
				}
			}},
		{host: "mali-panfrost", backend: "armnn", ready: false, checks: map[string]detect.Status{
			"mali-device": detect.StatusFail, "rknn-soc": detect.StatusFail}},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			r := run(t, load(t, tt.host))
			rec := r.Recommendation
			if string(rec.Backend) != tt.backend || rec.Ready != tt.ready {
				t.Errorf("recommendation = %s (ready %v), want %s (ready %v): %s", rec.Backend, rec.Ready, tt.backend, tt.ready, rec.Reason)
			}
			if tt.runnerUp != "" && string(rec.RunnerUp) != tt.runnerUp {
				t.Errorf("runner-up = %q, want %q", rec.RunnerUp, tt.runnerUp)
			}
			if r.HardwareReady() != tt.hwReady {
				t.Errorf("HardwareReady = %v, want %v", r.HardwareReady(), tt.hwReady)
			}
			for id, want := range tt.checks {
				c := r.Check(detect.CheckID(id))
				if c == nil {
					t.Errorf("no check %s", id)
					continue
				}
				if c.Status != want {
					t.Errorf("%s = %s (%s), want %s", id, c.Status, c.Finding, want)
				}
				if (c.Status == detect.StatusFail || c.Status == detect.StatusWarn) && c.Fix == "" && c.Run == nil && id != "ml-container" {
					t.Logf("%s has no fix: %s", id, c.Finding)
				}
			}
			for _, c := range r.Checks {
				if c.ID == "" || c.Finding == "" {
					t.Errorf("check without id or finding: %+v", c)
				}
				if c.Status == detect.StatusFail && c.Fix == "" && c.Run == nil {
					t.Errorf("failed check %s has no fix: %s", c.ID, c.Finding)
				}
			}
			if tt.facts != nil {
				tt.facts(t, r.Host)
			}
		})
	}
}

// Advice must be possible to follow: no driver upgrade for a GPU that no
// new driver supports, no RKNPU driver hunt on an SoC RKNN does not support,
// no rknn suggestion where the NPU is unsupported.
func TestFixesAreFollowable(t *testing.T) {
	r := run(t, load(t, "nvidia-gt710"))
	if c := r.Check("nvidia-driver"); c.Status != detect.StatusFail || strings.Contains(c.Fix, "Upgrade") || !strings.Contains(c.Fix, "No driver upgrade helps") {
		t.Errorf("nvidia-driver on a GT 710 = %+v", c)
	}
	r = run(t, load(t, "nvidia-old-driver"))
	if c := r.Check("nvidia-driver"); !strings.Contains(c.Fix, "Upgrade the NVIDIA driver to 545") {
		t.Errorf("nvidia-driver on a supported GPU with driver 535 = %+v", c)
	}
	r = run(t, load(t, "mali-panfrost"))
	if c := r.Check("rknn-driver"); c.Status != detect.StatusSkip || !strings.Contains(c.Finding, "RK3399") {
		t.Errorf("rknn-driver on an RK3399 = %+v, want skip", c)
	}
	if c := r.Check("mali-device"); strings.Contains(c.Fix, "rknn") {
		t.Errorf("mali-device on an RK3399 suggests rknn: %q", c.Fix)
	}
}

// Device nodes this user cannot open (not in the render/video groups) are
// reported with the groups to join, for Intel and AMD alike.
func TestRenderAccessDenied(t *testing.T) {
	deny := detect.WithAccess(func(string) error { return os.ErrPermission })
	for host, id := range map[string]string{"intel-n100": "intel-render-access", "amd-rocm": "amd-render-access"} {
		r := run(t, load(t, host))
		if c := r.Check(detect.CheckID(id)); c == nil || c.Status != detect.StatusOK {
			t.Errorf("%s on %s = %+v, want ok", id, host, c)
		}
		r = run(t, load(t, host), deny)
		c := r.Check(detect.CheckID(id))
		if c == nil || c.Status != detect.StatusWarn || !strings.Contains(c.Finding, "cannot open /dev/dri/renderD128") || !strings.Contains(c.Fix, "usermod -aG render,video") {
			t.Errorf("%s on %s with access denied = %+v", id, host, c)
		}
		if host == "amd-rocm" && !strings.Contains(c.Finding, "/dev/kfd") {
			t.Errorf("amd-render-access does not name /dev/kfd: %q", c.Finding)
		}
	}
}

// A daemon that accepts connections but never answers must not hang doctor.
func TestHangingDockerIsBounded(t *testing.T) {
	sc := load(t, "broken-proc")
	start := time.Now()
	r := detect.New(append(sc.Options(), detect.WithTimeout(100*time.Millisecond))...).Run(context.Background())
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Run took %s with a hanging daemon and a 100ms timeout", d)
	}
	c := r.Check("docker-daemon")
	if c == nil || c.Status != detect.StatusFail {
		t.Fatalf("docker-daemon = %+v, want fail", c)
	}
	if r.Check("ml-container").Status != detect.StatusSkip {
		t.Errorf("ml-container should be skipped when the daemon does not answer")
	}
}

// The same through the real Docker client: a socket that accepts
// connections and never answers, and a Compose plugin that hangs with a
// child process holding its output open. Run returns soon after the
// timeout with both reported.
func TestRealHangsAreBounded(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("linux only")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // read nothing, answer nothing
			mu.Unlock()
		}
	}()
	plug := filepath.Join(dir, "home", ".docker", "cli-plugins", "docker-compose")
	if err := os.MkdirAll(filepath.Dir(plug), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(plug, []byte("#!/bin/sh\nsleep 30 &\nexec sleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DOCKER_HOST": "unix://" + sock, "HOME": filepath.Join(dir, "home"), "PATH": os.Getenv("PATH")}
	start := time.Now()
	r := detect.New(detect.WithNVML(nil), detect.WithTimeout(300*time.Millisecond),
		detect.WithGetenv(func(k string) string { return env[k] })).Run(context.Background())
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %s with a silent daemon, a hanging plugin and a 300ms timeout", d)
	}
	if c := r.Check("docker-daemon"); c.Status != detect.StatusFail || !strings.Contains(c.Finding, "did not answer") {
		t.Errorf("docker-daemon = %+v", c)
	}
	if c := r.Check("docker-compose"); c.Status == detect.StatusOK {
		t.Errorf("docker-compose = %+v, want a problem reported", c)
	}
}

// Malformed and unreadable /proc files give clear results, not panics.
func TestMalformedHost(t *testing.T) {
	r := run(t, load(t, "broken-proc"))
	for id, want := range map[string]detect.Status{
		"platform-os": detect.StatusWarn, "platform-arch": detect.StatusWarn, "cpu": detect.StatusWarn,
		"docker-runtimes": detect.StatusWarn, "rknn-soc": detect.StatusSkip,
	} {
		if c := r.Check(detect.CheckID(id)); c == nil || c.Status != want {
			t.Errorf("%s = %+v, want %s", id, c, want)
		}
	}
	if c := r.Check("internal-error"); c != nil {
		t.Errorf("a probe panicked: %s", c.Finding)
	}
	if r.Recommendation.Backend != "cpu" {
		t.Errorf("recommendation %q, want cpu", r.Recommendation.Backend)
	}
}

func TestUnreadableCPUInfo(t *testing.T) {
	if os.Geteuid() == 0 {
		// Root reads files whatever their mode: the check runs again in a
		// child process as nobody, where permissions hold.
		asNobody(t, "TestUnreadableCPUInfo")
		return
	}
	root := t.TempDir()
	p := filepath.Join(root, "proc", "cpuinfo")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("processor\t: 0\n"), 0o000); err != nil {
		t.Fatal(err)
	}
	r := detect.New(detect.WithRoot(root), detect.WithNVML(nil), detect.WithDocker(nil)).Run(context.Background())
	c := r.Check("cpu")
	if c.Status != detect.StatusWarn || c.Finding != "cannot read /proc/cpuinfo: permission denied" {
		t.Errorf("cpu = %+v", c)
	}
}

// asNobody runs the test named test again in a child process as the
// unprivileged user nobody (65534), from a copy of the test binary that
// user can execute, and fails when the child does not pass.
func asNobody(t *testing.T, test string) {
	t.Helper()
	dir := t.TempDir()
	// The test's temporary directory and its parent are private to root.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "detect.test")
	src, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, src, 0o755); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^"+test+"$", "-test.v", "-test.count=1")
	cmd.Dir = home
	cmd.Env = append(os.Environ(), "TMPDIR="+home, "HOME="+home)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if errors.Is(err, syscall.EPERM) {
		testenv.Unavailable(t, "cannot start a process as nobody here: %v", err)
	}
	if err != nil {
		t.Fatalf("%s as nobody: %v\n%s", test, err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+test) {
		t.Fatalf("%s did not run as nobody:\n%s", test, out)
	}
}

func TestEmptyRoot(t *testing.T) {
	r := detect.New(detect.WithRoot(t.TempDir()), detect.WithDocker(nil)).Run(context.Background())
	if c := r.Check("nvidia-driver"); c.Status != detect.StatusSkip {
		t.Errorf("nvidia-driver on an empty root = %+v", c)
	}
	if r.Recommendation.Backend != "cpu" {
		t.Errorf("recommendation %q, want cpu", r.Recommendation.Backend)
	}
	if len(r.Checks) < 20 {
		t.Errorf("only %d checks", len(r.Checks))
	}
}

// Under another root, NVML is not loaded: the report says so instead.
func TestNoNVMLUnderAnotherRoot(t *testing.T) {
	sc := load(t, "nvidia-desktop")
	r := detect.New(detect.WithRoot(sc.Root), detect.WithDocker(nil)).Run(context.Background())
	c := r.Check("nvidia-driver")
	if c.Status != detect.StatusSkip || c.Finding != "driver not queried: NVML is not loaded when host files are read under another root" {
		t.Errorf("nvidia-driver = %+v", c)
	}
	if b := r.Backend("cuda"); b.State == detect.BackendReady {
		t.Errorf("cuda is ready without a driver check: %+v", b)
	}
}

func TestNVMLMissingLibrary(t *testing.T) {
	sc := load(t, "nvidia-desktop")
	m, _ := detecttest.NewNVML(detecttest.NVMLHost{Init: "ERROR_LIBRARY_NOT_FOUND"})
	r := run(t, sc, detect.WithNVML(m))
	c := r.Check("nvidia-driver")
	if c.Status != detect.StatusFail || c.Fix == "" {
		t.Errorf("nvidia-driver = %+v, want fail with a fix", c)
	}
	if r.Recommendation.Backend != "cuda" || r.Recommendation.Ready {
		t.Errorf("recommendation = %+v, want cuda, not ready", r.Recommendation)
	}
}

func TestNVMLThatHangsIsBounded(t *testing.T) {
	sc := load(t, "nvidia-desktop")
	block := make(chan struct{})
	defer close(block)
	m := &mock.Interface{InitFunc: func() nvml.Return { <-block; return nvml.SUCCESS }}
	start := time.Now()
	r := detect.New(append(sc.Options(), detect.WithNVML(m), detect.WithTimeout(100*time.Millisecond))...).Run(context.Background())
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Run took %s", d)
	}
	if c := r.Check("nvidia-driver"); c.Status != detect.StatusFail {
		t.Errorf("nvidia-driver = %+v, want fail", c)
	}
}

func TestNVMLPanicIsContained(t *testing.T) {
	sc := load(t, "nvidia-desktop")
	m := &mock.Interface{InitFunc: func() nvml.Return { panic("boom") }}
	r := run(t, sc, detect.WithNVML(m))
	if c := r.Check("nvidia-driver"); c.Status != detect.StatusFail {
		t.Errorf("nvidia-driver = %+v, want fail", c)
	}
}

// ghw must never load or fetch pci.ids: IDs and drivers are enough.
func TestPCIWithoutDatabase(t *testing.T) {
	t.Setenv("PCIDB_ENABLE_NETWORK_FETCH", "1")
	t.Setenv("PCIDB_PATH", filepath.Join(t.TempDir(), "missing-pci.ids"))
	r := run(t, load(t, "intel-arc"))
	c := r.Check("intel-gpu")
	if c.Status != detect.StatusOK {
		t.Errorf("intel-gpu = %+v", c)
	}
	// The GPU came through ghw's PCI listing (render nodes alone would
	// not give its PCI address and driver line).
	if !contains(c.Detail, "PCI 0000:03:00.0 8086:56a0 driver i915") {
		t.Errorf("intel-gpu details lack the PCI device ghw lists: %v", c.Detail)
	}
	for _, d := range r.Check("platform-os").Detail {
		if strings.Contains(d, "PCI devices could not be listed") {
			t.Errorf("platform-os: %s", d)
		}
	}
}

func TestNonLinux(t *testing.T) {
	r := detect.New(detect.WithGOOS("darwin"), detect.WithRoot("/"), detect.WithNVML(nil), detect.WithDocker(nil)).Run(context.Background())
	if c := r.Check("platform-os"); c.Status != detect.StatusFail {
		t.Errorf("platform-os = %+v", c)
	}
}

func TestThisHost(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("linux only")
	}
	r := detect.New(detect.WithTimeout(500 * time.Millisecond)).Run(context.Background())
	if r.Check("cpu") == nil || r.Recommendation.Backend == "" {
		t.Errorf("incomplete report: %+v", r.Recommendation)
	}
	t.Logf("this host: %s (ready %v): %s", r.Recommendation.Backend, r.Recommendation.Ready, r.Recommendation.Reason)
}

// BenchmarkReport measures a full report on fake hosts; BenchmarkReadTree
// reads every file of the same tree once, as the peer to compare with.
func BenchmarkReport(b *testing.B) {
	for _, name := range []string{"nvidia-desktop", "rk3588-mali", "no-gpu-server"} {
		sc := load(b, name)
		d := detect.New(sc.Options()...)
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				d.Run(context.Background())
			}
		})
	}
}

func BenchmarkReadTree(b *testing.B) {
	sc := load(b, "nvidia-desktop")
	var files []string
	_ = filepath.Walk(sc.Root, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, f := range files {
			_, _ = os.ReadFile(f)
		}
	}
}

// Without --compose, a compose file in the working directory is inspected.
func TestComposeFileFromWorkDir(t *testing.T) {
	sc := load(t, "nvidia-desktop")
	wd := filepath.Dir(sc.Compose)
	opts := []detect.Option{detect.WithRoot(sc.Root), detect.WithNVML(sc.NVML), detect.WithDocker(sc.Docker),
		detect.WithWorkDir(wd), detect.WithTimeout(200 * time.Millisecond)}
	r := detect.New(opts...).Run(context.Background())
	c := r.Check("compose-file")
	if c == nil || c.Status != detect.StatusOK || c.Finding[:len(wd)] != wd {
		t.Fatalf("compose-file = %+v", c)
	}
	if b := r.Check("compose-backend"); b.Status != detect.StatusOK {
		t.Errorf("compose-backend = %+v", b)
	}
	// An empty directory: nothing to inspect.
	r = detect.New(detect.WithRoot(sc.Root), detect.WithNVML(sc.NVML), detect.WithDocker(sc.Docker), detect.WithWorkDir(t.TempDir())).Run(context.Background())
	if c := r.Check("compose-file"); c.Status != detect.StatusSkip {
		t.Errorf("compose-file in an empty directory = %+v", c)
	}
}

// A --compose path that does not exist is a failed check with a fix.
func TestComposeFileMissing(t *testing.T) {
	sc := load(t, "no-gpu-server")
	r := run(t, sc, detect.WithComposeFile(filepath.Join(t.TempDir(), "docker-compose.yml")))
	c := r.Check("compose-file")
	if c.Status != detect.StatusFail || c.Fix == "" {
		t.Errorf("compose-file = %+v", c)
	}
}

// With DOCKER_HOST set and no fake, the detector talks HTTP to the daemon
// through the real client.
func TestRealDockerClientThroughDockerHost(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/_ping", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("OK")) })
	mux.HandleFunc("/info", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"ServerVersion":"27.3.1","OperatingSystem":"Ubuntu 24.04.1 LTS","OSType":"linux","Architecture":"x86_64",
"DefaultRuntime":"runc","Runtimes":{"nvidia":{"path":"nvidia-container-runtime"},"runc":{"path":"runc"}}}`))
	})
	mux.HandleFunc("/containers/json", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`[{"Id":"abc123","Names":["/immich_machine_learning"],"Image":"ghcr.io/immich-app/immich-machine-learning:release-cuda","State":"running","Status":"Up 2 minutes"}]`))
	})
	mux.HandleFunc("/containers/abc123/logs", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("[11/20/25 09:31:45] INFO     Setting execution providers to ['CUDAExecutionProvider', 'CPUExecutionProvider'], in descending order of preference\n"))
	})
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	sc := load(t, "nvidia-desktop")
	env := map[string]string{"DOCKER_HOST": "unix://" + sock, "HOME": "/root"}
	r := detect.New(detect.WithRoot(sc.Root), detect.WithNVML(sc.NVML), detect.WithGetenv(func(k string) string { return env[k] }),
		detect.WithTimeout(time.Second)).Run(context.Background())
	if c := r.Check("docker-daemon"); c.Status != detect.StatusOK || c.Finding != "Docker Engine 27.3.1 at unix://"+sock+" (native engine)" {
		t.Errorf("docker-daemon = %+v", c)
	}
	if c := r.Check("ml-providers"); c.Status != detect.StatusOK {
		t.Errorf("ml-providers = %+v", c)
	}
	if !r.Host.Docker.Reachable || len(r.Host.Docker.Runtimes) != 2 {
		t.Errorf("docker facts = %+v", r.Host.Docker)
	}
}

// Docker Engine installed inside a WSL2 distribution needs the toolkit
// like native Linux; Docker Desktop does not.
func TestWSLNativeEngineNeedsToolkit(t *testing.T) {
	sc := load(t, "wsl2-nvidia")
	fake := *sc.Docker.(*detecttest.Docker)
	info := *fake.H.Info
	info.OperatingSystem = "Ubuntu 24.04.1 LTS"
	info.Runtimes = map[string]docker.Runtime{"runc": {Path: "runc"}}
	fake.H.Info = &info
	r := run(t, sc, detect.WithDocker(&fake))
	if c := r.Check("nvidia-toolkit"); c.Status != detect.StatusFail {
		t.Errorf("nvidia-toolkit with a native engine in WSL2 = %+v, want fail", c)
	}
	if r.Check("nvidia-toolkit").Status == detect.StatusFail && r.Recommendation.Ready {
		t.Errorf("cuda ready without the toolkit: %+v", r.Recommendation)
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// logsDocker is a scenario's fake daemon with other container logs.
type logsDocker struct {
	*detecttest.Docker
	logs string
}

func (l logsDocker) Logs(context.Context, string, int) (string, error) { return l.logs, nil }

// Check 10: what the ML container's logs say about the provider it took.
func TestContainerLogs(t *testing.T) {
	const (
		setCPU  = "[11/20/25 09:31:45] INFO     Setting execution providers to ['CPUExecutionProvider'], in descending order of preference\n"
		epFail  = "2025-11-20 09:31:45.1 [W:onnxruntime:Default, onnxruntime_pybind_state.cc:965 CreateExecutionProviderInstance] Failed to create CUDAExecutionProvider. Require cuDNN 9.* and CUDA 12.*.\n"
		started = "[11/20/25 09:30:01] INFO     Started server process [1]\n"
		annFail = "[11/20/25 09:14:03] DEBUG    Could not load ANN shared libraries, using ONNX: libmali.so: cannot open shared object file\n"
		debugOK = "[11/20/25 09:14:03] DEBUG    Available ORT providers: {'CPUExecutionProvider'}\n"
	)
	tests := []struct {
		host, logs string
		status     detect.Status
		finding    string
		debugHint  bool
	}{
		{"nvidia-desktop", started, detect.StatusWarn, "no `Setting execution providers to` line", true},
		{"nvidia-desktop", started + setCPU, detect.StatusFail, "the cuda image fell back to CPUExecutionProvider", true},
		{"nvidia-desktop", epFail + setCPU, detect.StatusFail, "cannot find the cuDNN 9 / CUDA 12 libraries", false},
		{"mali-libmali-elsewhere", started, detect.StatusWarn, "cannot tell whether ARM NN loaded", true},
		{"mali-libmali-elsewhere", debugOK + annFail, detect.StatusFail, "ARM NN did not load: Could not load ANN shared libraries", false},
		{"mali-libmali-elsewhere", debugOK, detect.StatusOK, "ARM NN loaded", false},
	}
	for _, tt := range tests {
		t.Run(tt.host+"/"+tt.finding, func(t *testing.T) {
			sc := load(t, tt.host)
			r := run(t, sc, detect.WithDocker(logsDocker{sc.Docker.(*detecttest.Docker), tt.logs}))
			c := r.Check("ml-providers")
			if c.Status != tt.status || !strings.Contains(c.Finding, tt.finding) {
				t.Errorf("ml-providers = %s %q, want %s with %q", c.Status, c.Finding, tt.status, tt.finding)
			}
			if got := strings.Contains(c.Fix, "IMMICH_LOG_LEVEL=debug"); got != tt.debugHint {
				t.Errorf("debug hint in fix = %v, want %v: %q", got, tt.debugHint, c.Fix)
			}
		})
	}
}

// Check 4: an Intel GPU (vendor 0x8086) counts for OpenVINO on i915 or xe;
// on any other driver (vfio-pci for a VM) it has no render node to use.
func TestIntelDriver(t *testing.T) {
	if _, err := exec.LookPath("cp"); err != nil {
		t.Skip("needs cp to copy a host tree with its symlinks")
	}
	for _, tt := range []struct {
		driver string
		status detect.Status
		ready  bool
	}{{"i915", detect.StatusOK, true}, {"xe", detect.StatusOK, true}, {"vfio-pci", detect.StatusFail, false}} {
		t.Run(tt.driver, func(t *testing.T) {
			sc := load(t, "intel-arc")
			root := filepath.Join(t.TempDir(), "root")
			if out, err := exec.Command("cp", "-a", sc.Root, root).CombinedOutput(); err != nil {
				t.Fatalf("copying the host tree: %v: %s", err, out)
			}
			link := filepath.Join(root, "sys/devices/pci0000:00/0000:00:01.1/0000:01:00.0/0000:02:01.0/0000:03:00.0/driver")
			if err := os.Remove(link); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(root, "sys/bus/pci/drivers", tt.driver), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("../../../../../../bus/pci/drivers/"+tt.driver, link); err != nil {
				t.Fatal(err)
			}
			r := run(t, sc, detect.WithRoot(root))
			c := r.Check("intel-gpu")
			if c.Status != tt.status {
				t.Errorf("intel-gpu on %s = %s %q, want %s", tt.driver, c.Status, c.Finding, tt.status)
			}
			if tt.status == detect.StatusOK && !strings.Contains(c.Finding, "(driver "+tt.driver+")") {
				t.Errorf("intel-gpu finding does not name the driver: %q", c.Finding)
			}
			if tt.status == detect.StatusFail && (c.Fix == "" || !strings.Contains(c.Finding, `"vfio-pci" is not i915 or xe`)) {
				t.Errorf("intel-gpu on %s = %q (fix %q), want the driver named and a fix", tt.driver, c.Finding, c.Fix)
			}
			if got := r.Backend("openvino").State == detect.BackendReady; got != tt.ready {
				t.Errorf("openvino ready = %v, want %v", got, tt.ready)
			}
		})
	}
}

// A host tree whose every file holds binary garbage (escape sequences,
// invalid UTF-8, NULs): no panic, every string of the report printable and
// bounded, every failed check with a fix.
func TestGarbageHost(t *testing.T) {
	if _, err := exec.LookPath("cp"); err != nil {
		t.Skip("needs cp to copy a host tree with its symlinks")
	}
	for _, host := range []string{"rk3588-mali", "nvidia-desktop", "amd-rocm", "wsl2-intel"} {
		t.Run(host, func(t *testing.T) {
			sc := load(t, host)
			root := filepath.Join(t.TempDir(), "root")
			if out, err := exec.Command("cp", "-a", sc.Root, root).CombinedOutput(); err != nil {
				t.Fatalf("copying the host tree: %v: %s", err, out)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err != nil || !d.Type().IsRegular() {
					return err
				}
				b := []byte("\x1b[31m\xff\xfe\x00")
				for n := rng.IntN(2000); n > 0; n-- {
					b = append(b, byte(rng.IntN(256)))
				}
				return os.WriteFile(p, b, 0o644)
			})
			if err != nil {
				t.Fatal(err)
			}
			// Files well-formed enough to be parsed, with hostile values.
			evil := "\x1b]0;pwned\x07\x1b[2J\xff" + strings.Repeat("A", 5000)
			for p, content := range map[string]string{
				"proc/cpuinfo":                   "processor\t: 0\nmodel name\t: " + evil + "\nflags\t: avx2\n",
				"proc/device-tree/compatible":    "rockchip,rk3588\x00" + evil + "\x00",
				"etc/os-release":                 "PRETTY_NAME=\"" + evil + "\"\n",
				"sys/kernel/debug/rknpu/version": "RKNPU driver: v0.9.8" + evil + "\n",
			} {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(root, p), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			r := run(t, sc, detect.WithRoot(root))
			if c := r.Check("internal-error"); c != nil {
				t.Errorf("a probe panicked: %s", c.Finding)
			}
			bad := func(what, s string) {
				if !utf8.ValidString(s) || len(s) > 700 {
					t.Errorf("%s is not bounded UTF-8: %q", what, s)
				}
				for _, r := range s {
					if !unicode.IsPrint(r) {
						t.Errorf("%s holds %U: %q", what, r, s)
						break
					}
				}
			}
			for _, c := range r.Checks {
				bad(string(c.ID)+" finding", c.Finding)
				bad(string(c.ID)+" fix", c.Fix)
				for _, d := range c.Detail {
					bad(string(c.ID)+" detail", d)
				}
				if c.Status == detect.StatusFail && c.Fix == "" && c.Run == nil {
					t.Errorf("failed check %s has no fix: %s", c.ID, c.Finding)
				}
			}
			bad("recommendation", r.Recommendation.Reason)
			bad("CPU model", r.Host.CPUModel)
			bad("kernel", r.Host.Kernel)
		})
	}
}

// FIFOs planted where host files belong: the files doctor reads itself
// are refused at once; one read by a library (ghw reads the PCI modalias
// itself) blocks, and Run stops waiting for that probe after its budget
// and says so.
func TestBlockingHostFiles(t *testing.T) {
	if _, err := exec.LookPath("cp"); err != nil {
		t.Skip("needs cp to copy a host tree with its symlinks")
	}
	sc := load(t, "intel-n100")
	root := filepath.Join(t.TempDir(), "root")
	if out, err := exec.Command("cp", "-a", sc.Root, root).CombinedOutput(); err != nil {
		t.Fatalf("copying the host tree: %v: %s", err, out)
	}
	for _, p := range []string{"proc/cpuinfo", "proc/sys/kernel/osrelease", "sys/devices/pci0000:00/0000:00:02.0/modalias"} {
		full := filepath.Join(root, p)
		if err := os.Remove(full); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(full, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	r := run(t, sc, detect.WithRoot(root), detect.WithTimeout(100*time.Millisecond))
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %s", d)
	}
	if c := r.Check("cpu"); c.Status != detect.StatusWarn || !strings.Contains(c.Finding, "not a regular file") {
		t.Errorf("cpu = %+v", c)
	}
	// The kernel release comes from /proc/version instead.
	if c := r.Check("platform-os"); c.Status != detect.StatusOK || c.Finding != "Linux 6.8.0-45-generic" {
		t.Errorf("platform-os = %+v", c)
	}
	c := r.Check("probe-unfinished")
	if c == nil || !strings.Contains(c.Finding, "the pci probe did not finish") || c.Fix == "" {
		t.Errorf("probe-unfinished = %+v", c)
	}
	// The checks the other probes feed are there.
	if c := r.Check("docker-daemon"); c.Status != detect.StatusOK {
		t.Errorf("docker-daemon = %+v", c)
	}
}

// Check 7 on built trees: the SoC from the device tree, the RKNPU driver
// version from each place the driver publishes it, the thread tip only on
// the multi-core NPUs.
func TestRKNN(t *testing.T) {
	tests := []struct {
		name, compatible, versionFile, version string
		soc, driver                            detect.Status
		finding, tip                           string
	}{
		{"RK3588 through debugfs", "radxa,rock-5b\x00rockchip,rk3588\x00", "sys/kernel/debug/rknpu/version", "RKNPU driver: v0.9.8\n",
			detect.StatusOK, detect.StatusOK, "RKNPU driver 0.9.8 (from /sys/kernel/debug/rknpu/version)", "MACHINE_LEARNING_RKNN_THREADS=2 or 3"},
		{"RK3576 through the module", "rockchip,rk3576-evb\x00rockchip,rk3576\x00", "sys/module/rknpu/version", "0.9.8\n",
			detect.StatusOK, detect.StatusOK, "RKNPU driver 0.9.8 (from /sys/module/rknpu/version)", "MACHINE_LEARNING_RKNN_THREADS=2 "},
		{"RK3566 has one NPU core", "pine64,quartz64-a\x00rockchip,rk3566\x00", "proc/debug/rknpu/version", "RKNPU driver: v0.9.8\n",
			detect.StatusOK, detect.StatusOK, "RKNPU driver 0.9.8", ""},
		{"RK3568 with an old driver", "rockchip,rk3568-evb1-ddr4-v10\x00rockchip,rk3568\x00", "sys/kernel/debug/rknpu/version", "RKNPU driver: v0.8.2\n",
			detect.StatusOK, detect.StatusFail, "RKNPU driver 0.8.2 is older than 0.9.8", ""},
		{"RK3588S", "orangepi,orangepi-5\x00rockchip,rk3588s\x00", "sys/kernel/debug/rknpu/version", "RKNPU driver: v0.9.6\n",
			detect.StatusOK, detect.StatusFail, "RKNPU driver 0.9.6 is older than 0.9.8", ""},
		{"RK3399 is not supported", "rockchip,rk3399\x00", "sys/kernel/debug/rknpu/version", "RKNPU driver: v0.9.8\n",
			detect.StatusFail, detect.StatusSkip, "not checked: Immich's RKNN backend does not support RK3399", ""},
		{"Rockchip without a version", "rockchip,rk3588\x00", "", "",
			detect.StatusOK, detect.StatusFail, "RKNPU kernel driver not found", ""},
		{"not Rockchip", "raspberrypi,5-model-b\x00brcm,bcm2712\x00", "", "",
			detect.StatusSkip, detect.StatusSkip, "not a Rockchip SoC", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			files := map[string]string{"proc/device-tree/compatible": tt.compatible, "proc/sys/kernel/arch": "aarch64\n"}
			if tt.versionFile != "" {
				files[tt.versionFile] = tt.version
			}
			for p, c := range files {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			r := detect.New(detect.WithRoot(root), detect.WithNVML(nil), detect.WithDocker(nil), detect.WithGOOS("linux")).Run(context.Background())
			soc, drv := r.Check("rknn-soc"), r.Check("rknn-driver")
			if soc.Status != tt.soc || drv.Status != tt.driver {
				t.Errorf("rknn-soc = %s (%s), rknn-driver = %s (%s); want %s, %s", soc.Status, soc.Finding, drv.Status, drv.Finding, tt.soc, tt.driver)
			}
			if !strings.Contains(drv.Finding, tt.finding) {
				t.Errorf("rknn-driver finding %q lacks %q", drv.Finding, tt.finding)
			}
			tip := strings.Join(drv.Detail, " ")
			if (tt.tip == "") != !strings.Contains(tip, "MACHINE_LEARNING_RKNN_THREADS") || !strings.Contains(tip, tt.tip) {
				t.Errorf("rknn-driver details %q, want tip %q", tip, tt.tip)
			}
			if drv.Status == detect.StatusFail && drv.Fix == "" {
				t.Errorf("rknn-driver fails without a fix")
			}
			if ready := r.Backend("rknn").State == detect.BackendReady; ready != (tt.soc == detect.StatusOK && tt.driver == detect.StatusOK) {
				t.Errorf("rknn ready = %v", ready)
			}
		})
	}
}

// DOCKER_HOST values doctor cannot use, or that lead somewhere else than a
// Docker daemon: each says what is wrong and what to set.
func TestDockerHostProblems(t *testing.T) {
	dir := t.TempDir()
	notDocker := filepath.Join(dir, "web.sock")
	ln, err := net.Listen("unix", notDocker)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler()}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	tests := []struct{ host, finding, fix string }{
		{"ssh://me@nas", `unsupported scheme "ssh"`, "run doctor on that host"},
		{"unix://" + filepath.Join(dir, "missing.sock"), "is not running: the socket does not exist", "Start Docker"},
		{"unix://" + notDocker, "but not as a Docker daemon: docker: GET /_ping: 404 Not Found", "Check DOCKER_HOST"},
	}
	sc := load(t, "no-gpu-server")
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			env := map[string]string{"DOCKER_HOST": tt.host}
			r := detect.New(detect.WithRoot(sc.Root), detect.WithNVML(nil), detect.WithTimeout(time.Second),
				detect.WithGetenv(func(k string) string { return env[k] })).Run(context.Background())
			c := r.Check("docker-daemon")
			if c.Status != detect.StatusFail || !strings.Contains(c.Finding, tt.finding) || !strings.Contains(c.Fix, tt.fix) {
				t.Errorf("docker-daemon = %s %q (fix %q), want fail with %q and %q", c.Status, c.Finding, c.Fix, tt.finding, tt.fix)
			}
		})
	}
}
