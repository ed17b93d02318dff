// Package ortlib finds and installs the ONNX Runtime shared library
// (libonnxruntime) that `immich-accel bench` loads at run time.
//
// Resolution order: an explicit path (--ort-lib), the IMMICH_ACCEL_ORT_LIB
// environment variable, the tool's cache directory (where `immich-accel
// runtime install` puts a pinned, hash-checked copy), then the system library
// paths. Every step is recorded so that `bench -v` can show where it looked.
package ortlib

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Version is the ONNX Runtime release that `runtime install` installs. It is
// pinned here and nowhere else: 1.29.0 is the release for which CUDA 13
// provider libraries are also published as a registry package.
const Version = "1.29.0"

// EnvVar names the environment variable that points at a libonnxruntime.
const EnvVar = "IMMICH_ACCEL_ORT_LIB"

// LibName is the file name of the library in the cache directory.
const LibName = "libonnxruntime.so.1"

// ErrNotFound is returned (wrapped) by Resolve when no library was found.
var ErrNotFound = errors.New("ONNX Runtime library (libonnxruntime.so) not found")

// Source says where a library path came from.
type Source string

// The sources, in resolution order.
const (
	SourceFlag   Source = "--ort-lib"
	SourceEnv    Source = EnvVar
	SourceCache  Source = "cache"
	SourceSystem Source = "system"
)

// Step is one place Resolve looked.
type Step struct {
	Source Source `json:"source"`
	Path   string `json:"path,omitempty"`
	Found  bool   `json:"found"`
	Detail string `json:"detail,omitempty"`
}

func (s Step) String() string {
	mark := "not found"
	if s.Found {
		mark = "found"
	}
	if s.Path == "" {
		if s.Detail != "" {
			return fmt.Sprintf("%-20s %s", s.Source, s.Detail)
		}
		return fmt.Sprintf("%-20s %s", s.Source, mark)
	}
	out := fmt.Sprintf("%-20s %s: %s", s.Source, s.Path, mark)
	if s.Detail != "" {
		out += " (" + s.Detail + ")"
	}
	return out
}

// Resolution is the outcome of Resolve.
type Resolution struct {
	// Path is the library to load; empty when none was found.
	Path   string `json:"path"`
	Source Source `json:"source,omitempty"`
	Steps  []Step `json:"steps"`
}

// ResolveOptions says where to look. The zero value looks only in the
// system paths; DefaultResolveOptions fills in the real host.
type ResolveOptions struct {
	// FlagPath is the value of --ort-lib, if given.
	FlagPath string
	// Getenv reads environment variables (IMMICH_ACCEL_ORT_LIB,
	// LD_LIBRARY_PATH).
	Getenv func(string) string
	// CacheDir is the tool's cache root (see CacheRoot); empty skips it.
	CacheDir string
	// SystemDirs are the system library directories; nil means
	// DefaultSystemDirs.
	SystemDirs []string
}

// DefaultResolveOptions returns options for this host.
func DefaultResolveOptions(flagPath string, getenv func(string) string) ResolveOptions {
	root, _ := CacheRoot()
	return ResolveOptions{FlagPath: flagPath, Getenv: getenv, CacheDir: root}
}

// CacheRoot is os.UserCacheDir()/immich-accel/onnxruntime.
func CacheRoot() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the user cache directory: %w", err)
	}
	return filepath.Join(d, "immich-accel", "onnxruntime"), nil
}

// Arch maps a GOARCH to the name ONNX Runtime packages use (x64, arm64).
func Arch(goarch string) (string, error) {
	switch goarch {
	case "amd64":
		return "x64", nil
	case "arm64":
		return "arm64", nil
	}
	return "", fmt.Errorf("no ONNX Runtime build for linux/%s: only amd64 (x64) and arm64 are published", goarch)
}

// InstallDir is the directory under cacheRoot that holds the pinned library
// for arch (x64 or arm64): <root>/<Version>/linux-<arch>.
func InstallDir(cacheRoot, arch string) string {
	return filepath.Join(cacheRoot, Version, "linux-"+arch)
}

