package detect

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/immich-accel/immich-accel/internal/docker"
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

func (e *evaluator) dockerChecks() {
	df := e.f.docker
	reachable := df.Info != nil || (df.Endpoint != "" && df.PingErr == nil && df.NoDaemon == "")

	cli := Check{ID: CheckDockerCLI, Area: AreaDocker}
	if df.CLIPath != "" {
		cli.Status, cli.Finding = StatusOK, "docker CLI at "+df.CLIPath
	} else {
		cli.Status = StatusFail
		cli.Finding = "docker CLI not found"
		cli.Fix = "Install Docker Engine: https://docs.docker.com/engine/install/"
		if reachable {
			cli.Status = StatusWarn
			cli.Fix = "Install the docker CLI (docker-ce-cli) to manage Immich with `docker compose`."
		}
	}
	e.add(cli)

	dm := Check{ID: CheckDockerDaemon, Area: AreaDocker}
	switch {
	case df.NoDaemon != "":
		dm.Status = StatusFail
		dm.Finding = "Docker daemon not reachable: " + df.NoDaemon
		dm.Fix = "Start Docker (sudo systemctl enable --now docker), or set DOCKER_HOST to the daemon's address."
		if df.BadHost {
			dm.Fix = "Set DOCKER_HOST to unix:///path/to/docker.sock or tcp://host:port, or unset it to use " + docker.DefaultSocket + "; for a daemon reached over ssh:// or TLS, run doctor on that host."
		}
	case df.PingErr != nil:
		dm.Status = StatusFail
		msg := df.PingErr.Error()
		dm.Finding = "Docker daemon at " + df.Endpoint + " did not answer: " + shortErr(msg)
		switch {
		case strings.Contains(msg, "connection refused"):
			dm.Finding = "Docker daemon at " + df.Endpoint + " is not running: connection refused"
		case strings.Contains(msg, "no such file or directory"):
			dm.Finding = "Docker daemon at " + df.Endpoint + " is not running: the socket does not exist"
		case errors.Is(df.PingErr, docker.ErrTimeout):
			dm.Finding = fmt.Sprintf("Docker daemon at %s accepts connections but did not answer within %s", df.Endpoint, e.d.timeout)
		case reHTTPStatus.MatchString(msg):
			dm.Finding = "something answers at " + df.Endpoint + ", but not as a Docker daemon: " + shortErr(msg)
		}
		switch {
		case reHTTPStatus.MatchString(msg):
			dm.Fix = "Check DOCKER_HOST: it must be the Docker daemon's address (tcp://host:2375 or a unix socket), not a proxy or another service."
		case strings.Contains(msg, "permission denied"):
			dm.Fix = "Add your user to the docker group (sudo usermod -aG docker $USER, then log in again) or run with sudo."
		case strings.Contains(msg, "did not answer in time"):
			dm.Fix = "The daemon accepts connections but does not answer; check `sudo systemctl status docker` and `journalctl -u docker`."
		default:
			dm.Fix = "Start Docker (sudo systemctl enable --now docker), or set DOCKER_HOST to the daemon's address."
		}
	case df.Info == nil:
		dm.Status = StatusWarn
		dm.Finding = "Docker daemon at " + df.Endpoint + " answers, but /info failed: " + shortErr(errString(df.InfoErr))
		dm.Fix = "Check `docker info` and `journalctl -u docker`."
	default:
		dm.Status = StatusOK
		kind := "native engine"
		if e.dockerDesktop() {
			kind = "Docker Desktop"
		}
		dm.Finding = fmt.Sprintf("Docker Engine %s at %s (%s)", df.Info.ServerVersion, df.Endpoint, kind)
		if df.Info.OperatingSystem != "" {
			dm.Detail = append(dm.Detail, "operating system: "+df.Info.OperatingSystem)
		}
		if df.Info.Architecture != "" {
			dm.Detail = append(dm.Detail, "architecture: "+df.Info.Architecture)
		}
	}
	if len(df.DesktopHints) > 0 {
		dm.Detail = append(dm.Detail, "Docker Desktop traces: "+strings.Join(df.DesktopHints, ", "))
	}
	e.add(dm)

	cp := Check{ID: CheckDockerCompose, Area: AreaDocker}
	switch {
	case df.ComposePath != "" && df.ComposeVersion != "":
		cp.Status = StatusOK
		cp.Finding = "Compose v" + df.ComposeVersion + " (plugin at " + df.ComposePath + ")"
		if !versionAtLeast(df.ComposeVersion, "2.0.0") {
			cp.Status = StatusFail
			cp.Finding = "Compose " + df.ComposeVersion + " is older than v2"
			cp.Fix = "Install the Compose v2 plugin (docker-compose-plugin): https://docs.docker.com/compose/install/linux/"
		}
	case df.ComposePath != "":
		cp.Status = StatusOK
		cp.Finding = "Compose plugin at " + df.ComposePath
		if df.ComposeErr != "" {
			cp.Status = StatusWarn
			cp.Finding += ", version unknown: " + shortErr(df.ComposeErr)
			cp.Fix = "Check that `docker compose version` works."
		}
	case df.ComposeV1 != "":
		cp.Status = StatusFail
		cp.Finding = "only a standalone docker-compose at " + df.ComposeV1 + "; Immich's files need Compose v2 (`docker compose`)"
		cp.Fix = "Install the Compose v2 plugin (docker-compose-plugin): https://docs.docker.com/compose/install/linux/"
	default:
		cp.Status = StatusFail
		cp.Finding = "Compose v2 plugin not found in the Docker CLI plugin directories"
		cp.Fix = "Install the Compose v2 plugin (docker-compose-plugin): https://docs.docker.com/compose/install/linux/"
	}
	e.add(cp)

	rt := Check{ID: CheckDockerRuntimes, Area: AreaDocker}
	tk := e.f.toolkit
	switch {
	case df.Info != nil:
		names := make([]string, 0, len(df.Info.Runtimes))
		for k := range df.Info.Runtimes {
			names = append(names, k)
		}
		sort.Strings(names)
		rt.Status = StatusOK
		rt.Finding = "runtimes: " + orNone(strings.Join(names, ", "))
		if df.Info.DefaultRuntime != "" {
			rt.Finding += " (default " + df.Info.DefaultRuntime + ")"
		}
		if len(df.Info.CDISpecDirs) > 0 {
			rt.Detail = append(rt.Detail, "CDI spec directories: "+strings.Join(df.Info.CDISpecDirs, ", "))
		}
	case len(df.DaemonJSONRuntimes) > 0:
		rt.Status = StatusOK
		rt.Finding = "runtimes in /etc/docker/daemon.json: " + strings.Join(df.DaemonJSONRuntimes, ", ")
	case df.DaemonJSONErr != nil:
		rt.Status = StatusWarn
		rt.Finding = "cannot read /etc/docker/daemon.json: " + describeErr(df.DaemonJSONErr)
		rt.Fix = "Check the file's JSON syntax: a broken daemon.json keeps Docker from starting."
	default:
		rt.Status = StatusSkip
		rt.Finding = "registered runtimes unknown: the daemon is not reachable and /etc/docker/daemon.json lists none"
	}
	if df.DaemonJSONCDI {
		rt.Detail = append(rt.Detail, "CDI enabled in /etc/docker/daemon.json")
	}
	if len(tk.CDISpecs) > 0 {
		rt.Detail = append(rt.Detail, "NVIDIA CDI specs: "+strings.Join(tk.CDISpecs, ", "))
	}
	e.add(rt)
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
