package detect

import (
	"fmt"
	"strings"

	"github.com/immich-accel/immich-accel/pkg/accel"
	"github.com/immich-accel/immich-accel/pkg/compose"
)

// Video transcoding: what each method of Immich's hwaccel.transcoding.yml
// needs on the host (https://docs.immich.app/features/hardware-transcoding).

// transcodeFacts are the device nodes and libraries transcoding methods
// need beyond what the ML probes already read.
type transcodeFacts struct {
	// RKMPP's nodes, as hwaccel.transcoding.yml's rkmpp section passes them.
	RGA, MPPService, DMAHeap, DRI bool
	// For OpenCL HDR→SDR tonemapping on RKMPP (the section's commented
	// lines): /dev/mali0, /etc/OpenCL and libmali.so.1.
	OpenCL   bool
	LibMali1 string
	// WSLLib: /usr/lib/wsl, which vaapi-wsl mounts.
	WSLLib bool
}

// rkmppLibMali1 is where the rkmpp section mounts libmali.so.1 from.
const rkmppLibMali1 = "/usr/lib/aarch64-linux-gnu/libmali.so.1"

func (d *Detector) probeTranscode(fs fsys) transcodeFacts {
	t := transcodeFacts{
		RGA:        fs.exists("/dev/rga"),
		MPPService: fs.exists("/dev/mpp_service"),
		DMAHeap:    fs.exists("/dev/dma_heap"),
		DRI:        fs.exists("/dev/dri"),
		OpenCL:     fs.isDir("/etc/OpenCL"),
		WSLLib:     fs.isDir("/usr/lib/wsl"),
	}
	if fs.lexists(rkmppLibMali1) {
		t.LibMali1 = rkmppLibMali1
	}
	return t
}

// noNVENC are NVIDIA GPUs without an NVENC engine (NVIDIA's Video Encode
// and Decode GPU Support Matrix,
// https://developer.nvidia.com/video-encode-and-decode-gpu-support-matrix-new:
// NVENC 0 for A100, A30, A800, H100, H800, H200, H20). NVML's encoder query
// answers NOT_SUPPORTED on them; the names cover drivers that do not say.
var noNVENC = []string{"A100", "A30", "A800", "H100", "H800", "H200", "H20"}

func lacksNVENC(name string) bool {
	for _, n := range noNVENC {
		for _, f := range strings.Fields(name) {
			if f == n {
				return true
			}
		}
	}
	return false
}

// gpuNVENC says whether one GPU can encode with NVENC: ok, no, or unknown.
func gpuNVENC(g nvmlGPU) (Status, string) {
	name := orUnknown(g.Name)
	switch {
	case g.Encoder == encoderPresent:
		return StatusOK, fmt.Sprintf("%s has NVENC (%d%% of the encoder free)", name, g.EncoderCapacity)
	case lacksNVENC(g.Name):
		return StatusFail, name + " has no NVENC encoder (a data-center GPU)"
	case g.Major > 0 && g.Major < 5:
		// NVIDIA's Kepler support ended with the 470 driver branch, older
		// than the MinNVENCDriver that FFmpeg's NVENC needs.
		return StatusFail, fmt.Sprintf("%s (compute %d.%d) is older than Maxwell: no driver %s or newer, which FFmpeg's NVENC needs, supports it", name, g.Major, g.Minor, MinNVENCDriver)
	case g.Encoder == encoderUnsupported && (g.Major > 5 || (g.Major == 5 && g.Minor >= 0)):
		// Maxwell and newer answer the query when they have an encoder.
		return StatusFail, name + " has no NVENC encoder (NVML: encoder capacity not supported)"
	}
	return StatusWarn, name + ": NVENC support unknown (NVML did not say)"
}

func (e *evaluator) transcodeChecks() {
	e.nvencCheck()
	e.quicksyncCheck()
	e.vaapiCheck()
	e.transcodeAccessCheck()
	e.rkmppCheck()
}

// MinNVENCDriver is the oldest NVIDIA driver branch that FFmpeg's NVENC
// in Immich's server image runs on: jellyfin-ffmpeg 6 and newer are built
// with nv-codec-headers 12 (NVIDIA Video Codec SDK 12.0, whose release notes
// require Linux driver 520.56.06 or newer).
const MinNVENCDriver = "520"

