package detect

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/immich-accel/immich-accel/pkg/accel"
)

// evaluator turns facts into checks, backend verdicts and a recommendation.
// It does no I/O except the render-node access test.
type evaluator struct {
	d      *Detector
	f      *facts
	fs     fsys
	root   string
	checks []Check
	// backendsCache holds the verdicts once computed, for the container
	// checks' advice.
	backendsCache []BackendStatus
}

// add records checks; a check without an area gets its registry's.
func (e *evaluator) add(cs ...Check) {
	for _, c := range cs {
		if c.Area == "" {
			if info, ok := c.ID.Info(); ok {
				c.Area = info.Area
			}
		}
		e.checks = append(e.checks, c)
	}
}

func (d *Detector) evaluate(f *facts) *Report {
	e := &evaluator{d: d, f: f, fs: fsys{root: d.root}, root: d.root}
	e.platformChecks()
	e.dockerChecks()
	e.nvidiaChecks()
	e.intelChecks()
	e.amdChecks()
	e.maliChecks()
	e.rknnChecks()
	e.cpuCheck()
	e.transcodeChecks()
	for _, name := range f.unfinished {
		e.add(Check{ID: CheckProbeUnfinished, Area: AreaPlatform, Status: StatusWarn,
			Finding: fmt.Sprintf("the %s probe did not finish within %s; its checks are incomplete", name, f.budget),
			Fix:     "Something on this host blocks when read (a FIFO or a hung device or mount where a /proc, /sys or /dev file is expected); run `immich-accel doctor --json` again, and report it if it persists."})
	}
	for _, p := range f.panics {
		e.add(Check{ID: CheckInternalError, Area: AreaPlatform, Status: StatusWarn,
			Finding: "a probe failed unexpectedly: " + p,
			Fix:     "Please report this with `immich-accel doctor --json`."})
	}
	backends := e.backends()
	e.backendsCache = backends
	host := e.hostFacts()
	transcodes := e.transcodes()
	e.deploymentChecks(host, backends)
	e.composeTranscodeChecks(host, transcodes)
	e.containerChecks(backends)
	e.serverChecks()

	r := &Report{Root: d.root, Host: host, Backends: backends, Transcodes: transcodes}
	r.TranscodeRecommendation = e.recommendTranscode(transcodes)
	r.Checks = orderChecks(e.checks)
	r.Recommendation = e.recommend(backends)
	r.sanitize()
	for _, c := range r.Checks {
		switch c.Status {
		case StatusOK:
			r.Summary.OK++
		case StatusWarn:
			r.Summary.Warn++
		case StatusFail:
			r.Summary.Fail++
		default:
			r.Summary.Skip++
		}
	}
	return r
}

// orderChecks sorts checks by area, keeping each area's own order.
func orderChecks(cs []Check) []Check {
	idx := map[Area]int{}
	for i, a := range Areas {
		idx[a] = i
	}
	sort.SliceStable(cs, func(i, j int) bool { return idx[cs[i].Area] < idx[cs[j].Area] })
	return cs
}

func (e *evaluator) status(id CheckID) Status {
	for _, c := range e.checks {
		if c.ID == id {
			return c.Status
		}
	}
	return StatusSkip
}

// backendOrder is the preference among backends a host can serve.
// (immich-accel's own ranking: discrete GPUs first, then integrated GPUs and
// NPUs, the CPU always last.)
var backendOrder = []accel.Backend{accel.CUDA, accel.ROCm, accel.OpenVINO, accel.OpenVINOWSL, accel.RKNN, accel.ARMNN, accel.CPU}

func (e *evaluator) backends() []BackendStatus {
	var out []BackendStatus
	for _, name := range backendOrder {
		out = append(out, e.backend(name))
	}
	return out
}

