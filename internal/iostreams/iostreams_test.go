package iostreams

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"golang.org/x/term"
)

func TestColorAndTerminalRules(t *testing.T) {
	tests := []struct {
		name                string
		in, out, errOut     bool // terminals
		env                 map[string]string
		color, prompt, prog bool
	}{
		{name: "all terminals", in: true, out: true, errOut: true, env: map[string]string{"TERM": "xterm-256color"}, color: true, prompt: true, prog: true},
		{name: "NO_COLOR set", in: true, out: true, errOut: true, env: map[string]string{"NO_COLOR": "1", "TERM": "xterm"}, prompt: true, prog: true},
		{name: "NO_COLOR empty counts as unset", in: true, out: true, errOut: true, env: map[string]string{"NO_COLOR": ""}, color: true, prompt: true, prog: true},
		{name: "TERM=dumb", in: true, out: true, errOut: true, env: map[string]string{"TERM": "dumb"}, prompt: true, prog: true},
		{name: "stdout piped", in: true, errOut: true, prog: false},
		{name: "stdin piped", out: true, errOut: true, color: true, prog: true},
		{name: "stderr piped", in: true, out: true, color: true, prompt: true},
		{name: "nothing a terminal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, out, errOut := tempFile(t), tempFile(t), tempFile(t)
			tty := map[*os.File]bool{in: tt.in, out: tt.out, errOut: tt.errOut}
			s := newStreams(in, out, errOut, func(f *os.File) bool { return tty[f] }, func(k string) string { return tt.env[k] })
			if s.IsStdinTTY() != tt.in || s.IsStdoutTTY() != tt.out || s.IsStderrTTY() != tt.errOut {
				t.Errorf("ttys %v %v %v", s.IsStdinTTY(), s.IsStdoutTTY(), s.IsStderrTTY())
			}
			if s.ColorEnabled() != tt.color || s.ColorScheme().Enabled() != tt.color {
				t.Errorf("colour %v, want %v", s.ColorEnabled(), tt.color)
			}
			if s.CanPrompt() != tt.prompt {
				t.Errorf("CanPrompt %v, want %v", s.CanPrompt(), tt.prompt)
			}
			if s.ShowProgress() != tt.prog {
				t.Errorf("ShowProgress %v, want %v", s.ShowProgress(), tt.prog)
			}
		})
	}
}

func tempFile(t *testing.T) *os.File {
	f, err := os.CreateTemp(t.TempDir(), "stream")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// A pipe is no terminal, through the real terminal test System uses.
func TestPipeIsNoTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	s := newStreams(r, w, w, func(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }, func(string) string { return "" })
	if s.IsStdinTTY() || s.IsStdoutTTY() || s.ColorEnabled() || s.CanPrompt() || s.ShowProgress() {
		t.Errorf("a pipe taken for a terminal: %+v", s)
	}
}

func TestColorScheme(t *testing.T) {
	on, off := &ColorScheme{enabled: true}, &ColorScheme{}
	if got := on.Green("ok"); got != "\x1b[32mok\x1b[0m" {
		t.Errorf("Green = %q", got)
	}
	if got := on.Bold(""); got != "" {
		t.Errorf("empty text coloured: %q", got)
	}
	for _, f := range []func(string) string{off.Bold, off.Red, off.Green, off.Yellow, off.Cyan, off.Gray} {
		if got := f("text"); got != "text" {
			t.Errorf("colour off changed the text: %q", got)
		}
	}
	if off.SuccessIcon() != "✓" || off.FailureIcon() != "✗" || off.WarningIcon() != "!" || off.SkipIcon() != "-" {
		t.Error("icons without colour")
	}
	if !strings.Contains(on.FailureIcon(), "\x1b[31m") {
		t.Errorf("failure icon %q is not red", on.FailureIcon())
	}
}

func TestWriteJSON(t *testing.T) {
	s, _, out, _ := Test()
	if err := s.WriteJSON(map[string]any{"fix": "a && b <c>", "n": 1}); err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"fix\": \"a && b <c>\",\n  \"n\": 1\n}\n"; out.String() != want {
		t.Errorf("JSON %q, want %q", out, want)
	}
	if err := s.WriteJSON(func() {}); err == nil || !strings.Contains(err.Error(), "writing JSON") {
		t.Errorf("unencodable value: %v", err)
	}
}

func TestProgressLine(t *testing.T) {
	var b bytes.Buffer
	p := NewProgressLine(&b)
	p.Update("%s %d%%", "downloading", 42)
	p.Update("done")
	p.Clear()
	if want := "\r\x1b[Kdownloading 42%\r\x1b[Kdone\r\x1b[K"; b.String() != want {
		t.Errorf("drawn %q, want %q", b.String(), want)
	}
	for _, tt := range []struct {
		done, width int
		want        string
	}{{0, 4, "[░░░░]"}, {2, 4, "[██░░]"}, {9, 4, "[████]"}, {-1, 3, "[░░░]"}} {
		if got := Bar(tt.done, tt.width); got != tt.want {
			t.Errorf("Bar(%d, %d) = %s, want %s", tt.done, tt.width, got, tt.want)
		}
	}
}