func (e *evaluator) nvencCheck() {
	c := Check{ID: CheckTranscodeNVENC, Area: AreaTranscode}
	n := e.f.nvml
	switch {
	case !e.nvidiaPresent():
		c.Status, c.Finding = StatusSkip, "no NVIDIA GPU found"
	case !n.Probed || n.InitErr != "" || len(n.GPUs) == 0:
		c.Status, c.Finding = StatusSkip, "NVENC support needs a working NVML (see nvidia-driver)"
	default:
		c.Status = StatusFail
		var ok, bad []string
		for _, g := range n.GPUs {
			st, line := gpuNVENC(g)
			c.Detail = append(c.Detail, fmt.Sprintf("GPU %d: %s", g.Index, line))
			switch st {
			case StatusOK:
				ok = append(ok, line)
			default:
				bad = append(bad, line)
				if st == StatusWarn && c.Status == StatusFail {
					c.Status = StatusWarn
				}
			}
		}
		switch {
		case len(ok) > 0 && n.Driver != "" && !versionAtLeast(n.Driver, MinNVENCDriver):
			c.Status = StatusFail
			c.Finding = fmt.Sprintf("%s, but driver %s is older than %s, which FFmpeg's NVENC in Immich's server image needs", ok[0], n.Driver, MinNVENCDriver)
			c.Fix = "Upgrade the NVIDIA driver to " + MinNVENCDriver + " or newer (Ubuntu: sudo ubuntu-drivers install), then reboot."
		case len(ok) > 0:
			c.Status, c.Finding = StatusOK, ok[0]
		case c.Status == StatusWarn:
			c.Finding = bad[0]
			c.Fix = "Check with `nvidia-smi -q | grep -i encoder`; GPUs older than Maxwell or without NVENC cannot use the nvenc method."
		default:
			c.Finding = bad[0] + "; NVENC transcoding cannot work on it"
			c.Fix = "Keep transcoding on the CPU (or another GPU with quicksync/vaapi); the GPU still serves machine learning (cuda)."
		}
	}
	e.add(c)
}

func (e *evaluator) intelTranscodeNodes() []renderNode {
	var out []renderNode
	for _, rn := range e.gpuNodes(vendorIntel) {
		if (rn.Driver == "i915" || rn.Driver == "xe") && rn.DevExists {
			out = append(out, rn)
		}
	}
	return out
}

func (e *evaluator) amdTranscodeNodes() []renderNode {
	var out []renderNode
	for _, rn := range e.gpuNodes(vendorAMD) {
		if rn.Driver == "amdgpu" && rn.DevExists {
			out = append(out, rn)
		}
	}
	return out
}

func (e *evaluator) quicksyncCheck() {
	c := Check{ID: CheckTranscodeQuickSync, Area: AreaTranscode}
	p := e.f.platform
	nodes := e.intelTranscodeNodes()
	switch {
	case p.WSL:
		c.Status, c.Finding = StatusSkip, "Quick Sync is not supported on WSL2 (Immich's hardware-transcoding docs); use vaapi-wsl"
	case len(nodes) > 0:
		rn := nodes[0]
		name := intelGen(rn.Device)
		if name == "" {
			name = "Intel GPU 8086:" + rn.Device
		}
		c.Status = StatusOK
		c.Finding = fmt.Sprintf("%s at %s (%s) can transcode with Quick Sync", name, rn.DevPath, rn.Driver)
		if gen := intelGen(rn.Device); strings.Contains(gen, "Gen9") || strings.Contains(gen, "Gen11") {
			// Immich's docs: VP9 needs 9th gen or newer, and on 11th gen
			// or older low-power mode (HuC firmware, i915 enable_guc=2).
			c.Detail = append(c.Detail, "VP9 encoding on this generation needs low-power mode: load HuC firmware (i915 enable_guc=2)")
		}
	case e.status(CheckIntelGPU) == StatusFail:
		c.Status, c.Finding = StatusFail, "Intel GPU without a usable render node (see intel-gpu)"
		c.Fix = "Fix intel-gpu first; Quick Sync uses the same /dev/dri render node."
	default:
		c.Status, c.Finding = StatusSkip, "no Intel GPU found"
	}
	e.add(c)
}

