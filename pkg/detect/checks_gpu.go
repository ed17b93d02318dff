package detect

import (
	"fmt"
	"strings"
)

// Facts about NVIDIA that Immich's CUDA image depends on.
const (
	// MinNVIDIADriver is the oldest driver branch (CUDA 12.3) that runs
	// Immich's -cuda image.
	MinNVIDIADriver = "545"
	minCCMajor      = 5
	minCCMinor      = 2
)

func (e *evaluator) nvidiaPresent() bool {
	for _, dev := range e.f.pci.Devices {
		if dev.Vendor == vendorNVIDIA {
			return true
		}
	}
	p := e.f.platform
	if p.WSL && (p.WSLLibNVML || e.wslDriver("nv")) {
		return true
	}
	return len(e.f.nvml.GPUs) > 0
}

// wslDriver reports whether the Windows driver store shared with WSL2
// holds a driver whose INF name starts with prefix (nv: NVIDIA,
// iigd: Intel graphics, u0: AMD).
func (e *evaluator) wslDriver(prefix string) bool {
	for _, d := range e.f.platform.WSLDrivers {
		if strings.HasPrefix(strings.ToLower(d), prefix) {
			return true
		}
	}
	return false
}

func (e *evaluator) nvidiaPCIDrivers() []string {
	var out []string
	for _, dev := range e.f.pci.Devices {
		if dev.Vendor == vendorNVIDIA {
			drv := dev.Driver
			if drv == "" {
				drv = "no driver"
			}
			out = append(out, fmt.Sprintf("%s 10de:%s (%s)", dev.Address, dev.Device, drv))
		}
	}
	return out
}

func (e *evaluator) nvidiaChecks() {
	n := e.f.nvml
	present := e.nvidiaPresent()
	drv := Check{ID: CheckNVIDIADriver, Area: AreaNVIDIA}
	gpu := Check{ID: CheckNVIDIAGPU, Area: AreaNVIDIA}
	tk := Check{ID: CheckNVIDIAToolkit, Area: AreaNVIDIA}
	if !present {
		for _, c := range []*Check{&drv, &gpu, &tk} {
			c.Status, c.Finding = StatusSkip, "no NVIDIA GPU found"
			e.add(*c)
		}
		return
	}
	pciDrv := e.nvidiaPCIDrivers()
	switch {
	case !n.Probed:
		drv.Status = StatusSkip
		drv.Finding = "driver not queried: " + n.SkipReason
	case n.LibMissing:
		drv.Status = StatusFail
		drv.Finding = "NVIDIA GPU found but libnvidia-ml.so.1 is missing: the NVIDIA driver is not installed"
		if strings.Contains(strings.Join(pciDrv, " "), "nouveau") {
			drv.Finding += " (the GPU is on the open-source nouveau driver)"
		}
		drv.Fix = "Install the NVIDIA proprietary driver " + MinNVIDIADriver + " or newer (Ubuntu: sudo ubuntu-drivers install), then reboot."
		if e.f.platform.WSL {
			drv.Fix = "Install the current NVIDIA driver on Windows (not inside WSL); WSL2 exposes it under /usr/lib/wsl/lib."
		}
	case n.InitErr != "":
		drv.Status = StatusFail
		drv.Finding = "NVML could not start: " + n.InitErr
		drv.Fix = "Check `nvidia-smi`; a driver/library version mismatch after an update needs a reboot."
	case n.Err != "" && n.Driver == "":
		drv.Status = StatusFail
		drv.Finding = "NVML failed: " + n.Err
		drv.Fix = "Check `nvidia-smi`."
	case n.Driver != "" && !versionAtLeast(n.Driver, MinNVIDIADriver):
		drv.Status = StatusFail
		drv.Finding = fmt.Sprintf("driver %s (CUDA %s) is older than %s (CUDA 12.3), which Immich's -cuda image needs", n.Driver, cudaString(n.CUDA), MinNVIDIADriver)
		drv.Fix = "Upgrade the NVIDIA driver to " + MinNVIDIADriver + " or newer (Ubuntu: sudo ubuntu-drivers install), then reboot."
		if !anyCUDACapable(n.GPUs) {
			// Kepler and older GPUs (compute < 5.0) stop at the 470 branch:
			// no driver that Immich's image needs supports them.
			drv.Fix = "No driver upgrade helps here: drivers " + MinNVIDIADriver + " and newer do not support this GPU (compute capability below 5.2, see nvidia-gpu); use the CPU or another backend."
		}
	default:
		drv.Status = StatusOK
		drv.Finding = fmt.Sprintf("driver %s, CUDA %s", orUnknown(n.Driver), cudaString(n.CUDA))
	}
	if n.LibPath != "" {
		drv.Detail = append(drv.Detail, "NVML library: "+n.LibPath)
	}
	if len(pciDrv) > 0 {
		drv.Detail = append(drv.Detail, "PCI: "+strings.Join(pciDrv, ", "))
	}
	e.add(drv)

	switch {
	case !n.Probed || n.InitErr != "":
		gpu.Status = StatusSkip
		gpu.Finding = "GPU details need a working NVML (see nvidia-driver)"
		if len(pciDrv) > 0 {
			gpu.Finding += "; PCI: " + strings.Join(pciDrv, ", ")
		}
	case len(n.GPUs) == 0:
		gpu.Status = StatusFail
		gpu.Finding = "NVML lists no GPU"
		if n.Err != "" {
			gpu.Finding += ": " + n.Err
		}
		gpu.Fix = "Check `nvidia-smi`; the GPU may be bound to vfio-pci or held by a VM."
	default:
		gpu.Status = StatusOK
		var fixes []string
		for _, g := range n.GPUs {
			line := fmt.Sprintf("GPU %d: %s, %s, compute %d.%d, PCI %s", g.Index, orUnknown(g.Name), gib(g.MemoryBytes), g.Major, g.Minor, orUnknown(g.BusID))
			if g.Err != "" {
				line += " (" + g.Err + ")"
			}
			gpu.Detail = append(gpu.Detail, line)
			st, why, fix := judgeCC(g)
			if st != StatusOK {
				gpu.Detail = append(gpu.Detail, "  "+why)
				if gpu.Status.rank() < st.rank() {
					gpu.Status = st
				}
				fixes = appendUnique(fixes, fix)
			}
		}
		gpu.Finding = fmt.Sprintf("%d GPU(s): %s", len(n.GPUs), describeGPUs(n.GPUs))
		if gpu.Status != StatusOK {
			gpu.Finding = firstProblem(n.GPUs)
		}
		gpu.Fix = strings.Join(fixes, " ")
	}
	e.add(gpu)

	e.toolkitCheck(&tk)
	e.add(tk)
}

