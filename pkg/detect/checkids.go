package detect

import (
	"strings"

	"github.com/immich-accel/immich-accel/pkg/compose"
)

// CheckID names one check of the report. IDs are stable across releases: the
// README's doctor table documents each, and scripts match on them.
type CheckID string

// The checks, one constant each. Add a check here and in checkTable; the
// README coverage test then asks for its row.
const (
	CheckPlatformOS        CheckID = "platform-os"
	CheckPlatformArch      CheckID = "platform-arch"
	CheckDockerCLI         CheckID = "docker-cli"
	CheckDockerDaemon      CheckID = "docker-daemon"
	CheckDockerCompose     CheckID = "docker-compose"
	CheckDockerRuntimes    CheckID = "docker-runtimes"
	CheckNVIDIADriver      CheckID = "nvidia-driver"
	CheckNVIDIAGPU         CheckID = "nvidia-gpu"
	CheckNVIDIAToolkit     CheckID = "nvidia-toolkit"
	CheckIntelGPU          CheckID = "intel-gpu"
	CheckIntelRenderAccess CheckID = "intel-render-access"
	CheckAMDGPU            CheckID = "amd-gpu"
	CheckAMDGFX            CheckID = "amd-gfx"
	CheckAMDRenderAccess   CheckID = "amd-render-access"
	CheckMaliDevice        CheckID = "mali-device"
	CheckMaliLibMali       CheckID = "mali-libmali"
	CheckMaliFirmware      CheckID = "mali-firmware"
	CheckRKNNSoC           CheckID = "rknn-soc"
	CheckRKNNDriver        CheckID = "rknn-driver"
	CheckCPU               CheckID = "cpu"
	CheckComposeFile       CheckID = "compose-file"
	CheckComposeBackend    CheckID = "compose-backend"
	CheckMLContainer       CheckID = "ml-container"
	CheckMLProviders       CheckID = "ml-providers"
	CheckInternalError     CheckID = "internal-error"
	CheckProbeUnfinished   CheckID = "probe-unfinished"

	// Video transcoding: the host per hwaccel.transcoding.yml method, the
	// compose file's server section, the server container and Immich's
	// own Acceleration API setting.
	CheckTranscodeNVENC         CheckID = "transcode-nvenc"
	CheckTranscodeQuickSync     CheckID = "transcode-quicksync"
	CheckTranscodeVAAPI         CheckID = "transcode-vaapi"
	CheckTranscodeRenderAccess  CheckID = "transcode-render-access"
	CheckTranscodeRKMPP         CheckID = "transcode-rkmpp"
	CheckComposeTranscode       CheckID = "compose-transcode"
	CheckServerContainer        CheckID = "server-container"
	CheckServerTranscoding      CheckID = "server-transcoding"
	CheckImmichTranscodeSetting CheckID = "immich-transcode-setting"
)

// CheckComposeProblem is the pattern of the checks made from problems that
// compose's parser finds (compose.Problem.ID): compose-<problem>.
const CheckComposeProblem CheckID = "compose-<problem>"

// ComposeProblemCheck returns the check id for a compose.Problem ID.
func ComposeProblemCheck(problem compose.ProblemID) CheckID {
	return CheckID("compose-" + string(problem))
}

// CheckInfo is what the registry knows of a check: the area its line is
// shown under and the README's sentence for it.
type CheckInfo struct {
	ID   CheckID
	Area Area
	Doc  string
}

