package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/immich-accel/immich-accel/internal/iostreams"
	"github.com/immich-accel/immich-accel/internal/ortlib"
)

// RuntimeInstallOptions holds the flags of `runtime install`.
type RuntimeInstallOptions struct {
	IO        *iostreams.IOStreams
	CacheRoot func() (string, error)
	Arch      string
	From      string
	SHA256    string
	GPU       bool
	Force     bool
	JSON      bool
	// Npm replaces the npm client (tests).
	Npm func(ctx context.Context, dir string, args ...string) error
}

// RuntimeStatusOptions holds the flags of `runtime status`.
type RuntimeStatusOptions struct {
	IO     *iostreams.IOStreams
	Getenv func(string) string
	ORTLib string
	JSON   bool
}

func newCmdRuntime(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runtime",
		Short: "Install and inspect the ONNX Runtime library that bench uses",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdRuntimeInstall(f, nil), NewCmdRuntimeStatus(f, nil), newCmdRuntimePath(f))
	return cmd
}

// newCmdRuntimePath builds `immich-accel runtime path`, for scripts: it
// prints the library that `runtime install` installed.
func newCmdRuntimePath(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "path",
		Short: "Print the path of the library that 'runtime install' installed",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			root, err := ortlib.CacheRoot()
			if err != nil {
				return err
			}
			arch, err := ortlib.Arch(runtime.GOARCH)
			if err != nil {
				return err
			}
			p := filepath.Join(ortlib.InstallDir(root, arch), ortlib.LibName)
			if _, err := os.Stat(p); err != nil {
				return fmt.Errorf("ONNX Runtime %s is not installed (%s): run: immich-accel runtime install", ortlib.Version, p)
			}
			fmt.Fprintln(f.IOStreams.Out, p)
			return nil
		},
	}
}

// NewCmdRuntimeInstall builds `immich-accel runtime install`.
func NewCmdRuntimeInstall(f *Factory, runF func(context.Context, *RuntimeInstallOptions) error) *cobra.Command {
	opts := &RuntimeInstallOptions{IO: f.IOStreams, CacheRoot: ortlib.CacheRoot}
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install ONNX Runtime " + ortlib.Version + " into the cache directory",
		Long: `install puts ONNX Runtime ` + ortlib.Version + ` (CPU) into
  $XDG_CACHE_HOME/immich-accel/onnxruntime/` + ortlib.Version + `/linux-<arch>/
where bench finds it. The library comes from the onnxruntime-node package on
the npm registry, fetched with the npm client (npm pack, no install scripts
run), or from a local archive given with --from. The archive and the library
are checked against pinned SHA-256 hashes before anything is installed, and
the directory is replaced in one rename.

--gpu adds the CUDA 13 and TensorRT provider libraries (linux x64, about
180 MB) from the com.github.asus4.onnxruntime.linux-x64-gpu package. They
need the NVIDIA driver, CUDA 13, cuDNN 9 and (for TensorRT) TensorRT 10 on
the host; bench names whichever library is missing.`,
		Example: `  immich-accel runtime install
  immich-accel runtime install --gpu
  immich-accel runtime install --from onnxruntime-node-` + ortlib.Version + `.tgz
  immich-accel runtime install --from onnxruntime-linux-x64-` + ortlib.Version + `.tgz --sha256 <hash from the release page>`,
		Args: cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if opts.SHA256 != "" && opts.From == "" {
				return &FlagError{Err: fmt.Errorf("--sha256 applies to --from FILE")}
			}
			arch, err := ortlib.Arch(runtime.GOARCH)
			if err != nil {
				return err
			}
			opts.Arch = arch
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runRuntimeInstall(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.From, "from", "", "install from this archive: the onnxruntime-node tarball or an ONNX Runtime release .tgz")
	cmd.Flags().StringVar(&opts.SHA256, "sha256", "", "expected SHA-256 of --from when it is not the pinned onnxruntime-node tarball")
	cmd.Flags().BoolVar(&opts.GPU, "gpu", false, "also install the CUDA 13 and TensorRT provider libraries (x64)")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "reinstall even when the pinned runtime is already there")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print what was installed as JSON")
	return cmd
}