// anyCUDACapable reports whether NVML lists no GPU (nothing known) or at
// least one GPU whose compute capability Immich's CUDA image supports.
func anyCUDACapable(gs []nvmlGPU) bool {
	if len(gs) == 0 {
		return true
	}
	for _, g := range gs {
		if st, _, _ := judgeCC(g); st != StatusFail {
			return true
		}
	}
	return false
}

func describeGPUs(gs []nvmlGPU) string {
	var parts []string
	for _, g := range gs {
		parts = append(parts, fmt.Sprintf("%s (compute %d.%d, %s)", orUnknown(g.Name), g.Major, g.Minor, gib(g.MemoryBytes)))
	}
	return strings.Join(parts, "; ")
}

func firstProblem(gs []nvmlGPU) string {
	worst, msg := StatusOK, ""
	for _, g := range gs {
		if st, why, _ := judgeCC(g); st.rank() > worst.rank() {
			worst, msg = st, why
		}
	}
	return msg
}

// judgeCC checks a GPU's compute capability against what Immich's CUDA
// image supports.
func judgeCC(g nvmlGPU) (Status, string, string) {
	cc := fmt.Sprintf("%d.%d", g.Major, g.Minor)
	switch {
	case g.Major == 0 && g.Minor == 0:
		return StatusWarn, g.Name + ": compute capability unknown", "Check the GPU with `nvidia-smi --query-gpu=compute_cap --format=csv`."
	case g.Major < minCCMajor || (g.Major == minCCMajor && g.Minor < minCCMinor):
		return StatusFail, fmt.Sprintf("%s has compute capability %s; Immich's CUDA image needs 5.2 or newer", g.Name, cc),
			"This GPU cannot run Immich's CUDA backend; use another backend or the CPU."
	case g.Major >= 10:
		return StatusWarn, fmt.Sprintf("%s is a Blackwell GPU (compute %s), which the CUDA 12.2 runtime in Immich's -cuda image does not support", g.Name, cc),
			"Use an Immich release whose -cuda image is built with CUDA 12.8 or newer, or expect the ML container to fall back to CPU."
	case g.Major <= 6:
		return StatusWarn, fmt.Sprintf("%s is a Maxwell/Pascal GPU (compute %s): cuDNN 9.11 and later dropped these, and one Immich release shipped such a cuDNN", g.Name, cc),
			"If the ML container logs cuDNN errors or falls back to CPU, move to an Immich release whose -cuda image still supports compute 5.x/6.x."
	}
	return StatusOK, "", ""
}