func (e *evaluator) vaapiCheck() {
	c := Check{ID: CheckTranscodeVAAPI, Area: AreaTranscode}
	p := e.f.platform
	t := e.f.transcode
	if p.WSL {
		var missing []string
		if !p.DXG {
			missing = append(missing, "/dev/dxg")
		}
		if !t.DRI {
			missing = append(missing, "/dev/dri")
		}
		if !t.WSLLib {
			missing = append(missing, "/usr/lib/wsl")
		}
		if len(missing) > 0 {
			c.Status = StatusFail
			c.Finding = "VAAPI on WSL2 (vaapi-wsl) needs " + strings.Join(missing, ", ") + ", which this WSL2 lacks"
			c.Fix = "Update WSL (wsl --update) and the GPU driver on Windows, then wsl --shutdown."
		} else {
			c.Status = StatusOK
			c.Finding = "VAAPI through WSL2's d3d12 driver (/dev/dxg, /dev/dri, /usr/lib/wsl): use vaapi-wsl"
		}
		e.add(c)
		return
	}
	nodes := append(e.intelTranscodeNodes(), e.amdTranscodeNodes()...)
	if len(nodes) == 0 {
		c.Status, c.Finding = StatusSkip, "no Intel or AMD render node"
		if e.status(CheckIntelGPU) == StatusFail || e.status(CheckAMDGPU) == StatusFail {
			c.Status, c.Finding = StatusFail, "a GPU without a usable render node (see intel-gpu, amd-gpu)"
			c.Fix = "Fix the GPU's driver first; VAAPI uses its /dev/dri render node."
		}
		e.add(c)
		return
	}
	c.Status = StatusOK
	rn := nodes[0]
	c.Finding = fmt.Sprintf("%s render node %s (%s) for VAAPI", vendorName(rn.Vendor), rn.DevPath, rn.Driver)
	for _, n := range nodes[1:] {
		c.Detail = append(c.Detail, fmt.Sprintf("also %s %s (%s); Immich uses the first one unless Preferred hardware device is set", vendorName(n.Vendor), n.DevPath, n.Driver))
	}
	e.add(c)
}

func vendorName(v string) string {
	switch v {
	case vendorIntel:
		return "Intel"
	case vendorAMD:
		return "AMD"
	case vendorNVIDIA:
		return "NVIDIA"
	}
	return v
}

// transcodeAccessCheck: the render nodes Quick Sync and VAAPI use, and the
// render group a server running as a non-root user needs (group_add).
func (e *evaluator) transcodeAccessCheck() {
	c := Check{ID: CheckTranscodeRenderAccess, Area: AreaTranscode}
	nodes := append(e.intelTranscodeNodes(), e.amdTranscodeNodes()...)
	if e.f.platform.WSL {
		nodes = nil
		for _, rn := range e.f.pci.Render {
			if rn.DevExists {
				nodes = append(nodes, rn)
			}
		}
	}
	if len(nodes) == 0 {
		c.Status, c.Finding = StatusSkip, "no render node for Quick Sync or VAAPI"
		e.add(c)
		return
	}
	e.renderAccess(&c, nodes, false)
	if e.f.groups.RenderGID < 0 {
		c.Detail = append(c.Detail, "no render group in /etc/group: a server run with user: needs the node's group in group_add")
	} else {
		c.Detail = append(c.Detail, fmt.Sprintf("a server run with user: needs group_add: [\"%d\"] (render) to open the node", e.f.groups.RenderGID))
	}
	e.add(c)
}

func (e *evaluator) rkmppCheck() {
	c := Check{ID: CheckTranscodeRKMPP, Area: AreaTranscode}
	r := e.f.rknn
	t := e.f.transcode
	if r.SoC == "" {
		c.Status, c.Finding = StatusSkip, "not a Rockchip SoC"
		e.add(c)
		return
	}
	var missing []string
	for _, n := range []struct {
		path string
		ok   bool
	}{{"/dev/rga", t.RGA}, {"/dev/mpp_service", t.MPPService}, {"/dev/dma_heap", t.DMAHeap}, {"/dev/dri", t.DRI}} {
		if !n.ok {
			missing = append(missing, n.path)
		}
	}
	soc := strings.ToUpper(r.SoC)
	if len(missing) > 0 {
		c.Status = StatusFail
		c.Finding = soc + " lacks " + strings.Join(missing, ", ") + ", which RKMPP transcoding needs"
		c.Fix = "Boot the board vendor's BSP kernel (Rockchip's mpp_service and rga drivers); mainline kernels do not have them."
		e.add(c)
		return
	}
	c.Status = StatusOK
	c.Finding = soc + " has /dev/rga, /dev/mpp_service, /dev/dma_heap and /dev/dri for RKMPP"
	// HDR→SDR tonemapping with OpenCL needs the three commented lines of
	// the rkmpp section: /dev/mali0, /etc/OpenCL, libmali.so.1.
	var hdrMissing []string
	if !e.f.mali.Mali0 {
		hdrMissing = append(hdrMissing, "/dev/mali0")
	}
	if !t.OpenCL {
		hdrMissing = append(hdrMissing, "/etc/OpenCL")
	}
	if t.LibMali1 == "" {
		hdrMissing = append(hdrMissing, rkmppLibMali1)
	}
	if len(hdrMissing) == 0 {
		c.Detail = append(c.Detail, "OpenCL HDR tonemapping possible: uncomment the /dev/mali0, /etc/OpenCL and libmali.so.1 lines of the rkmpp section")
	} else {
		c.Detail = append(c.Detail, "no OpenCL HDR tonemapping (missing "+strings.Join(hdrMissing, ", ")+"): HDR videos are tonemapped on the CPU")
	}
	if strings.TrimSuffix(r.SoC, "s") != "rk3588" {
		c.Detail = append(c.Detail, "Immich's docs: only RK3588 supports hardware tonemapping; other SoCs tonemap in software")
	}
	e.add(c)
}

