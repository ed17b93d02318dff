package detect_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"

	"github.com/immich-accel/immich-accel/internal/immich"
	"github.com/immich-accel/immich-accel/pkg/detect"
)

// TestTranscodeScenarios checks each fake host's transcoding verdict: the
// checks per method, the compose file's section, the server's logs and
// the recommended method with its admin setting.
func TestTranscodeScenarios(t *testing.T) {
	tests := []struct {
		host, method string
		ready        bool
		accel        string
		checks       map[detect.CheckID]detect.Status
	}{
		{"nvidia-a100", "cpu", true, "disabled", map[detect.CheckID]detect.Status{
			"transcode-nvenc": detect.StatusFail, "compose-transcode": detect.StatusFail,
			"server-transcoding": detect.StatusFail, "server-container": detect.StatusOK, "compose-backend": detect.StatusOK}},
		{"rk3588-rkmpp", "rkmpp", true, "rkmpp", map[detect.CheckID]detect.Status{
			"transcode-rkmpp": detect.StatusOK, "compose-transcode": detect.StatusOK, "server-transcoding": detect.StatusOK,
			"transcode-nvenc": detect.StatusSkip, "transcode-quicksync": detect.StatusSkip}},
		{"wsl2-quicksync", "vaapi-wsl", true, "vaapi", map[detect.CheckID]detect.Status{
			"transcode-quicksync": detect.StatusSkip, "transcode-vaapi": detect.StatusOK,
			"compose-transcode": detect.StatusFail, "server-transcoding": detect.StatusFail}},
		{"nvidia-desktop", "nvenc", true, "nvenc", map[detect.CheckID]detect.Status{
			"transcode-nvenc": detect.StatusOK, "compose-transcode": detect.StatusWarn}},
		{"intel-n100", "quicksync", true, "qsv", map[detect.CheckID]detect.Status{
			"transcode-quicksync": detect.StatusOK, "transcode-vaapi": detect.StatusOK, "transcode-render-access": detect.StatusOK}},
		{"amd-rocm", "vaapi", true, "vaapi", map[detect.CheckID]detect.Status{"transcode-vaapi": detect.StatusOK, "transcode-quicksync": detect.StatusSkip}},
		{"nvidia-no-toolkit", "nvenc", false, "nvenc", map[detect.CheckID]detect.Status{"transcode-nvenc": detect.StatusOK, "nvidia-toolkit": detect.StatusFail}},
		{"nvidia-gt710", "cpu", true, "disabled", map[detect.CheckID]detect.Status{"transcode-nvenc": detect.StatusFail}},
		{"no-gpu-server", "cpu", true, "disabled", map[detect.CheckID]detect.Status{"transcode-nvenc": detect.StatusSkip, "compose-transcode": detect.StatusOK}},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			r := run(t, load(t, tt.host))
			rec := r.TranscodeRecommendation
			if rec.Method != tt.method || rec.Ready != tt.ready || rec.Accel != tt.accel {
				t.Errorf("transcode recommendation = %+v, want %s (ready %v, accel %s)", rec, tt.method, tt.ready, tt.accel)
			}
			if !strings.HasPrefix(rec.Setting, "Administration → Settings → Video Transcoding → Hardware Acceleration → Acceleration API: ") {
				t.Errorf("setting = %q", rec.Setting)
			}
			if tt.method != "cpu" && (rec.Run == nil || string(rec.Run.Transcode) != tt.method) {
				t.Errorf("run = %+v", rec.Run)
			}
			for id, want := range tt.checks {
				c := r.Check(id)
				if c == nil {
					t.Errorf("no check %s", id)
					continue
				}
				if c.Status != want {
					t.Errorf("%s = %s (%s), want %s", id, c.Status, c.Finding, want)
				}
			}
			if len(r.Transcodes) != 6 {
				t.Errorf("%d transcode verdicts, want 6", len(r.Transcodes))
			}
		})
	}
}

