// Package iostreams carries the standard streams of a command together with
// what is known about them: whether each is a terminal and whether colour
// may be used.
package iostreams

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// IOStreams is the one value through which commands read and write.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY  bool
	stdoutTTY bool
	stderrTTY bool
	colorOK   bool
}

// System returns the process's streams, with terminal and colour detection.
// Colour is on only when stdout is a terminal, NO_COLOR is unset or empty,
// and TERM is not "dumb".
func System() *IOStreams {
	return newStreams(os.Stdin, os.Stdout, os.Stderr, func(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }, os.Getenv)
}

// newStreams is System with the terminal test and the environment given.
func newStreams(in, out, errOut *os.File, isTerminal func(*os.File) bool, getenv func(string) string) *IOStreams {
	ios := &IOStreams{
		In:        in,
		Out:       out,
		ErrOut:    errOut,
		stdinTTY:  isTerminal(in),
		stdoutTTY: isTerminal(out),
		stderrTTY: isTerminal(errOut),
	}
	ios.colorOK = ios.stdoutTTY && getenv("NO_COLOR") == "" && getenv("TERM") != "dumb"
	return ios
}

// Test returns streams backed by buffers: in, out and errOut.
func Test() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

// IsStdinTTY reports whether standard input is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.stdinTTY }

// IsStdoutTTY reports whether standard output is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// IsStderrTTY reports whether standard error is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// SetStdinTTY overrides terminal detection for standard input (tests).
func (s *IOStreams) SetStdinTTY(v bool) { s.stdinTTY = v }

// SetStdoutTTY overrides terminal detection for standard output (tests).
func (s *IOStreams) SetStdoutTTY(v bool) { s.stdoutTTY = v }

// SetStderrTTY overrides terminal detection for standard error (tests).
func (s *IOStreams) SetStderrTTY(v bool) { s.stderrTTY = v }

// SetColorEnabled overrides colour detection (tests, --no-color).
func (s *IOStreams) SetColorEnabled(v bool) { s.colorOK = v }

// ColorEnabled reports whether output may be coloured.
func (s *IOStreams) ColorEnabled() bool { return s.colorOK }

// CanPrompt reports whether the user can be asked a question.
func (s *IOStreams) CanPrompt() bool { return s.stdinTTY && s.stdoutTTY }

// ShowProgress reports whether progress indicators may be drawn on ErrOut.
func (s *IOStreams) ShowProgress() bool { return s.stdoutTTY && s.stderrTTY }

// ColorScheme returns the palette for these streams.
func (s *IOStreams) ColorScheme() *ColorScheme { return &ColorScheme{enabled: s.colorOK} }

// WriteJSON writes v as indented JSON followed by a newline to Out.
func (s *IOStreams) WriteJSON(v any) error {
	enc := json.NewEncoder(s.Out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	return nil
}

// ProgressLine redraws one status line on a terminal: each Update replaces
// the text before it, and Clear removes it.
type ProgressLine struct{ w io.Writer }

// NewProgressLine draws on w, which should be a terminal (see ShowProgress).
func NewProgressLine(w io.Writer) *ProgressLine { return &ProgressLine{w: w} }

// Update replaces the line with the formatted text.
func (p *ProgressLine) Update(format string, args ...any) {
	fmt.Fprintf(p.w, "\r\x1b[K"+format, args...)
}

// Clear removes the line.
func (p *ProgressLine) Clear() { fmt.Fprint(p.w, "\r\x1b[K") }

// Bar is a bar of width cells with done of them filled.
func Bar(done, width int) string {
	done = min(width, max(0, done))
	return "[" + strings.Repeat("█", done) + strings.Repeat("░", width-done) + "]"
}