// verdict builds a status from the checks a backend needs. A failed check
// blocks it; so does a warning from a check listed in strict, and a skipped
// check listed in strict (something that could not be verified).
func (e *evaluator) verdict(name accel.Backend, readyReason string, must []CheckID, strict ...CheckID) BackendStatus {
	b := BackendStatus{Name: name, State: BackendReady, Reason: readyReason}
	for _, id := range must {
		st := e.status(id)
		if st == StatusFail || ((st == StatusWarn || st == StatusSkip) && slices.Contains(strict, id)) {
			b.Blockers = append(b.Blockers, id)
		}
	}
	if len(b.Blockers) > 0 {
		b.State = BackendNeedsFixes
		var fs []string
		for _, id := range b.Blockers {
			fs = append(fs, e.finding(id))
		}
		b.Reason = strings.Join(fs, "; ")
	}
	return b
}

func unavailable(name accel.Backend, why string) BackendStatus {
	return BackendStatus{Name: name, State: BackendUnavailable, Reason: why}
}

func (e *evaluator) backend(name accel.Backend) BackendStatus {
	p := e.f.platform
	archOK := e.status(CheckPlatformArch) != StatusFail && e.status(CheckPlatformOS) != StatusFail
	switch name {
	case accel.CUDA:
		if !e.nvidiaPresent() {
			return unavailable(name, "no NVIDIA GPU")
		}
		if p.Arch != "amd64" && p.Arch != "arm64" {
			return unavailable(name, "architecture "+p.Arch)
		}
		usable := false
		n := e.f.nvml
		for _, g := range n.GPUs {
			if st, _, _ := judgeCC(g); st != StatusFail {
				usable = true
			}
		}
		if len(n.GPUs) > 0 && !usable {
			return unavailable(name, firstProblem(n.GPUs))
		}
		reason := "NVIDIA GPU"
		if len(n.GPUs) > 0 {
			g := n.GPUs[0]
			reason = fmt.Sprintf("%s (compute %d.%d, %s) with driver %s", g.Name, g.Major, g.Minor, gib(g.MemoryBytes), n.Driver)
			if st, why, _ := judgeCC(g); st == StatusWarn {
				reason += "; but " + why
			}
		}
		b := e.verdict(name, reason, []CheckID{CheckPlatformOS, CheckNVIDIADriver, CheckNVIDIAGPU, CheckNVIDIAToolkit}, CheckNVIDIADriver)
		return b
	case accel.OpenVINO:
		if p.WSL {
			if e.wslDriver("iigd") {
				return unavailable(name, "on WSL2 use openvino-wsl")
			}
			return unavailable(name, "no Intel GPU")
		}
		if e.status(CheckIntelGPU) == StatusSkip {
			return unavailable(name, "no Intel GPU")
		}
		return e.verdict(name, e.finding(CheckIntelGPU), []CheckID{CheckPlatformOS, CheckIntelGPU})
	case accel.OpenVINOWSL:
		if !p.WSL {
			return unavailable(name, "not WSL2")
		}
		if !e.wslDriver("iigd") {
			return unavailable(name, "no Intel GPU driver shared with WSL2")
		}
		return e.verdict(name, "Intel GPU through WSL2's /dev/dxg", []CheckID{CheckPlatformOS, CheckIntelGPU})
	case accel.ROCm:
		if e.status(CheckAMDGPU) == StatusSkip {
			return unavailable(name, "no AMD GPU")
		}
		if p.Arch != "amd64" {
			return unavailable(name, "ROCm images are amd64 only")
		}
		return e.verdict(name, e.finding(CheckAMDGPU)+"; "+e.finding(CheckAMDGFX), []CheckID{CheckPlatformOS, CheckAMDGPU, CheckAMDGFX}, CheckAMDGFX)
	case accel.RKNN:
		if e.f.rknn.SoC == "" {
			return unavailable(name, "not a Rockchip SoC")
		}
		if e.status(CheckRKNNSoC) == StatusFail {
			return unavailable(name, e.finding(CheckRKNNSoC))
		}
		return e.verdict(name, strings.ToUpper(e.f.rknn.SoC)+" NPU, "+e.finding(CheckRKNNDriver), []CheckID{CheckPlatformOS, CheckRKNNSoC, CheckRKNNDriver})
	case accel.ARMNN:
		if e.status(CheckMaliDevice) == StatusSkip {
			return unavailable(name, "no Mali GPU")
		}
		if p.Arch != "arm64" {
			return unavailable(name, "not an arm64 host")
		}
		if !e.f.mali.Mali0 {
			b := BackendStatus{Name: name, State: BackendNeedsFixes, Reason: e.finding(CheckMaliDevice), Blockers: []CheckID{CheckMaliDevice}}
			if e.status(CheckMaliLibMali) == StatusFail {
				b.Blockers = append(b.Blockers, CheckMaliLibMali)
			}
			return b
		}
		reason := "Mali GPU via /dev/mali0, libmali at " + e.f.mali.LibMali
		if e.f.mali.GPUName != "" {
			reason = e.f.mali.GPUName + " via /dev/mali0, libmali at " + e.f.mali.LibMali
		}
		return e.verdict(name, reason, []CheckID{CheckPlatformOS, CheckMaliDevice, CheckMaliLibMali})
	case accel.CPU:
		if !archOK {
			return unavailable(name, "platform not supported")
		}
		if e.status(CheckCPU) != StatusOK {
			return BackendStatus{Name: name, State: BackendReady, Reason: "the CPU always works (its model and features are unknown here)"}
		}
		return BackendStatus{Name: name, State: BackendReady, Reason: "the CPU always works: " + e.finding(CheckCPU)}
	}
	return unavailable(name, "unknown backend")
}

