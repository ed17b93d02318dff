package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/immich-accel/immich-accel/internal/iostreams"
	"github.com/immich-accel/immich-accel/pkg/detect"
	"github.com/immich-accel/immich-accel/pkg/detect/detecttest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/hosts")

const hostsDir = "../../testdata/hosts"

// runDoctorOn runs the doctor command line on a fake host.
func runDoctorOn(t *testing.T, sc *detecttest.Scenario, args ...string) (string, ExitCode) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	f := &Factory{
		IOStreams: ios,
		Getenv:    func(string) string { return "" },
		Getwd:     func() (string, error) { return t.TempDir(), nil },
		NewDetector: func(opts ...detect.Option) *detect.Detector {
			return detect.New(append(opts, sc.Options()...)...)
		},
		ComponentVersions: func() []ComponentVersion { return nil },
	}
	code := Run(context.Background(), f, append([]string{"doctor", "--timeout", "300ms"}, args...))
	if errOut.Len() > 0 {
		t.Logf("stderr: %s", errOut.String())
	}
	return out.String(), code
}

// stripRoot makes output independent of the checkout path.
func stripRoot(s string, sc *detecttest.Scenario) string {
	abs, _ := filepath.Abs(sc.Dir)
	absRoot, _ := filepath.Abs(sc.Root)
	s = strings.ReplaceAll(s, absRoot, "<root>")
	s = strings.ReplaceAll(s, sc.Root, "<root>")
	s = strings.ReplaceAll(s, abs, "<scenario>")
	s = strings.ReplaceAll(s, sc.Dir, "<scenario>")
	return s
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test ./internal/cli -run Golden -update): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update and review the diff):\n--- got ---\n%s", path, got)
	}
}

func TestDoctorGolden(t *testing.T) {
	dirs, err := detecttest.Scenarios(hostsDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 14 {
		t.Fatalf("found %d host scenarios, want at least 14", len(dirs))
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			sc, err := detecttest.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			text, code := runDoctorOn(t, sc, "-v")
			text = stripRoot(text, sc) + fmt.Sprintf("\nexit status %d\n", code)
			golden(t, filepath.Join(dir, "doctor.golden"), text)

			js, jcode := runDoctorOn(t, sc, "--json")
			if jcode != code {
				t.Errorf("exit status with --json = %d, without = %d", jcode, code)
			}
			var rep detect.Report
			if err := json.Unmarshal([]byte(js), &rep); err != nil {
				t.Fatalf("--json output is not a report: %v", err)
			}
			golden(t, filepath.Join(dir, "doctor.json.golden"), stripRoot(js, sc))

			// The exit status follows the report.
			want := ExitCPUOnly
			if rep.HardwareReady() {
				want = ExitOK
			}
			if code != want {
				t.Errorf("exit status %d, want %d for recommendation %+v", code, want, rep.Recommendation)
			}
		})
	}
}

