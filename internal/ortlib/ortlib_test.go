package ortlib

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func touch(t *testing.T, p string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestResolveOrder(t *testing.T) {
	arch, err := Arch(runtime.GOARCH)
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	flagLib := touch(t, filepath.Join(dir, "flag", "libonnxruntime.so"))
	envLib := touch(t, filepath.Join(dir, "env", "libonnxruntime.so.1"))
	cache := filepath.Join(dir, "cache")
	cacheLib := touch(t, filepath.Join(InstallDir(cache, arch), LibName))
	sys := filepath.Join(dir, "sys")
	sysLib := touch(t, filepath.Join(sys, "libonnxruntime.so"))
	ld := filepath.Join(dir, "ld")
	ldLib := touch(t, filepath.Join(ld, "libonnxruntime.so.1"))

	tests := []struct {
		name    string
		opts    ResolveOptions
		want    string
		source  Source
		wantErr string
	}{
		{"flag wins", ResolveOptions{FlagPath: flagLib, Getenv: env(map[string]string{EnvVar: envLib}), CacheDir: cache, SystemDirs: []string{sys}}, flagLib, SourceFlag, ""},
		{"env before cache", ResolveOptions{Getenv: env(map[string]string{EnvVar: envLib}), CacheDir: cache, SystemDirs: []string{sys}}, envLib, SourceEnv, ""},
		{"cache before system", ResolveOptions{CacheDir: cache, SystemDirs: []string{sys}}, cacheLib, SourceCache, ""},
		{"system", ResolveOptions{CacheDir: filepath.Join(dir, "nocache"), SystemDirs: []string{sys}}, sysLib, SourceSystem, ""},
		{"LD_LIBRARY_PATH before system dirs", ResolveOptions{Getenv: env(map[string]string{"LD_LIBRARY_PATH": ld}), SystemDirs: []string{sys}}, ldLib, SourceSystem, ""},
		{"missing flag path does not fall through", ResolveOptions{FlagPath: filepath.Join(dir, "nope.so"), CacheDir: cache}, "", "", "--ort-lib"},
		{"env pointing at a directory", ResolveOptions{Getenv: env(map[string]string{EnvVar: dir}), CacheDir: cache}, "", "", "is a directory"},
		{"nothing", ResolveOptions{CacheDir: filepath.Join(dir, "nocache"), SystemDirs: []string{filepath.Join(dir, "empty")}}, "", "", "immich-accel runtime install"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Resolve(tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				if len(res.Steps) == 0 {
					t.Error("no steps recorded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Path != tt.want || res.Source != tt.source {
				t.Errorf("got %s from %s, want %s from %s", res.Path, res.Source, tt.want, tt.source)
			}
			last := res.Steps[len(res.Steps)-1]
			if !last.Found || last.Path != tt.want {
				t.Errorf("last step %+v does not record the find", last)
			}
		})
	}
}

func TestResolveNotFoundIsSentinel(t *testing.T) {
	_, err := Resolve(ResolveOptions{SystemDirs: []string{t.TempDir()}})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

func makeTgz(t *testing.T, files map[string][]byte) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for n, b := range files {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	zw.Close()
	p := filepath.Join(t.TempDir(), "archive.tgz")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInstallFromUnpinnedArchiveNeedsHash(t *testing.T) {
	arch := "x64"
	archive := makeTgz(t, map[string][]byte{"onnxruntime-linux-x64-1.29.0/lib/libonnxruntime.so.1.29.0": []byte("not a library")})
	in := &Installer{CacheRoot: t.TempDir(), Arch: arch}
	_, err := in.Install(context.Background(), InstallOptions{From: archive})
	if err == nil || !strings.Contains(err.Error(), "--sha256") {
		t.Fatalf("err = %v, want a request for --sha256", err)
	}
	_, err = in.Install(context.Background(), InstallOptions{From: archive, SHA256: strings.Repeat("0", 64)})
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("err = %v, want ErrChecksum", err)
	}
	sum, _ := fileSHA256(archive)
	_, err = in.Install(context.Background(), InstallOptions{From: archive, SHA256: sum})
	if err == nil || !strings.Contains(err.Error(), "checking the unpacked library") {
		t.Fatalf("err = %v, want the fake library to be rejected", err)
	}
	if _, err := os.Stat(InstallDir(in.CacheRoot, arch)); !os.IsNotExist(err) {
		t.Errorf("a failed install left %s behind", InstallDir(in.CacheRoot, arch))
	}
}

func TestInstallNpmRejectsTamperedTarball(t *testing.T) {
	bad := makeTgz(t, map[string][]byte{"package/bin/napi-v6/linux/x64/libonnxruntime.so.1": []byte("tampered")})
	var gotArgs []string
	in := &Installer{CacheRoot: t.TempDir(), Arch: "x64", Npm: func(_ context.Context, dir string, args ...string) error {
		gotArgs = args
		b, _ := os.ReadFile(bad)
		return os.WriteFile(filepath.Join(dir, "onnxruntime-node-1.29.0.tgz"), b, 0o644)
	}}
	_, err := in.Install(context.Background(), InstallOptions{})
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("err = %v, want ErrChecksum", err)
	}
	if strings.Join(gotArgs[:3], " ") != "pack onnxruntime-node@"+Version+" --ignore-scripts" {
		t.Errorf("npm args = %q", gotArgs)
	}
}

func TestInstallGPUOnlyX64(t *testing.T) {
	in := &Installer{CacheRoot: t.TempDir(), Arch: "arm64"}
	if _, err := in.Install(context.Background(), InstallOptions{GPU: true}); err == nil || !strings.Contains(err.Error(), "x64 only") {
		t.Fatalf("err = %v", err)
	}
}

// TestInstallFromNpmTarball installs from the real onnxruntime-node
// tarball when one is at hand (ONNX_TARBALL or the npm cache of make test).
func TestInstallFromNpmTarball(t *testing.T) {
	arch, err := Arch(runtime.GOARCH)
	if err != nil {
		t.Skip(err)
	}
	tgz := os.Getenv("IMMICH_ACCEL_ORT_TARBALL")
	if tgz == "" {
		if _, err := exec.LookPath("npm"); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("npm is not installed under CI: this test fetches the onnxruntime-node tarball with it")
			}
			t.Skip("SKIPPED: neither IMMICH_ACCEL_ORT_TARBALL (the onnxruntime-node tarball) nor npm to fetch it")
		}
		// Fetch it the way `runtime install` does, and keep the tarball.
		dir := t.TempDir()
		in := &Installer{CacheRoot: t.TempDir(), Arch: arch, Npm: func(ctx context.Context, d string, args ...string) error {
			if err := (&Installer{}).runNpm(ctx, d, args...); err != nil {
				return err
			}
			files, _ := filepath.Glob(filepath.Join(d, "*.tgz"))
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				tgz = filepath.Join(dir, filepath.Base(f))
				if err := os.WriteFile(tgz, b, 0o644); err != nil {
					return err
				}
			}
			return nil
		}}
		if _, err := in.Install(context.Background(), InstallOptions{}); err != nil {
			t.Fatalf("install through npm: %v", err)
		}
	}
	root := t.TempDir()
	in := &Installer{CacheRoot: root, Arch: arch}
	got, err := in.Install(context.Background(), InstallOptions{From: tgz})
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != Version {
		t.Errorf("version = %s", got.Version)
	}
	v, err := LibraryVersion(got.Library)
	if err != nil || v != Version {
		t.Fatalf("LibraryVersion = %q, %v", v, err)
	}
	// A second install replaces the first atomically.
	if _, err := in.Install(context.Background(), InstallOptions{From: tgz}); err != nil {
		t.Fatal(err)
	}
	res, err := Resolve(ResolveOptions{CacheDir: root, SystemDirs: []string{}})
	if err != nil || res.Source != SourceCache {
		t.Fatalf("Resolve after install: %+v, %v", res, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(got.Dir))
	if len(entries) != 1 {
		t.Errorf("left-overs next to the install: %v", entries)
	}
}