func (e *evaluator) finding(id CheckID) string {
	for _, c := range e.checks {
		if c.ID == id {
			return c.Finding
		}
	}
	return ""
}

// recommend picks the most capable backend that is ready or can be made
// ready, and the runner-up.
func (e *evaluator) recommend(bs []BackendStatus) Recommendation {
	var cands []BackendStatus
	for _, b := range bs {
		if b.State != BackendUnavailable {
			cands = append(cands, b)
		}
	}
	if len(cands) == 0 {
		return Recommendation{Backend: accel.CPU, Reason: "this platform cannot run Immich's machine-learning image", Command: ""}
	}
	best := cands[0]
	r := Recommendation{Backend: best.Name, Ready: best.State == BackendReady}
	switch {
	case best.Name == accel.CPU:
		r.Reason = "no usable accelerator found; " + best.Reason
	case r.Ready:
		r.Reason = best.Reason
	default:
		r.Reason = "best hardware here, once fixed: " + best.Reason
	}
	if len(cands) > 1 {
		ru := cands[1]
		r.RunnerUp = ru.Name
		r.RunnerUpReason = ru.Reason
		if ru.State == BackendNeedsFixes {
			r.RunnerUpReason = "needs fixes: " + ru.Reason
		}
	}
	r.Run = e.composeRun(best.Name)
	return r
}

