package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immich-accel/immich-accel/internal/iostreams"
	"github.com/immich-accel/immich-accel/pkg/accel"
	"github.com/immich-accel/immich-accel/pkg/compose"
)

const composeFixture = "../../testdata/compose/basic.yml"

func newComposeFactory(t *testing.T, dir string, host func(context.Context) (ComposeHostInfo, error)) (*Factory, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	ios, in, out, errOut := iostreams.Test()
	if host == nil {
		host = func(context.Context) (ComposeHostInfo, error) {
			return ComposeHostInfo{}, errors.New("host detection is not available in this build")
		}
	}
	f := &Factory{
		IOStreams:         ios,
		Getenv:            func(string) string { return "" },
		Getwd:             func() (string, error) { return dir, nil },
		ComponentVersions: func() []ComponentVersion { return nil },
		ComposeHost:       host,
	}
	return f, in, out, errOut
}

func stackDir(t *testing.T) (string, []byte) {
	t.Helper()
	src, err := os.ReadFile(composeFixture)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "docker-compose.yml"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, src
}

func TestComposeFlags(t *testing.T) {
	tests := []struct {
		args    []string
		want    ComposeOptions
		wantErr string
	}{
		{args: []string{"--backend", "cuda"}, want: ComposeOptions{Backend: "cuda"}},
		{args: []string{"-b", "openvino", "--inline", "-f", "x.yml", "--dry-run", "--no-backup", "--service", "ml", "--json"},
			want: ComposeOptions{Backend: "openvino", Inline: true, File: "x.yml", DryRun: true, NoBackup: true, Service: "ml", JSON: true}},
		{args: []string{"-b", "cuda", "--gpus", "0,1", "--drop-digest", "--yes", "--no-detect", "--hwaccel-file", "h.yml"},
			want: ComposeOptions{Backend: "cuda", GPUs: []string{"0", "1"}, DropDigest: true, Yes: true, NoDetect: true, HwaccelFile: "h.yml"}},
		{args: []string{}, wantErr: "--backend is required"},
		{args: []string{"-b", "tpu"}, wantErr: "unknown backend"},
		{args: []string{"-b", "auto", "--no-detect"}, wantErr: "needs host detection"},
		{args: []string{"-b", "rocm", "--gpus", "0"}, wantErr: "--gpus applies to --backend cuda"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			f, _, _, _ := newComposeFactory(t, t.TempDir(), nil)
			var got *ComposeOptions
			cmd := NewCmdCompose(f, func(_ context.Context, o *ComposeOptions) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			err := cmd.Execute()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || exitCodeFor(err) != ExitUsage {
					t.Fatalf("want usage error %q, got %v", tt.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Backend != tt.want.Backend || got.Inline != tt.want.Inline || got.File != tt.want.File ||
				got.DryRun != tt.want.DryRun || got.NoBackup != tt.want.NoBackup || got.Service != tt.want.Service ||
				got.JSON != tt.want.JSON || strings.Join(got.GPUs, ",") != strings.Join(tt.want.GPUs, ",") ||
				got.DropDigest != tt.want.DropDigest || got.Yes != tt.want.Yes || got.NoDetect != tt.want.NoDetect ||
				got.HwaccelFile != tt.want.HwaccelFile {
				t.Errorf("got %+v", *got)
			}
		})
	}
}

func TestComposeDryRun(t *testing.T) {
	dir, src := stackDir(t)
	f, _, out, errOut := newComposeFactory(t, dir, nil)
	code := Run(context.Background(), f, []string{"compose", "--backend", "cuda", "--dry-run"})
	if code != ExitChanges {
		t.Fatalf("exit %d, want %d; stderr: %s", code, ExitChanges, errOut)
	}
	if !strings.Contains(out.String(), "+    image: ghcr.io/immich-app/immich-machine-learning:${IMMICH_VERSION:-release}-cuda") ||
		!strings.Contains(out.String(), "+++ b/hwaccel.ml.yml") {
		t.Errorf("diff missing:\n%s", out)
	}
	if !strings.Contains(errOut.String(), "checked with compose-go") || !strings.Contains(errOut.String(), "not tailored to this host") {
		t.Errorf("stderr: %s", errOut)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "docker-compose.yml"))
	if !bytes.Equal(got, src) {
		t.Errorf("dry run wrote the file")
	}
	if _, err := os.Stat(filepath.Join(dir, "hwaccel.ml.yml")); err == nil {
		t.Errorf("dry run wrote hwaccel.ml.yml")
	}
}

func TestComposeWriteAndIdempotent(t *testing.T) {
	dir, src := stackDir(t)
	f, _, _, errOut := newComposeFactory(t, dir, nil)
	if code := Run(context.Background(), f, []string{"compose", "-b", "rocm", "--inline", "--yes", "--no-detect"}); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut.String(), "Next: docker compose up -d immich-machine-learning") || !strings.Contains(errOut.String(), "immich-accel doctor") {
		t.Errorf("next steps missing: %s", errOut)
	}
	bak, err := os.ReadFile(filepath.Join(dir, "docker-compose.yml.bak"))
	if err != nil || !bytes.Equal(bak, src) {
		t.Errorf("backup: %v", err)
	}
	// Same command again: nothing to change, exit 0, also with --dry-run.
	f2, _, out2, errOut2 := newComposeFactory(t, dir, nil)
	if code := Run(context.Background(), f2, []string{"compose", "-b", "rocm", "--inline", "--dry-run", "--no-detect"}); code != ExitOK {
		t.Fatalf("second run exit %d: %s", code, errOut2)
	}
	if out2.Len() != 0 || !strings.Contains(errOut2.String(), "nothing to change") {
		t.Errorf("second run output %q / %q", out2, errOut2)
	}
}