func TestTranscodeFindings(t *testing.T) {
	r := run(t, load(t, "nvidia-a100"))
	if c := r.Check("transcode-nvenc"); !strings.Contains(c.Finding, "A100") || !strings.Contains(c.Finding, "no NVENC") {
		t.Errorf("transcode-nvenc = %+v", c)
	}
	if g := r.Host.GPUs[0]; g.NVENC != "no" {
		t.Errorf("A100 nvenc = %q, want no", g.NVENC)
	}
	// The ML backend is not held back by the missing encoder.
	if b := r.Backend("cuda"); b.State != detect.BackendReady {
		t.Errorf("cuda = %+v", b)
	}
	if c := r.Check("server-transcoding"); !strings.Contains(c.Finding, "NVENC") || !strings.Contains(c.Fix, "transcode-nvenc") {
		t.Errorf("server-transcoding = %+v", c)
	}
	r = run(t, load(t, "wsl2-quicksync"))
	c := r.Check("compose-transcode")
	if !strings.Contains(c.Finding, "not supported on WSL2") || c.Run == nil || c.Run.Transcode != "vaapi-wsl" || !strings.Contains(c.Fix, "Acceleration API: VAAPI") {
		t.Errorf("compose-transcode on WSL2 with quicksync = %+v", c)
	}
	if q := transcodeStatus(r, "quicksync"); q.State != detect.BackendUnavailable || !strings.Contains(q.Reason, "WSL2") {
		t.Errorf("quicksync on WSL2 = %+v", q)
	}
	if c := r.Check("server-transcoding"); !strings.Contains(c.Finding, "QSV") || !strings.Contains(c.Fix, "vaapi-wsl") {
		t.Errorf("server-transcoding = %+v", c)
	}
	r = run(t, load(t, "rk3588-rkmpp"))
	c = r.Check("transcode-rkmpp")
	if !strings.Contains(strings.Join(c.Detail, " "), "OpenCL HDR tonemapping possible") {
		t.Errorf("rkmpp detail = %v", c.Detail)
	}
	if h := r.Host; len(h.RKMPPNodes) != 3 || !h.OpenCL || h.LibMali1Path == "" {
		t.Errorf("host = nodes %v, OpenCL %v, libmali.so.1 %q", h.RKMPPNodes, h.OpenCL, h.LibMali1Path)
	}
	// The RK3588 without the MPP nodes (rk3588-mali, a kernel without
	// them) cannot use rkmpp, and says which nodes are missing.
	r = run(t, load(t, "rk3588-mali"))
	if c := r.Check("transcode-rkmpp"); c.Status != detect.StatusFail || !strings.Contains(c.Finding, "/dev/mpp_service") || c.Fix == "" {
		t.Errorf("rkmpp without nodes = %+v", c)
	}
}

func transcodeStatus(r *detect.Report, name string) detect.TranscodeStatus {
	for _, t := range r.Transcodes {
		if t.Name == name {
			return t
		}
	}
	return detect.TranscodeStatus{}
}

// NVML's encoder query decides NVENC: a GPU that answers has one, one
// that answers NOT_SUPPORTED on Maxwell or newer has none, an older one
// is unknown.
func TestNVENCFromNVML(t *testing.T) {
	gpu := func(name string, major int, capRet nvml.Return) nvml.Interface {
		dev := &mock.Device{
			GetNameFunc:                  func() (string, nvml.Return) { return name, nvml.SUCCESS },
			GetMemoryInfoFunc:            func() (nvml.Memory, nvml.Return) { return nvml.Memory{Total: 8 << 30}, nvml.SUCCESS },
			GetCudaComputeCapabilityFunc: func() (int, int, nvml.Return) { return major, 0, nvml.SUCCESS },
			GetPciInfoFunc:               func() (nvml.PciInfo, nvml.Return) { return nvml.PciInfo{}, nvml.SUCCESS },
			GetEncoderCapacityFunc:       func(nvml.EncoderType) (int, nvml.Return) { return 87, capRet },
		}
		return &mock.Interface{
			InitFunc:                       func() nvml.Return { return nvml.SUCCESS },
			ShutdownFunc:                   func() nvml.Return { return nvml.SUCCESS },
			SystemGetDriverVersionFunc:     func() (string, nvml.Return) { return "560.35.03", nvml.SUCCESS },
			SystemGetCudaDriverVersionFunc: func() (int, nvml.Return) { return 12060, nvml.SUCCESS },
			DeviceGetCountFunc:             func() (int, nvml.Return) { return 1, nvml.SUCCESS },
			DeviceGetHandleByIndexFunc:     func(int) (nvml.Device, nvml.Return) { return dev, nvml.SUCCESS },
		}
	}
	cases := []struct {
		name  string
		major int
		ret   nvml.Return
		want  detect.Status
		nvenc string
	}{
		{"NVIDIA GeForce RTX 4060", 8, nvml.SUCCESS, detect.StatusOK, "yes"},
		{"NVIDIA H100 PCIe", 9, nvml.ERROR_NOT_SUPPORTED, detect.StatusFail, "no"},
		{"NVIDIA H100 PCIe", 9, nvml.ERROR_UNKNOWN, detect.StatusFail, "no"}, // by name
		{"Tesla M60", 5, nvml.ERROR_NOT_SUPPORTED, detect.StatusFail, "no"},
		{"NVIDIA GeForce GTX 780", 3, nvml.ERROR_NOT_SUPPORTED, detect.StatusFail, "no"}, // Kepler: no 520+ driver
		{"NVIDIA GeForce GTX 1070", 6, nvml.ERROR_UNKNOWN, detect.StatusWarn, "unknown"},
	}
	for _, c := range cases {
		sc := load(t, "nvidia-desktop")
		r := detect.New(append(sc.Options(), detect.WithNVML(gpu(c.name, c.major, c.ret)), detect.WithTimeout(200*time.Millisecond))...).Run(context.Background())
		ch := r.Check("transcode-nvenc")
		if ch.Status != c.want || r.Host.GPUs[0].NVENC != c.nvenc {
			t.Errorf("%s (%s): transcode-nvenc %s (%s), nvenc %q; want %s, %q", c.name, c.ret, ch.Status, ch.Finding, r.Host.GPUs[0].NVENC, c.want, c.nvenc)
		}
	}
}

