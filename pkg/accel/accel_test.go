package accel

import "testing"

func TestParseBackend(t *testing.T) {
	for _, b := range BackendNames() {
		got, ok := ParseBackend(string(b))
		if !ok || got != b {
			t.Errorf("ParseBackend(%q) = %q, %v", b, got, ok)
		}
	}
	if _, ok := ParseBackend("cuda12"); ok {
		t.Error("ParseBackend accepted cuda12")
	}
	if BackendNames()[len(BackendNames())-1] != CPU {
		t.Error("cpu is not last")
	}
}

func TestImageBackend(t *testing.T) {
	cases := []struct {
		ref  string
		want Backend
	}{
		{"ghcr.io/immich-app/immich-machine-learning:release-cuda", CUDA},
		{"ghcr.io/immich-app/immich-machine-learning:v1.135.3-openvino", OpenVINO},
		{"ghcr.io/immich-app/immich-machine-learning:release-openvinowsl", OpenVINO},
		{"ghcr.io/immich-app/immich-machine-learning:release-openvino-wsl", OpenVINO},
		{"ghcr.io/immich-app/immich-machine-learning:release-CUDA", CPU},
		{"ghcr.io/immich-app/immich-machine-learning:release-armnn@sha256:abc", ARMNN},
		{"ghcr.io/immich-app/immich-machine-learning:rocm", CPU},
		{"ghcr.io/immich-app/immich-machine-learning:v2-rocm", ROCm},
		{"registry:5000/immich-machine-learning:v2-rknn", RKNN},
		{"ghcr.io/immich-app/immich-machine-learning:release", CPU},
		{"registry:5000/immich-machine-learning", CPU},
		{"ghcr.io/immich-app/immich-machine-learning:cudafied", CPU},
	}
	for _, c := range cases {
		if got := ImageBackend(c.ref); got != c.want {
			t.Errorf("ImageBackend(%q) = %q, want %q", c.ref, got, c.want)
		}
	}
}

func TestTagSuffixWritten(t *testing.T) {
	b, w := TagSuffix("v1.2.3-openvinowsl")
	if b != OpenVINO || w != "openvinowsl" {
		t.Errorf("got %q %q", b, w)
	}
}

func TestSuffixes(t *testing.T) {
	for _, i := range Backends() {
		if i.Backend == CPU {
			if i.Suffix != "" {
				t.Error("cpu has a suffix")
			}
			continue
		}
		if b := ImageBackend("x:release-" + i.Suffix); b.Suffix() != i.Suffix {
			t.Errorf("%s: suffix %q reads back as %q", i.Backend, i.Suffix, b)
		}
	}
}
