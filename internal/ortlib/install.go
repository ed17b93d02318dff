package ortlib

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/immich-accel/immich-accel/internal/iostreams"
)

// npmPackage is a registry package pinned by version and tarball hash.
type npmPackage struct {
	Name    string
	Version string
	// SHA256 of the tarball that `npm pack` writes.
	SHA256 string
	// Size of that tarball in bytes, for download progress (0: unknown).
	Size int64
	// Files maps a path inside the tarball to the name it gets in the
	// install directory and the sha256 of its contents.
	Files map[string]pinnedFile
}

type pinnedFile struct {
	Name   string
	SHA256 string
}

func (p npmPackage) spec() string { return p.Name + "@" + p.Version }

// cpuPackage is onnxruntime-node, whose tarball carries the CPU build of
// libonnxruntime for both architectures (its install scripts are not run).
func cpuPackage(arch string) npmPackage {
	libs := map[string]string{
		"x64":   "89688f5cf51c7e31befbb7b9101bc027799009b18d1baa9a5b1146a72e69538d",
		"arm64": "a27d21126db312aa8f02f3d5eaebe466e991f51f469882e6d0407d5a8b64afda",
	}
	return npmPackage{
		Name:    "onnxruntime-node",
		Version: Version,
		SHA256:  "cfdfb45ec4044b1fdca43e5d2e180fb6817e649ff8ad1e0dfc90e18e51b67037",
		Size:    111735068,
		Files: map[string]pinnedFile{
			"package/bin/napi-v6/linux/" + arch + "/libonnxruntime.so.1": {Name: LibName, SHA256: libs[arch]},
		},
	}
}

// gpuPackage carries the CUDA 13 and TensorRT provider libraries built for
// ONNX Runtime 1.29.0 (linux x64 only). The CUDA, cuDNN and TensorRT
// libraries themselves come from the NVIDIA driver and CUDA installation.
var gpuPackage = npmPackage{
	Name:    "com.github.asus4.onnxruntime.linux-x64-gpu",
	Version: "0.4.9",
	SHA256:  "2b459e0c17f340c92970c10ed86de4f37a3009f93c14053e6ad4334cbb6be412",
	Size:    179145956,
	Files: map[string]pinnedFile{
		"package/Plugins/Linux/x64/libonnxruntime_providers_shared.so":   {Name: "libonnxruntime_providers_shared.so", SHA256: "c6a12593396095f5670160e284c35d1700b7708cf3037b7042e2a5200ccae772"},
		"package/Plugins/Linux/x64/libonnxruntime_providers_cuda.so":     {Name: "libonnxruntime_providers_cuda.so", SHA256: "56cf3254b118ad837ccc4ed8f6d1b23504bbf7ef91b34cbc0b289cb7f10b3037"},
		"package/Plugins/Linux/x64/libonnxruntime_providers_tensorrt.so": {Name: "libonnxruntime_providers_tensorrt.so", SHA256: "ef6071798a339038ad66c428fb1a809cf8e499bffc3b6870e4e8bc4f4c6a6320"},
	},
}

// ErrChecksum is wrapped by errors about a hash that does not match its pin.
var ErrChecksum = errors.New("checksum mismatch")

// Installer puts a pinned ONNX Runtime into the cache directory.
type Installer struct {
	// CacheRoot is the cache root (see CacheRoot).
	CacheRoot string
	// Arch is x64 or arm64.
	Arch string
	// Npm runs the npm client with args in dir. Nil runs `npm` from PATH.
	Npm func(ctx context.Context, dir string, args ...string) error
	// Log receives one line per step (nil: discarded).
	Log io.Writer
	// Progress, when not nil, receives a progress line (ending in \r)
	// while large files are checked and unpacked; for terminals only.
	Progress io.Writer
}

// InstallOptions selects what to install.
type InstallOptions struct {
	// From installs from this local archive instead of the npm registry:
	// the onnxruntime-node tarball, or an ONNX Runtime release archive
	// (onnxruntime-linux-<arch>-<version>.tgz).
	From string
	// SHA256 is the expected hash of From when it is not a pinned archive.
	SHA256 string
	// GPU also installs the CUDA and TensorRT provider libraries.
	GPU bool
	// Force reinstalls even when the pinned files are already in place.
	Force bool
}

// Installed describes a finished install.
type Installed struct {
	Dir     string   `json:"dir"`
	Library string   `json:"library"`
	Version string   `json:"version"`
	Files   []string `json:"files"`
}

func (in *Installer) logf(format string, args ...any) {
	if in.Log != nil {
		fmt.Fprintf(in.Log, format+"\n", args...)
	}
}