func (e *evaluator) toolkitCheck(tk *Check) {
	t := e.f.toolkit
	p := e.f.platform
	var found []string
	for _, b := range toolkitBinaries {
		if path, ok := t.Binaries[b]; ok {
			found = append(found, path)
		}
	}
	runtimeReg := e.dockerRuntime("nvidia")
	nativeOnWSL := p.WSL && e.f.docker.Info != nil && !e.dockerDesktop()
	switch {
	case p.WSL && !nativeOnWSL:
		tk.Status = StatusOK
		tk.Finding = "not needed on WSL2 with Docker Desktop, which passes the GPU through itself"
		tk.Detail = append(tk.Detail, "with Docker Engine installed inside the WSL2 distribution, install the NVIDIA Container Toolkit there")
	case t.Binaries["nvidia-container-runtime-hook"] != "" || t.Binaries["nvidia-container-toolkit"] != "" || len(t.CDISpecs) > 0:
		tk.Status = StatusOK
		tk.Finding = "NVIDIA Container Toolkit installed"
		if runtimeReg {
			tk.Finding += "; Docker runtime nvidia registered"
		}
		if len(t.CDISpecs) > 0 {
			tk.Finding += "; CDI spec " + strings.Join(t.CDISpecs, ", ")
		}
	case len(found) > 0:
		tk.Status = StatusFail
		tk.Finding = "NVIDIA Container Toolkit incomplete: nvidia-container-runtime-hook is missing"
		tk.Fix = "Reinstall nvidia-container-toolkit, then run: sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker"
	default:
		tk.Status = StatusFail
		tk.Finding = "NVIDIA Container Toolkit not installed: Docker cannot give containers the GPU"
		tk.Fix = "Install it (https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html), then run: sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker"
	}
	if len(found) > 0 {
		tk.Detail = append(tk.Detail, "binaries: "+strings.Join(found, ", "))
	}
	if runtimeReg {
		tk.Detail = append(tk.Detail, "Docker runtime: nvidia")
	}
}

func (e *evaluator) dockerRuntime(name string) bool {
	if info := e.f.docker.Info; info != nil {
		_, ok := info.Runtimes[name]
		return ok
	}
	for _, r := range e.f.docker.DaemonJSONRuntimes {
		if r == name {
			return true
		}
	}
	return false
}

// ---- Intel ----

// intelGen names Intel GPU generations by PCI device ID (a small table of
// common ones; OpenVINO works on Gen9 and newer).
func intelGen(dev string) string {
	switch dev {
	case "46d0", "46d1", "46d2", "46d3", "46d4":
		return "Alder Lake-N UHD Graphics (Xe-LP, Gen12)"
	case "4680", "4682", "4688", "468a", "4690", "4692", "4693", "46a6", "46a8", "46aa":
		return "Alder Lake UHD/Iris Xe (Xe-LP, Gen12)"
	case "a780", "a781", "a782", "a783", "a788", "a789", "a7a0", "a7a8":
		return "Raptor Lake UHD/Iris Xe (Xe-LP, Gen12)"
	case "9a40", "9a49", "9a60", "9a68", "9a70", "9a78":
		return "Tiger Lake Iris Xe/UHD (Xe-LP, Gen12)"
	case "4c8a", "4c8b", "4c90", "4c9a":
		return "Rocket Lake UHD (Xe-LP, Gen12)"
	case "56a0", "56a1", "56a5", "56a6", "5690", "5691", "5692", "5693", "5694":
		return "Arc Alchemist (Xe-HPG)"
	case "e20b", "e20c", "e211", "e212":
		return "Arc Battlemage (Xe2-HPG)"
	case "7d40", "7d45", "7d55", "7dd5":
		return "Meteor Lake Arc Graphics (Xe-LPG)"
	case "64a0", "6420":
		return "Lunar Lake Arc Graphics (Xe2-LPG)"
	case "3e91", "3e92", "3e98", "3e9b", "9bc5", "9bc8":
		return "Coffee/Comet Lake UHD Graphics (Gen9.5)"
	case "5912", "5916", "591b", "5917":
		return "Kaby Lake HD Graphics (Gen9.5)"
	case "3185", "3184":
		return "Gemini Lake UHD Graphics (Gen9.5)"
	case "4e55", "4e61", "4e71":
		return "Jasper Lake UHD Graphics (Gen11)"
	case "8a52", "8a56", "8a5a":
		return "Ice Lake Iris Plus (Gen11)"
	}
	return ""
}