// TranscodeStatus is the verdict for one transcoding method.
type TranscodeStatus struct {
	Name   string       `json:"name"`
	State  BackendState `json:"state"`
	Reason string       `json:"reason"`
	// Accel is the ffmpeg.accel value (Immich's Acceleration API) the
	// method goes with.
	Accel    string    `json:"accel"`
	Blockers []CheckID `json:"blockers,omitempty"`
}

// TranscodeRecommendation is the transcoding method to use, how to enable
// it, and the admin setting to choose.
type TranscodeRecommendation struct {
	Method string `json:"method"`
	Ready  bool   `json:"ready"`
	Reason string `json:"reason"`
	// Accel is the ffmpeg.accel value to set; Setting says where, with the
	// value as Immich's web UI shows it.
	Accel   string `json:"accel"`
	Setting string `json:"setting"`
	// Run is the run of `immich-accel compose` that enables the method;
	// commands write it as a command line in Command.
	Run     *compose.FixRun `json:"run,omitempty"`
	Command string          `json:"command"`
}

// transcodeOrder is the preference among methods a host can serve: NVENC,
// then Quick Sync over plain VAAPI on Intel (Immich's docs recommend QSV
// for Intel), RKMPP on Rockchip, VAAPI (AMD), then the CPU.
var transcodeOrder = []accel.Transcode{accel.NVENC, accel.QuickSync, accel.RKMPP, accel.VAAPI, accel.VAAPIWSL, accel.TranscodeCPU}

func (e *evaluator) transcodes() []TranscodeStatus {
	var out []TranscodeStatus
	for _, m := range transcodeOrder {
		s := e.transcode(m)
		s.Accel = string(m.Accel())
		out = append(out, s)
	}
	return out
}

func tunavailable(m accel.Transcode, why string) TranscodeStatus {
	return TranscodeStatus{Name: string(m), State: BackendUnavailable, Reason: why}
}