// Install fetches, verifies and installs the runtime. The install directory
// is replaced in one rename, so a failed or interrupted install leaves the
// previous one in place.
func (in *Installer) Install(ctx context.Context, o InstallOptions) (Installed, error) {
	if in.CacheRoot == "" {
		return Installed{}, errors.New("runtime install: no cache directory: set XDG_CACHE_HOME or HOME")
	}
	if o.GPU && in.Arch != "x64" {
		return Installed{}, fmt.Errorf("runtime install --gpu: the CUDA/TensorRT provider libraries are published for linux x64 only, not %s", in.Arch)
	}
	final := InstallDir(in.CacheRoot, in.Arch)
	if !o.Force && o.From == "" {
		if got, ok := in.installed(final, o.GPU); ok {
			in.logf("ONNX Runtime %s is already installed in %s (checked against the pinned hashes; --force reinstalls)", Version, final)
			return got, nil
		}
	}
	parent := filepath.Dir(final)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return Installed{}, fmt.Errorf("runtime install: creating %s: %w", parent, err)
	}
	stage, err := os.MkdirTemp(parent, ".staging-")
	if err != nil {
		return Installed{}, fmt.Errorf("runtime install: %w", err)
	}
	defer os.RemoveAll(stage)
	dl, err := os.MkdirTemp("", "immich-accel-ort-")
	if err != nil {
		return Installed{}, fmt.Errorf("runtime install: %w", err)
	}
	defer os.RemoveAll(dl)

	var files []string
	if o.From != "" {
		fs, err := in.installFrom(o.From, o.SHA256, stage)
		if err != nil {
			return Installed{}, err
		}
		files = append(files, fs...)
	} else {
		fs, err := in.installNpm(ctx, cpuPackage(in.Arch), dl, stage)
		if err != nil {
			return Installed{}, err
		}
		files = append(files, fs...)
	}
	if o.GPU && !slices.Contains(files, "libonnxruntime_providers_cuda.so") {
		fs, err := in.installNpm(ctx, gpuPackage, dl, stage)
		if err != nil {
			return Installed{}, err
		}
		files = append(files, fs...)
	} else if !o.GPU {
		// Keep provider libraries a previous --gpu install put there.
		fs, err := keepVerified(final, stage)
		if err != nil {
			return Installed{}, err
		}
		files = append(files, fs...)
	}
	lib := filepath.Join(stage, LibName)
	v, err := LibraryVersion(lib)
	if err != nil {
		return Installed{}, fmt.Errorf("runtime install: checking the unpacked library: %w", err)
	}
	if v != Version {
		return Installed{}, fmt.Errorf("runtime install: the archive holds ONNX Runtime %s, not %s: use the %s release", v, Version, Version)
	}
	if err := swapDir(stage, final); err != nil {
		return Installed{}, fmt.Errorf("runtime install: moving into %s: %w", final, err)
	}
	sort.Strings(files)
	in.logf("installed ONNX Runtime %s in %s", v, final)
	return Installed{Dir: final, Library: filepath.Join(final, LibName), Version: v, Files: files}, nil
}

// installed reports whether final already holds the pinned files (and,
// with gpu, the pinned provider libraries).
func (in *Installer) installed(final string, gpu bool) (Installed, bool) {
	want := map[string]string{}
	for _, f := range cpuPackage(in.Arch).Files {
		want[f.Name] = f.SHA256
	}
	if gpu {
		for _, f := range gpuPackage.Files {
			want[f.Name] = f.SHA256
		}
	}
	var files []string
	for name, sum := range want {
		got, err := fileSHA256(filepath.Join(final, name))
		if err != nil || got != sum {
			return Installed{}, false
		}
		files = append(files, name)
	}
	sort.Strings(files)
	return Installed{Dir: final, Library: filepath.Join(final, LibName), Version: Version, Files: files}, true
}

// keepVerified copies the pinned GPU provider libraries from an existing
// install into stage, when their hashes still match.
func keepVerified(final, stage string) ([]string, error) {
	var kept []string
	for _, f := range gpuPackage.Files {
		src := filepath.Join(final, f.Name)
		if _, err := os.Stat(src); err != nil {
			continue
		}
		if sum, err := fileSHA256(src); err != nil || sum != f.SHA256 {
			continue
		}
		if err := os.Link(src, filepath.Join(stage, f.Name)); err != nil {
			if err := copyFile(src, filepath.Join(stage, f.Name)); err != nil {
				return nil, fmt.Errorf("runtime install: keeping %s: %w", f.Name, err)
			}
		}
		kept = append(kept, f.Name)
	}
	return kept, nil
}

