package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/immich-accel/immich-accel/internal/ortlib"
)

// Provider is an execution provider the benchmark knows how to try.
type Provider struct {
	// Key is the short name used in --providers (cpu, cuda, ...).
	Key string `json:"key"`
	// Name is ONNX Runtime's name for it (CUDAExecutionProvider), or the
	// backend's name when it is not an ONNX Runtime provider.
	Name string `json:"name"`
	// Library is the provider's shared library, loaded by ONNX Runtime
	// from its own directory, when it is a separate library.
	Library string `json:"library,omitempty"`
	// Precision names the tolerance class of its results (see Tolerances).
	Precision Precision `json:"precision"`
	// NotORT explains why this backend is not an ONNX Runtime provider.
	NotORT string `json:"-"`
	// NotInBuildHint is shown when the provider is missing from the build.
	NotInBuildHint string `json:"-"`

	appendTo func(o *ort.SessionOptions, po ProviderOptions) error
}

// ProviderOptions are the provider settings users need.
type ProviderOptions struct {
	// DeviceID selects the GPU for CUDA, TensorRT and MIGraphX.
	DeviceID int `json:"deviceId"`
	// OpenVINODevice is OpenVINO's device_type: CPU, GPU, GPU.0, NPU, AUTO:GPU,CPU.
	OpenVINODevice string `json:"openvinoDevice,omitempty"`
	// OpenVINOPrecision is FP32, FP16 or ACCURACY.
	OpenVINOPrecision string `json:"openvinoPrecision,omitempty"`
	// CUDAArena is the CUDA arena_extend_strategy: kNextPowerOfTwo or
	// kSameAsRequested.
	CUDAArena string `json:"cudaArena,omitempty"`
	// Threads is the intra-op thread count (0: ONNX Runtime's default).
	Threads int `json:"threads"`
}

// DefaultProviderOptions match what Immich's machine-learning container
// uses: GPU 0, OpenVINO on the GPU in FP32, and a CUDA arena that grows by
// what is requested.
func DefaultProviderOptions() ProviderOptions {
	return ProviderOptions{OpenVINODevice: "GPU", OpenVINOPrecision: "FP32", CUDAArena: "kSameAsRequested"}
}

// Normalize checks the options and maps friendly spellings
// (same-as-requested, next-power-of-two, fp16) to ONNX Runtime's.
func (po ProviderOptions) Normalize() (ProviderOptions, error) {
	switch strings.ToLower(strings.ReplaceAll(po.CUDAArena, "_", "-")) {
	case "", "ksameasrequested", "same-as-requested", "same":
		po.CUDAArena = "kSameAsRequested"
	case "knextpoweroftwo", "next-power-of-two", "power-of-two":
		po.CUDAArena = "kNextPowerOfTwo"
	default:
		return po, fmt.Errorf("--cuda-arena %q: want same-as-requested or next-power-of-two", po.CUDAArena)
	}
	switch p := strings.ToUpper(po.OpenVINOPrecision); p {
	case "", "FP32", "FP16", "ACCURACY":
		if p == "" {
			p = "FP32"
		}
		po.OpenVINOPrecision = p
	default:
		return po, fmt.Errorf("--openvino-precision %q: want FP32, FP16 or ACCURACY", po.OpenVINOPrecision)
	}
	if po.OpenVINODevice == "" {
		po.OpenVINODevice = "GPU"
	}
	if po.DeviceID < 0 {
		return po, fmt.Errorf("--device-id %d: want 0 or more", po.DeviceID)
	}
	if po.Threads < 0 {
		return po, fmt.Errorf("--threads %d: want 0 (ONNX Runtime's default) or more", po.Threads)
	}
	return po, nil
}

// Precision is a tolerance class for comparing with CPU results.
type Precision string

// Precision classes.
const (
	// FP32: the provider computes in float32, like the CPU provider.
	FP32 Precision = "fp32"
	// FP16: the provider may compute in float16 or TF32 (CUDA's default on
	// Ampere and later, TensorRT, OpenVINO GPU/NPU).
	FP16 Precision = "fp16"
)

