package detect

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"path"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jaypipes/ghw"
	"github.com/jaypipes/pcidb"
	"golang.org/x/sys/unix"
)

// facts is what the probes found, before any judgement.
type facts struct {
	platform platformFacts
	pci      pciFacts
	nvml     nvmlFacts
	docker   dockerFacts
	toolkit  toolkitFacts
	cpu      cpuFacts
	mali     maliFacts
	rknn     rknnFacts
	groups   groupFacts
	deploy   deployFacts
	// transcode and immich: hardware transcoding's device nodes, and
	// Immich's own settings (read only with WithImmich).
	transcode transcodeFacts
	immich    immichFacts

	panics []string
	// unfinished names the probes Run stopped waiting for after budget.
	unfinished []string
	budget     time.Duration
}

// ---- platform ----

type platformFacts struct {
	GOOS        string
	OSType      string // "Linux" from /proc/sys/kernel/ostype
	Kernel      string
	KernelErr   error
	Machine     string // x86_64, aarch64
	MachineErr  string // why Machine is unknown, when the file was there
	Arch        string // amd64, arm64
	WSL         bool
	WSL1        bool
	DXG         bool
	WSLLibNVML  bool
	WSLDrivers  []string // driver store entries under /usr/lib/wsl/drivers
	OSRelease   string   // PRETTY_NAME from /etc/os-release
	Virtualized string
}

var machineToArch = map[string]string{
	"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
	"armv7l": "arm", "armv6l": "arm", "i686": "386", "i386": "386",
	"riscv64": "riscv64", "ppc64le": "ppc64le", "s390x": "s390x",
}

func (d *Detector) probePlatform(fs fsys) platformFacts {
	p := platformFacts{GOOS: d.goos}
	if p.OSType = fs.readTrim("/proc/sys/kernel/ostype"); !isToken(p.OSType) {
		p.OSType = ""
	}
	rel, err := fs.read("/proc/sys/kernel/osrelease")
	p.Kernel = strings.TrimSpace(rel)
	if err == nil && !isToken(p.Kernel) {
		p.Kernel, err = "", errNotText
	}
	if err != nil {
		p.KernelErr = err
		// Fall back to /proc/version: "Linux version 5.15.0-... (...)"
		if v := fs.readTrim("/proc/version"); strings.HasPrefix(v, "Linux version ") {
			if f := strings.Fields(v); len(f) >= 3 && isToken(f[2]) {
				p.Kernel = f[2]
				p.KernelErr = nil
			}
		}
	}
	// On the real host, uname(2) answers for the machine this binary runs
	// on (an emulator such as qemu-user answers for the emulated one);
	// under a fake root the tree's /proc is the truth.
	if d.isHostRoot() {
		p.Machine = unameMachine()
	}
	if p.Machine == "" {
		p.Machine = fs.readTrim("/proc/sys/kernel/arch")
		if p.Machine != "" && !isToken(p.Machine) {
			p.MachineErr = "/proc/sys/kernel/arch is not a machine name"
			p.Machine = ""
		}
	}
	if p.Machine == "" && d.isHostRoot() {
		p.Machine = goarchToMachine()
	}
	p.Arch = machineToArch[p.Machine]
	if p.Arch == "" {
		p.Arch = p.Machine
	}
	lk := strings.ToLower(p.Kernel)
	p.DXG = fs.exists("/dev/dxg")
	switch {
	case strings.Contains(lk, "microsoft-standard-wsl2") || strings.Contains(lk, "-wsl2"):
		p.WSL = true
	case strings.Contains(lk, "microsoft") && p.DXG:
		p.WSL = true
	case strings.Contains(lk, "microsoft"):
		p.WSL1 = true
	case p.DXG && fs.isDir("/usr/lib/wsl"):
		p.WSL = true
	}
	if p.WSL || p.WSL1 {
		p.WSLLibNVML = fs.exists("/usr/lib/wsl/lib/libnvidia-ml.so.1")
		p.WSLDrivers = fs.readDirNames("/usr/lib/wsl/drivers")
	}
	if osr, err := fs.read("/etc/os-release"); err == nil {
		for _, line := range strings.Split(osr, "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				p.OSRelease = strings.Trim(v, `"'`)
			}
		}
	}
	return p
}

// goarchToMachine names the machine this binary runs on, for hosts
// without /proc/sys/kernel/arch (kernels before 5.x).
// unameMachine returns uname(2)'s machine field, or "" when it fails.
func unameMachine() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Machine[:])
}

func goarchToMachine() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	}
	return runtime.GOARCH
}

// ---- PCI and DRM ----

