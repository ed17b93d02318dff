package cli

import (
	"os"

	"github.com/immich-accel/immich-accel/internal/iostreams"
	"github.com/immich-accel/immich-accel/pkg/bench"
)

// Factory holds what commands need from the outside world. NewFactory wires
// the real implementations; tests build their own with fakes.
type Factory struct {
	IOStreams *iostreams.IOStreams
	// Getenv reads an environment variable.
	Getenv func(string) string
	// Getwd returns the working directory.
	Getwd func() (string, error)
	// ComponentVersions lists the versions of runtime libraries found on
	// this host (ONNX Runtime, NVML), for --version. Best effort.
	ComponentVersions func() []ComponentVersion
	// ModelCache finds Immich's model-cache Docker volume for
	// `bench --immich-cache`; nil when Docker is not wired in.
	ModelCache bench.VolumeFinder
}

// ComponentVersion is one line of the version report.
type ComponentVersion struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

// NewFactory returns a Factory wired to the real host.
func NewFactory() *Factory {
	return &Factory{
		IOStreams:         iostreams.System(),
		Getenv:            os.Getenv,
		Getwd:             os.Getwd,
		ComponentVersions: withORTVersion(os.Getenv, func() []ComponentVersion { return nil }),
	}
}
