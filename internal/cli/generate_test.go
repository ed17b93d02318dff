package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/immich-accel/immich-accel/internal/iostreams"
)

func generateTestFactory(env map[string]string) (*Factory, *bytes.Buffer, *bytes.Buffer) {
	ios, _, out, errOut := iostreams.Test()
	return &Factory{
		IOStreams:         ios,
		Getenv:            func(k string) string { return env[k] },
		Getwd:             func() (string, error) { return "/", nil },
		ComponentVersions: func() []ComponentVersion { return nil },
	}, out, errOut
}

func TestGenerateFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		want     GenerateOptions
		wantCode ExitCode
	}{
		{
			name: "all outputs",
			args: []string{"--man", "m", "--bash-completion", "b", "--zsh-completion", "z", "--fish-completion", "f"},
			want: GenerateOptions{ManDir: "m", BashFile: "b", ZshFile: "z", FishFile: "f"},
		},
		{
			name: "one output to stdout",
			args: []string{"--zsh-completion", "-"},
			want: GenerateOptions{ZshFile: "-"},
		},
		{name: "nothing requested", args: nil, wantCode: ExitUsage},
		{name: "stray argument", args: []string{"--man", "m", "extra"}, wantCode: ExitUsage},
		{name: "unknown flag", args: []string{"--powershell-completion", "p"}, wantCode: ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _, errOut := generateTestFactory(nil)
			var got *GenerateOptions
			root := NewCmdRoot(f)
			for _, c := range root.Commands() {
				if c.Name() == "generate" {
					root.RemoveCommand(c)
				}
			}
			root.AddCommand(NewCmdGenerate(f, func(_ context.Context, o *GenerateOptions) error {
				got = o
				return nil
			}))
			root.SetArgs(append([]string{"generate"}, tt.args...))
			root.SetOut(f.IOStreams.Out)
			root.SetErr(f.IOStreams.ErrOut)
			err := root.ExecuteContext(context.Background())
			if code := exitCodeFor(err); code != tt.wantCode {
				t.Fatalf("exit code = %d (err %v, stderr %q), want %d", code, err, errOut, tt.wantCode)
			}
			if tt.wantCode != ExitOK {
				if got != nil {
					t.Fatalf("run was called despite exit code %d", tt.wantCode)
				}
				return
			}
			if got == nil {
				t.Fatal("run was not called")
			}
			if got.Root != root {
				t.Error("Root is not the command tree being executed")
			}
			if got.ManDir != tt.want.ManDir || got.BashFile != tt.want.BashFile ||
				got.ZshFile != tt.want.ZshFile || got.FishFile != tt.want.FishFile {
				t.Errorf("options = %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func TestGenerateWritesFiles(t *testing.T) {
	dir := t.TempDir()
	man := filepath.Join(dir, "man")
	bash := filepath.Join(dir, "completions", "immich-accel.bash")
	zsh := filepath.Join(dir, "completions", "_immich-accel")
	fish := filepath.Join(dir, "completions", "immich-accel.fish")

	// 2001-09-09T01:46:40Z
	f, out, errOut := generateTestFactory(map[string]string{"SOURCE_DATE_EPOCH": "1000000000"})
	code := Run(context.Background(), f, []string{"generate",
		"--man", man, "--bash-completion", bash, "--zsh-completion", zsh, "--fish-completion", fish})
	if code != ExitOK {
		t.Fatalf("exit code %d, stderr: %s", code, errOut)
	}
	if out.Len() != 0 {
		t.Errorf("unexpected stdout: %q", out)
	}

	pages, err := filepath.Glob(filepath.Join(man, "*.1"))
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(pages))
	for i, p := range pages {
		names[i] = filepath.Base(p)
	}
	sort.Strings(names)
	for _, want := range []string{"immich-accel.1", "immich-accel-version.1"} {
		if i := sort.SearchStrings(names, want); i == len(names) || names[i] != want {
			t.Errorf("man page %s missing; got %v", want, names)
		}
	}
	for _, n := range names {
		if strings.Contains(n, "generate") {
			t.Errorf("hidden command documented: %s", n)
		}
	}

	rootPage := readGenerated(t, filepath.Join(man, "immich-accel.1"))
	for _, want := range []string{
		`.TH "IMMICH-ACCEL" "1" "Sep 2001" "immich-accel `,
		"immich-accel checks what this host can do",
		`\fBimmich-accel-version(1)\fP`,
	} {
		if !strings.Contains(rootPage, want) {
			t.Errorf("immich-accel.1 lacks %q:\n%s", want, rootPage)
		}
	}
	if strings.Contains(rootPage, "Auto generated") {
		t.Error("immich-accel.1 carries cobra's dated auto-generated footer")
	}

	checks := []struct {
		file string
		want []string
	}{
		{bash, []string{"__start_immich-accel()", "complete -o default -F __start_immich-accel immich-accel"}},
		{zsh, []string{"#compdef immich-accel", "__complete"}},
		{fish, []string{"complete -c immich-accel", "__complete"}},
	}
	for _, c := range checks {
		got := readGenerated(t, c.file)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s lacks %q", filepath.Base(c.file), w)
			}
		}
		info, err := os.Stat(c.file)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o644 {
			t.Errorf("%s mode = %v, want 0644", filepath.Base(c.file), info.Mode().Perm())
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, "completions", ".*tmp*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}

func TestGenerateIsReproducible(t *testing.T) {
	env := map[string]string{"SOURCE_DATE_EPOCH": "1700000000"}
	var runs [2]map[string]string
	for i := range runs {
		dir := t.TempDir()
		f, _, errOut := generateTestFactory(env)
		if code := Run(context.Background(), f, []string{"generate", "--man", dir,
			"--bash-completion", filepath.Join(dir, "b"), "--zsh-completion", filepath.Join(dir, "z"),
			"--fish-completion", filepath.Join(dir, "f")}); code != ExitOK {
			t.Fatalf("run %d: exit code %d, stderr: %s", i, code, errOut)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		runs[i] = map[string]string{}
		for _, e := range entries {
			runs[i][e.Name()] = readGenerated(t, filepath.Join(dir, e.Name()))
		}
	}
	if len(runs[0]) < 5 {
		t.Fatalf("expected at least 2 man pages and 3 completions, got %d files", len(runs[0]))
	}
	for name, a := range runs[0] {
		if b, ok := runs[1][name]; !ok || a != b {
			t.Errorf("%s differs between two runs with the same SOURCE_DATE_EPOCH", name)
		}
	}
}

func TestGenerateStdoutAndErrors(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		wantCode   ExitCode
		wantStdout string
		wantStderr string
	}{
		{
			name:       "fish to stdout",
			args:       []string{"--fish-completion", "-"},
			wantStdout: "complete -c immich-accel",
		},
		{
			name:       "completion path under a file",
			args:       []string{"--bash-completion", filepath.Join(blocker, "immich-accel.bash")},
			wantCode:   ExitFailure,
			wantStderr: "generate: write bash completion: ",
		},
		{
			name:       "man dir is a file",
			args:       []string{"--man", blocker},
			wantCode:   ExitFailure,
			wantStderr: "generate: create man page directory: ",
		},
		{
			name:       "bad SOURCE_DATE_EPOCH",
			env:        map[string]string{"SOURCE_DATE_EPOCH": "yesterday"},
			args:       []string{"--man", t.TempDir()},
			wantCode:   ExitFailure,
			wantStderr: `SOURCE_DATE_EPOCH="yesterday" is not a number`,
		},
		{
			name:       "nothing requested",
			wantCode:   ExitUsage,
			wantStderr: "generate: nothing to do",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, out, errOut := generateTestFactory(tt.env)
			code := Run(context.Background(), f, append([]string{"generate"}, tt.args...))
			if code != tt.wantCode {
				t.Fatalf("exit code %d, want %d; stderr: %s", code, tt.wantCode, errOut)
			}
			if !strings.Contains(out.String(), tt.wantStdout) {
				t.Errorf("stdout lacks %q: %q", tt.wantStdout, out)
			}
			if !strings.Contains(errOut.String(), tt.wantStderr) {
				t.Errorf("stderr lacks %q: %q", tt.wantStderr, errOut)
			}
		})
	}
}

func TestGenerateIsHidden(t *testing.T) {
	f, out, _ := generateTestFactory(nil)
	if code := Run(context.Background(), f, []string{"--help"}); code != ExitOK {
		t.Fatalf("--help exit code %d", code)
	}
	if strings.Contains(out.String(), "generate") {
		t.Errorf("--help lists the hidden generate command:\n%s", out)
	}
}

func readGenerated(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