// pciDevice is a display-class or accelerator PCI device.
type pciDevice struct {
	Address string
	Vendor  string // 4 hex digits, lower case
	Device  string
	Class   string // 2 hex digits
	Driver  string
}

// renderNode is a /dev/dri/renderD* node and the device behind it.
type renderNode struct {
	Name       string // renderD128
	DevPath    string // /dev/dri/renderD128
	DevExists  bool
	PCIAddress string
	Vendor     string
	Device     string
	Driver     string
	Platform   string // platform device name for non-PCI GPUs (fb000000.gpu)
}

type pciFacts struct {
	Devices []pciDevice
	Err     error
	Render  []renderNode
	KFD     bool
	// GFXTargets are the AMD GPU targets from the KFD topology ("gfx1031").
	GFXTargets []string
}

const (
	vendorNVIDIA    = "10de"
	vendorIntel     = "8086"
	vendorAMD       = "1002"
	vendorMicrosoft = "1414"
)

var rePCIAddr = regexp.MustCompile(`^[[:xdigit:]]{4,8}:[[:xdigit:]]{2}:[[:xdigit:]]{2}\.[[:xdigit:]]$`)

func (d *Detector) probePCI(fs fsys) pciFacts {
	var pf pciFacts
	// ghw needs a pci.ids database only for names; an empty one keeps it
	// from loading (or fetching) anything. IDs and drivers are enough here.
	info, err := ghw.PCI(
		ghw.WithChroot(fs.root),
		ghw.WithPCIDB(&pcidb.PCIDB{}),
		ghw.WithDisableTopology(),
		ghw.WithDisableWarnings(),
		ghw.WithDisableTools(),
	)
	if err != nil {
		pf.Err = err
	} else {
		for _, dev := range info.Devices {
			if dev == nil || dev.Vendor == nil || dev.Product == nil {
				continue
			}
			class := ""
			if dev.Class != nil {
				class = dev.Class.ID
			}
			v := strings.ToLower(dev.Vendor.ID)
			// 03: display controllers; 12: processing accelerators.
			if class != "03" && class != "12" {
				continue
			}
			pf.Devices = append(pf.Devices, pciDevice{
				Address: dev.Address, Vendor: v, Device: strings.ToLower(dev.Product.ID),
				Class: class, Driver: dev.Driver,
			})
		}
	}
	for _, name := range fs.readDirNames("/sys/class/drm") {
		if !strings.HasPrefix(name, "renderD") {
			continue
		}
		sys := "/sys/class/drm/" + name
		rn := renderNode{Name: name, DevPath: "/dev/dri/" + name}
		rn.DevExists = fs.exists(rn.DevPath)
		rn.Driver = fs.linkBase(sys + "/device/driver")
		rn.Vendor = trimHex(fs.readTrim(sys + "/device/vendor"))
		rn.Device = trimHex(fs.readTrim(sys + "/device/device"))
		if target := fs.linkBase(sys + "/device"); rePCIAddr.MatchString(target) {
			rn.PCIAddress = target
		} else if target != "" {
			rn.Platform = target
		}
		pf.Render = append(pf.Render, rn)
	}
	// Render nodes in /dev without sysfs (containers, WSL2).
	for _, p := range fs.glob("/dev/dri/renderD*") {
		found := false
		for _, rn := range pf.Render {
			if rn.DevPath == p {
				found = true
			}
		}
		if !found {
			pf.Render = append(pf.Render, renderNode{Name: path.Base(p), DevPath: p, DevExists: true})
		}
	}
	pf.KFD = fs.exists("/dev/kfd")
	for _, node := range fs.glob("/sys/class/kfd/kfd/topology/nodes/*/properties") {
		props, err := fs.read(node)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(props, "\n") {
			f := strings.Fields(line)
			if len(f) == 2 && f[0] == "gfx_target_version" {
				if t := gfxTarget(f[1]); t != "" {
					pf.GFXTargets = append(pf.GFXTargets, t)
				}
			}
		}
	}
	return pf
}

func trimHex(s string) string {
	return strings.ToLower(strings.TrimPrefix(strings.TrimSpace(s), "0x"))
}

// gfxTarget turns the KFD gfx_target_version (major*10000 + minor*100 +
// stepping, decimal) into the LLVM target name: 110000 → gfx1100,
// 100301 → gfx1031, 90010 → gfx90a. CPU nodes report 0.
func gfxTarget(v string) string {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return ""
	}
	major, minor, step := n/10000, (n/100)%100, n%100
	return fmt.Sprintf("gfx%d%x%x", major, minor, step)
}

