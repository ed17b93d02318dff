package detect

import (
	"fmt"
	"regexp"
	"strings"
)

// reHTTPStatus matches the Docker client's error for an HTTP answer that
// is not 200 ("docker: GET /_ping: 404 Not Found: ...").
var reHTTPStatus = regexp.MustCompile(`docker: GET /_ping: [1-5][0-9][0-9] `)

func (e *evaluator) platformChecks() {
	p := e.f.platform
	c := Check{ID: CheckPlatformOS, Area: AreaPlatform}
	switch {
	case p.GOOS != "linux" && e.d.isHostRoot():
		c.Status = StatusFail
		c.Finding = fmt.Sprintf("%s is not Linux: Immich's machine-learning images run on Linux and WSL2 only", osName(p.GOOS))
		c.Fix = "Run Immich and immich-accel on a Linux host or in WSL2; Docker Desktop on macOS/Windows can run the CPU image only."
	case p.WSL1:
		c.Status = StatusFail
		c.Finding = "WSL1 (kernel " + p.Kernel + "): Docker and GPU access need WSL2"
		c.Fix = "Convert the distribution in PowerShell: wsl --set-version <distro> 2"
	case p.WSL && !p.DXG:
		c.Status = StatusWarn
		c.Finding = "WSL2 (kernel " + p.Kernel + ") without /dev/dxg: no GPU is shared with Linux"
		c.Fix = "Update WSL (wsl --update in PowerShell) and the Windows GPU driver, then restart WSL (wsl --shutdown)."
	case p.WSL:
		c.Status = StatusOK
		c.Finding = "WSL2, kernel " + p.Kernel + ", /dev/dxg present"
	case p.Kernel == "":
		c.Status = StatusWarn
		c.Finding = "kernel release unknown: /proc/sys/kernel/osrelease " + describeErr(p.KernelErr)
		c.Fix = "Make sure /proc is mounted (doctor reads host files under " + e.root + ")."
	default:
		c.Status = StatusOK
		c.Finding = "Linux " + p.Kernel
		if p.OSType != "" && p.OSType != "Linux" {
			c.Status = StatusFail
			c.Finding = p.OSType + " " + p.Kernel + " is not Linux"
		}
	}
	if p.OSRelease != "" {
		c.Detail = append(c.Detail, "distribution: "+p.OSRelease)
	}
	if p.WSL && len(p.WSLDrivers) > 0 {
		c.Detail = append(c.Detail, "Windows GPU drivers shared with WSL: "+strings.Join(p.WSLDrivers, ", "))
	}
	if err := e.f.pci.Err; err != nil {
		// GPUs are still found through /sys/class/drm; say what is missing.
		c.Detail = append(c.Detail, "PCI devices could not be listed (GPUs are looked up through /sys/class/drm only): "+err.Error())
	}
	e.add(c)

	a := Check{ID: CheckPlatformArch, Area: AreaPlatform}
	switch p.Arch {
	case "amd64", "arm64":
		a.Status = StatusOK
		a.Finding = p.Machine + " (" + p.Arch + ")"
	case "":
		a.Status = StatusWarn
		a.Finding = "architecture unknown: /proc/sys/kernel/arch is missing"
		if p.MachineErr != "" {
			a.Finding = "architecture unknown: " + p.MachineErr
		}
		a.Fix = "Check with `uname -m`; Immich's machine-learning images exist for x86_64 and aarch64."
	default:
		a.Status = StatusFail
		a.Finding = p.Machine + ": Immich's machine-learning images are built for amd64 and arm64 only"
		a.Fix = "Run the machine-learning container on an x86_64 or aarch64 host (remote machine learning)."
	}
	e.add(a)
}

func osName(goos string) string {
	switch goos {
	case "darwin":
		return "macOS"
	case "windows":
		return "Windows (outside WSL2)"
	}
	return goos
}

// dockerDesktop tells whether the engine is Docker Desktop's.
func (e *evaluator) dockerDesktop() bool {
	df := e.f.docker
	if df.Info != nil {
		return strings.Contains(df.Info.OperatingSystem, "Docker Desktop")
	}
	return strings.Contains(df.Endpoint, ".docker/desktop") || len(df.DesktopHints) > 0
}

func (e *evaluator) cpuCheck() {
	c := e.f.cpu
	ch := Check{ID: CheckCPU, Area: AreaCPU}
	switch {
	case c.Err != nil:
		ch.Status = StatusWarn
		ch.Finding = "cannot read /proc/cpuinfo: " + describeErr(c.Err)
		ch.Fix = "Make sure /proc is mounted and readable."
		e.add(ch)
		return
	case c.Malformed:
		ch.Status = StatusWarn
		ch.Finding = "/proc/cpuinfo has no processor entries; CPU model and features unknown"
		e.add(ch)
		return
	}
	var vec []string
	x86 := e.f.platform.Arch == "amd64" || c.Flags["sse2"]
	if x86 {
		for _, fl := range []struct{ flag, name string }{
			{"avx2", "AVX2"}, {"fma", "FMA"}, {"avx512f", "AVX-512"}, {"avx512_vnni", "AVX-512 VNNI"}, {"avx_vnni", "AVX-VNNI"}, {"amx_tile", "AMX"},
		} {
			if c.Flags[fl.flag] {
				vec = append(vec, fl.name)
			}
		}
	} else {
		for _, fl := range []struct{ flag, name string }{
			{"asimd", "NEON"}, {"asimddp", "dot product"}, {"i8mm", "I8MM"}, {"sve", "SVE"},
		} {
			if c.Flags[fl.flag] {
				vec = append(vec, fl.name)
			}
		}
	}
	model := c.Model
	if model == "" {
		model = "unknown CPU"
	}
	ch.Status = StatusOK
	ch.Finding = fmt.Sprintf("%s, %d cores, %s", model, c.Cores, orNone(strings.Join(vec, ", ")))
	if len(vec) == 0 {
		ch.Finding = fmt.Sprintf("%s, %d cores, no SIMD extensions reported", model, c.Cores)
	}
	switch {
	case x86 && !c.Flags["avx2"]:
		ch.Status = StatusWarn
		ch.Finding += "; no AVX2"
		ch.Fix = "ONNX Runtime falls back to slower SSE kernels without AVX2; expect slow Smart Search and face detection on CPU."
	case !x86 && !c.Flags["asimd"] && e.f.platform.Arch == "arm64":
		ch.Status = StatusWarn
		ch.Finding += "; NEON not reported"
	}
	e.add(ch)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// shortErr keeps the last, most specific part of a wrapped error message.
func shortErr(s string) string {
	if i := strings.LastIndex(s, ": dial "); i >= 0 {
		if j := strings.LastIndex(s, ": "); j > i {
			return s[j+2:]
		}
	}
	return s
}