// checkTable is the registry, in README order.
func checkTable() []CheckInfo {
	return []CheckInfo{
		{CheckPlatformOS, AreaPlatform, "Linux or WSL2 (kernel release, `/dev/dxg`); WSL1 and macOS/Windows fail"},
		{CheckPlatformArch, AreaPlatform, "amd64 or arm64, the architectures Immich's ML images exist for"},
		{CheckDockerCLI, AreaDocker, "the `docker` CLI"},
		{CheckDockerDaemon, AreaDocker, "the daemon, found as the docker CLI finds it (`DOCKER_HOST`, `DOCKER_CONTEXT` or the current context, rootless and Desktop sockets; TLS), answers within the timeout; engine and API version, context, Docker Desktop or native; a Podman socket is named as such"},
		{CheckDockerCompose, AreaDocker, "the Compose v2 plugin and its version (read from the plugin's Go build information, else by running it)"},
		{CheckDockerRuntimes, AreaDocker, "registered runtimes (`nvidia`), CDI spec directories and NVIDIA CDI specs"},
		{CheckNVIDIADriver, AreaNVIDIA, "NVML loads; driver version ≥ 545 (CUDA 12.3) for the `-cuda` image"},
		{CheckNVIDIAGPU, AreaNVIDIA, "each GPU's name, memory, compute capability (≥ 5.2; Maxwell/Pascal cuDNN warning; Blackwell warning), PCI bus id"},
		{CheckNVIDIAToolkit, AreaNVIDIA, "NVIDIA Container Toolkit (hook, `nvidia-ctk`, runtime or CDI) on native Linux; not needed with Docker Desktop on WSL2"},
		{CheckIntelGPU, AreaIntel, "an Intel GPU on i915/xe with a `/dev/dri/renderD*` node and its generation; on WSL2 the Intel driver through `/dev/dxg` (use `openvino-wsl`)"},
		{CheckIntelRenderAccess, AreaIntel, "this user can open the render node; render/video GIDs (for `group_add` on WSL2)"},
		{CheckAMDGPU, AreaAMD, "an amdgpu render node and `/dev/kfd`; video/render GIDs"},
		{CheckAMDGFX, AreaAMD, "the GPU target (from the KFD topology) is in ROCm's list, else the `HSA_OVERRIDE_GFX_VERSION` to set"},
		{CheckAMDRenderAccess, AreaAMD, "this user can open the amdgpu render node and `/dev/kfd` (render/video groups)"},
		{CheckMaliDevice, AreaMali, "arm64 and `/dev/mali0` from the vendor kbase driver (panfrost has none)"},
		{CheckMaliLibMali, AreaMali, "`libmali.so` at `/usr/lib/libmali.so` or where else it is (the path compose must mount)"},
		{CheckMaliFirmware, AreaMali, "`/lib/firmware/mali_csffw.bin` (reported, needed only by some drivers)"},
		{CheckRKNNSoC, AreaRKNN, "Rockchip SoC from the device tree: RK3566, RK3568, RK3576, RK3588 are supported"},
		{CheckRKNNDriver, AreaRKNN, "RKNPU driver ≥ 0.9.8 (`/sys/kernel/debug/rknpu/version`, `/sys/module/rknpu/version`, `/proc/debug/rknpu/version`); thread-count tip on RK3576/RK3588; skipped on other SoCs"},
		{CheckCPU, AreaCPU, "model, cores, AVX2/AVX-512/VNNI or NEON/dot product"},
		{CheckTranscodeNVENC, AreaTranscode, "an NVIDIA GPU with an NVENC encoder (NVML's encoder capacity; data-center GPUs such as A100 and H100 have none; Kepler and drivers before 520 cannot run FFmpeg's NVENC)"},
		{CheckTranscodeQuickSync, AreaTranscode, "an Intel GPU on i915/xe with a render node and its generation, for Quick Sync; skipped on WSL2, where Quick Sync is not supported (use `vaapi-wsl`)"},
		{CheckTranscodeVAAPI, AreaTranscode, "an Intel or AMD render node for VAAPI; on WSL2 `/dev/dxg`, `/dev/dri` and `/usr/lib/wsl` for `vaapi-wsl`"},
		{CheckTranscodeRenderAccess, AreaTranscode, "this user can open the render node; the render GID a server run with `user:` needs in `group_add`"},
		{CheckTranscodeRKMPP, AreaTranscode, "on a Rockchip SoC, `/dev/rga`, `/dev/mpp_service`, `/dev/dma_heap` and `/dev/dri` for RKMPP; whether `/dev/mali0`, `/etc/OpenCL` and `libmali.so.1` allow OpenCL HDR tonemapping"},
		{CheckComposeFile, AreaDeployment, "the compose file: ML service, backend, extends or inline, image; variables that pick the backend resolved with the `.env` next to it, as Compose reads it"},
		{CheckComposeProblem, AreaDeployment, "mistakes found by `compose`'s parser, e.g. `compose-section-without-suffix`, `compose-suffix-without-section`, `compose-extends-file-missing`, `compose-suffix-section-mismatch`, `compose-env-file-invalid` (the `.env` next to it does not read)"},
		{CheckComposeBackend, AreaDeployment, "the configured backend against this host: `openvino` on WSL2, a backend this host cannot serve, `libmali.so`/firmware mounted from paths this host lacks"},
		{CheckComposeTranscode, AreaDeployment, "the server service's transcoding section (`immich-server`, or `immich-microservices` in files before v1.106) against this host: `quicksync` or `vaapi` on WSL2, `vaapi-wsl` off it, a method this host cannot serve (NVENC on a GPU without an encoder), software transcoding where hardware could; problems found in the file are `compose-transcode-<problem>`: `compose-transcode-extends-file-missing`, `compose-transcode-extends-section-missing`, `compose-transcode-capabilities` (an NVIDIA reservation without `video`), `compose-transcode-several-sections`"},
		{CheckMLContainer, AreaContainer, "the Immich ML container, from the Engine API: state, the start error Docker kept (`could not select device driver \"nvidia\"`, a missing device), exit code (139 segfault, 134 abort, 137 with OOMKilled), restart loop, health and the last probe's output, and whether it got the GPU or devices its image variant needs; each with its cause and fix"},
		{CheckMLProviders, AreaContainer, "from its logs: `Setting execution providers to [...]`, `Available ORT providers`, and the known failures (see below) with cause and fix; otherwise the hint to set `IMMICH_LOG_LEVEL=debug`"},
		{CheckServerContainer, AreaServer, "the running Immich server container (the microservices one when there is one) and its image"},
		{CheckServerTranscoding, AreaServer, "from its logs: `Retrying with NVENC acceleration disabled` after `Error occurred during transcoding: ...`, `Cannot open DRM render node`, `Failed to set value 'qsv=hw' for option 'init_hw_device'`, `No VAAPI device found`, NVENC's `OpenEncodeSessionEx failed`, each with its fix; or the accelerated encoding Immich logged"},
		{CheckImmichTranscodeSetting, AreaServer, "with `--immich-url`: Immich's Acceleration API (`ffmpeg.accel`: nvenc, qsv, vaapi, rkmpp, disabled) and hardware decoding against the compose file's section"},
		{CheckInternalError, AreaPlatform, "only when a probe failed unexpectedly (a bug: please report it with `--json`)"},
		{CheckProbeUnfinished, AreaPlatform, "only when a probe did not finish within its budget (4 × `--timeout` + 1 s): something on the host blocks when read"},
	}
}

// Checks lists every check id with its area and documentation, in the
// README's order. compose-<problem> stands for the whole family.
func Checks() []CheckInfo { return checkTable() }

// Info returns the registry entry for id; a compose-<problem> id maps to the
// family's entry. ok is false for an id not in the registry.
func (id CheckID) Info() (CheckInfo, bool) {
	for _, c := range checkTable() {
		if c.ID == id {
			return c, true
		}
	}
	if id.IsComposeProblem() {
		for _, c := range checkTable() {
			if c.ID == CheckComposeProblem {
				return c, true
			}
		}
	}
	return CheckInfo{}, false
}

// IsComposeProblem reports whether id is one of the compose-<problem> family.
func (id CheckID) IsComposeProblem() bool {
	if len(id) <= len("compose-") || id[:len("compose-")] != "compose-" {
		return false
	}
	for _, c := range checkTable() {
		if c.ID == id {
			return false
		}
	}
	return true
}

// String returns the id.
func (id CheckID) String() string { return string(id) }

// JoinIDs lists ids for a sentence: "nvidia-driver, nvidia-toolkit".
func JoinIDs(ids []CheckID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = string(id)
	}
	return strings.Join(s, ", ")
}