// gpuNodes returns the render nodes whose device is from vendor.
func (e *evaluator) gpuNodes(vendor string) []renderNode {
	var out []renderNode
	for _, rn := range e.f.pci.Render {
		if rn.Vendor == vendor {
			out = append(out, rn)
		}
	}
	return out
}

func (e *evaluator) pciDevices(vendor string) []pciDevice {
	var out []pciDevice
	for _, d := range e.f.pci.Devices {
		if d.Vendor == vendor {
			out = append(out, d)
		}
	}
	return out
}

func (e *evaluator) intelChecks() {
	p := e.f.platform
	gpu := Check{ID: CheckIntelGPU, Area: AreaIntel}
	acc := Check{ID: CheckIntelRenderAccess, Area: AreaIntel}
	nodes := e.gpuNodes(vendorIntel)
	devs := e.pciDevices(vendorIntel)

	if p.WSL {
		if !e.wslDriver("iigd") {
			gpu.Status, gpu.Finding = StatusSkip, "no Intel GPU driver shared with WSL2"
			acc.Status, acc.Finding = StatusSkip, "no Intel GPU"
			e.add(gpu, acc)
			return
		}
		switch {
		case !p.DXG:
			gpu.Status = StatusFail
			gpu.Finding = "Intel GPU driver present on Windows, but /dev/dxg is missing in WSL2"
			gpu.Fix = "Update WSL (wsl --update) and the Intel graphics driver on Windows, then wsl --shutdown."
		default:
			gpu.Status = StatusOK
			gpu.Finding = "Intel GPU shared through WSL2 (/dev/dxg); use the openvino-wsl backend, not openvino"
		}
		gpu.Detail = append(gpu.Detail, "Windows driver: "+strings.Join(filterPrefix(p.WSLDrivers, "iigd"), ", "))
		e.add(gpu)
		e.renderAccess(&acc, e.f.pci.Render, true)
		e.add(acc)
		return
	}
	if len(devs) == 0 && len(nodes) == 0 {
		gpu.Status, gpu.Finding = StatusSkip, "no Intel GPU found"
		acc.Status, acc.Finding = StatusSkip, "no Intel GPU"
		e.add(gpu, acc)
		return
	}
	var usable []renderNode
	for _, rn := range nodes {
		if (rn.Driver == "i915" || rn.Driver == "xe") && rn.DevExists {
			usable = append(usable, rn)
		}
	}
	dev := ""
	if len(devs) > 0 {
		dev = devs[0].Device
	} else if len(nodes) > 0 {
		dev = nodes[0].Device
	}
	name := intelGen(dev)
	if name == "" {
		name = "Intel GPU 8086:" + dev + " (generation not in doctor's table)"
	}
	switch {
	case len(usable) > 0:
		rn := usable[0]
		gpu.Status = StatusOK
		gpu.Finding = fmt.Sprintf("%s at %s (driver %s)", name, rn.DevPath, rn.Driver)
	case len(nodes) > 0 && !nodes[0].DevExists:
		gpu.Status = StatusFail
		gpu.Finding = fmt.Sprintf("%s has render node %s in sysfs, but %s is missing", name, nodes[0].Name, nodes[0].DevPath)
		gpu.Fix = "Check that udev created /dev/dri (inside a VM or LXC container, pass /dev/dri through)."
	default:
		drv := ""
		for _, d := range devs {
			drv = d.Driver
		}
		gpu.Status = StatusFail
		gpu.Finding = fmt.Sprintf("%s has no render node: driver %q is not i915 or xe", name, drv)
		gpu.Fix = "Load the i915 (or xe) kernel driver; on Arc GPUs use kernel 6.2 or newer."
	}
	for _, d := range devs {
		gpu.Detail = append(gpu.Detail, fmt.Sprintf("PCI %s 8086:%s driver %s", d.Address, d.Device, orNone(d.Driver)))
	}
	e.add(gpu)
	e.renderAccess(&acc, usable, false)
	e.add(acc)
}

