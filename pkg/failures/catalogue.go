package failures

import "github.com/immich-accel/immich-accel/pkg/accel"

// ID names one catalogue entry; ids are stable across releases (README
// lists them, `doctor -v` prints them beside the evidence).
type ID string

// The entries' ids, in catalogue order.
const (
	NVIDIANoDeviceDriver ID = "nvidia-no-device-driver"
	NVIDIANoRuntime      ID = "nvidia-no-runtime"
	NVIDIAHookNoDriver   ID = "nvidia-hook-no-driver"
	NVIDIAHookMismatch   ID = "nvidia-hook-mismatch"
	DeviceMissing        ID = "device-missing"
	OutOfMemory          ID = "out-of-memory"
	Segfault             ID = "segfault"
	Abort                ID = "abort"
	Killed               ID = "killed"
	CUDANoDevice         ID = "cuda-no-device"
	CUDADriverTooOld     ID = "cuda-driver-too-old"
	CUDANoKernelImage    ID = "cuda-no-kernel-image"
	CUDABrokenState      ID = "cuda-broken-state"
	CUDASessionFailed    ID = "cuda-session-failed"
	CuDNNMissing         ID = "cudnn-missing"
	CuDNNKernel          ID = "cudnn-kernel"
	GPUMemory            ID = "gpu-memory"
	OpenVINOGPUMemory    ID = "openvino-gpu-memory"
	OpenVINOPlugin       ID = "openvino-plugin"
	OpenVINOExecStack    ID = "openvino-exec-stack"
	OpenVINONoGPU        ID = "openvino-no-gpu"
	ROCmGFXUnsupported   ID = "rocm-gfx-unsupported"
	ROCmKernel           ID = "rocm-kernel"
	ARMNNNoLibMali       ID = "armnn-no-libmali"
	RKNNUnsupportedOp    ID = "rknn-unsupported-op"
	RKNNNPUMemory        ID = "rknn-npu-memory"
	RKNNNoDriver         ID = "rknn-no-driver"
	RKNNNotChosen        ID = "rknn-not-chosen"
	ProviderFallback     ID = "provider-fallback"
	CPUFallback          ID = "cpu-fallback"
)

// accelerated are the backends whose image should pick an ONNX Runtime
// provider other than the CPU's.
var accelerated = []accel.Backend{accel.CUDA, accel.OpenVINO, accel.OpenVINOWSL, accel.ROCm}