func (e *evaluator) transcode(m accel.Transcode) TranscodeStatus {
	p := e.f.platform
	toStatus := func(b BackendStatus) TranscodeStatus {
		return TranscodeStatus{Name: string(m), State: b.State, Reason: b.Reason, Blockers: b.Blockers}
	}
	switch m {
	case accel.NVENC:
		if !e.nvidiaPresent() {
			return tunavailable(m, "no NVIDIA GPU")
		}
		encoder, none := false, len(e.f.nvml.GPUs) > 0
		for _, g := range e.f.nvml.GPUs {
			switch st, _ := gpuNVENC(g); st {
			case StatusOK:
				encoder, none = true, false
			case StatusWarn:
				none = false
			}
		}
		if none && !encoder {
			return tunavailable(m, e.finding(CheckTranscodeNVENC))
		}
		reason := e.finding(CheckTranscodeNVENC)
		if e.status(CheckTranscodeNVENC) == StatusSkip {
			reason = "NVIDIA GPU"
		}
		// A skipped or unknown NVENC check blocks: the encoder could not
		// be confirmed.
		return toStatus(e.verdict("", reason, []CheckID{CheckPlatformOS, CheckNVIDIAToolkit, CheckTranscodeNVENC}, CheckTranscodeNVENC))
	case accel.QuickSync:
		if p.WSL {
			return tunavailable(m, "Quick Sync is not supported on WSL2: use vaapi-wsl")
		}
		if e.status(CheckTranscodeQuickSync) == StatusSkip {
			return tunavailable(m, "no Intel GPU")
		}
		return toStatus(e.verdict("", e.finding(CheckTranscodeQuickSync), []CheckID{CheckPlatformOS, CheckTranscodeQuickSync}))
	case accel.VAAPI:
		if p.WSL {
			return tunavailable(m, "on WSL2 use vaapi-wsl")
		}
		if e.status(CheckTranscodeVAAPI) == StatusSkip {
			return tunavailable(m, "no Intel or AMD render node")
		}
		return toStatus(e.verdict("", e.finding(CheckTranscodeVAAPI), []CheckID{CheckPlatformOS, CheckTranscodeVAAPI}))
	case accel.VAAPIWSL:
		if !p.WSL {
			return tunavailable(m, "not WSL2")
		}
		return toStatus(e.verdict("", e.finding(CheckTranscodeVAAPI), []CheckID{CheckPlatformOS, CheckTranscodeVAAPI}))
	case accel.RKMPP:
		if e.f.rknn.SoC == "" {
			return tunavailable(m, "not a Rockchip SoC")
		}
		return toStatus(e.verdict("", e.finding(CheckTranscodeRKMPP), []CheckID{CheckPlatformOS, CheckTranscodeRKMPP}))
	case accel.TranscodeCPU:
		return TranscodeStatus{Name: string(m), State: BackendReady, Reason: "software transcoding always works"}
	}
	return tunavailable(m, "unknown method")
}

// recommendTranscode picks the most capable method that is ready or can
// be made ready.
func (e *evaluator) recommendTranscode(ts []TranscodeStatus) TranscodeRecommendation {
	best := TranscodeStatus{Name: string(accel.TranscodeCPU), State: BackendReady, Reason: "software transcoding always works"}
	for _, t := range ts {
		if t.State != BackendUnavailable {
			best = t
			break
		}
	}
	m := accel.Transcode(best.Name)
	r := TranscodeRecommendation{Method: best.Name, Ready: best.State == BackendReady, Accel: string(m.Accel())}
	switch {
	case m == accel.TranscodeCPU:
		r.Reason = "no hardware encoder found; software transcoding always works"
	case r.Ready:
		r.Reason = best.Reason
	default:
		r.Reason = "best hardware here, once fixed: " + best.Reason
	}
	r.Setting = accel.AdminSetting + ": " + m.Accel().AdminLabel()
	r.Run = e.transcodeRun(best.Name)
	return r
}

// transcodeRun is the run of `immich-accel compose` that switches the
// inspected compose file's server service to method: --inline when the
// server already inlines its section or the file looks like a stack that
// cannot read a second file, and the file when compose would not find it.
func (e *evaluator) transcodeRun(method string) *compose.FixRun {
	r := &compose.FixRun{Transcode: accel.Transcode(method), File: e.runFile()}
	if in := e.f.deploy.In; in != nil && (in.StackKind != "" || (in.Transcoding != nil && in.Transcoding.Mode == "inline")) {
		r.Inline = true
	}
	return r
}