func filterPrefix(ss []string, prefix string) []string {
	var out []string
	for _, s := range ss {
		if strings.HasPrefix(strings.ToLower(s), prefix) {
			out = append(out, s)
		}
	}
	return out
}

// renderAccess checks that this user can open the render nodes, and names
// the render and video group IDs that compose files need for group_add.
func (e *evaluator) renderAccess(c *Check, nodes []renderNode, wsl bool) {
	g := e.f.groups
	gids := fmt.Sprintf("render GID %s, video GID %s", gidString(g.RenderGID), gidString(g.VideoGID))
	var existing []renderNode
	for _, rn := range nodes {
		if rn.DevExists {
			existing = append(existing, rn)
		}
	}
	if len(existing) == 0 {
		c.Status = StatusSkip
		c.Finding = "no render node to check"
		if wsl {
			c.Status = StatusWarn
			c.Finding = "no /dev/dri render node in WSL2"
			c.Fix = "Update WSL (wsl --update); openvino-wsl mounts /dev/dri and /dev/dxg."
		}
		c.Detail = append(c.Detail, gids)
		return
	}
	var denied []string
	for _, rn := range existing {
		if err := e.d.access(e.fs.path(rn.DevPath)); err != nil {
			denied = append(denied, rn.DevPath)
		}
	}
	if len(denied) > 0 {
		c.Status = StatusWarn
		c.Finding = "this user cannot open " + strings.Join(denied, ", ") + " (" + gids + ")"
		c.Fix = "Add yourself to the render and video groups (sudo usermod -aG render,video $USER, then log in again) to run `immich-accel bench` here; containers get access through devices/group_add."
	} else {
		c.Status = StatusOK
		c.Finding = "this user can open " + existing[0].DevPath + " (" + gids + ")"
	}
	if wsl {
		c.Detail = append(c.Detail, fmt.Sprintf("on WSL2 add the groups to the ML service: group_add: [\"%s\", \"%s\"]", gidString(g.RenderGID), gidString(g.VideoGID)))
	}
}

func gidString(gid int) string {
	if gid < 0 {
		return "none"
	}
	return fmt.Sprint(gid)
}

// ---- AMD ----

// rocmTargets are the GPU targets Immich's ROCm image is built for.
var rocmTargets = map[string]bool{
	"gfx900": true, "gfx906": true, "gfx908": true, "gfx90a": true, "gfx942": true,
	"gfx1030": true, "gfx1100": true, "gfx1101": true, "gfx1102": true, "gfx1200": true, "gfx1201": true,
}

// hsaOverride suggests the HSA_OVERRIDE_GFX_VERSION for a target outside
// the supported list, using the nearest supported target of its family.
func hsaOverride(target string) string {
	switch {
	case strings.HasPrefix(target, "gfx103"):
		return "10.3.0"
	case strings.HasPrefix(target, "gfx110"), strings.HasPrefix(target, "gfx115"):
		return "11.0.0"
	case strings.HasPrefix(target, "gfx90"):
		return "9.0.0"
	case strings.HasPrefix(target, "gfx120"):
		return "12.0.0"
	}
	return ""
}