func TestTryLoadNamesMissingLibrary(t *testing.T) {
	err := TryLoad(filepath.Join(t.TempDir(), "libnothere.so"))
	if !errors.Is(err, ErrLoad) || !strings.Contains(err.Error(), "libnothere.so") {
		t.Fatalf("err = %v", err)
	}
}

func TestLibraryVersionRejectsNonORT(t *testing.T) {
	// libc is loadable but is not ONNX Runtime.
	if _, err := LibraryVersion("libc.so.6"); err == nil || !strings.Contains(err.Error(), "OrtGetApiBase") {
		t.Fatalf("err = %v", err)
	}
}

// TestInstallFromReleaseArchive installs from an archive laid out like an
// ONNX Runtime release (onnxruntime-linux-<arch>-<version>/lib/...), made
// here from the real library the tests run against, with --sha256.
func TestInstallFromReleaseArchive(t *testing.T) {
	lib := os.Getenv(EnvVar)
	if lib == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set under CI", EnvVar)
		}
		t.Skipf("SKIPPED: needs the ONNX Runtime library in %s (make test sets it)", EnvVar)
	}
	arch, err := Arch(runtime.GOARCH)
	if err != nil {
		t.Skip(err)
	}
	b, err := os.ReadFile(lib)
	if err != nil {
		t.Fatal(err)
	}
	top := "onnxruntime-linux-" + arch + "-" + Version
	archive := makeTgz(t, map[string][]byte{
		top + "/lib/libonnxruntime.so.1.29.0": b,
		top + "/include/onnxruntime_c_api.h":  []byte("/* header */"),
		top + "/LICENSE":                      []byte("MIT"),
	})
	sum, err := fileSHA256(archive)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	in := &Installer{CacheRoot: root, Arch: arch}
	got, err := in.Install(context.Background(), InstallOptions{From: archive, SHA256: strings.ToUpper(sum)})
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != Version || strings.Join(got.Files, ",") != LibName {
		t.Errorf("installed %+v, want only %s at %s", got, LibName, Version)
	}
	if v, err := LibraryVersion(filepath.Join(InstallDir(root, arch), LibName)); err != nil || v != Version {
		t.Errorf("installed library: %q, %v", v, err)
	}
}