func (in *Installer) runNpm(ctx context.Context, dir string, args ...string) error {
	if in.Npm != nil {
		return in.Npm(ctx, dir, args...)
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return errors.New("the npm client is not installed: install Node.js and npm, or download the archive elsewhere and use --from FILE")
	}
	cmd := exec.CommandContext(ctx, npm, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 600 {
			msg = msg[len(msg)-600:]
		}
		return fmt.Errorf("npm %s: %w: %s", strings.Join(args, " "), err, msg)
	}
	return nil
}

func (in *Installer) installNpm(ctx context.Context, p npmPackage, dl, stage string) ([]string, error) {
	size := ""
	if p.Name == gpuPackage.Name {
		size = ", about 180 MB"
	}
	in.logf("fetching %s with npm pack (no install scripts%s)", p.spec(), size)
	dir, err := os.MkdirTemp(dl, "pack-")
	if err != nil {
		return nil, err
	}
	args := []string{"pack", p.spec(), "--ignore-scripts", "--silent", "--pack-destination", dir}
	stop := func() {}
	if in.Progress != nil {
		// A private npm cache, whose growth is the download's progress.
		cache := filepath.Join(dl, "npm-cache")
		args = append(args, "--cache", cache)
		stop = watchDownload(in.Progress, "downloading "+p.spec(), cache, p.Size)
	}
	err = in.runNpm(ctx, dir, args...)
	stop()
	if err != nil {
		return nil, fmt.Errorf("runtime install: fetching %s: %w", p.spec(), err)
	}
	tgz, err := filepath.Glob(filepath.Join(dir, "*.tgz"))
	if err != nil || len(tgz) != 1 {
		return nil, fmt.Errorf("runtime install: npm pack %s wrote %d archives, want 1", p.spec(), len(tgz))
	}
	return in.extractPinned(tgz[0], p, stage)
}

func (in *Installer) extractPinned(archive string, p npmPackage, stage string) ([]string, error) {
	sum, err := fileSHA256(archive)
	if err != nil {
		return nil, fmt.Errorf("runtime install: %w", err)
	}
	if sum != p.SHA256 {
		return nil, fmt.Errorf("runtime install: %s: %w: got sha256 %s, want %s; the download is corrupt or the package was changed: do not use it", p.spec(), ErrChecksum, sum, p.SHA256)
	}
	in.logf("verified %s (sha256 %s)", filepath.Base(archive), sum[:16])
	want := map[string]pinnedFile{}
	for k, v := range p.Files {
		want[k] = v
	}
	got, err := in.extract(archive, func(name string) (string, bool) {
		f, ok := want[name]
		return f.Name, ok
	}, stage)
	if err != nil {
		return nil, err
	}
	var names []string
	for member, f := range p.Files {
		s, ok := got[f.Name]
		if !ok {
			return nil, fmt.Errorf("runtime install: %s has no %s", p.spec(), member)
		}
		if s != f.SHA256 {
			return nil, fmt.Errorf("runtime install: %s in %s: %w: got sha256 %s, want %s", member, p.spec(), ErrChecksum, s, f.SHA256)
		}
		names = append(names, f.Name)
	}
	return names, nil
}

var releaseLib = regexp.MustCompile(`^[^/]+/lib/(libonnxruntime\.so\.\d+\.\d+\.\d+|libonnxruntime_providers_(shared|cuda|tensorrt|openvino|migraphx)\.so)$`)

func (in *Installer) installFrom(archive, wantSHA, stage string) ([]string, error) {
	if _, err := os.Stat(archive); err != nil {
		return nil, fmt.Errorf("runtime install --from: %w", err)
	}
	sum, err := fileSHA256(archive)
	if err != nil {
		return nil, fmt.Errorf("runtime install --from: %w", err)
	}
	if cpu := cpuPackage(in.Arch); sum == cpu.SHA256 {
		return in.extractPinned(archive, cpu, stage)
	}
	if sum == gpuPackage.SHA256 {
		return nil, fmt.Errorf("runtime install --from: %s is the GPU provider package; install the runtime first, then use --gpu", archive)
	}
	wantSHA = strings.ToLower(strings.TrimSpace(wantSHA))
	if wantSHA == "" {
		return nil, fmt.Errorf("runtime install --from: %s is not an archive with a pinned hash (its sha256 is %s): compare it with the checksum on the ONNX Runtime release page and pass it with --sha256", archive, sum)
	}
	if wantSHA != sum {
		return nil, fmt.Errorf("runtime install --from: %s: %w: got sha256 %s, want %s", archive, ErrChecksum, sum, wantSHA)
	}
	in.logf("verified %s (sha256 %s)", filepath.Base(archive), sum[:16])
	got, err := in.extract(archive, func(name string) (string, bool) {
		m := releaseLib.FindStringSubmatch(name)
		if m == nil {
			return "", false
		}
		if strings.HasPrefix(m[1], "libonnxruntime.so.") {
			return LibName, true
		}
		return m[1], true
	}, stage)
	if err != nil {
		return nil, err
	}
	if _, ok := got[LibName]; !ok {
		return nil, fmt.Errorf("runtime install --from: %s has no lib/libonnxruntime.so.%s: give an ONNX Runtime release archive (onnxruntime-linux-%s-%s.tgz) or the onnxruntime-node tarball", archive, Version, in.Arch, Version)
	}
	var names []string
	for n := range got {
		names = append(names, n)
	}
	return names, nil
}

