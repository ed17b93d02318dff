// Package accel names what immich-accel can switch on: the machine-learning
// backends of Immich's hwaccel.ml.yml and the image-tag suffix each one needs,
// and the transcoding methods of hwaccel.transcoding.yml with the
// ffmpeg.accel setting each one goes with.
// It is the one place these names are defined; pkg/compose, pkg/detect and the
// commands read them from here, so a misspelt name fails to compile.
package accel

import "strings"

// Backend is a section of Immich's hwaccel.ml.yml, which is also what
// `compose --backend` takes.
type Backend string

// The machine-learning backends, as named by the services of Immich's
// docker/hwaccel.ml.yml (https://github.com/immich-app/immich/blob/main/docker/hwaccel.ml.yml,
// documented at https://docs.immich.app/features/ml-hardware-acceleration).
const (
	CUDA        Backend = "cuda"
	OpenVINO    Backend = "openvino"
	OpenVINOWSL Backend = "openvino-wsl"
	ARMNN       Backend = "armnn"
	ROCm        Backend = "rocm"
	RKNN        Backend = "rknn"
	CPU         Backend = "cpu"
)

// BackendInfo is what immich-accel knows of one backend.
type BackendInfo struct {
	Backend Backend
	// Suffix is the tag suffix of Immich's machine-learning image for this
	// backend, without the dash ("" for cpu): release-cuda, v2.0.1-openvino.
	Suffix string
	// Hardware names what the backend runs on, for people.
	Hardware string
	// Providers are the ONNX Runtime execution providers Immich's ML server
	// picks first for this backend's image, in its order of preference
	// (machine-learning/immich_ml/models/constants.py, SUPPORTED_PROVIDERS);
	// none for armnn and rknn, which Immich drives through their own libraries.
	Providers []string
}

// backends is the table, in the order `compose --backend` lists them. The
// image suffixes are those Immich publishes (ghcr.io/immich-app/immich-machine-learning
// tags; both openvino sections use the -openvino image).
func backends() []BackendInfo {
	return []BackendInfo{
		{CUDA, "cuda", "NVIDIA GPU (CUDA)", []string{"CUDAExecutionProvider", "TensorrtExecutionProvider"}},
		{OpenVINO, "openvino", "Intel GPU, iGPU or NPU (OpenVINO)", []string{"OpenVINOExecutionProvider"}},
		{OpenVINOWSL, "openvino", "Intel GPU under WSL2 (OpenVINO)", []string{"OpenVINOExecutionProvider"}},
		{ARMNN, "armnn", "ARM Mali GPU (ARM NN)", nil},
		{ROCm, "rocm", "AMD GPU (ROCm/MIGraphX)", []string{"MIGraphXExecutionProvider", "ROCMExecutionProvider"}},
		{RKNN, "rknn", "Rockchip NPU (RKNN)", nil},
		{CPU, "", "CPU", nil},
	}
}

// Backends lists every backend, hardware ones first and cpu last.
func Backends() []BackendInfo { return backends() }

// BackendNames lists the backend names in the same order.
func BackendNames() []Backend {
	bs := backends()
	out := make([]Backend, len(bs))
	for i, b := range bs {
		out[i] = b.Backend
	}
	return out
}

// ParseBackend returns the backend named s, and false when there is none.
func ParseBackend(s string) (Backend, bool) {
	for _, b := range backends() {
		if string(b.Backend) == s {
			return b.Backend, true
		}
	}
	return "", false
}

// Info returns what is known of b; ok is false for a name not in the table.
func (b Backend) Info() (BackendInfo, bool) {
	for _, x := range backends() {
		if x.Backend == b {
			return x, true
		}
	}
	return BackendInfo{}, false
}

// Suffix is the image tag suffix b needs, without the dash ("" for cpu or an
// unknown name).
func (b Backend) Suffix() string {
	i, _ := b.Info()
	return i.Suffix
}

// Valid reports whether b is in the table.
func (b Backend) Valid() bool {
	_, ok := b.Info()
	return ok
}

// String returns the name.
func (b Backend) String() string { return string(b) }

// suffixSpellings are the tag suffixes seen written in users' compose files,
// mapped to the backend whose image they mean. Immich publishes only the
// canonical ones; "openvino-wsl" and "openvinowsl" are section names people
// put into the tag by mistake (both mean the -openvino image).
func suffixSpellings() []struct {
	written string
	means   Backend
} {
	return []struct {
		written string
		means   Backend
	}{
		{"openvino-wsl", OpenVINO}, {"openvinowsl", OpenVINO},
		{"cuda", CUDA}, {"openvino", OpenVINO}, {"armnn", ARMNN}, {"rocm", ROCm}, {"rknn", RKNN},
	}
}

// TagSuffix finds the backend suffix a machine-learning image tag ends with:
// "release-cuda" → (cuda, "cuda"), "v1.2.3-openvinowsl" → (openvino,
// "openvinowsl"), "release" → (cpu, ""). written is the suffix as it appears
// in the tag, without the dash. Tags are case-sensitive, as registries treat
// them, and the suffix must follow a base ("cuda" alone is no variant).
func TagSuffix(tag string) (b Backend, written string) {
	for _, s := range suffixSpellings() {
		if strings.HasSuffix(tag, "-"+s.written) && len(tag) > len(s.written)+1 {
			return s.means, s.written
		}
	}
	return CPU, ""
}

// ImageTag returns the tag of an image reference ("" when it has none),
// without any @digest: "ghcr.io/x/y:release-cuda@sha256:..." → "release-cuda".
func ImageTag(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[i+1:]
	}
	return ""
}

// ImageBackend returns the backend an Immich machine-learning image selects
// by its tag: "…:v1.135.3-cuda" → cuda, "…:release" → cpu.
func ImageBackend(ref string) Backend {
	b, _ := TagSuffix(ImageTag(ref))
	return b
}

// SuffixSpellings lists every tag suffix TagSuffix recognises, as written
// (without the dash), longest match first.
func SuffixSpellings() []string {
	var out []string
	for _, s := range suffixSpellings() {
		out = append(out, s.written)
	}
	return out
}