// hostFacts summarises the host for other commands (compose, bench).
func (e *evaluator) hostFacts() HostFacts {
	f := e.f
	h := HostFacts{
		OS:           "linux",
		Kernel:       f.platform.Kernel,
		Arch:         f.platform.Arch,
		Machine:      f.platform.Machine,
		WSL:          f.platform.WSL,
		DXG:          f.platform.DXG,
		CPUModel:     f.cpu.Model,
		CPUCores:     f.cpu.Cores,
		LibMaliPath:  f.mali.LibMali,
		MaliFirmware: f.mali.Firmware,
		Mali0:        f.mali.Mali0,
		KFD:          f.pci.KFD,
		SoC:          f.rknn.SoC,
		RKNPUDriver:  f.rknn.DriverVersion,
		RenderGID:    f.groups.RenderGID,
		VideoGID:     f.groups.VideoGID,
		NVIDIADriver: f.nvml.Driver,
		CUDADriver:   "",
		NVIDIAGPUs:   len(f.nvml.GPUs),
		GFXTargets:   append([]string{}, f.pci.GFXTargets...),
		CPUFlags:     []string{},
		GPUs:         []GPU{},
		RenderNodes:  []RenderNode{},
		RKMPPNodes:   []string{},
		OpenCL:       f.transcode.OpenCL,
		LibMali1Path: f.transcode.LibMali1,
	}
	for _, n := range []struct {
		path string
		ok   bool
	}{{"/dev/rga", f.transcode.RGA}, {"/dev/mpp_service", f.transcode.MPPService}, {"/dev/dma_heap", f.transcode.DMAHeap}} {
		if n.ok {
			h.RKMPPNodes = append(h.RKMPPNodes, n.path)
		}
	}
	if f.platform.GOOS != "linux" && e.d.isHostRoot() {
		h.OS = f.platform.GOOS
	}
	if f.nvml.CUDA > 0 {
		h.CUDADriver = cudaString(f.nvml.CUDA)
	}
	if h.NVIDIAGPUs == 0 && e.nvidiaPresent() {
		// NVML not usable: count the PCI devices.
		h.NVIDIAGPUs = len(e.pciDevices(vendorNVIDIA))
	}
	for _, fl := range []string{"avx2", "avx512f", "avx512_vnni", "avx_vnni", "asimd", "asimddp", "i8mm", "sve"} {
		if f.cpu.Flags[fl] {
			h.CPUFlags = append(h.CPUFlags, fl)
		}
	}
	for _, rn := range f.pci.Render {
		if rn.DevExists {
			h.RenderNodes = append(h.RenderNodes, RenderNode{Path: rn.DevPath, Vendor: rn.Vendor, Device: rn.Device, Driver: rn.Driver})
		}
	}
	for _, g := range f.nvml.GPUs {
		nvenc := "unknown"
		switch st, _ := gpuNVENC(g); st {
		case StatusOK:
			nvenc = "yes"
		case StatusFail:
			nvenc = "no"
		}
		h.GPUs = append(h.GPUs, GPU{Vendor: "nvidia", Name: g.Name, MemoryBytes: g.MemoryBytes,
			ComputeCapability: fmt.Sprintf("%d.%d", g.Major, g.Minor), PCIBusID: g.BusID, NVENC: nvenc})
	}
	df := f.docker
	h.Docker = DockerFacts{
		CLI:            df.CLIPath,
		Reachable:      df.Info != nil,
		Endpoint:       df.Endpoint,
		Context:        df.Context,
		Podman:         df.podman(),
		Desktop:        e.dockerDesktop(),
		ComposeVersion: df.ComposeVersion,
	}
	if df.Version != nil {
		h.Docker.APIVersion = df.Version.APIVersion
	}
	if df.Info != nil {
		h.Docker.ServerVersion = df.Info.ServerVersion
		for k := range df.Info.Runtimes {
			h.Docker.Runtimes = append(h.Docker.Runtimes, k)
		}
		sort.Strings(h.Docker.Runtimes)
	}
	h.Docker.CDISpecs = append([]string{}, f.toolkit.CDISpecs...)
	if h.Docker.Runtimes == nil {
		h.Docker.Runtimes = []string{}
	}
	return h
}

// HostFacts are the facts other commands need, with stable JSON names.
type HostFacts struct {
	OS      string `json:"os"`
	Kernel  string `json:"kernel"`
	Arch    string `json:"arch"`
	Machine string `json:"machine"`
	WSL     bool   `json:"wsl"`
	DXG     bool   `json:"dxg"`

	CPUModel string   `json:"cpuModel"`
	CPUCores int      `json:"cpuCores"`
	CPUFlags []string `json:"cpuFlags"`

	NVIDIAGPUs   int    `json:"nvidiaGPUs"`
	NVIDIADriver string `json:"nvidiaDriver"`
	CUDADriver   string `json:"cudaDriver"`
	GPUs         []GPU  `json:"gpus"`

	RenderNodes []RenderNode `json:"renderNodes"`
	RenderGID   int          `json:"renderGID"`
	VideoGID    int          `json:"videoGID"`
	KFD         bool         `json:"kfd"`
	GFXTargets  []string     `json:"gfxTargets"`

	Mali0        bool   `json:"mali0"`
	LibMaliPath  string `json:"libMaliPath"`
	MaliFirmware bool   `json:"maliFirmware"`

	SoC         string `json:"soc"`
	RKNPUDriver string `json:"rknpuDriver"`

	// RKMPPNodes are the RKMPP device nodes present (/dev/rga,
	// /dev/mpp_service, /dev/dma_heap); OpenCL and LibMali1Path are what
	// RKMPP's HDR tonemapping mounts.
	RKMPPNodes   []string `json:"rkmppNodes"`
	OpenCL       bool     `json:"openCL"`
	LibMali1Path string   `json:"libMali1Path"`

	Docker DockerFacts `json:"docker"`
}