// immichServer is an in-process stand-in for Immich's API on 127.0.0.1,
// answering GET /api/system-config for the right key.
func immichServer(t *testing.T, accelValue string, decode bool) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/system-config" || r.Header.Get("x-api-key") != "k3y" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		d := "false"
		if decode {
			d = "true"
		}
		_, _ = w.Write([]byte(`{"ffmpeg":{"crf":23,"accel":"` + accelValue + `","accelDecode":` + d + `,"preferredHwDevice":"auto"},"job":{}}`))
	}))
	t.Cleanup(s.Close)
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Fatalf("not loopback: %s", s.URL)
	}
	return s
}

func TestImmichSetting(t *testing.T) {
	cases := []struct {
		host, accel string
		key         string
		want        detect.Status
		has         string
	}{
		{"rk3588-rkmpp", "rkmpp", "k3y", detect.StatusOK, "matching the compose file (rkmpp)"},
		{"rk3588-rkmpp", "disabled", "k3y", detect.StatusWarn, "Acceleration API: RKMPP"},
		{"wsl2-quicksync", "qsv", "k3y", detect.StatusOK, "matching"},
		{"nvidia-a100", "disabled", "k3y", detect.StatusWarn, "Acceleration API is Disabled"},
		{"nvidia-desktop", "nvenc", "k3y", detect.StatusFail, "every transcode fails"},
		{"intel-n100", "vaapi", "k3y", detect.StatusFail, "configures cpu"},
		{"rk3588-rkmpp", "rkmpp", "wrong", detect.StatusWarn, "the API key was refused"},
	}
	for _, c := range cases {
		s := immichServer(t, c.accel, true)
		cl, err := immich.New(s.URL, c.key, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		r := run(t, load(t, c.host), detect.WithImmich(cl))
		ch := r.Check("immich-transcode-setting")
		if ch.Status != c.want || !strings.Contains(ch.Finding+" "+ch.Fix, c.has) {
			t.Errorf("%s with accel %s, key %s: %s: %s / %s; want %s with %q", c.host, c.accel, c.key, ch.Status, ch.Finding, ch.Fix, c.want, c.has)
		}
		if strings.Contains(ch.Finding+ch.Fix+strings.Join(ch.Detail, ""), c.key) && c.key != "" {
			t.Errorf("the API key appears in the report: %+v", ch)
		}
	}
	r := run(t, load(t, "rk3588-rkmpp"))
	if ch := r.Check("immich-transcode-setting"); ch.Status != detect.StatusSkip || !strings.Contains(ch.Finding, "--immich-url") {
		t.Errorf("without --immich-url: %+v", ch)
	}
}

// A server that never answers costs doctor the timeout, not more.
func TestImmichHangs(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer s.Close()
	cl, _ := immich.New(s.URL, "k3y", 10*time.Second)
	start := time.Now()
	r := run(t, load(t, "rk3588-rkmpp"), detect.WithImmich(cl))
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("doctor took %s", d)
	}
	if ch := r.Check("immich-transcode-setting"); ch.Status != detect.StatusWarn {
		t.Errorf("hanging Immich: %+v", ch)
	}
}