// extract unpacks the regular files of a .tgz for which pick returns a
// name, into dir, and returns the sha256 of each.
func (in *Installer) extract(archive string, pick func(string) (string, bool), dir string) (map[string]string, error) {
	f, err := os.Open(archive)
	if err != nil {
		return nil, fmt.Errorf("runtime install: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if in.Progress != nil {
		if fi, err := f.Stat(); err == nil {
			line := iostreams.NewProgressLine(in.Progress)
			r = &progressReader{r: f, total: fi.Size(), line: line, label: "unpacking " + filepath.Base(archive)}
			defer line.Clear()
		}
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("runtime install: %s is not a gzip archive: %w", archive, err)
	}
	tr := tar.NewReader(zr)
	sums := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("runtime install: reading %s: %w", archive, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name, ok := pick(path.Clean(h.Name))
		if !ok {
			continue
		}
		sum, err := writeFile(filepath.Join(dir, name), tr)
		if err != nil {
			return nil, fmt.Errorf("runtime install: unpacking %s: %w", h.Name, err)
		}
		sums[name] = sum
	}
	return sums, nil
}

func writeFile(dst string, r io.Reader) (string, error) {
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(out, h), r); err != nil {
		out.Close()
		return "", err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return "", err
	}
	if err := out.Close(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	_, err = writeFile(dst, in)
	return err
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// swapDir replaces final with stage using renames; the old directory is
// removed only once the new one is in place.
func swapDir(stage, final string) error {
	if err := os.Chmod(stage, 0o755); err != nil {
		return err
	}
	old := ""
	if _, err := os.Stat(final); err == nil {
		old = final + ".old-" + fmt.Sprint(time.Now().UnixNano())
		if err := os.Rename(final, old); err != nil {
			return err
		}
	}
	if err := os.Rename(stage, final); err != nil {
		if old != "" {
			_ = os.Rename(old, final)
		}
		return err
	}
	if d, err := os.Open(filepath.Dir(final)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	if old != "" {
		return os.RemoveAll(old)
	}
	return nil
}

// watchDownload prints, every quarter second until stop is called, how
// many bytes have arrived under dir (of total, when known).
func watchDownload(w io.Writer, label, dir string, total int64) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	line := iostreams.NewProgressLine(w)
	go func() {
		defer close(finished)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				line.Clear()
				return
			case <-t.C:
				// npm may briefly hold a second copy while it moves the
				// download into its cache.
				showBytes(line, label, dirSize(dir), total, time.Since(start))
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// showBytes draws "label 42% (12/30 MB, 3s)", or "label 12 MB (3s)" when
// the total is unknown; elapsed is left out when 0.
func showBytes(line *iostreams.ProgressLine, label string, n, total int64, elapsed time.Duration) {
	secs := ""
	if elapsed > 0 {
		secs = fmt.Sprintf(", %ds", int(elapsed.Seconds()))
	}
	if total > 0 {
		n = min(n, total)
		line.Update("%s %3d%% (%d/%d MB%s)", label, n*100/total, n>>20, total>>20, secs)
		return
	}
	line.Update("%s %d MB (%s)", label, n>>20, strings.TrimPrefix(secs, ", "))
}

// dirSize is the total size of the regular files under dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

type progressReader struct {
	r     io.Reader
	total int64
	n     int64
	last  time.Time
	line  *iostreams.ProgressLine
	label string
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if now := time.Now(); now.Sub(p.last) > 100*time.Millisecond || err != nil {
		p.last = now
		showBytes(p.line, p.label, p.n, max(p.total, 1), 0)
	}
	return n, err
}