// ---- CPU ----

type cpuFacts struct {
	Model string
	Cores int
	Flags map[string]bool
	Err   error
	// Malformed is set when /proc/cpuinfo had no usable processor entries.
	Malformed bool
}

func (d *Detector) probeCPU(fs fsys) cpuFacts {
	c := cpuFacts{Flags: map[string]bool{}}
	var parts []string
	s, err := fs.read("/proc/cpuinfo")
	if err != nil {
		c.Err = err
		return c
	}
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "processor":
			if _, err := strconv.Atoi(v); err == nil {
				c.Cores++
			}
		case "model name", "Model", "cpu model", "Hardware":
			if c.Model == "" || k == "model name" {
				c.Model = v
			}
		case "flags", "Features":
			for _, fl := range strings.Fields(v) {
				c.Flags[fl] = true
			}
		case "CPU part":
			name := armPartName(v)
			if name == "" {
				name = "ARM core " + v
			}
			if !slices.Contains(parts, name) {
				parts = append(parts, name)
			}
		}
	}
	if c.Model == "" && len(parts) > 0 {
		// big.LITTLE SoCs (RK3588: Cortex-A76 + Cortex-A55) list each
		// kind of core.
		c.Model = strings.Join(parts, " + ")
	}
	if c.Cores == 0 {
		c.Malformed = true
	}
	return c
}

// armPartName names common ARM cores by their MIDR part number.
func armPartName(part string) string {
	switch strings.ToLower(part) {
	case "0xd03":
		return "ARM Cortex-A53"
	case "0xd04":
		return "ARM Cortex-A35"
	case "0xd05":
		return "ARM Cortex-A55"
	case "0xd07":
		return "ARM Cortex-A57"
	case "0xd08":
		return "ARM Cortex-A72"
	case "0xd09":
		return "ARM Cortex-A73"
	case "0xd0a":
		return "ARM Cortex-A75"
	case "0xd0b":
		return "ARM Cortex-A76"
	case "0xd0c":
		return "ARM Neoverse-N1"
	case "0xd0d":
		return "ARM Cortex-A77"
	case "0xd41":
		return "ARM Cortex-A78"
	case "0xd46":
		return "ARM Cortex-A510"
	case "0xd47":
		return "ARM Cortex-A710"
	case "0xd40":
		return "ARM Neoverse-V1"
	case "0xd4f":
		return "ARM Neoverse-V2"
	case "0xd49":
		return "ARM Neoverse-N2"
	}
	return ""
}

// ---- groups ----

type groupFacts struct {
	RenderGID int // -1 when absent
	VideoGID  int
	Err       error
}

func probeGroups(fs fsys) groupFacts {
	g := groupFacts{RenderGID: -1, VideoGID: -1}
	s, err := fs.read("/etc/group")
	if err != nil {
		g.Err = err
		return g
	}
	for _, line := range strings.Split(s, "\n") {
		f := strings.Split(line, ":")
		if len(f) < 3 {
			continue
		}
		gid, err := strconv.Atoi(f[2])
		if err != nil {
			continue
		}
		switch f[0] {
		case "render":
			g.RenderGID = gid
		case "video":
			g.VideoGID = gid
		}
	}
	return g
}

// ---- Mali ----

type maliFacts struct {
	Mali0       bool
	Panfrost    bool // the open-source panfrost/panthor DRM driver is bound
	PanDriver   string
	Kbase       bool // vendor kbase driver (mali_kbase / bifrost_kbase)
	GPUName     string
	LibMali     string   // first libmali found, preferring /usr/lib/libmali.so
	LibMaliAll  []string // every libmali found
	Firmware    bool
	FirmwareErr error
}

var libDirs = []string{
	"/usr/lib", "/usr/lib/aarch64-linux-gnu", "/usr/lib/arm-linux-gnueabihf", "/usr/lib64",
	"/usr/local/lib", "/lib", "/lib/aarch64-linux-gnu", "/lib64",
	"/usr/lib/aarch64-linux-gnu/mali", "/usr/lib/mali", "/opt/mali",
}