// GPU is one GPU NVML reported.
type GPU struct {
	Vendor            string `json:"vendor"`
	Name              string `json:"name"`
	MemoryBytes       uint64 `json:"memoryBytes"`
	ComputeCapability string `json:"computeCapability"`
	PCIBusID          string `json:"pciBusID"`
	// NVENC is "yes", "no" or "unknown": whether the GPU has a video
	// encoder (NVML's encoder capacity query).
	NVENC string `json:"nvenc"`
}

// RenderNode is a /dev/dri render node and the device behind it.
type RenderNode struct {
	Path   string `json:"path"`
	Vendor string `json:"vendor"`
	Device string `json:"device"`
	Driver string `json:"driver"`
}

// DockerFacts is what doctor learned about Docker.
type DockerFacts struct {
	CLI       string `json:"cli"`
	Reachable bool   `json:"reachable"`
	Endpoint  string `json:"endpoint"`
	// Context is the docker context that chose the endpoint ("" when
	// DOCKER_HOST did); APIVersion the Engine API version spoken.
	Context    string `json:"context,omitempty"`
	APIVersion string `json:"apiVersion,omitempty"`
	// Podman: the endpoint is Podman's Docker-compatible service.
	Podman         bool     `json:"podman,omitempty"`
	Desktop        bool     `json:"desktop"`
	ServerVersion  string   `json:"serverVersion"`
	ComposeVersion string   `json:"composeVersion"`
	Runtimes       []string `json:"runtimes"`
	CDISpecs       []string `json:"cdiSpecs"`
}

// maxText bounds each string of the report, whatever a host file holds.
const maxText = 600

// printable returns s with invalid UTF-8 and control characters (a host
// file full of binary data, terminal escape sequences) replaced by '?',
// cut to maxText bytes.
func printable(s string) string {
	ok := len(s) <= maxText && utf8.ValidString(s)
	if ok {
		for _, r := range s {
			if !unicode.IsPrint(r) && r != '\t' {
				ok = false
				break
			}
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		if i >= maxText {
			b.WriteString("…")
			break
		}
		if r == utf8.RuneError || (!unicode.IsPrint(r) && r != '\t') {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// sanitize makes every human-readable string of the report printable.
func (r *Report) sanitize() {
	for i := range r.Checks {
		c := &r.Checks[i]
		c.Finding, c.Fix = printable(c.Finding), printable(c.Fix)
		for j := range c.Detail {
			c.Detail[j] = printable(c.Detail[j])
		}
	}
	for i := range r.Backends {
		r.Backends[i].Reason = printable(r.Backends[i].Reason)
	}
	for i := range r.Transcodes {
		r.Transcodes[i].Reason = printable(r.Transcodes[i].Reason)
	}
	r.TranscodeRecommendation.Reason = printable(r.TranscodeRecommendation.Reason)
	rec := &r.Recommendation
	rec.Reason, rec.RunnerUpReason = printable(rec.Reason), printable(rec.RunnerUpReason)
	h := &r.Host
	for _, p := range []*string{&h.Kernel, &h.Machine, &h.CPUModel, &h.NVIDIADriver, &h.SoC, &h.RKNPUDriver, &h.LibMaliPath} {
		*p = printable(*p)
	}
}
