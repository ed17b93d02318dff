package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
	ort "github.com/yalue/onnxruntime_go"
	"golang.org/x/sys/unix"
)

func TestSummarize(t *testing.T) {
	var lat []time.Duration
	for i := 10; i >= 1; i-- { // 1..10 ms, unsorted
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	s := Summarize(lat)
	near := func(name string, got, want float64) {
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	near("mean", s.Mean, 5.5)
	near("p50", s.P50, 5.5)
	near("p90", s.P90, 9.1)
	near("p99", s.P99, 9.91)
	near("min", s.Min, 1)
	near("max", s.Max, 10)
	near("stddev", s.Stddev, math.Sqrt(82.5/9))
	if s.Count != 10 {
		t.Errorf("count %d", s.Count)
	}
	if one := Summarize([]time.Duration{time.Millisecond}); one.P99 != 1 || one.Stddev != 0 {
		t.Errorf("one sample: %+v", one)
	}
	if (Summarize(nil) != Stats{}) {
		t.Error("empty")
	}
}

func TestCompare(t *testing.T) {
	ref := []float64{1, -2, 3, 0.5}
	tests := []struct {
		name  string
		got   []float64
		p     Precision
		agree bool
	}{
		{"identical", []float64{1, -2, 3, 0.5}, FP32, true},
		{"tiny fp32 noise", []float64{1 + 1e-6, -2, 3 - 1e-6, 0.5}, FP32, true},
		{"fp16-sized error fails fp32", []float64{1.01, -2, 3.02, 0.5}, FP32, false},
		{"fp16-sized error passes fp16", []float64{1.01, -2, 3.02, 0.5}, FP16, true},
		{"sign flip", []float64{-1, 2, -3, -0.5}, FP16, false},
		{"NaN", []float64{1, math.NaN(), 3, 0.5}, FP16, false},
		{"length", []float64{1, -2, 3}, FP16, false},
	}
	for _, tt := range tests {
		a := Compare("y", ref, tt.got, tt.p)
		if a.Agrees != tt.agree {
			t.Errorf("%s: agrees=%v (%+v)", tt.name, a.Agrees, a)
		}
		if !a.Agrees && a.Detail == "" {
			t.Errorf("%s: no detail", tt.name)
		}
	}
	if a := Compare("z", []float64{0, 0}, []float64{0, 0}, FP32); !a.Agrees || a.Cosine != 1 {
		t.Errorf("zeros: %+v", a)
	}
}

func TestHalfRoundTrip(t *testing.T) {
	for _, f := range []float32{0, 1, -1, 0.5, 65504, 1e-5, -3.140625, 0.1} {
		h := float32ToHalf(f)
		back := halfToFloat32(h)
		if math.Abs(float64(back-f)) > math.Abs(float64(f))*1e-3+6e-8 {
			t.Errorf("%v -> %#04x -> %v", f, h, back)
		}
	}
	if float32ToHalf(1) != 0x3c00 || float32ToHalf(-2) != 0xc000 || float32ToHalf(1e6) != 0x7c00 {
		t.Error("known encodings")
	}
}

func TestNewInputTextTokens(t *testing.T) {
	needRT(t)
	v, err := newInput(TensorSpec{Name: "text", Shape: []int64{1, 77}, elem: ort.TensorElementDataTypeInt32})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Destroy()
	d := v.(*ort.Tensor[int32]).GetData()
	if d[0] != clipSOT || d[11] != clipEOT || d[12] != 0 || d[76] != 0 {
		t.Errorf("tokens %v", d[:14])
	}
	for _, x := range d {
		if x < 0 || x >= clipVocab {
			t.Fatalf("token %d out of the vocabulary", x)
		}
	}
	h, err := newInput(TensorSpec{Name: "x", Shape: []int64{2, 3}, elem: ort.TensorElementDataTypeFloat16})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Destroy()
	b := h.(*ort.CustomDataTensor).GetData()
	if len(b) != 12 {
		t.Fatalf("float16 bytes %d", len(b))
	}
	if f := halfToFloat32(binary.LittleEndian.Uint16(b)); f < -1 || f >= 1 {
		t.Errorf("value %v outside [-1,1)", f)
	}
	if _, err := newInput(TensorSpec{Name: "s", Shape: []int64{1}, elem: ort.TensorElementDataTypeString}); !errors.Is(err, ErrShape) {
		t.Errorf("string input: %v", err)
	}
}

func TestNVMLMemory(t *testing.T) {
	procs := map[int][]nvml.ProcessInfo{
		0: {{Pid: 42, UsedGpuMemory: 300 << 20}, {Pid: 7, UsedGpuMemory: 1 << 30}},
		1: {{Pid: 42, UsedGpuMemory: 100 << 20}},
	}
	lib := &mock.Interface{
		InitFunc:           func() nvml.Return { return nvml.SUCCESS },
		ShutdownFunc:       func() nvml.Return { return nvml.SUCCESS },
		DeviceGetCountFunc: func() (int, nvml.Return) { return 2, nvml.SUCCESS },
		DeviceGetHandleByIndexFunc: func(i int) (nvml.Device, nvml.Return) {
			return &mock.Device{GetComputeRunningProcessesFunc: func() ([]nvml.ProcessInfo, nvml.Return) { return procs[i], nvml.SUCCESS }}, nvml.SUCCESS
		},
	}
	m, err := NewNVMLMemory(context.Background(), lib)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if b, ok := m.ProcessMemory(42); !ok || b != 400<<20 {
		t.Errorf("pid 42: %d %v", b, ok)
	}
	if b, ok := m.ProcessMemory(99); !ok || b != 0 {
		t.Errorf("pid 99: %d %v", b, ok)
	}
	bad := &mock.Interface{
		InitFunc:        func() nvml.Return { return nvml.ERROR_LIBRARY_NOT_FOUND },
		ErrorStringFunc: func(nvml.Return) string { return "library not found" },
	}
	if _, err := NewNVMLMemory(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "library not found") {
		t.Errorf("no driver: %v", err)
	}
}

// TestNVMLMemoryInitBounded checks that an NVML Init that hangs (a
// broken driver) does not hold bench up past its context.
func TestNVMLMemoryInitBounded(t *testing.T) {
	release := make(chan struct{})
	var shutdowns atomic.Int32
	lib := &mock.Interface{
		InitFunc:     func() nvml.Return { <-release; return nvml.SUCCESS },
		ShutdownFunc: func() nvml.Return { shutdowns.Add(1); return nvml.SUCCESS },
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := NewNVMLMemory(ctx, lib)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "NVML did not initialise in time") {
			t.Errorf("err = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("NewNVMLMemory waited for a hanging Init")
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for shutdowns.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if shutdowns.Load() != 1 {
		t.Errorf("a late Init was shut down %d times, want once", shutdowns.Load())
	}
}

func TestPeakRSS(t *testing.T) {
	if v, ok := parseVmHWM([]byte("Name:\tx\nVmHWM:\t  1234 kB\nVmRSS:\t 10 kB\n")); !ok || v != 1234*1024 {
		t.Errorf("parse: %d %v", v, ok)
	}
	if _, ok := parseVmHWM([]byte("VmHWM: lots\n")); ok {
		t.Error("garbage parsed")
	}
	if p, err := peakRSS(); err != nil || p == 0 {
		t.Errorf("peakRSS: %d %v", p, err)
	}
}

func TestClassifyAppend(t *testing.T) {
	tests := []struct {
		msg, log string
		want     Outcome
		detail   string
	}{
		{"XNNPACK execution provider is not supported in this build.", "", OutcomeNotInBuild, "not supported"},
		{"Unknown provider name 'ROCM'. Currently supported values are ...", "", OutcomeNotInBuild, "Unknown provider"},
		{"OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library",
			"[E:onnxruntime] Failed to load library /x/libonnxruntime_providers_cuda.so with error: libcudnn.so.9: cannot open shared object file: No such file or directory",
			OutcomeLoadFailed, "libcudnn.so.9 is missing (install cuDNN 9"},
		{"/onnxruntime_src/onnxruntime/core/providers/webgpu/webgpu_context.cc:100 f() adapter_result.status == wgpu::RequestAdapterStatus::Success was false. Failed to get a WebGPU adapter: No supported adapters", "", OutcomeNoDevice, "Failed to get a WebGPU adapter"},
	}
	for _, tt := range tests {
		pe := classifyAppend(errors.New(tt.msg), tt.log)
		if pe.outcome != tt.want || !strings.Contains(pe.detail, tt.detail) {
			t.Errorf("%q: %s %q", tt.msg, pe.outcome, pe.detail)
		}
	}
}

func TestSelectProviders(t *testing.T) {
	ps, err := SelectProviders([]string{"CUDAExecutionProvider", "trt", "cpu", "openvino"})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, p := range ps {
		keys = append(keys, p.Key)
	}
	if strings.Join(keys, ",") != "cpu,cuda,tensorrt,openvino" {
		t.Errorf("keys %v (want report order)", keys)
	}
	if _, err := SelectProviders([]string{"tpu"}); err == nil || !strings.Contains(err.Error(), "known are") {
		t.Errorf("unknown: %v", err)
	}
}

func TestStderrCapture(t *testing.T) {
	var c stderrCapture
	log, lost, err := c.run(context.Background(), func() error {
		_, err := unix.Write(2, []byte("\x1b[1;31mnative warning\x1b[m\n"))
		return err
	})
	if err != nil || lost != nil {
		t.Fatal(err, lost)
	}
	if log != "native warning\n" {
		t.Errorf("captured %q", log)
	}
}

// TestStderrCaptureStopsAtDeadline checks that a native call that does not
// return in time does not keep stderr captured: run returns when ctx ends.
func TestStderrCaptureStopsAtDeadline(t *testing.T) {
	var c stderrCapture
	release := make(chan struct{})
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, lost, err := c.run(ctx, func() error {
		_, _ = unix.Write(2, []byte("before the deadline\n"))
		<-release
		return nil
	})
	if !errors.Is(err, context.DeadlineExceeded) || lost != nil {
		t.Fatalf("err %v, lost %v: want the deadline", err, lost)
	}
	// Captured again at once: the lock was released.
	log, _, err := c.run(context.Background(), func() error {
		_, err := unix.Write(2, []byte("next\n"))
		return err
	})
	if err != nil || log != "next\n" {
		t.Errorf("second capture: %q %v", log, err)
	}
}

// TestStderrRestoreFailureReported checks that a failed restore of stderr
// is reported, does not hang, and turns capturing off.
func TestStderrRestoreFailureReported(t *testing.T) {
	saved, err := unix.Dup(2)
	if err != nil {
		t.Skipf("cannot save stderr: %v", err)
	}
	defer func() {
		_ = unix.Dup2(saved, 2)
		unix.Close(saved)
	}()
	c := stderrCapture{restore: func(int, int) error { return unix.EBADF }}
	_, lost, err := c.run(context.Background(), func() error { return nil })
	if err != nil || !errors.Is(lost, unix.EBADF) || !strings.Contains(lost.Error(), "stderr could not be restored") {
		t.Fatalf("err %v, lost %v", err, lost)
	}
	called := false
	log, lost, err := c.run(context.Background(), func() error { called = true; return nil })
	if !called || log != "" || lost != nil || err != nil {
		t.Errorf("after a lost stderr, run must just call fn: %v %q %v %v", called, log, lost, err)
	}
}

func TestTextHeaderThreads(t *testing.T) {
	for threads, want := range map[int]string{0: "default threads,", 1: "1 thread,", 4: "4 threads,"} {
		rep := &Report{Settings: Settings{Concurrency: 1, ProviderOptions: ProviderOptions{Threads: threads}}}
		var b strings.Builder
		if err := rep.WriteText(&b, nil, false); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), want) {
			t.Errorf("threads %d: header %q, want %q", threads, b.String(), want)
		}
	}
}