func generic(name string, opts func(ProviderOptions) map[string]string) func(*ort.SessionOptions, ProviderOptions) error {
	return func(o *ort.SessionOptions, po ProviderOptions) error {
		var m map[string]string
		if opts != nil {
			m = opts(po)
		}
		return o.AppendExecutionProvider(name, m)
	}
}

// Providers lists every provider the benchmark tries on Linux, in report
// order. CPU comes first: it is the baseline.
func Providers() []Provider {
	return []Provider{
		{Key: "cpu", Name: "CPUExecutionProvider", Precision: FP32},
		{Key: "cuda", Name: "CUDAExecutionProvider", Library: "libonnxruntime_providers_cuda.so", Precision: FP16,
			NotInBuildHint: "to add it, run: immich-accel runtime install --gpu",
			appendTo: func(o *ort.SessionOptions, po ProviderOptions) error {
				c, err := ort.NewCUDAProviderOptions()
				if err != nil {
					return err
				}
				defer c.Destroy()
				if err := c.Update(map[string]string{"device_id": strconv.Itoa(po.DeviceID), "arena_extend_strategy": po.CUDAArena}); err != nil {
					return err
				}
				return o.AppendExecutionProviderCUDA(c)
			}},
		{Key: "tensorrt", Name: "TensorrtExecutionProvider", Library: "libonnxruntime_providers_tensorrt.so", Precision: FP16,
			NotInBuildHint: "to add it, run: immich-accel runtime install --gpu",
			appendTo: func(o *ort.SessionOptions, po ProviderOptions) error {
				t, err := ort.NewTensorRTProviderOptions()
				if err != nil {
					return err
				}
				defer t.Destroy()
				if err := t.Update(map[string]string{"device_id": strconv.Itoa(po.DeviceID)}); err != nil {
					return err
				}
				return o.AppendExecutionProviderTensorRT(t)
			}},
		{Key: "nvtensorrtrtx", Name: "NvTensorRTRTXExecutionProvider", Library: "libonnxruntime_providers_nv_tensorrt_rtx.so", Precision: FP16,
			appendTo: generic("NvTensorRtRtx", func(po ProviderOptions) map[string]string {
				return map[string]string{"device_id": strconv.Itoa(po.DeviceID)}
			})},
		{Key: "openvino", Name: "OpenVINOExecutionProvider", Library: "libonnxruntime_providers_openvino.so", Precision: FP16,
			NotInBuildHint: "Immich's -openvino image ships an ONNX Runtime built with it",
			appendTo: func(o *ort.SessionOptions, po ProviderOptions) error {
				return o.AppendExecutionProviderOpenVINO(map[string]string{"device_type": po.OpenVINODevice, "precision": po.OpenVINOPrecision})
			}},
		{Key: "migraphx", Name: "MIGraphXExecutionProvider", Library: "libonnxruntime_providers_migraphx.so", Precision: FP16,
			NotInBuildHint: "Immich's -rocm image ships an ONNX Runtime built with it",
			appendTo: generic("MIGraphX", func(po ProviderOptions) map[string]string {
				return map[string]string{"device_id": strconv.Itoa(po.DeviceID)}
			})},
		{Key: "rocm", Name: "ROCMExecutionProvider", Library: "libonnxruntime_providers_rocm.so", Precision: FP16,
			NotInBuildHint: "ONNX Runtime removed the ROCm provider in 1.23; AMD GPUs use MIGraphX",
			appendTo:       generic("ROCM", nil)},
		{Key: "xnnpack", Name: "XnnpackExecutionProvider", Precision: FP32,
			appendTo: generic("XNNPACK", func(po ProviderOptions) map[string]string {
				if po.Threads > 0 {
					return map[string]string{"intra_op_num_threads": strconv.Itoa(po.Threads)}
				}
				return nil
			})},
		{Key: "webgpu", Name: "WebGpuExecutionProvider", Precision: FP16, appendTo: generic("WebGPU", nil)},
		{Key: "qnn", Name: "QNNExecutionProvider", Precision: FP16, appendTo: generic("QNN", nil)},
		{Key: "vitisai", Name: "VitisAIExecutionProvider", Precision: FP16, appendTo: generic("VitisAI", nil)},
		{Key: "armnn", Name: "ARM NN", NotORT: "Immich's -armnn image runs ARM NN through its own library, not ONNX Runtime"},
		{Key: "rknn", Name: "RKNN", NotORT: "Immich's -rknn image runs Rockchip NPUs through rknn-toolkit-lite2 with .rknn models"},
	}
}

