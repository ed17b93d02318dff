// Package cli holds immich-accel's command tree: the root command, one file
// per command, the Factory that wires dependencies, and the exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Main runs the command line and returns the exit code.
func Main() ExitCode {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	f := NewFactory()
	return Run(ctx, f, os.Args[1:])
}

// Run executes the command tree with args and maps the result to an exit code.
func Run(ctx context.Context, f *Factory, args []string) ExitCode {
	root := NewCmdRoot(f)
	root.SetArgs(args)
	root.SetOut(f.IOStreams.Out)
	root.SetErr(f.IOStreams.ErrOut)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, context.Canceled) || ctx.Err() != nil {
		fmt.Fprintln(f.IOStreams.ErrOut, "immich-accel: interrupted")
		return ExitInterrupted
	}
	var ee *ExitError
	silent := errors.As(err, &ee) && ee.Err == nil // already reported
	if !silent {
		fmt.Fprintf(f.IOStreams.ErrOut, "immich-accel: %v\n", err)
	}
	code := exitCodeFor(err)
	if code == ExitUsage && !silent {
		fmt.Fprintln(f.IOStreams.ErrOut, "Run 'immich-accel --help' for usage.")
	}
	return code
}

// NewCmdRoot builds the root command and its children.
func NewCmdRoot(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "immich-accel",
		Short: "Hardware acceleration for Immich machine learning, done right",
		Long: `immich-accel checks what this host can do for Immich's machine-learning
container (Smart Search/CLIP, face detection and recognition), enables the
matching GPU/NPU backend in a compose file, and benchmarks it.

  immich-accel doctor              what this host can accelerate, and what is missing
  immich-accel compose --backend X enable backend X in docker-compose.yml
  immich-accel bench               run ONNX models on every execution provider here
  immich-accel verify              prove the running ML server uses the accelerator

Environment:
  NO_COLOR                 disable colour (colour is used only on a terminal)
  IMMICH_ACCEL_HOST_ROOT   read host files under this directory (diagnostics)
  IMMICH_ACCEL_ORT_LIB     path to libonnxruntime.so for bench`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	// --version is handled here rather than by cobra so that it reports the
	// ONNX Runtime and NVIDIA driver found, as `version` does.
	var showVersion bool
	cmd.Flags().BoolVar(&showVersion, "version", false, "print the version and the runtime libraries found")
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		if showVersion {
			return writeVersion(f, false)
		}
		return c.Help()
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &FlagError{Err: err} })
	cmd.AddCommand(newCmdVersion(f))
	cmd.AddCommand(NewCmdDoctor(f, nil))
	cmd.AddCommand(NewCmdCompose(f, nil))
	cmd.AddCommand(NewCmdBench(f, nil), newCmdRuntime(f))
	cmd.AddCommand(NewCmdGenerate(f, nil))
	cmd.AddCommand(NewCmdVerify(f, nil))
	return cmd
}
