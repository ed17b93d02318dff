package detect

import "github.com/immich-accel/immich-accel/internal/docker"

// HostFS reads host files under a root directory the way doctor does: paths
// are host paths ("/sys/class/drm"), only the reads are rooted, only regular
// files are read (a FIFO planted where a host file belongs is refused, not
// waited on) and at most 1 MiB of each. Other packages that watch the host
// (verify's device and cgroup readers) use it, so `--host-root` means the
// same thing everywhere.
type HostFS struct{ fs fsys }

// NewHostFS returns a reader for host files under root ("" or "/" for this
// host).
func NewHostFS(root string) HostFS {
	if root == "" {
		root = "/"
	}
	return HostFS{fs: fsys{root: root}}
}

// Root is the directory host files are read under.
func (h HostFS) Root() string { return h.fs.root }

// IsHostRoot reports whether files are read from this host's own /, where
// loading NVML and matching process ids make sense.
func (h HostFS) IsHostRoot() bool { return h.fs.root == "/" || h.fs.root == "" }

// ReadFile returns the contents of the host file p (at most 1 MiB).
func (h HostFS) ReadFile(p string) (string, error) { return h.fs.read(p) }

// Glob returns the host paths matching pattern, sorted.
func (h HostFS) Glob(pattern string) []string { return h.fs.glob(pattern) }

// ReadDirNames lists a host directory's entries, sorted; nil when unreadable.
func (h HostFS) ReadDirNames(p string) []string { return h.fs.readDirNames(p) }

// Exists reports whether the host path p exists.
func (h HostFS) Exists(p string) bool { return h.fs.exists(p) }

// LogProviders returns the ONNX Runtime execution providers that Immich's
// ML server last logged choosing (`Setting execution providers to [...]`,
// matched across Rich's wrapped lines), and whether such a line was seen.
func LogProviders(logs string) (providers []string, seen bool) {
	lf := analyzeLogs(logs)
	return lf.Providers, lf.ProviderLineSeen
}

// IsMLContainer reports whether c is Immich's machine-learning container,
// by the same signs doctor uses: the image name, the compose service name
// or the container name.
func IsMLContainer(c docker.Container) bool { return isMLContainer(&c) }