func TestComposeNeedsYesWithoutTTY(t *testing.T) {
	dir, src := stackDir(t)
	f, _, _, errOut := newComposeFactory(t, dir, nil)
	if code := Run(context.Background(), f, []string{"compose", "-b", "cuda", "--no-detect"}); code != ExitUsage {
		t.Fatalf("exit %d, want %d", code, ExitUsage)
	}
	if !strings.Contains(errOut.String(), "--yes") {
		t.Errorf("stderr: %s", errOut)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "docker-compose.yml"))
	if !bytes.Equal(got, src) {
		t.Errorf("file written without confirmation")
	}
}

func TestComposePromptOnTTY(t *testing.T) {
	for _, answer := range []string{"n\n", "y\n"} {
		dir, src := stackDir(t)
		f, in, _, errOut := newComposeFactory(t, dir, nil)
		f.IOStreams.SetStdinTTY(true)
		f.IOStreams.SetStdoutTTY(true)
		in.WriteString(answer)
		if code := Run(context.Background(), f, []string{"compose", "-b", "cuda", "--inline", "--no-detect"}); code != ExitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		got, _ := os.ReadFile(filepath.Join(dir, "docker-compose.yml"))
		if changed := !bytes.Equal(got, src); changed != (answer == "y\n") {
			t.Errorf("answer %q: changed=%v", answer, changed)
		}
	}
}