// SelectProviders returns the providers named by keys (case-insensitive;
// ONNX Runtime names such as CUDAExecutionProvider also work), in report
// order. No keys selects all.
func SelectProviders(keys []string) ([]Provider, error) {
	all := Providers()
	if len(keys) == 0 {
		return all, nil
	}
	want := map[string]bool{}
	for _, k := range keys {
		k = strings.ToLower(strings.TrimSpace(k))
		if k == "" {
			continue
		}
		found := false
		for _, p := range all {
			if k == p.Key || k == strings.ToLower(p.Name) || k == strings.TrimSuffix(strings.ToLower(p.Name), "executionprovider") ||
				(k == "trt" && p.Key == "tensorrt") {
				want[p.Key] = true
				found = true
			}
		}
		if !found {
			var names []string
			for _, p := range all {
				names = append(names, p.Key)
			}
			return nil, fmt.Errorf("--providers: unknown provider %q: known are %s", k, strings.Join(names, ", "))
		}
	}
	var out []Provider
	for _, p := range all {
		if want[p.Key] {
			out = append(out, p)
		}
	}
	return out, nil
}

// Outcome is what happened when a provider was tried.
type Outcome string

// Outcomes.
const (
	OutcomeRan          Outcome = "ran"
	OutcomeNotInBuild   Outcome = "not-in-build"
	OutcomeLoadFailed   Outcome = "library-failed"
	OutcomeNoDevice     Outcome = "no-device"
	OutcomeModelFailed  Outcome = "failed-on-model"
	OutcomeNotORT       Outcome = "not-onnx-runtime"
	OutcomeCanceled     Outcome = "canceled"
	OutcomeSkippedNoCPU Outcome = "skipped"
)

// Label is the outcome in words, for the table.
func (o Outcome) Label() string {
	switch o {
	case OutcomeRan:
		return "ran"
	case OutcomeNotInBuild:
		return "not in this ONNX Runtime build"
	case OutcomeLoadFailed:
		return "library failed to load"
	case OutcomeNoDevice:
		return "no usable device"
	case OutcomeModelFailed:
		return "failed on this model"
	case OutcomeNotORT:
		return "not an ONNX Runtime provider"
	case OutcomeCanceled:
		return "canceled"
	case OutcomeSkippedNoCPU:
		return "skipped"
	}
	return string(o)
}

// providerError carries an outcome out of session setup.
type providerError struct {
	outcome Outcome
	detail  string
}

func (e *providerError) Error() string { return e.outcome.Label() + ": " + e.detail }

// preflight checks that a provider which lives in its own library can be
// loaded from the runtime's directory, and names what is missing.
func preflight(p Provider, rtDir string) error {
	if p.Library == "" {
		return nil
	}
	lib := filepath.Join(rtDir, p.Library)
	if _, err := os.Stat(lib); err != nil {
		d := p.Library + " is not installed next to libonnxruntime"
		if p.NotInBuildHint != "" {
			d += "; " + p.NotInBuildHint
		}
		return &providerError{outcome: OutcomeNotInBuild, detail: d}
	}
	shared := filepath.Join(rtDir, "libonnxruntime_providers_shared.so")
	if _, err := os.Stat(shared); err != nil {
		return &providerError{outcome: OutcomeLoadFailed, detail: "libonnxruntime_providers_shared.so is missing from " + rtDir + "; reinstall with: immich-accel runtime install --gpu"}
	}
	if err := ortlib.TryLoad(shared); err != nil {
		return &providerError{outcome: OutcomeLoadFailed, detail: loadDetail(err)}
	}
	if err := ortlib.TryLoad(lib); err != nil {
		return &providerError{outcome: OutcomeLoadFailed, detail: loadDetail(err)}
	}
	return nil
}