// DefaultSystemDirs lists where distributions and manual installs put
// shared libraries.
func DefaultSystemDirs() []string {
	dirs := []string{"/usr/local/lib", "/usr/lib", "/usr/lib64", "/opt/onnxruntime/lib"}
	switch runtime.GOARCH {
	case "amd64":
		dirs = append(dirs, "/usr/lib/x86_64-linux-gnu")
	case "arm64":
		dirs = append(dirs, "/usr/lib/aarch64-linux-gnu")
	}
	return dirs
}

var systemNames = []string{"libonnxruntime.so", "libonnxruntime.so.1"}

// Resolve finds libonnxruntime. When nothing is found the error wraps
// ErrNotFound and says how to install one; the Resolution still lists the
// steps taken.
func Resolve(o ResolveOptions) (Resolution, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	var res Resolution
	found := func(src Source, p string) (Resolution, error) {
		res.Path, res.Source = p, src
		return res, nil
	}
	// Explicit choices do not fall through: a typo should not silently
	// load some other library.
	if o.FlagPath != "" {
		ok, detail := isFile(o.FlagPath)
		res.Steps = append(res.Steps, Step{Source: SourceFlag, Path: o.FlagPath, Found: ok, Detail: detail})
		if !ok {
			return res, fmt.Errorf("--ort-lib %s: %s: give the path of libonnxruntime.so, or drop the flag to use the installed runtime", o.FlagPath, detail)
		}
		return found(SourceFlag, o.FlagPath)
	}
	res.Steps = append(res.Steps, Step{Source: SourceFlag, Detail: "not given"})
	if p := getenv(EnvVar); p != "" {
		ok, detail := isFile(p)
		res.Steps = append(res.Steps, Step{Source: SourceEnv, Path: p, Found: ok, Detail: detail})
		if !ok {
			return res, fmt.Errorf("%s=%s: %s: point it at libonnxruntime.so, or unset it", EnvVar, p, detail)
		}
		return found(SourceEnv, p)
	}
	res.Steps = append(res.Steps, Step{Source: SourceEnv, Detail: "not set"})
	if o.CacheDir != "" {
		arch, err := Arch(runtime.GOARCH)
		if err == nil {
			p := filepath.Join(InstallDir(o.CacheDir, arch), LibName)
			ok, detail := isFile(p)
			res.Steps = append(res.Steps, Step{Source: SourceCache, Path: p, Found: ok, Detail: detail})
			if ok {
				return found(SourceCache, p)
			}
		} else {
			res.Steps = append(res.Steps, Step{Source: SourceCache, Detail: err.Error()})
		}
	}
	dirs := o.SystemDirs
	if dirs == nil {
		dirs = DefaultSystemDirs()
	}
	if ld := getenv("LD_LIBRARY_PATH"); ld != "" {
		dirs = append(filepath.SplitList(ld), dirs...)
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		for _, n := range systemNames {
			p := filepath.Join(d, n)
			if ok, _ := isFile(p); ok {
				res.Steps = append(res.Steps, Step{Source: SourceSystem, Path: p, Found: true})
				return found(SourceSystem, p)
			}
		}
		res.Steps = append(res.Steps, Step{Source: SourceSystem, Path: filepath.Join(d, "libonnxruntime.so*"), Detail: "no such file"})
	}
	return res, fmt.Errorf("%w: looked in %s\n  To install ONNX Runtime %s, run: immich-accel runtime install\n  or point %s (or --ort-lib) at an existing libonnxruntime.so",
		ErrNotFound, lookedIn(res.Steps), Version, EnvVar)
}

func lookedIn(steps []Step) string {
	var parts []string
	for _, s := range steps {
		if s.Path != "" {
			parts = append(parts, s.Path)
		}
	}
	if len(parts) == 0 {
		return "nowhere"
	}
	if len(parts) > 4 {
		return strings.Join(parts[:4], ", ") + fmt.Sprintf(" and %d more (see -v)", len(parts)-4)
	}
	return strings.Join(parts, ", ")
}

func isFile(p string) (bool, string) {
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false, "no such file"
	case err != nil:
		return false, err.Error()
	case fi.IsDir():
		return false, "is a directory"
	}
	return true, ""
}