// entries is the catalogue, in the order matches are reported: Docker's
// start errors, crashes and memory, then the provider failures, then the
// CPU fallback they lead to. Sources are Immich's issue tracker
// (immich-app/immich#N unless another repository is named), as gathered in
// the project's notes on ML failures; the patterns are the exact texts
// those reports show.
func entries() []Entry {
	return []Entry{
		// ---- Docker cannot start the container ----
		{
			ID: NVIDIANoDeviceDriver, Where: InStartError,
			Patterns: []string{`could not select device driver "nvidia"`},
			Cause:    "Docker has no NVIDIA device driver: the NVIDIA Container Toolkit is not installed, or Docker is not configured for it",
			Fix:      "Install the NVIDIA Container Toolkit (nvidia-container-toolkit), run `sudo nvidia-ctk runtime configure --runtime=docker` and `sudo systemctl restart docker`, then `docker compose up -d`; on a host without an NVIDIA GPU, switch to the backend this host has (`immich-accel doctor` names it).",
			Upstream: "AbdBarho/stable-diffusion-webui-docker#423, #130",
		},
		{
			ID: NVIDIANoRuntime, Where: InStartError,
			Patterns: []string{`unknown or invalid runtime name: nvidia`},
			Cause:    "the compose file asks for `runtime: nvidia`, but Docker has no runtime of that name registered",
			Fix:      "Install the NVIDIA Container Toolkit, run `sudo nvidia-ctk runtime configure --runtime=docker` and `sudo systemctl restart docker`; or drop `runtime: nvidia` and use the cuda section of hwaccel.ml.yml (a device reservation).",
			Upstream: "gpustack/gpustack#3654",
		},
		{
			ID: NVIDIAHookNoDriver, Where: InStartError | InLog,
			Patterns: []string{"nvidia-container-cli: initialization error: load library failed: libnvidia-ml.so.1", "nvml error: driver not loaded", "nvidia-container-cli: ldcache error"},
			Cause:    "the NVIDIA Container Toolkit's hook cannot reach the host's NVIDIA driver (driver not installed or not loaded, or the toolkit cannot find libnvidia-ml.so.1)",
			Fix:      "Install the NVIDIA driver on the host and check that `nvidia-smi` works there (reboot after a driver update), then restart Docker; keep the toolkit's version matching the driver.",
			Upstream: "#17448, #6531, #28184",
		},
		{
			ID: NVIDIAHookMismatch, Where: InStartError | InLog,
			Patterns: []string{"nvidia-ctk: symbol lookup error", "nvidia-container-cli: symbol lookup error"},
			Cause:    "the NVIDIA Container Toolkit and the host's driver are out of step (a symbol the toolkit needs is missing from the driver's libraries), usually after updating one of them",
			Fix:      "Update the NVIDIA driver and nvidia-container-toolkit together (reboot after a driver update), then `sudo systemctl restart docker`.",
			Upstream: "#17271",
		},
		{
			ID: DeviceMissing, Where: InStartError,
			Patterns: []string{`error gathering device information while adding custom device`},
			Cause:    "the compose file passes a device node this host does not have (/dev/dri, /dev/kfd, /dev/mali0…): its driver is not loaded, or the host cannot have it",
			Fix:      "Load the GPU's driver so the device node exists, or switch to the backend this host has (`immich-accel doctor` names it, `immich-accel compose --backend …` sets it).",
			Upstream: "hydrian/stable-diffusion-webui-rocm#17, weskerfoot/DeleteFB#156",
		},

		// ---- the container or its worker crashes ----
		{
			ID: OutOfMemory, Where: InExitState | InLog, OOMKilled: true,
			Patterns: []string{"was sent SIGKILL! Perhaps out of memory?", "OOMKilled"},
			Cause:    "the machine-learning service ran out of memory (the container's memory limit or the host's RAM) and the kernel killed it",
			Fix:      "Raise the container's memory limit (`mem_limit` or deploy.resources.limits.memory) or free RAM on the host; with little memory, lower the ML jobs' concurrency or set MACHINE_LEARNING_MODEL_TTL so idle models are unloaded.",
			Upstream: "#5634, adampetrovic/home-ops#2464",
		},
		{
			ID: Segfault, Where: InExitState | InLog, ExitCodes: []int{139},
			Patterns: []string{"was sent code 139!", "was sent SIGSEGV!"},
			Cause:    "a native library (ONNX Runtime or its execution provider) crashed with a segmentation fault while loading or running a model",
			Fix:      "Look at the log lines just before the crash for the model and provider; try another model (Smart Search, face detection) or another backend, and update Immich.",
			Upstream: "#10726, #10343, #17326, imagegenius/docker-immich#577",
		},
		{
			ID: Abort, Where: InExitState | InLog, ExitCodes: []int{134},
			Patterns: []string{"was sent code 134!", "was sent SIGABRT!", "WORKER TIMEOUT"},
			Cause:    "the machine-learning worker aborted (a failed assertion in a native library) or hung while loading a model until gunicorn's timeout killed it",
			Fix:      "Look at the log lines just before it; for a slow model load raise MACHINE_LEARNING_WORKER_TIMEOUT, otherwise try another model or backend.",
			Upstream: "#20706, loeeeee/immich-in-lxc#123",
		},
		{
			ID: Killed, Where: InExitState, ExitCodes: []int{137},
			Cause: "the container was killed (SIGKILL) without the Engine recording an out-of-memory kill: `docker kill`, a stop that timed out, or the host's OOM killer outside the container's limit",
			Fix:   "If nobody stopped it, check the host's memory (`dmesg | grep -i oom`) and give the machine-learning service more; then `docker compose up -d`.",
		},

		// ---- CUDA ----
		{
			ID: CUDANoDevice, Where: InLog,
			Patterns: []string{"CUDA failure 100: no CUDA-capable device is detected"},
			Cause:    "the container sees no NVIDIA GPU: no device reservation, the NVIDIA Container Toolkit missing, or a MIG/vGPU instance not exposed",
			Fix:      "Use the cuda section of hwaccel.ml.yml (deploy.resources.reservations.devices) with the NVIDIA Container Toolkit installed; for MIG, expose the instance.",
			Upstream: "#14808, #10334",
		},
		{
			ID: CUDADriverTooOld, Where: InLog,
			Patterns: []string{"CUDA failure 35: CUDA driver version is insufficient for CUDA runtime version"},
			Cause:    "the host's NVIDIA driver is older than the CUDA runtime in the image (Immich's -cuda image needs driver 545 or newer); with a recent driver, the image's CUDA runtime does not know this GPU (Blackwell needs CUDA 12.8)",
			Fix:      "Update the NVIDIA driver (545 or newer); on a Blackwell GPU use an image built on CUDA 12.8 or newer, or OpenVINO/CPU meanwhile.",
			Upstream: "#28031, imagegenius/docker-immich#349",
		},
		{
			ID: CUDANoKernelImage, Where: InLog,
			Patterns: []string{"cudaErrorNoKernelImageForDevice", "no kernel image is available for execution on the device"},
			Cause:    "the image's CUDA/cuDNN build has no kernels for this GPU's compute capability: Maxwell/Pascal with cuDNN 9.11 or newer, Blackwell (sm_120) with the CUDA 12.2 image",
			Fix:      "Use an Immich version whose -cuda image supports this GPU, or the CPU/OpenVINO backend.",
			Upstream: "#28031, #28583, PR #23110",
		},
		{
			ID: CUDABrokenState, Where: InLog,
			Patterns: []string{"CUDA failure 999: unknown error", "CUDA failure 500: named symbol not found"},
			Cause:    "the NVIDIA driver or CUDA runtime is in a broken state, often after a driver update without a reboot",
			Fix:      "Reboot the host; if it persists, reinstall the NVIDIA driver.",
			Upstream: "#13045",
		},
		{
			ID: CUDASessionFailed, Where: InLog,
			Patterns: []string{"onnxruntime::CudaCall", "CudaCall]"},
			Cause:    "a CUDA call failed while ONNX Runtime used the GPU (most often no GPU visible in the container: CUDA failure 100)",
			Fix:      "Look for the `CUDA failure N` line nearby; check the cuda section (device reservation) and that `docker exec` into the container shows the GPU with nvidia-smi.",
			Upstream: "#10334",
		},
		{
			ID: CuDNNMissing, Where: InLog,
			Patterns: []string{"Require cuDNN 9.* and CUDA 12.*", "libcudnn.so.9: cannot open shared object file"},
			Cause:    "ONNX Runtime's CUDA provider cannot find the cuDNN 9 / CUDA 12 libraries (a bare-metal install without them)",
			Fix:      "Install cuDNN 9 and the CUDA 12 runtime libraries (for example `apt install nvidia-cudnn libcublaslt12 libcublas12`), or use Immich's -cuda image, which has them.",
			Upstream: "loeeeee/immich-in-lxc#32",
		},
		{
			ID: CuDNNKernel, Where: InLog,
			Patterns: []string{"CUDNN_STATUS_EXECUTION_FAILED", "CUDNN_STATUS_BAD_PARAM", "cudnnFindConvolutionForwardAlgorithmEx"},
			Cause:    "a cuDNN kernel failed: this GPU generation and the image's cuDNN version do not work together for this model",
			Fix:      "Try another Immich version (another cuDNN) or another model; OCR models are the usual trigger.",
			Upstream: "#22982, RapidAI/RapidOCR#596",
		},
		{
			ID: GPUMemory, Where: InLog,
			Patterns: []string{"BFCArena::AllocateRawInternal", "Failed to allocate memory for requested buffer of size", "CUBLAS_STATUS_ALLOC_FAILED"},
			Cause:    "the GPU's memory is exhausted (large models, several at once, OCR)",
			Fix:      "Use a smaller model, lower the ML jobs' concurrency, or set MACHINE_LEARNING_MODEL_TTL so idle models are unloaded.",
			Upstream: "#25165, #31675",
		},

		// ---- OpenVINO ----
		{
			ID: OpenVINOGPUMemory, Where: InLog,
			Patterns: []string{"[GPU] out of GPU resources"},
			Cause:    "the Intel GPU's memory is exhausted",
			Fix:      "Lower the ML jobs' concurrency or use a smaller model; try MACHINE_LEARNING_OPENVINO_PRECISION=FP16.",
			Upstream: "#13674",
		},
		{
			ID: OpenVINOPlugin, Where: InLog,
			Patterns: []string{"OpenVINO-EP-subgraph", "clCreateSubBuffer, error code: -30", "BackendManager"},
			Cause:    "OpenVINO's GPU plugin failed on this model (device and driver dependent)",
			Fix:      "Update Immich; try MACHINE_LEARNING_OPENVINO_PRECISION (FP16/FP32) or another model; the CPU backend works meanwhile.",
			Upstream: "#7487, #25830, loeeeee/immich-in-lxc#123",
		},
		{
			ID: OpenVINOExecStack, Where: InLog,
			Patterns: []string{"cannot enable executable stack as shared object requires"},
			Cause:    "the OpenVINO build of ONNX Runtime needs an executable stack, which this host's kernel or glibc refuses, so the worker does not boot",
			Fix:      "Use an image version with a fixed onnxruntime-openvino build; meanwhile the CPU image works.",
			Upstream: "imagegenius/docker-immich#502, microsoft/onnxruntime#24911",
		},
		{
			ID: OpenVINONoGPU, Where: InLog,
			Patterns: []string{"No GPU device found in OpenVINO", "Available OpenVINO devices: ['CPU']"},
			Cause:    "OpenVINO sees no Intel GPU in the container: /dev/dri is not passed, or the container cannot open it (render group)",
			Fix:      "Use the openvino section of hwaccel.ml.yml (it passes /dev/dri); if it is passed, add the host's render group id to group_add.",
			Upstream: "#7487, imagegenius/docker-immich#497",
		},

		// ---- ROCm ----
		{
			ID: ROCmGFXUnsupported, Where: InLog,
			Patterns: []string{"TensileLibrary.dat: No such file or directory for GPU arch"},
			Cause:    "this GPU's target (gfx…) is not in the image's ROCm libraries",
			Fix:      "Set HSA_OVERRIDE_GFX_VERSION to a supported target of the same family (9.0.0 for gfx90c; 10.3.0 or 11.0.0 for other families).",
			Upstream: "#21648",
		},
		{
			ID: ROCmKernel, Where: InLog,
			Patterns: []string{"MIOpen Error", "miopenStatusUnknownError", "HSA_STATUS_ERROR"},
			Cause:    "a ROCm kernel (MIOpen/HSA) failed on this GPU, often only under concurrent jobs",
			Fix:      "Lower the ML jobs' concurrency; check HSA_OVERRIDE_GFX_VERSION; try another Immich version.",
			Upstream: "PR #11063",
		},

		// ---- ARM NN, RKNN ----
		{
			ID: ARMNNNoLibMali, Where: InLog, Backends: []accel.Backend{accel.ARMNN},
			Patterns: []string{"Could not load ANN shared libraries"},
			Cause:    "the -armnn image could not load ARM NN: libmali.so (or /dev/mali0) is not in the container, so it runs on the CPU",
			Fix:      "Use the armnn section of hwaccel.ml.yml: it passes /dev/mali0 and mounts the host's libmali.so (`immich-accel compose --backend armnn` mounts it from where this host has it).",
			Upstream: "#12789, #19714, #8353",
		},
		{
			ID: RKNNUnsupportedOp, Where: InLog,
			Patterns: []string{"Unsupport CPU op"},
			Cause:    "the model uses an operator the RKNN runtime lacks (the XLM-Roberta/NLLB textual models)",
			Fix:      "Pick another CLIP model for Smart Search (for example ViT-B-32__openai).",
			Upstream: "#17098",
		},
		{
			ID: RKNNNPUMemory, Where: InLog,
			Patterns: []string{"failed to allocate handle"},
			Cause:    "the NPU's memory is exhausted",
			Fix:      "Lower the ML jobs' concurrency or MACHINE_LEARNING_RKNN_THREADS.",
			Upstream: "PR #15241",
		},
		{
			ID: RKNNNoDriver, Where: InLog,
			Patterns: []string{"failed to open rknpu module"},
			Cause:    "the rknpu kernel driver is not loaded on the host",
			Fix:      "Boot a vendor kernel with the RKNPU driver 0.9.8 or newer.",
			Upstream: "PR #15241",
		},
		{
			ID: RKNNNotChosen, Where: InLog, Backends: []accel.Backend{accel.RKNN},
			Patterns: []string{"execution providers to"},
			Cause:    "the -rknn image chose ONNX Runtime instead of RKNN (RKNN logs `Loading RKNN model` instead): the SoC was not detected, the rknpu driver is missing, or /dev/dri is not passed",
			Fix:      "Use the rknn section of hwaccel.ml.yml (devices and security_opt) on an RK3566/RK3568/RK3576/RK3588 with the rknpu driver loaded.",
			Upstream: "#30037",
		},

		// ---- the result: CPU ----
		{
			ID: ProviderFallback, Where: InLog,
			Patterns: []string{"Falling back to ['CPUExecutionProvider']"},
			Cause:    "ONNX Runtime could not create the accelerated provider when the model loaded and retried on the CPU (the reason is in the lines before)",
			Fix:      "Fix the error logged just before the fallback.",
			Upstream: "#28031",
		},
		{
			ID: CPUFallback, Where: InLog, Backends: accelerated,
			Patterns: []string{"execution providers to ['CPUExecutionProvider']"},
			Cause:    "the accelerated image uses only the CPU: its provider is not available inside the container",
			Fix:      "Pass the device through with the backend's section of hwaccel.ml.yml and check the image suffix matches it (`immich-accel compose --backend …`).",
			Upstream: "#28031, imagegenius/docker-immich#497",
		},
	}
}
