// Package bench runs ONNX models on each ONNX Runtime execution provider
// available on this host and compares latency, throughput, memory and
// numerical agreement with the CPU provider.
//
// A Runtime owns the process's ONNX Runtime environment (onnxruntime_go
// keeps it in global state, so there is at most one open Runtime per
// process); a Runner uses it to benchmark Models and returns a Report.
package bench

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// ErrRuntimeOpen is returned by OpenRuntime when the process already has an
// open Runtime.
var ErrRuntimeOpen = errors.New("an ONNX Runtime environment is already open in this process")

// Runtime is the loaded ONNX Runtime library and its environment.
type Runtime struct {
	path    string
	version string

	mu     sync.Mutex
	closed bool
}

// openMu serialises OpenRuntime and Close: onnxruntime_go's environment is
// process-wide.
var openMu sync.Mutex

// OpenRuntime loads the libonnxruntime at libPath and initialises the
// environment. Close it when done.
func OpenRuntime(libPath string) (*Runtime, error) {
	openMu.Lock()
	defer openMu.Unlock()
	if ort.IsInitialized() {
		return nil, ErrRuntimeOpen
	}
	abs, err := filepath.Abs(libPath)
	if err != nil {
		return nil, fmt.Errorf("loading ONNX Runtime: %w", err)
	}
	ort.SetSharedLibraryPath(abs)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return nil, fmt.Errorf("loading ONNX Runtime from %s: %w\n  To install a known-good runtime, run: immich-accel runtime install", abs, err)
	}
	return &Runtime{path: abs, version: ort.GetVersion()}, nil
}

// Path is the library file that was loaded.
func (r *Runtime) Path() string { return r.path }

// Dir is the directory of the library; provider libraries are loaded from
// there.
func (r *Runtime) Dir() string { return filepath.Dir(r.path) }

// Version is the ONNX Runtime version the library reports.
func (r *Runtime) Version() string { return r.version }

// Close destroys the environment. Sessions must be destroyed first.
func (r *Runtime) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	openMu.Lock()
	defer openMu.Unlock()
	if err := ort.DestroyEnvironment(); err != nil {
		return fmt.Errorf("closing ONNX Runtime: %w", err)
	}
	return nil
}