func TestComposeAutoWithFakeHost(t *testing.T) {
	dir, _ := stackDir(t)
	host := func(context.Context) (ComposeHostInfo, error) {
		return ComposeHostInfo{
			Host:        compose.Host{Known: true, LibMaliPath: "/usr/lib/aarch64-linux-gnu/libmali.so", MaliFirmware: false},
			Recommended: "armnn", Why: "Mali GPU with /dev/mali0 and libmali.so", Ready: true,
		}, nil
	}
	f, _, out, errOut := newComposeFactory(t, dir, host)
	if code := Run(context.Background(), f, []string{"compose", "-b", "auto", "--inline", "--dry-run"}); code != ExitChanges {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut.String(), "Using backend armnn: Mali GPU") {
		t.Errorf("stderr: %s", errOut)
	}
	if !strings.Contains(out.String(), "+      - /usr/lib/aarch64-linux-gnu/libmali.so:/usr/lib/libmali.so:ro") || strings.Contains(out.String(), "mali_csffw.bin") {
		t.Errorf("not tailored:\n%s", out)
	}
	if strings.Contains(errOut.String(), "not ready") {
		t.Errorf("ready host reported as not ready: %s", errOut)
	}
	// A host that needs fixes first gets the edit and a pointer to doctor.
	notReady := func(context.Context) (ComposeHostInfo, error) {
		return ComposeHostInfo{Host: compose.Host{Known: true, NVIDIAGPUs: 1}, Recommended: "cuda", Why: "NVIDIA GPU; toolkit missing"}, nil
	}
	fn, _, outN, errN := newComposeFactory(t, dir, notReady)
	if code := Run(context.Background(), fn, []string{"compose", "-b", "auto", "--dry-run"}); code != ExitChanges {
		t.Fatalf("exit %d: %s", code, errN)
	}
	if !strings.Contains(errN.String()+outN.String(), "not ready for cuda yet: run immich-accel doctor") {
		t.Errorf("no not-ready note:\n%s\n%s", outN, errN)
	}
	// auto without detection is an error that says so.
	f2, _, _, errOut2 := newComposeFactory(t, dir, nil)
	if code := Run(context.Background(), f2, []string{"compose", "-b", "auto", "--dry-run"}); code != ExitFailure {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(errOut2.String(), "--backend auto needs host detection") {
		t.Errorf("stderr: %s", errOut2)
	}
}

func TestComposeWSLTurnsOpenvinoIntoWSL(t *testing.T) {
	dir, _ := stackDir(t)
	host := func(context.Context) (ComposeHostInfo, error) {
		return ComposeHostInfo{Host: compose.Host{Known: true, WSL: true}}, nil
	}
	f, _, out, errOut := newComposeFactory(t, dir, host)
	if code := Run(context.Background(), f, []string{"compose", "-b", "openvino", "--dry-run"}); code != ExitChanges {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out.String(), "service: openvino-wsl") || !strings.Contains(errOut.String(), "WSL2") {
		t.Errorf("out:\n%s\nerr:\n%s", out, errOut)
	}
}

func TestComposeJSON(t *testing.T) {
	dir, _ := stackDir(t)
	f, _, out, _ := newComposeFactory(t, dir, nil)
	if code := Run(context.Background(), f, []string{"compose", "-b", "cuda", "--dry-run", "--json", "--no-detect"}); code != ExitChanges {
		t.Fatalf("exit %d", code)
	}
	var rep map[string]any
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if rep["backend"] != "cuda" || rep["mode"] != "extends" || rep["changed"] != true || rep["dryRun"] != true {
		t.Errorf("report: %v", rep)
	}
	changes, _ := rep["changes"].([]any)
	if len(changes) != 2 {
		t.Errorf("changes: %v", rep["changes"])
	}
	v, _ := rep["validation"].(map[string]any)
	if v["checked"] != true {
		t.Errorf("validation: %v", rep["validation"])
	}
	// Errors are JSON too.
	f2, _, out2, _ := newComposeFactory(t, dir, nil)
	if code := Run(context.Background(), f2, []string{"compose", "-b", "cuda", "--json", "--file", "../../testdata/compose/k8s.yml"}); code != ExitFailure {
		t.Fatalf("exit %d", code)
	}
	if err := json.Unmarshal(out2.Bytes(), &rep); err != nil {
		t.Fatalf("error not JSON: %v\n%s", err, out2)
	}
	e, _ := rep["error"].(map[string]any)
	if !strings.Contains(e["message"].(string), "Kubernetes") || e["fix"] == "" {
		t.Errorf("error: %v", rep["error"])
	}
}

// TestComposeJSONWithoutYes checks that --json without --yes answers in
// JSON, like every other failure, and writes nothing.
func TestComposeJSONWithoutYes(t *testing.T) {
	dir, src := stackDir(t)
	f, _, out, errOut := newComposeFactory(t, dir, nil)
	if code := Run(context.Background(), f, []string{"compose", "-b", "cuda", "--json", "--no-detect"}); code != ExitUsage {
		t.Fatalf("exit %d, want %d", code, ExitUsage)
	}
	var rep map[string]any
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("not JSON: %v\nstdout: %q\nstderr: %q", err, out, errOut)
	}
	e, _ := rep["error"].(map[string]any)
	if msg, _ := e["message"].(string); !strings.Contains(msg, "without confirmation") {
		t.Errorf("error: %v", rep["error"])
	}
	if fix, _ := e["fix"].(string); !strings.Contains(fix, "--yes") {
		t.Errorf("fix: %v", rep["error"])
	}
	if rep["changed"] != true || rep["written"] != false {
		t.Errorf("report: changed %v, written %v", rep["changed"], rep["written"])
	}
	if errOut.Len() != 0 {
		t.Errorf("stderr with --json: %q", errOut)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "docker-compose.yml")); !bytes.Equal(got, src) {
		t.Errorf("file written without confirmation")
	}
}