func (e *evaluator) amdChecks() {
	gpu := Check{ID: CheckAMDGPU, Area: AreaAMD}
	gfx := Check{ID: CheckAMDGFX, Area: AreaAMD}
	var nodes []renderNode
	for _, rn := range e.gpuNodes(vendorAMD) {
		if rn.Driver == "amdgpu" {
			nodes = append(nodes, rn)
		}
	}
	devs := e.pciDevices(vendorAMD)
	acc := Check{ID: CheckAMDRenderAccess, Area: AreaAMD}
	if len(nodes) == 0 && len(devs) == 0 && !e.f.pci.KFD {
		gpu.Status, gpu.Finding = StatusSkip, "no AMD GPU found"
		gfx.Status, gfx.Finding = StatusSkip, "no AMD GPU"
		acc.Status, acc.Finding = StatusSkip, "no AMD GPU"
		e.add(gpu, gfx, acc)
		return
	}
	g := e.f.groups
	switch {
	case len(nodes) == 0:
		gpu.Status = StatusFail
		gpu.Finding = "AMD GPU without an amdgpu render node"
		gpu.Fix = "Load the amdgpu kernel driver (radeon-driven GPUs are too old for ROCm)."
	case !e.f.pci.KFD:
		gpu.Status = StatusFail
		gpu.Finding = "amdgpu render node " + nodes[0].DevPath + " present, but /dev/kfd is missing (ROCm needs the kernel's KFD)"
		gpu.Fix = "Use a kernel with CONFIG_HSA_AMD=y (distribution kernels have it); in LXC/VMs pass /dev/kfd through."
	default:
		gpu.Status = StatusOK
		gpu.Finding = fmt.Sprintf("AMD GPU 1002:%s at %s (amdgpu) and /dev/kfd", nodes[0].Device, nodes[0].DevPath)
		gpu.Detail = append(gpu.Detail, fmt.Sprintf("ROCm's service adds group_add: [video]; video GID %s, render GID %s", gidString(g.VideoGID), gidString(g.RenderGID)))
	}
	for _, d := range devs {
		gpu.Detail = append(gpu.Detail, fmt.Sprintf("PCI %s 1002:%s driver %s", d.Address, d.Device, orNone(d.Driver)))
	}
	e.add(gpu)

	targets := e.f.pci.GFXTargets
	switch {
	case gpu.Status != StatusOK:
		gfx.Status, gfx.Finding = StatusSkip, "GPU target unknown until amd-gpu passes"
	case len(targets) == 0:
		gfx.Status = StatusWarn
		gfx.Finding = "GPU target unknown: no gfx_target_version in /sys/class/kfd/kfd/topology/nodes"
		gfx.Fix = "Check the target with `rocminfo | grep gfx`."
	default:
		var bad []string
		for _, t := range targets {
			if !rocmTargets[t] {
				bad = append(bad, t)
			}
		}
		if len(bad) == 0 {
			gfx.Status = StatusOK
			gfx.Finding = "GPU target " + strings.Join(targets, ", ") + " is supported by ROCm"
		} else {
			gfx.Status = StatusWarn
			gfx.Finding = "GPU target " + strings.Join(bad, ", ") + " is outside ROCm's supported list"
			if v := hsaOverride(bad[0]); v != "" {
				gfx.Fix = "Set HSA_OVERRIDE_GFX_VERSION=" + v + " in the machine-learning service's environment so ROCm treats it as a supported target."
			} else {
				gfx.Fix = "ROCm may not run on this GPU; try HSA_OVERRIDE_GFX_VERSION with the nearest supported target."
			}
		}
	}
	e.add(gfx)
	e.amdAccess(&acc, nodes)
	e.add(acc)
}

// amdAccess checks that this user can open the amdgpu render nodes and
// /dev/kfd, which ROCm needs both of (video and render groups).
func (e *evaluator) amdAccess(c *Check, nodes []renderNode) {
	g := e.f.groups
	gids := fmt.Sprintf("render GID %s, video GID %s", gidString(g.RenderGID), gidString(g.VideoGID))
	var paths []string
	for _, rn := range nodes {
		if rn.DevExists {
			paths = append(paths, rn.DevPath)
		}
	}
	if e.f.pci.KFD {
		paths = append(paths, "/dev/kfd")
	}
	if len(paths) == 0 {
		c.Status, c.Finding = StatusSkip, "no AMD device node to check"
		return
	}
	var denied []string
	for _, p := range paths {
		if err := e.d.access(e.fs.path(p)); err != nil {
			denied = append(denied, p)
		}
	}
	if len(denied) > 0 {
		c.Status = StatusWarn
		c.Finding = "this user cannot open " + strings.Join(denied, ", ") + " (" + gids + ")"
		c.Fix = "Add yourself to the render and video groups (sudo usermod -aG render,video $USER, then log in again) to run `immich-accel bench` here; the container gets access through its devices and group_add."
		return
	}
	c.Status = StatusOK
	c.Finding = "this user can open " + strings.Join(paths, ", ") + " (" + gids + ")"
}

// ---- Mali ----

// csfGPUs are Mali GPUs with a command stream frontend, which need
// mali_csffw.bin with the vendor kbase driver.
var csfGPUs = []string{"G310", "G510", "G610", "G615", "G710", "G715", "G720"}

