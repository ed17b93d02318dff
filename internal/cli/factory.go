package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/immich-accel/immich-accel/internal/docker"
	"github.com/immich-accel/immich-accel/internal/iostreams"
	"github.com/immich-accel/immich-accel/pkg/accel"
	"github.com/immich-accel/immich-accel/pkg/bench"
	"github.com/immich-accel/immich-accel/pkg/compose"
	"github.com/immich-accel/immich-accel/pkg/detect"
	"github.com/immich-accel/immich-accel/pkg/verify"
)

// Factory holds what commands need from the outside world. NewFactory wires
// the real implementations; tests build their own with fakes.
type Factory struct {
	IOStreams *iostreams.IOStreams
	// Getenv reads an environment variable.
	Getenv func(string) string
	// Getwd returns the working directory.
	Getwd func() (string, error)
	// LookupEnv reads an environment variable, telling unset from empty.
	LookupEnv func(string) (string, bool)
	// ComponentVersions lists the versions of runtime libraries found on
	// this host (ONNX Runtime, NVML), for --version. Best effort.
	ComponentVersions func() []ComponentVersion
	// ComposeHost detects what compose needs to know about this host:
	// facts for tailoring sections, and doctor's recommended backend for
	// --backend auto.
	ComposeHost func(ctx context.Context) (ComposeHostInfo, error)
	// NewDetector builds the host detector for doctor; tests add fakes.
	NewDetector func(opts ...detect.Option) *detect.Detector
	// ModelCache finds Immich's model-cache Docker volume for
	// `bench --immich-cache`; nil when Docker is not wired in.
	ModelCache bench.VolumeFinder
	// VerifyEnv wires what verify reads: the Docker Engine, host files
	// under the given root, NVML and the failure catalogue.
	VerifyEnv func(hostRoot string) verify.Env
}

// ComposeHostInfo is the host information compose uses.
type ComposeHostInfo struct {
	Host        compose.Host
	Recommended accel.Backend // as for --backend
	Why         string        // one line: why that backend
	// Ready is false when the host needs fixes (drivers, toolkit, device
	// access) before the recommended backend will work.
	Ready bool
	// The same for transcoding (--transcode auto), with the admin setting
	// that goes with the method.
	Transcode        accel.Transcode
	TranscodeWhy     string
	TranscodeReady   bool
	TranscodeSetting string
}

// ComponentVersion is one line of the version report.
type ComponentVersion struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

// NewFactory returns a Factory wired to the real host.
func NewFactory() *Factory {
	f := &Factory{
		IOStreams:         iostreams.System(),
		Getenv:            os.Getenv,
		Getwd:             os.Getwd,
		LookupEnv:         os.LookupEnv,
		ComponentVersions: withORTVersion(os.Getenv, defaultComponentVersions),
		NewDetector:       detect.New,
		ModelCache:        dockerModelCache{getenv: os.Getenv},
		VerifyEnv:         func(root string) verify.Env { return realVerifyEnv(os.Getenv, root) },
	}
	f.ComposeHost = func(ctx context.Context) (ComposeHostInfo, error) {
		return composeHostFromDetector(ctx, f.NewDetector, f.Getenv("IMMICH_ACCEL_HOST_ROOT"))
	}
	return f
}

// dockerModelCache finds Immich's model-cache volume through the Docker
// daemon at DOCKER_HOST or the standard socket, when bench asks for it.
type dockerModelCache struct{ getenv func(string) string }

func (d dockerModelCache) ModelCacheDir(ctx context.Context) (string, error) {
	c, err := docker.New(d.getenv("DOCKER_HOST"))
	if err != nil {
		return "", fmt.Errorf("finding the model-cache volume: %w", err)
	}
	return docker.ModelCacheFinder{API: c}.ModelCacheDir(ctx)
}

// composeHostFromDetector runs the host detector and keeps what compose
// needs: the facts for tailoring sections and the recommended backend.
func composeHostFromDetector(ctx context.Context, newDet func(...detect.Option) *detect.Detector, root string) (ComposeHostInfo, error) {
	opts := []detect.Option{detect.WithTimeout(2 * time.Second)}
	if root != "" {
		opts = append(opts, detect.WithRoot(root))
	}
	r := newDet(opts...).Run(ctx)
	if err := ctx.Err(); err != nil {
		return ComposeHostInfo{}, fmt.Errorf("detecting host: %w", err)
	}
	return ComposeHostInfo{
		Host: compose.Host{
			Known:        true,
			WSL:          r.Host.WSL,
			LibMaliPath:  r.Host.LibMaliPath,
			MaliFirmware: r.Host.MaliFirmware,
			NVIDIAGPUs:   r.Host.NVIDIAGPUs,
		},
		Recommended:      r.Recommendation.Backend,
		Why:              r.Recommendation.Reason,
		Ready:            r.Recommendation.Ready,
		Transcode:        accel.Transcode(r.TranscodeRecommendation.Method),
		TranscodeWhy:     r.TranscodeRecommendation.Reason,
		TranscodeReady:   r.TranscodeRecommendation.Ready,
		TranscodeSetting: r.TranscodeRecommendation.Setting,
	}, nil
}

// defaultComponentVersions reports the NVIDIA driver through NVML (best
// effort, bounded to a second).
func defaultComponentVersions() []ComponentVersion {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	v, detail := detect.NVMLDriverVersion(ctx)
	return []ComponentVersion{{Name: "NVIDIA driver", Version: v, Detail: detail}}
}

// realVerifyEnv connects verify to the Docker Engine found as the docker
// CLI finds it (docker.Resolve: DOCKER_HOST, contexts, the default and
// rootless sockets; a socket is looked for under root when one is given),
// reads host files under root, and opens NVML only on this host's own
// root, as doctor does.
func realVerifyEnv(getenv func(string) string, root string) verify.Env {
	fs := detect.NewHostFS(root)
	env := verify.Env{HostFS: fs, Logs: verify.Catalogue{}}
	if fs.IsHostRoot() {
		env.NVML = detect.NVML()
	}
	home := getenv("HOME")
	if home == "" {
		home = "/root"
	}
	uid := 0
	if fs.IsHostRoot() {
		uid = os.Getuid()
	}
	denv := docker.Env{
		Getenv:   getenv,
		ReadFile: func(p string) ([]byte, error) { s, err := fs.ReadFile(p); return []byte(s), err },
		Exists:   fs.Exists,
		Home:     home,
		UID:      uid,
	}
	ep, err := docker.Resolve(denv)
	if err != nil {
		env.EngineErr = err
		return env
	}
	host := ep.Host
	if sock, ok := strings.CutPrefix(host, "unix://"); ok && ep.Source != "DOCKER_HOST" && !fs.IsHostRoot() {
		host = "unix://" + filepath.Join(root, sock)
	}
	tlsCfg, err := ep.TLSConfig(denv.ReadFile)
	if err != nil {
		env.EngineErr = fmt.Errorf("TLS for %s (%s): %w", ep.Host, ep.Source, err)
		return env
	}
	c, err := docker.New(host, docker.WithTimeout(3*time.Second), docker.WithTLS(tlsCfg))
	if err != nil {
		env.EngineErr = err
		return env
	}
	env.Engine = c
	return env
}
