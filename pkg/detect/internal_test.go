package detect

import (
	"reflect"
	"testing"
)

func TestAnalyzeLogs(t *testing.T) {
	tests := []struct {
		name string
		logs string
		want logFindings
	}{
		{
			name: "rich-wrapped provider line",
			logs: "[11/20/25 09:31:45] INFO     Setting execution providers to                     \n" +
				"                             ['CUDAExecutionProvider', 'CPUExecutionProvider'], \n" +
				"                             in descending order of preference                  \n",
			want: logFindings{Providers: []string{"CUDAExecutionProvider", "CPUExecutionProvider"}, ProviderLineSeen: true},
		},
		{
			name: "ANSI colours and the last line wins",
			logs: "\x1b[2m[11/20/25]\x1b[0m \x1b[32mINFO\x1b[0m Setting execution providers to ['CPUExecutionProvider'], in descending order of preference\n" +
				"[11/20/25] INFO Setting execution providers to ['OpenVINOExecutionProvider', 'CPUExecutionProvider'], in descending order of preference\n",
			want: logFindings{Providers: []string{"OpenVINOExecutionProvider", "CPUExecutionProvider"}, ProviderLineSeen: true},
		},
		{
			name: "debug lines",
			logs: "[11/20/25 09:31:45] DEBUG    Available ORT providers: {'OpenVINOExecutionProvider', \n" +
				"                             'CPUExecutionProvider'}\n" +
				"[11/20/25 09:14:03] DEBUG    Could not load ANN shared libraries, using ONNX: libmali.so: cannot open shared object file\n",
			want: logFindings{Available: []string{"CPUExecutionProvider", "OpenVINOExecutionProvider"}, ANNFailed: true,
				ANNError: "Could not load ANN shared libraries, using ONNX: libmali.so: cannot open shared object file", SawDebug: true},
		},
		{
			name: "ORT could not create the provider",
			logs: "2025-11-20 09:31:45.1 [W:onnxruntime:Default, onnxruntime_pybind_state.cc:965 CreateExecutionProviderInstance] Failed to create CUDAExecutionProvider. Require cuDNN 9.* and CUDA 12.*.\n",
			want: logFindings{EPFailures: []string{"Failed to create CUDAExecutionProvider. Require cuDNN 9.* and CUDA 12.*."}},
		},
		{name: "nothing", logs: "", want: logFindings{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := analyzeLogs(tt.logs); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("analyzeLogs = %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestGFXTarget(t *testing.T) {
	for in, want := range map[string]string{"110000": "gfx1100", "100301": "gfx1031", "90010": "gfx90a", "90012": "gfx90c", "0": "", "x": "", "-5": ""} {
		if got := gfxTarget(in); got != want {
			t.Errorf("gfxTarget(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestVersionAtLeast(t *testing.T) {
	tests := []struct {
		v, min string
		want   bool
	}{
		{"550.120", "545", true}, {"545", "545", true}, {"535.183.01", "545", false},
		{"0.9.8", "0.9.8", true}, {"0.9.6", "0.9.8", false}, {"0.10.0", "0.9.8", true}, {"2.29.7", "2.0.0", true}, {"1.29.2", "2.0.0", false},
	}
	for _, tt := range tests {
		if got := versionAtLeast(tt.v, tt.min); got != tt.want {
			t.Errorf("versionAtLeast(%q, %q) = %v", tt.v, tt.min, got)
		}
	}
}

func TestJudgeCC(t *testing.T) {
	for _, tt := range []struct {
		major, minor int
		want         Status
	}{{3, 5, StatusFail}, {5, 0, StatusFail}, {5, 2, StatusWarn}, {6, 1, StatusWarn}, {7, 5, StatusOK}, {8, 9, StatusOK}, {9, 0, StatusOK}, {10, 0, StatusWarn}, {12, 0, StatusWarn}} {
		if st, _, _ := judgeCC(nvmlGPU{Name: "GPU", Major: tt.major, Minor: tt.minor}); st != tt.want {
			t.Errorf("compute %d.%d: %s, want %s", tt.major, tt.minor, st, tt.want)
		}
	}
}

// TestNVMLLibraryPath: on WSL2 NVML is opened from /usr/lib/wsl/lib, which
// is where doctor and bench both look; elsewhere the loader finds it.
func TestNVMLLibraryPath(t *testing.T) {
	for root, want := range map[string]string{
		"../../testdata/hosts/wsl2-nvidia/root":    WSLNVMLPath,
		"../../testdata/hosts/nvidia-desktop/root": "libnvidia-ml.so.1",
		t.TempDir(): "libnvidia-ml.so.1",
	} {
		if got := nvmlLibraryPath(fsys{root: root}); got != want {
			t.Errorf("%s: %q, want %q", root, got, want)
		}
	}
}