func (e *evaluator) maliChecks() {
	m := e.f.mali
	dev := Check{ID: CheckMaliDevice, Area: AreaMali}
	lib := Check{ID: CheckMaliLibMali, Area: AreaMali}
	fw := Check{ID: CheckMaliFirmware, Area: AreaMali}
	arm := e.f.platform.Arch == "arm64"
	if !m.Mali0 && !m.Panfrost {
		reason := "no Mali GPU found"
		if !arm {
			reason = "not an arm64 host"
		}
		for _, c := range []*Check{&dev, &lib, &fw} {
			c.Status, c.Finding = StatusSkip, reason
		}
		e.add(dev, lib, fw)
		return
	}
	switch {
	case !arm && e.f.platform.Arch == "":
		dev.Status = StatusWarn
		dev.Finding = "Mali GPU found, but the architecture is unknown (see platform-arch); ARM NN needs arm64"
		dev.Fix = "Check with `uname -m`."
	case !arm:
		dev.Status = StatusFail
		dev.Finding = "Mali GPU on a " + e.f.platform.Arch + " host: ARM NN needs arm64"
		dev.Fix = "Run a 64-bit (arm64) operating system on this board; Immich's armnn image is arm64 only."
	case m.Mali0:
		dev.Status = StatusOK
		dev.Finding = "/dev/mali0 present (vendor kbase driver)"
		if m.GPUName != "" {
			dev.Finding = m.GPUName + ": " + dev.Finding
		}
	default:
		dev.Status = StatusFail
		dev.Finding = "the Mali GPU is driven by " + m.PanDriver + ", which has no /dev/mali0; ARM NN needs the vendor (kbase) driver"
		dev.Fix = "Boot a kernel with the vendor Mali kbase driver (your board vendor's BSP kernel)."
		if rknnSoCs[strings.TrimSuffix(e.f.rknn.SoC, "s")] {
			dev.Fix = "Boot a kernel with the vendor Mali kbase driver (your board vendor's BSP kernel), or use the rknn backend, which this SoC's NPU serves."
		}
	}
	e.add(dev)

	switch {
	case m.LibMali == "":
		lib.Status = StatusFail
		lib.Finding = "libmali.so not found in " + strings.Join(libDirs[:4], ", ") + " or the other library dirs"
		lib.Fix = "Install the vendor's userspace Mali driver (libmali) for your GPU, e.g. libmali-valhall-g610 on RK3588 boards."
	case m.LibMali == "/usr/lib/libmali.so":
		lib.Status = StatusOK
		lib.Finding = "libmali at /usr/lib/libmali.so (where Immich's armnn service mounts it from)"
	default:
		lib.Status = StatusWarn
		lib.Finding = "libmali at " + m.LibMali + ", not /usr/lib/libmali.so: the compose file must mount it from there"
		lib.Fix = "immich-accel compose mounts it from " + m.LibMali + "; by hand, change the armnn volume to " + m.LibMali + ":/usr/lib/libmali.so:ro"
	}
	if len(m.LibMaliAll) > 1 {
		lib.Detail = append(lib.Detail, "found: "+strings.Join(m.LibMaliAll, ", "))
	}
	e.add(lib)

	csf := false
	for _, g := range csfGPUs {
		if strings.Contains(m.GPUName, g) {
			csf = true
		}
	}
	switch {
	case m.Firmware:
		fw.Status = StatusOK
		fw.Finding = "/lib/firmware/mali_csffw.bin present"
	case m.FirmwareErr != nil:
		fw.Status = StatusWarn
		fw.Finding = "cannot read /lib/firmware/mali_csffw.bin: " + describeErr(m.FirmwareErr)
	case csf:
		fw.Status = StatusWarn
		fw.Finding = "/lib/firmware/mali_csffw.bin missing; " + m.GPUName + " is a CSF GPU, whose kbase driver usually needs it"
		fw.Fix = "Copy mali_csffw.bin from your board vendor's firmware package to /lib/firmware, or drop that volume line (immich-accel compose does when it is absent)."
	default:
		fw.Status = StatusOK
		fw.Finding = "/lib/firmware/mali_csffw.bin not present (only some drivers need it)"
	}
	e.add(fw)
}

// ---- RKNN ----

// rknnSoCs are the Rockchip SoCs Immich's RKNN backend supports.
var rknnSoCs = map[string]bool{"rk3566": true, "rk3568": true, "rk3576": true, "rk3588": true}