func TestDoctorTextShowsFixesWithoutVerbose(t *testing.T) {
	sc, err := detecttest.Load(filepath.Join(hostsDir, "nvidia-no-toolkit"))
	if err != nil {
		t.Fatal(err)
	}
	out, code := runDoctorOn(t, sc)
	if code != ExitOK {
		t.Errorf("exit status %d, want %d (the Intel iGPU is ready while CUDA waits for the toolkit)", code, ExitOK)
	}
	for _, want := range []string{
		"[✗] NVIDIA (CUDA)",
		"nvidia-toolkit: NVIDIA Container Toolkit not installed",
		"→ Install it (https://docs.nvidia.com/",
		"Recommended backend: cuda (not ready yet)",
		"Next, after fixing nvidia-toolkit: immich-accel compose --backend cuda",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Passing checks are listed only with -v.
	if strings.Contains(out, "nvidia-driver:") {
		t.Errorf("non-verbose output lists a passing check:\n%s", out)
	}
}

func TestDoctorColourOnlyWhenEnabled(t *testing.T) {
	sc, err := detecttest.Load(filepath.Join(hostsDir, "nvidia-desktop"))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := runDoctorOn(t, sc)
	if strings.Contains(plain, "\x1b[") {
		t.Errorf("colour escapes without colour enabled:\n%q", plain)
	}
	ios, _, out, _ := iostreams.Test()
	ios.SetColorEnabled(true)
	rep := detect.New(sc.Options()...).Run(context.Background())
	writeDoctorText(out, ios.ColorScheme(), rep, false)
	if !strings.Contains(out.String(), "\x1b[32m✓\x1b[0m") {
		t.Errorf("no green check mark with colour enabled:\n%q", out.String())
	}
}

func TestDoctorFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    DoctorOptions
		wantErr bool
	}{
		{name: "defaults", args: nil, want: DoctorOptions{Timeout: 1500 * time.Millisecond}},
		{name: "all flags", args: []string{"--host-root", "/host", "--compose", "dc.yml", "--json", "-v", "--timeout", "2s"},
			want: DoctorOptions{HostRoot: "/host", ComposeFile: "dc.yml", JSON: true, Verbose: true, Timeout: 2 * time.Second}},
		{name: "root from environment", env: map[string]string{"IMMICH_ACCEL_HOST_ROOT": "/mnt/host"},
			want: DoctorOptions{HostRoot: "/mnt/host", Timeout: 1500 * time.Millisecond}},
		{name: "flag beats environment", args: []string{"--host-root", "/a"}, env: map[string]string{"IMMICH_ACCEL_HOST_ROOT": "/b"},
			want: DoctorOptions{HostRoot: "/a", Timeout: 1500 * time.Millisecond}},
		// compose's fixes say --file: doctor takes it as well.
		{name: "--file as compose names it", args: []string{"--file", "dc.yml"},
			want: DoctorOptions{ComposeFile: "dc.yml", Timeout: 1500 * time.Millisecond}},
		{name: "-f", args: []string{"-f", "dc.yml"}, want: DoctorOptions{ComposeFile: "dc.yml", Timeout: 1500 * time.Millisecond}},
		{name: "bad timeout", args: []string{"--timeout", "0s"}, wantErr: true},
		{name: "stray argument", args: []string{"extra"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			f := &Factory{IOStreams: ios, Getenv: func(k string) string { return tt.env[k] }, Getwd: os.Getwd}
			var got *DoctorOptions
			cmd := NewCmdDoctor(f, func(_ context.Context, o *DoctorOptions) error { got = o; return nil })
			cmd.SetArgs(append([]string{}, tt.args...))
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			err := cmd.Execute()
			if tt.wantErr {
				if err == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.HostRoot != tt.want.HostRoot || got.ComposeFile != tt.want.ComposeFile || got.JSON != tt.want.JSON ||
				got.Verbose != tt.want.Verbose || got.Timeout != tt.want.Timeout {
				t.Errorf("options = %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func TestDoctorUsageErrorExitCode(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	f := &Factory{IOStreams: ios, Getenv: func(string) string { return "" }, Getwd: os.Getwd}
	if code := Run(context.Background(), f, []string{"doctor", "--no-such-flag"}); code != ExitUsage {
		t.Errorf("exit status %d, want %d", code, ExitUsage)
	}
}

// The README's doctor table is the check registry, row for row: every
// registered id has its row with the registry's sentence, the table has no
// row the registry lacks, and every check the scenarios produce is
// registered under its area.
func TestDoctorCheckIDsDocumented(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "Checks (stable ids")
	end := strings.Index(text, "JSON (`--json`), stable")
	if start < 0 || end < start {
		t.Fatal("README.md has no doctor check table")
	}
	table := text[start:end]
	registered := map[detect.CheckID]detect.CheckInfo{}
	for _, c := range detect.Checks() {
		registered[c.ID] = c
		if row := "| `" + string(c.ID) + "` | " + c.Doc + " |"; !strings.Contains(table, row) {
			t.Errorf("README.md's doctor table lacks the registry's row\n%s", row)
		}
	}
	for _, line := range strings.Split(table, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		id := detect.CheckID(strings.SplitN(strings.TrimPrefix(line, "| `"), "`", 2)[0])
		if _, ok := registered[id]; !ok {
			t.Errorf("README.md documents check %s, which the registry does not have", id)
		}
	}

	dirs, err := detecttest.Scenarios(hostsDir)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[detect.CheckID]bool{}
	for _, dir := range dirs {
		sc, err := detecttest.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range detect.New(append(sc.Options(), detect.WithTimeout(300*time.Millisecond))...).Run(context.Background()).Checks {
			seen[c.ID] = true
			info, ok := c.ID.Info()
			if !ok {
				t.Errorf("%s: check %s is not in the registry", filepath.Base(dir), c.ID)
				continue
			}
			if info.Area != c.Area {
				t.Errorf("%s: check %s is in area %s, the registry says %s", filepath.Base(dir), c.ID, c.Area, info.Area)
			}
		}
	}
	if len(seen) < 20 {
		t.Errorf("only %d check ids seen", len(seen))
	}
}

// Every JSON field of the report is named in the README's --json list.
func TestDoctorJSONFieldsDocumented(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(string(readme), "JSON (`--json`), stable camelCase fields:")
	if start < 0 {
		t.Fatal("README.md has no doctor JSON section")
	}
	section := string(readme)[start:]
	section = section[:strings.Index(section, "\nExit status:")]
	sc, err := detecttest.Load(filepath.Join(hostsDir, "nvidia-desktop"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(detect.New(sc.Options()...).Run(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	seen := jsonKeys(t, b)
	for k := range seen {
		if !strings.Contains(section, "`"+k+"`") && !strings.Contains(section, "`"+k+"[]`") {
			t.Errorf("JSON field %q is not in README.md's doctor JSON list", k)
		}
	}
	if len(seen) < 40 {
		t.Errorf("only %d fields seen", len(seen))
	}
}

// --immich-url without IMMICH_API_KEY, or with an address that is not
// http(s), is a usage error that says what to do.
func TestDoctorImmichURLUsage(t *testing.T) {
	for _, tc := range []struct {
		url, key, has string
	}{
		{"http://127.0.0.1:2283", "", "IMMICH_API_KEY is not set"},
		{"127.0.0.1:2283", "k", "want an http:// or https:// address"},
	} {
		ios, _, _, errOut := iostreams.Test()
		f := &Factory{IOStreams: ios, Getenv: func(k string) string {
			if k == "IMMICH_API_KEY" {
				return tc.key
			}
			return ""
		}, Getwd: os.Getwd}
		code := Run(context.Background(), f, []string{"doctor", "--immich-url", tc.url})
		if code != ExitUsage || !strings.Contains(errOut.String(), tc.has) {
			t.Errorf("--immich-url %s (key %q): exit %d, stderr %q; want %d with %q", tc.url, tc.key, code, errOut.String(), ExitUsage, tc.has)
		}
	}
}

// jsonKeys returns every object key anywhere in the JSON document b.
func jsonKeys(t *testing.T, b []byte) map[string]bool {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				seen[k] = true
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return seen
}