func TestComposeErrorsCarryFix(t *testing.T) {
	dir := t.TempDir()
	f, _, _, errOut := newComposeFactory(t, dir, nil)
	if code := Run(context.Background(), f, []string{"compose", "-b", "cuda"}); code != ExitFailure {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(errOut.String(), "no compose file in") || !strings.Contains(errOut.String(), "To fix:") {
		t.Errorf("stderr: %s", errOut)
	}
}

func TestComposeNoBackupAndExplicitFile(t *testing.T) {
	dir, src := stackDir(t)
	p := filepath.Join(dir, "docker-compose.yml")
	f, _, _, errOut := newComposeFactory(t, t.TempDir(), nil)
	if code := Run(context.Background(), f, []string{"compose", "-b", "rknn", "--inline", "--yes", "--no-backup", "--no-detect", "--file", p}); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(p + ".bak"); err == nil {
		t.Errorf("--no-backup wrote a backup")
	}
	got, _ := os.ReadFile(p)
	if bytes.Equal(got, src) || !bytes.Contains(got, []byte("systempaths=unconfined")) {
		t.Errorf("not written")
	}
	if !strings.Contains(errOut.String(), "Next: docker compose -f "+p+" up -d immich-machine-learning") {
		t.Errorf("next step should name the file: %s", errOut)
	}
}

// TestComposeNoDetect checks that --no-detect does not look at the host:
// the detector is not called and nothing is tailored.
func TestComposeNoDetect(t *testing.T) {
	dir, _ := stackDir(t)
	called := false
	host := func(context.Context) (ComposeHostInfo, error) {
		called = true
		return ComposeHostInfo{Host: compose.Host{Known: true, WSL: true}, Recommended: "openvino-wsl", Why: "WSL2"}, nil
	}
	f, _, out, errOut := newComposeFactory(t, dir, host)
	if code := Run(context.Background(), f, []string{"compose", "-b", "openvino", "--dry-run", "--no-detect"}); code != ExitChanges {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if called {
		t.Error("--no-detect still ran host detection")
	}
	if !strings.Contains(out.String(), "service: openvino #") || strings.Contains(out.String(), "service: openvino-wsl") || strings.Contains(errOut.String(), "WSL2") {
		t.Errorf("tailored despite --no-detect:\n%s\n%s", out, errOut)
	}
	if strings.Contains(errOut.String(), "not tailored to this host") {
		t.Errorf("--no-detect is asked for, not a failure to report: %s", errOut)
	}
}

// TestComposeHwaccelFile checks that --hwaccel-file is the source of the
// section, inlined and written next to the compose file.
func TestComposeHwaccelFile(t *testing.T) {
	custom := []byte("services:\n  cpu: {}\n  cuda:\n    deploy:\n      resources:\n        reservations:\n          devices:\n            - driver: nvidia\n              count: all\n              capabilities: [gpu]\n")
	dir, _ := stackDir(t)
	hw := filepath.Join(t.TempDir(), "my-hwaccel.yml")
	if err := os.WriteFile(hw, custom, 0o644); err != nil {
		t.Fatal(err)
	}
	f, _, out, errOut := newComposeFactory(t, dir, nil)
	if code := Run(context.Background(), f, []string{"compose", "-b", "cuda", "--inline", "--dry-run", "--no-detect", "--hwaccel-file", hw}); code != ExitChanges {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out.String(), "+              count: all") {
		t.Errorf("inline section not taken from --hwaccel-file:\n%s", out)
	}
	f2, _, _, errOut2 := newComposeFactory(t, dir, nil)
	if code := Run(context.Background(), f2, []string{"compose", "-b", "cuda", "--yes", "--no-detect", "--hwaccel-file", hw}); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut2)
	}
	got, err := os.ReadFile(filepath.Join(dir, "hwaccel.ml.yml"))
	if err != nil || !bytes.Equal(got, custom) {
		t.Errorf("hwaccel.ml.yml written from --hwaccel-file: %v\n%s", err, got)
	}
	// A file without the backend's section is a clear error.
	f3, _, _, errOut3 := newComposeFactory(t, dir, nil)
	if code := Run(context.Background(), f3, []string{"compose", "-b", "rocm", "--inline", "--dry-run", "--no-detect", "--hwaccel-file", hw}); code != ExitFailure {
		t.Fatalf("exit %d: %s", code, errOut3)
	}
	if !strings.Contains(errOut3.String(), "rocm") {
		t.Errorf("stderr: %s", errOut3)
	}
}