// MinRKNPUDriver is the oldest RKNPU kernel driver Immich's RKNN backend runs on.
const MinRKNPUDriver = "0.9.8"

func (e *evaluator) rknnChecks() {
	r := e.f.rknn
	soc := Check{ID: CheckRKNNSoC, Area: AreaRKNN}
	drv := Check{ID: CheckRKNNDriver, Area: AreaRKNN}
	base := strings.TrimSuffix(r.SoC, "s")
	if r.SoC == "" {
		reason := "not a Rockchip SoC"
		if r.CompatibleErr != nil && describeErr(r.CompatibleErr) != "not found" {
			reason = "cannot read /proc/device-tree/compatible: " + describeErr(r.CompatibleErr)
		}
		soc.Status, soc.Finding = StatusSkip, reason
		drv.Status, drv.Finding = StatusSkip, "not a Rockchip SoC"
		e.add(soc, drv)
		return
	}
	if rknnSoCs[base] {
		soc.Status = StatusOK
		soc.Finding = strings.ToUpper(r.SoC) + " is supported by Immich's RKNN backend"
	} else {
		soc.Status = StatusFail
		soc.Finding = strings.ToUpper(r.SoC) + " is not supported by Immich's RKNN backend (RK3566, RK3568, RK3576 and RK3588 only)"
		soc.Fix = "Use the armnn backend if the board has a Mali GPU with the vendor driver, or the CPU."
	}
	soc.Detail = append(soc.Detail, "compatible: "+strings.Join(r.Compatible, ", "))
	e.add(soc)
	if soc.Status == StatusFail {
		drv.Status, drv.Finding = StatusSkip, "not checked: Immich's RKNN backend does not support "+strings.ToUpper(r.SoC)
		if r.DriverVersion != "" {
			drv.Finding += " (RKNPU driver " + r.DriverVersion + " present)"
		}
		e.add(drv)
		return
	}

	switch {
	case r.DriverVersion != "" && versionAtLeast(r.DriverVersion, MinRKNPUDriver):
		drv.Status = StatusOK
		drv.Finding = "RKNPU driver " + r.DriverVersion + " (from " + r.DriverSource + ")"
		if base == "rk3588" || base == "rk3576" {
			n := "2"
			if base == "rk3588" {
				n = "2 or 3"
			}
			drv.Detail = append(drv.Detail, fmt.Sprintf("tip: the %s NPU has several cores; set MACHINE_LEARNING_RKNN_THREADS=%s in the ML service's environment for more throughput", strings.ToUpper(base), n))
		}
	case r.DriverVersion != "":
		drv.Status = StatusFail
		drv.Finding = "RKNPU driver " + r.DriverVersion + " is older than " + MinRKNPUDriver
		drv.Fix = "Update the board's kernel to one with RKNPU driver " + MinRKNPUDriver + " or newer (vendor BSP 5.10/6.1 kernels have it)."
	case len(r.DriverErrs) > 0:
		drv.Status = StatusWarn
		drv.Finding = "RKNPU driver version unreadable: " + strings.Join(r.DriverErrs, "; ")
		drv.Fix = "Run doctor with sudo (debugfs is root-only), or check `sudo dmesg | grep -i rknpu`; " + MinRKNPUDriver + " or newer is needed."
	case r.NPUDevice:
		drv.Status = StatusWarn
		drv.Finding = "RKNPU driver loaded, version not published"
		drv.Fix = "Check `sudo cat /sys/kernel/debug/rknpu/version`; " + MinRKNPUDriver + " or newer is needed."
	default:
		drv.Status = StatusFail
		drv.Finding = "RKNPU kernel driver not found"
		drv.Fix = "Boot the vendor BSP kernel (or one with the rknpu driver " + MinRKNPUDriver + "+); mainline kernels' rocket driver is not supported by Immich."
	}
	e.add(drv)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func gib(b uint64) string {
	if b == 0 {
		return "memory unknown"
	}
	g := float64(b) / (1 << 30)
	if g >= 10 {
		return fmt.Sprintf("%.0f GiB", g)
	}
	return fmt.Sprintf("%.1f GiB", g)
}

func appendUnique(ss []string, s string) []string {
	if s == "" {
		return ss
	}
	for _, x := range ss {
		if x == s {
			return ss
		}
	}
	return append(ss, s)
}
