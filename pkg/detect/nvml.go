package detect

import (
	"context"
	"fmt"
	"strings"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// WSLNVMLPath is where WSL2 exposes the Windows driver's NVML library.
const WSLNVMLPath = "/usr/lib/wsl/lib/libnvidia-ml.so.1"

type nvmlGPU struct {
	Index       int
	Name        string
	MemoryBytes uint64
	Major       int
	Minor       int
	BusID       string
	Err         string
	// Encoder is what NVML's encoder capacity query answered (H.264).
	Encoder encoderAnswer
	// EncoderCapacity is the encoder's spare capacity in percent (0-100)
	// when Encoder is encoderPresent.
	EncoderCapacity int
}

// encoderAnswer is the outcome of nvmlDeviceGetEncoderCapacity.
type encoderAnswer int

const (
	encoderUnknown     encoderAnswer = iota // not asked, or an error
	encoderPresent                          // SUCCESS: the GPU has NVENC
	encoderUnsupported                      // NOT_SUPPORTED: no NVENC (or a GPU older than Maxwell)
)

type nvmlFacts struct {
	// Probed is false when NVML was not tried (another root, no NVIDIA device).
	Probed     bool
	SkipReason string
	LibPath    string
	InitErr    string // NVML Init failed (library missing, driver not loaded)
	LibMissing bool
	Driver     string // 550.120
	CUDA       int    // 12040 (from nvmlSystemGetCudaDriverVersion)
	GPUs       []nvmlGPU
	Err        string
}

// nvmlLibrary returns the NVML interface to use, or nil with a reason.
func (d *Detector) nvmlLibrary(fs fsys) (nvml.Interface, string, string) {
	if d.nvmlSet {
		if d.nvml == nil {
			return nil, "", "NVML disabled"
		}
		return d.nvml, "", ""
	}
	if !d.isHostRoot() {
		return nil, "", "NVML is not loaded when host files are read under another root"
	}
	lib := nvmlLibraryPath(fs)
	return nvml.New(nvml.WithLibraryPath(lib)), lib, ""
}

// nvmlLibraryPath is WSL2's NVML when the host has it (it is not on the
// loader's path there), else the name the dynamic loader resolves.
func nvmlLibraryPath(fs fsys) string {
	if fs.exists(WSLNVMLPath) {
		return WSLNVMLPath
	}
	return "libnvidia-ml.so.1"
}

// probeNVML queries the driver through NVML. A broken driver can make NVML
// calls block, so the queries run in their own goroutine and the probe
// stops waiting when the timeout passes.
func (d *Detector) probeNVML(ctx context.Context, fs fsys) nvmlFacts {
	lib, path, skip := d.nvmlLibrary(fs)
	if lib == nil {
		return nvmlFacts{SkipReason: skip}
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	ch := make(chan nvmlFacts, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				ch <- nvmlFacts{Probed: true, LibPath: path, Err: fmt.Sprintf("NVML panicked: %v", r)}
			}
		}()
		ch <- queryNVML(lib, path)
	}()
	select {
	case f := <-ch:
		return f
	case <-ctx.Done():
		return nvmlFacts{Probed: true, LibPath: path, Err: fmt.Sprintf("NVML did not answer within %s", d.timeout)}
	}
}

func queryNVML(lib nvml.Interface, path string) nvmlFacts {
	f := nvmlFacts{Probed: true, LibPath: path}
	if ret := lib.Init(); ret != nvml.SUCCESS {
		f.InitErr = nvmlErr(ret)
		f.LibMissing = ret == nvml.ERROR_LIBRARY_NOT_FOUND
		return f
	}
	defer lib.Shutdown()
	if v, ret := lib.SystemGetDriverVersion(); ret == nvml.SUCCESS {
		f.Driver = v
	}
	if v, ret := lib.SystemGetCudaDriverVersion(); ret == nvml.SUCCESS {
		f.CUDA = v
	}
	n, ret := lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		f.Err = "counting GPUs: " + nvmlErr(ret)
		return f
	}
	for i := 0; i < n; i++ {
		g := nvmlGPU{Index: i}
		dev, ret := lib.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			g.Err = nvmlErr(ret)
			f.GPUs = append(f.GPUs, g)
			continue
		}
		var errs []string
		if g.Name, ret = dev.GetName(); ret != nvml.SUCCESS {
			errs = append(errs, "name: "+nvmlErr(ret))
		}
		if mem, ret := dev.GetMemoryInfo(); ret == nvml.SUCCESS {
			g.MemoryBytes = mem.Total
		} else {
			errs = append(errs, "memory: "+nvmlErr(ret))
		}
		if g.Major, g.Minor, ret = dev.GetCudaComputeCapability(); ret != nvml.SUCCESS {
			errs = append(errs, "compute capability: "+nvmlErr(ret))
		}
		// nvmlDeviceGetEncoderCapacity answers for Maxwell and newer GPUs
		// (NVML API reference, Device Queries): the spare capacity of the
		// NVENC engine in percent; GPUs without NVENC (A100, H100) answer
		// NOT_SUPPORTED.
		switch c, ret := dev.GetEncoderCapacity(nvml.ENCODER_QUERY_H264); ret {
		case nvml.SUCCESS:
			g.Encoder, g.EncoderCapacity = encoderPresent, c
		case nvml.ERROR_NOT_SUPPORTED:
			g.Encoder = encoderUnsupported
		}
		if pci, ret := dev.GetPciInfo(); ret == nvml.SUCCESS {
			g.BusID = cString(pci.BusIdLegacy[:])
			if b := cString(pci.BusId[:]); b != "" {
				g.BusID = b
			}
		}
		g.Err = strings.Join(errs, "; ")
		f.GPUs = append(f.GPUs, g)
	}
	return f
}

func nvmlErr(ret nvml.Return) string {
	switch ret {
	case nvml.ERROR_LIBRARY_NOT_FOUND:
		return "libnvidia-ml.so.1 not found"
	case nvml.ERROR_DRIVER_NOT_LOADED:
		return "the NVIDIA kernel driver is not loaded"
	case nvml.ERROR_NO_PERMISSION:
		return "no permission to talk to the NVIDIA driver"
	}
	return ret.Error()
}

func cString[T ~int8 | ~uint8](b []T) string {
	var sb strings.Builder
	for _, c := range b {
		if c == 0 {
			break
		}
		sb.WriteByte(byte(c))
	}
	return sb.String()
}

// NVML returns the NVML library to open on this host: WSL2's copy under
// /usr/lib/wsl/lib when present, the system's libnvidia-ml.so.1 otherwise.
// Nothing is loaded until the caller's Init.
func NVML() nvml.Interface {
	lib, _, _ := New().nvmlLibrary(fsys{root: "/"})
	return lib
}

// NVMLDriverVersion returns the NVIDIA driver version NVML reports on this
// host, or "" with a reason. It is meant for version reports and is quick
// when there is no NVIDIA driver.
func NVMLDriverVersion(ctx context.Context) (version, detail string) {
	d := New()
	f := d.probeNVML(ctx, fsys{root: "/"})
	switch {
	case f.Driver != "":
		return f.Driver, fmt.Sprintf("CUDA %s, via %s", cudaString(f.CUDA), f.LibPath)
	case f.InitErr != "":
		return "", f.InitErr
	case f.Err != "":
		return "", f.Err
	}
	return "", f.SkipReason
}

func cudaString(v int) string {
	if v <= 0 {
		return "unknown"
	}
	return fmt.Sprintf("%d.%d", v/1000, (v%1000)/10)
}