func (d *Detector) probeMali(fs fsys) maliFacts {
	m := maliFacts{}
	m.Mali0 = fs.exists("/dev/mali0")
	for _, drv := range []string{"panfrost", "panthor"} {
		if fs.isDir("/sys/bus/platform/drivers/"+drv) || fs.isDir("/sys/module/"+drv) {
			m.Panfrost = true
			m.PanDriver = drv
			break
		}
	}
	for _, drv := range []string{"mali", "mali_kbase", "bifrost_kbase", "valhall_kbase"} {
		if fs.isDir("/sys/module/"+drv) || fs.isDir("/sys/bus/platform/drivers/"+drv) {
			m.Kbase = true
		}
	}
	// The kbase driver publishes the GPU name, e.g. "Mali-G610 MC4".
	for _, p := range fs.glob("/sys/class/misc/mali0/device/gpuinfo") {
		if s := fs.readTrim(p); s != "" {
			m.GPUName = maliName(s)
		}
	}
	seen := map[string]bool{}
	for _, dir := range libDirs {
		for _, p := range fs.glob(dir + "/libmali*.so*") {
			if !seen[p] {
				seen[p] = true
				m.LibMaliAll = append(m.LibMaliAll, p)
			}
		}
	}
	if fs.lexists("/usr/lib/libmali.so") {
		m.LibMali = "/usr/lib/libmali.so"
	} else {
		// Prefer a plain libmali.so, then a versioned soname, then any.
		sort.SliceStable(m.LibMaliAll, func(i, j int) bool { return libmaliRank(m.LibMaliAll[i]) < libmaliRank(m.LibMaliAll[j]) })
		if len(m.LibMaliAll) > 0 {
			m.LibMali = m.LibMaliAll[0]
		}
	}
	_, err := fs.read("/lib/firmware/mali_csffw.bin")
	m.Firmware = err == nil
	if err != nil && !errors.Is(err, iofs.ErrNotExist) {
		m.FirmwareErr = err
	}
	return m
}

// maliName shortens kbase's gpuinfo ("Mali-G610 4 cores r0p0 0xA867")
// to "Mali-G610 (4 cores)".
func maliName(info string) string {
	f := strings.Fields(info)
	if len(f) >= 3 && f[2] == "cores" && isDigits(f[1]) {
		return f[0] + " (" + f[1] + " cores)"
	}
	if len(f) > 0 {
		return f[0]
	}
	return info
}

func libmaliRank(p string) int {
	b := path.Base(p)
	switch {
	case b == "libmali.so":
		return 0
	case b == "libmali.so.1":
		return 1
	case strings.HasPrefix(b, "libmali.so"):
		return 2
	}
	return 3
}

// ---- RKNN ----

type rknnFacts struct {
	Compatible    []string
	CompatibleErr error
	SoC           string // rk3588, rk3566, ... ("" when not Rockchip)
	DriverVersion string // 0.9.8
	DriverSource  string
	DriverErrs    []string
	NPUDevice     bool
}

var reRKVersion = regexp.MustCompile(`v?(\d+\.\d+\.\d+)`)

func (d *Detector) probeRKNN(fs fsys) rknnFacts {
	r := rknnFacts{}
	s, err := fs.read("/proc/device-tree/compatible")
	if err != nil {
		r.CompatibleErr = err
	} else {
		for _, c := range strings.Split(s, "\x00") {
			if c = strings.TrimSpace(c); c != "" {
				r.Compatible = append(r.Compatible, c)
			}
		}
		for _, c := range r.Compatible {
			// rockchip,rk3588 and variants such as rockchip,rk3588s (Orange Pi 5).
			if soc, ok := strings.CutPrefix(c, "rockchip,rk"); ok && isDigits(strings.TrimSuffix(soc, "s")) {
				r.SoC = "rk" + soc
			}
		}
	}
	for _, p := range []string{"/sys/kernel/debug/rknpu/version", "/sys/module/rknpu/version", "/proc/debug/rknpu/version"} {
		v, err := fs.read(p)
		if err != nil {
			if !errors.Is(err, iofs.ErrNotExist) {
				r.DriverErrs = append(r.DriverErrs, p+": "+describeErr(err))
			}
			continue
		}
		if m := reRKVersion.FindStringSubmatch(v); m != nil {
			r.DriverVersion, r.DriverSource = m[1], p
			break
		}
		r.DriverErrs = append(r.DriverErrs, fmt.Sprintf("%s: no version in %q", p, strings.TrimSpace(v)))
	}
	r.NPUDevice = fs.isDir("/sys/bus/platform/drivers/RKNPU") || fs.isDir("/sys/module/rknpu")
	return r
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// versionAtLeast compares dotted numeric versions.
func versionAtLeast(v, min string) bool {
	a, b := strings.Split(v, "."), strings.Split(min, ".")
	for i := 0; i < len(b); i++ {
		var x, y int
		if i < len(a) {
			x, _ = strconv.Atoi(a[i])
		}
		y, _ = strconv.Atoi(b[i])
		if x != y {
			return x > y
		}
	}
	return true
}