// While npm downloads (into a private cache, so that its growth can be
// watched), a terminal sees how much has arrived.
func TestInstallShowsDownloadProgress(t *testing.T) {
	bad := makeTgz(t, map[string][]byte{"package/bin/napi-v6/linux/x64/libonnxruntime.so.1": []byte("tampered")})
	var progress bytes.Buffer
	in := &Installer{CacheRoot: t.TempDir(), Arch: "x64", Progress: &progress, Npm: func(_ context.Context, dir string, args ...string) error {
		cache := ""
		for i, a := range args {
			if a == "--cache" && i+1 < len(args) {
				cache = args[i+1]
			}
		}
		if cache == "" {
			return errors.New("no --cache given")
		}
		if err := os.MkdirAll(filepath.Join(cache, "_cacache", "tmp"), 0o755); err != nil {
			return err
		}
		chunk := make([]byte, 2<<20)
		for i := range 3 {
			f := filepath.Join(cache, "_cacache", "tmp", "part"+string(rune('a'+i)))
			if err := os.WriteFile(f, chunk, 0o644); err != nil {
				return err
			}
			time.Sleep(300 * time.Millisecond)
		}
		b, _ := os.ReadFile(bad)
		return os.WriteFile(filepath.Join(dir, "onnxruntime-node-1.29.0.tgz"), b, 0o644)
	}}
	if _, err := in.Install(context.Background(), InstallOptions{}); !errors.Is(err, ErrChecksum) {
		t.Fatalf("err = %v, want ErrChecksum", err)
	}
	out := progress.String()
	if !strings.Contains(out, "downloading onnxruntime-node@"+Version) || !strings.Contains(out, "/106 MB") {
		t.Errorf("no download progress:\n%q", out)
	}
	if !strings.HasSuffix(out, "\r\x1b[K") {
		t.Errorf("progress line not cleared: %q", out)
	}
}
