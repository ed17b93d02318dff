package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/immich-accel/immich-accel/internal/buildinfo"
	"github.com/immich-accel/immich-accel/internal/iostreams"
)

// GenerateOptions holds the flags of the hidden generate command, which
// writes the man pages and shell completions that release archives and
// packages ship.
type GenerateOptions struct {
	IO     *iostreams.IOStreams
	Getenv func(string) string
	// Root is the command tree to document.
	Root *cobra.Command

	ManDir   string
	BashFile string
	ZshFile  string
	FishFile string
}

// NewCmdGenerate returns the hidden "generate" command. runF replaces
// runGenerate in tests of flag parsing.
func NewCmdGenerate(f *Factory, runF func(context.Context, *GenerateOptions) error) *cobra.Command {
	opts := &GenerateOptions{IO: f.IOStreams, Getenv: f.Getenv}
	cmd := &cobra.Command{
		Use:   "generate [flags]",
		Short: "Write man pages and shell completion files",
		Long: `Write man pages and shell completion files for immich-accel.

Release archives and packages ship these files; this command is how they are
made. A FILE of "-" writes to standard output. Man pages are dated by
SOURCE_DATE_EPOCH when it is set, so that release builds are reproducible.

EXIT STATUS
  0  the files were written
  1  a file or directory could not be written
  2  no output was requested, or a flag is wrong`,
		Example: `  immich-accel generate --man man/ --bash-completion immich-accel.bash
  immich-accel generate --zsh-completion - > _immich-accel`,
		Hidden: true,
		Args:   cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if opts.ManDir == "" && opts.BashFile == "" && opts.ZshFile == "" && opts.FishFile == "" {
				return UsageError(errors.New("generate: nothing to do; pass at least one of --man DIR, --bash-completion FILE, --zsh-completion FILE, --fish-completion FILE"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Root = cmd.Root()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runGenerate(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.ManDir, "man", "", "write man pages into `DIR` (created if missing)")
	fl.StringVar(&opts.BashFile, "bash-completion", "", "write the bash completion script to `FILE`")
	fl.StringVar(&opts.ZshFile, "zsh-completion", "", "write the zsh completion script to `FILE`")
	fl.StringVar(&opts.FishFile, "fish-completion", "", "write the fish completion script to `FILE`")
	return cmd
}

func runGenerate(ctx context.Context, opts *GenerateOptions) error {
	if opts.ManDir != "" {
		if err := writeManPages(opts); err != nil {
			return err
		}
	}
	completions := []struct {
		shell, file string
		gen         func(io.Writer) error
	}{
		{"bash", opts.BashFile, func(w io.Writer) error { return opts.Root.GenBashCompletionV2(w, true) }},
		{"zsh", opts.ZshFile, opts.Root.GenZshCompletion},
		{"fish", opts.FishFile, func(w io.Writer) error { return opts.Root.GenFishCompletion(w, true) }},
	}
	for _, c := range completions {
		if c.file == "" {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := c.gen(&buf); err != nil {
			return fmt.Errorf("generate: %s completion: %w", c.shell, err)
		}
		if err := writeOutput(opts.IO.Out, c.file, buf.Bytes()); err != nil {
			return fmt.Errorf("generate: write %s completion: %w", c.shell, err)
		}
	}
	return nil
}

func writeManPages(opts *GenerateOptions) error {
	date, err := manDate(opts.Getenv)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(opts.ManDir, 0o755); err != nil {
		return fmt.Errorf("generate: create man page directory: %w", err)
	}
	disableAutoGenTag(opts.Root)
	header := &doc.GenManHeader{
		Title:   "IMMICH-ACCEL",
		Section: "1",
		Date:    &date,
		Source:  "immich-accel " + buildinfo.Version,
		Manual:  "immich-accel manual",
	}
	if err := doc.GenManTree(opts.Root, header, opts.ManDir); err != nil {
		return fmt.Errorf("generate: write man pages to %s: %w", opts.ManDir, err)
	}
	return nil
}

// manDate is the date printed in the man pages: SOURCE_DATE_EPOCH when set
// (reproducible builds), otherwise today.
func manDate(getenv func(string) string) (time.Time, error) {
	s := getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Now().UTC(), nil
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("generate: SOURCE_DATE_EPOCH=%q is not a number of seconds since 1970; unset it or set it to e.g. $(git log -1 --format=%%ct)", s)
	}
	return time.Unix(sec, 0).UTC(), nil
}

// disableAutoGenTag drops cobra's "Auto generated on <date>" footer, which
// would otherwise differ between builds.
func disableAutoGenTag(c *cobra.Command) {
	c.DisableAutoGenTag = true
	for _, sub := range c.Commands() {
		disableAutoGenTag(sub)
	}
}

// writeOutput writes data to path, or to stdout when path is "-". Files are
// written next to their destination and renamed into place, so an
// interrupted run never leaves a half-written completion script.
func writeOutput(stdout io.Writer, path string, data []byte) (err error) {
	if path == "-" {
		_, err = stdout.Write(data)
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		_ = tmp.Close()
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