// TestComposeAutoWithGPUs checks that --gpus with --backend auto is an
// error when detection picks another backend, and applies when it picks
// cuda.
func TestComposeAutoWithGPUs(t *testing.T) {
	for rec, wantCode := range map[accel.Backend]ExitCode{accel.RKNN: ExitFailure, accel.CUDA: ExitChanges} {
		dir, _ := stackDir(t)
		host := func(context.Context) (ComposeHostInfo, error) {
			return ComposeHostInfo{Host: compose.Host{Known: true, NVIDIAGPUs: 2}, Recommended: rec, Why: "test host"}, nil
		}
		f, _, out, errOut := newComposeFactory(t, dir, host)
		if code := Run(context.Background(), f, []string{"compose", "-b", "auto", "--gpus", "0,1", "--inline", "--dry-run"}); code != wantCode {
			t.Fatalf("%s: exit %d, want %d: %s", rec, code, wantCode, errOut)
		}
		if rec == "rknn" && !strings.Contains(errOut.String(), "--gpus applies to cuda, but --backend auto chose rknn") {
			t.Errorf("stderr: %s", errOut)
		}
		if rec == "cuda" && !strings.Contains(out.String(), "device_ids") {
			t.Errorf("device_ids missing:\n%s", out)
		}
	}
}

// TestComposeCPUNothingToChange checks the message when the file already
// runs on the CPU: it does not claim an extends block that is commented.
func TestComposeCPUNothingToChange(t *testing.T) {
	dir, src := stackDir(t)
	f, _, out, errOut := newComposeFactory(t, dir, nil)
	if code := Run(context.Background(), f, []string{"compose", "-b", "cpu", "--dry-run", "--no-detect"}); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if out.Len() != 0 || !strings.Contains(errOut.String(), "nothing to change: docker-compose.yml already runs immich-machine-learning on the CPU") || strings.Contains(errOut.String(), "(extends)") {
		t.Errorf("stdout %q, stderr %q", out, errOut)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "docker-compose.yml")); !bytes.Equal(got, src) {
		t.Error("file changed")
	}
}

// TestComposeNextStepForWebUIStacks: stacks that a web UI deploys are told
// how to redeploy there, not only `docker compose up`.
func TestComposeNextStepForWebUIStacks(t *testing.T) {
	cases := map[string]string{
		"stack-portainer.yml": "Update the stack",
		"stack-unraid.yml":    "Compose Manager",
		"stack-casaos.yml":    "CasaOS dashboard",
		"stack-runtipi.yml":   "user-config/<app>/docker-compose.yml",
		"basic.yml":           "Next: docker compose up -d immich-machine-learning",
	}
	for fixture, want := range cases {
		t.Run(fixture, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join("..", "..", "testdata", "compose", fixture))
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "docker-compose.yml"), src, 0o644); err != nil {
				t.Fatal(err)
			}
			f, _, _, errOut := newComposeFactory(t, dir, nil)
			if code := Run(context.Background(), f, []string{"compose", "-b", "cuda", "--inline", "--yes", "--no-detect"}); code != ExitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if !strings.Contains(errOut.String(), want) {
				t.Errorf("next step lacks %q:\n%s", want, errOut)
			}
		})
	}
}