// composeTranscodeChecks judges the compose file's transcoding section
// against this host.
func (e *evaluator) composeTranscodeChecks(host HostFacts, ts []TranscodeStatus) {
	df := e.f.deploy
	c := Check{ID: CheckComposeTranscode, Area: AreaDeployment}
	if df.In == nil || df.Err != nil {
		return
	}
	tr := df.In.Transcoding
	if tr == nil {
		c.Status, c.Finding = StatusSkip, "no Immich server service in the compose file"
		e.add(c)
		return
	}
	for _, p := range tr.Problems {
		st := problemStatus(p.ID)
		c := Check{ID: ComposeProblemCheck(p.ID), Area: AreaDeployment, Status: st, Finding: p.Message, Fix: p.Fix}
		if p.Run != nil {
			run := *p.Run
			run.File = e.runFile()
			c.Run = &run
		}
		e.add(c)
	}
	best := ""
	for _, s := range ts {
		if s.State == BackendReady && s.Name != string(accel.TranscodeCPU) {
			best = s.Name
			break
		}
	}
	byName := map[string]TranscodeStatus{}
	for _, s := range ts {
		byName[s.Name] = s
	}
	m := tr.Method
	mode := tr.Mode
	if mode == "extends" {
		mode = "extends " + tr.ExtendsFile
	}
	cmd := func(m string) (string, *compose.FixRun) {
		return "it switches the server to " + m + "; then set " + accel.AdminSetting + ": " + accel.Transcode(m).Accel().AdminLabel() + ".", e.transcodeRun(m)
	}
	where := fmt.Sprintf("service %s (%s)", tr.Service, mode)
	switch {
	case tr.MethodFromEnv:
		c.Status = StatusSkip
		c.Finding = where + ": the transcoding section comes from a variable; it cannot be checked statically"
	case m == "" && len(tr.Candidates) > 0:
		// quicksync or vaapi inlined: either is fine where one of them is.
		c.Status = StatusOK
		c.Finding = where + ": /dev/dri passed through (quicksync or vaapi; Immich's Acceleration API setting picks)"
		if host.WSL {
			c.Status = StatusFail
			c.Finding = where + ": /dev/dri alone does not work on WSL2: VAAPI there needs /dev/dxg and /usr/lib/wsl"
			c.Fix, c.Run = cmd(string(accel.VAAPIWSL))
		} else if byName[string(accel.QuickSync)].State == BackendUnavailable && byName[string(accel.VAAPI)].State == BackendUnavailable {
			c.Status = StatusFail
			c.Finding = where + ": passes /dev/dri, but this host has no Intel or AMD render node"
			c.Fix, c.Run = cmd(orCPUMethod(best))
		}
	case m == string(accel.QuickSync) && host.WSL:
		c.Status = StatusFail
		c.Finding = where + ": configured for quicksync, which is not supported on WSL2"
		c.Fix, c.Run = cmd(string(accel.VAAPIWSL))
	case m == string(accel.VAAPI) && host.WSL:
		c.Status = StatusFail
		c.Finding = where + ": the vaapi section does not work on WSL2: it lacks /dev/dxg and /usr/lib/wsl"
		c.Fix, c.Run = cmd(string(accel.VAAPIWSL))
	case m == string(accel.VAAPIWSL) && !host.WSL:
		c.Status = StatusFail
		c.Finding = where + ": vaapi-wsl is for WSL2; this host is native Linux"
		c.Fix, c.Run = cmd(string(accel.VAAPI))
	case m == string(accel.TranscodeCPU) || m == "":
		c.Status = StatusOK
		c.Finding = where + ": software transcoding"
		if best != "" {
			c.Status = StatusWarn
			c.Finding += ", although this host can transcode with " + best
			c.Fix, c.Run = cmd(best)
		}
	default:
		s, ok := byName[m]
		switch {
		case !ok:
			c.Status, c.Finding = StatusWarn, where+": unknown transcoding section "+m
		case s.State == BackendUnavailable:
			c.Status = StatusFail
			c.Finding = where + ": configured for " + m + ", which this host cannot serve: " + s.Reason
			c.Fix, c.Run = cmd(orCPUMethod(best))
		case s.State == BackendNeedsFixes:
			c.Status = StatusWarn
			c.Finding = where + ": configured for " + m + ", which needs fixes on this host first: " + s.Reason
			c.Fix = "See the failed checks: " + JoinIDs(s.Blockers) + "."
		default:
			c.Status = StatusOK
			c.Finding = where + ": configured for " + m + ", which this host can serve"
		}
	}
	if len(tr.Capabilities) > 0 {
		c.Detail = append(c.Detail, "NVIDIA capabilities: "+strings.Join(tr.Capabilities, ", "))
	}
	if len(tr.Devices) > 0 {
		c.Detail = append(c.Detail, "devices: "+strings.Join(tr.Devices, ", "))
	}
	e.add(c)
}

func orCPUMethod(m string) string {
	if m == "" {
		return string(accel.TranscodeCPU)
	}
	return m
}

// composeTranscodeMethod is the method the compose file configures ("" when
// unknown), and the ffmpeg.accel values that fit it.
func composeTranscodeMethod(in *compose.Inspection) (string, []accel.FFmpegAccel) {
	if in == nil || in.Transcoding == nil || in.Transcoding.MethodFromEnv {
		return "", nil
	}
	tr := in.Transcoding
	if tr.Method == "" && len(tr.Candidates) > 0 {
		var as []accel.FFmpegAccel
		for _, c := range tr.Candidates {
			as = append(as, accel.Transcode(c).Accel())
		}
		return strings.Join(tr.Candidates, " or "), as
	}
	if a := accel.Transcode(tr.Method).Accel(); a != "" {
		return tr.Method, []accel.FFmpegAccel{a}
	}
	return "", nil
}