func runRuntimeInstall(ctx context.Context, opts *RuntimeInstallOptions) error {
	root, err := opts.CacheRoot()
	if err != nil {
		return err
	}
	in := &ortlib.Installer{CacheRoot: root, Arch: opts.Arch, Npm: opts.Npm, Log: opts.IO.ErrOut}
	if opts.IO.IsStderrTTY() {
		in.Progress = opts.IO.ErrOut
	}
	got, err := in.Install(ctx, ortlib.InstallOptions{From: opts.From, SHA256: opts.SHA256, GPU: opts.GPU, Force: opts.Force})
	if err != nil {
		return err
	}
	if opts.JSON {
		return opts.IO.WriteJSON(got)
	}
	fmt.Fprintf(opts.IO.Out, "%s ONNX Runtime %s installed: %s\n", opts.IO.ColorScheme().SuccessIcon(), got.Version, got.Library)
	for _, f := range got.Files {
		if f != ortlib.LibName {
			fmt.Fprintf(opts.IO.Out, "  with %s\n", f)
		}
	}
	return nil
}

// NewCmdRuntimeStatus builds `immich-accel runtime status`.
func NewCmdRuntimeStatus(f *Factory, runF func(*RuntimeStatusOptions) error) *cobra.Command {
	opts := &RuntimeStatusOptions{IO: f.IOStreams, Getenv: f.Getenv}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show which ONNX Runtime library bench would load, and where it looked",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runRuntimeStatus(opts)
		},
	}
	cmd.Flags().StringVar(&opts.ORTLib, "ort-lib", "", "path to libonnxruntime.so to check")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print as JSON")
	return cmd
}

type runtimeStatus struct {
	ortlib.Resolution
	Version   string   `json:"version,omitempty"`
	Providers []string `json:"providerLibraries"`
	Error     string   `json:"error,omitempty"`
}

func runRuntimeStatus(opts *RuntimeStatusOptions) error {
	res, rerr := ortlib.Resolve(ortlib.DefaultResolveOptions(opts.ORTLib, opts.Getenv))
	st := runtimeStatus{Resolution: res, Providers: []string{}}
	if rerr == nil {
		v, err := ortlib.LibraryVersion(res.Path)
		if err != nil {
			rerr = err
		}
		st.Version = v
		libs, _ := filepath.Glob(filepath.Join(filepath.Dir(res.Path), "libonnxruntime_providers_*.so"))
		for _, l := range libs {
			st.Providers = append(st.Providers, filepath.Base(l))
		}
	}
	if rerr != nil {
		st.Error = rerr.Error()
	}
	if opts.JSON {
		if err := opts.IO.WriteJSON(st); err != nil {
			return err
		}
		if rerr != nil {
			return Silent(ExitFailure)
		}
		return nil
	}
	out := opts.IO.Out
	fmt.Fprintln(out, "Looked for ONNX Runtime in:")
	for _, s := range res.Steps {
		fmt.Fprintln(out, "  "+s.String())
	}
	if rerr != nil {
		return rerr
	}
	fmt.Fprintf(out, "%s ONNX Runtime %s: %s\n", opts.IO.ColorScheme().SuccessIcon(), st.Version, res.Path)
	for _, p := range st.Providers {
		fmt.Fprintf(out, "  provider library %s\n", p)
	}
	return nil
}

// withORTVersion adds the ONNX Runtime that bench would load to the
// version report of next (whatever else it lists is kept).
func withORTVersion(getenv func(string) string, next func() []ComponentVersion) func() []ComponentVersion {
	return func() []ComponentVersion {
		var out []ComponentVersion
		if next != nil {
			out = next()
		}
		for _, c := range out {
			if c.Name == "onnxruntime" {
				return out
			}
		}
		c := ComponentVersion{Name: "onnxruntime"}
		res, err := ortlib.Resolve(ortlib.DefaultResolveOptions("", getenv))
		if err != nil {
			c.Detail = "run: immich-accel runtime install"
		} else if v, err := ortlib.LibraryVersion(res.Path); err != nil {
			c.Detail = err.Error()
		} else {
			c.Version, c.Detail = v, res.Path
		}
		return append(out, c)
	}
}