// loadDetail turns a dlerror message into "libcublasLt.so.13 is missing".
func loadDetail(err error) string {
	msg := err.Error()
	if le := (*ortlib.LoadError)(nil); errors.As(err, &le) {
		msg = le.Reason
	}
	if i := strings.Index(msg, ": cannot open shared object file"); i >= 0 {
		missing := msg[:i]
		if j := strings.LastIndex(missing, ": "); j >= 0 {
			missing = missing[j+2:]
		}
		return filepath.Base(missing) + " is missing (" + hintFor(filepath.Base(missing)) + ")"
	}
	return shorten(msg, 200)
}

func hintFor(lib string) string {
	switch {
	case strings.HasPrefix(lib, "libcublas"), strings.HasPrefix(lib, "libcudart"), strings.HasPrefix(lib, "libcurand"), strings.HasPrefix(lib, "libcufft"):
		return "install the CUDA 13 runtime libraries"
	case strings.HasPrefix(lib, "libcudnn"):
		return "install cuDNN 9 for CUDA 13"
	case strings.HasPrefix(lib, "libnvinfer"), strings.HasPrefix(lib, "libnvonnxparser"):
		return "install TensorRT 10"
	case strings.HasPrefix(lib, "libcuda.so"):
		return "no NVIDIA driver: install it, or run inside a container with the NVIDIA runtime"
	case strings.HasPrefix(lib, "libvulkan"):
		return "install the Vulkan loader (libvulkan1) and a GPU driver with Vulkan support"
	case strings.HasPrefix(lib, "libopenvino"):
		return "install OpenVINO"
	case strings.HasPrefix(lib, "libmigraphx"), strings.HasPrefix(lib, "libamdhip"):
		return "install ROCm and MIGraphX"
	}
	return "install it or add its directory to LD_LIBRARY_PATH"
}

// classifyAppend maps an error from appending a provider to an outcome.
func classifyAppend(err error, log string) *providerError {
	msg := cleanORTError(err.Error())
	lower := strings.ToLower(msg + " " + log)
	switch {
	case strings.Contains(lower, "not supported in this build"), strings.Contains(lower, "unknown provider name"),
		strings.Contains(lower, "not enabled in this build"):
		return &providerError{outcome: OutcomeNotInBuild, detail: shorten(msg, 120)}
	case strings.Contains(lower, "cannot open shared object file"):
		if i := strings.Index(log, "cannot open shared object file"); i >= 0 {
			return &providerError{outcome: OutcomeLoadFailed, detail: loadDetail(errors.New(lastLine(log[:i+len("cannot open shared object file")])))}
		}
		return &providerError{outcome: OutcomeLoadFailed, detail: shorten(msg, 200)}
	case strings.Contains(lower, "failed to load"):
		return &providerError{outcome: OutcomeLoadFailed, detail: shorten(msg, 200)}
	case strings.Contains(lower, "no supported adapters"), strings.Contains(lower, "no device"), strings.Contains(lower, "device not found"),
		strings.Contains(lower, "cuda failure 100"), strings.Contains(lower, "no cuda-capable device"):
		d := shorten(msg, 160)
		if i := strings.Index(log, "Couldn't load "); i >= 0 {
			d += " (" + shorten(log[i:], 100) + ")"
		}
		return &providerError{outcome: OutcomeNoDevice, detail: d}
	}
	return &providerError{outcome: OutcomeLoadFailed, detail: shorten(msg, 200)}
}

// cleanORTError drops the source location and assertion text ONNX Runtime
// puts before some messages ("/onnxruntime_src/...cc:100 f() x was false.").
func cleanORTError(msg string) string {
	if strings.HasPrefix(msg, "/") {
		if i := strings.LastIndex(msg, " was false. "); i >= 0 {
			return msg[i+len(" was false. "):]
		}
	}
	return msg
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		return s[i+1:]
	}
	return s
}
