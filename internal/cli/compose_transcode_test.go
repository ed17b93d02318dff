package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immich-accel/immich-accel/pkg/compose"
)

func TestComposeTranscodeFlags(t *testing.T) {
	tests := []struct {
		args    []string
		want    ComposeOptions
		wantErr string
	}{
		{args: []string{"--transcode", "nvenc"}, want: ComposeOptions{Transcode: "nvenc"}},
		{args: []string{"-b", "cuda", "-t", "nvenc", "--server-service", "srv"}, want: ComposeOptions{Backend: "cuda", Transcode: "nvenc", ServerService: "srv"}},
		{args: []string{"-t", "qsv"}, wantErr: "qsv is Immich's Acceleration API value; the section is quicksync"},
		{args: []string{"-t", "cuda"}, wantErr: "unknown transcoding method"},
		{args: []string{"-t", "auto", "--no-detect"}, wantErr: "--transcode auto needs host detection"},
		{args: []string{"-t", "nvenc", "--service", "ml"}, wantErr: "--server-service"},
		{args: []string{"-b", "cuda", "--server-service", "srv"}, wantErr: "--server-service needs --transcode"},
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
			if got.Backend != tt.want.Backend || got.Transcode != tt.want.Transcode || got.ServerService != tt.want.ServerService {
				t.Errorf("got %+v", got)
			}
		})
	}
}

// One run, one diff: the ML backend and the transcoding method together,
// both files written, the admin setting named.
func TestComposeBackendAndTranscode(t *testing.T) {
	dir, src := stackDir(t)
	f, _, out, errOut := newComposeFactory(t, dir, nil)
	if code := Run(context.Background(), f, []string{"compose", "-b", "cuda", "-t", "nvenc", "--no-detect", "--yes"}); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if n := strings.Count(out.String(), "+++ b/docker-compose.yml"); n != 1 {
		t.Errorf("%d diffs of docker-compose.yml, want one:\n%s", n, out)
	}
	for _, want := range []string{"gets exactly the cuda section", "gets exactly the nvenc section", "Acceleration API: NVENC", "up -d immich-machine-learning immich-server"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	for _, name := range []string{"hwaccel.ml.yml", "hwaccel.transcoding.yml", "docker-compose.yml.bak"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s not written: %v", name, err)
		}
	}
	// Undo both: the extends blocks stay but name cpu, and the suffix goes.
	f2, _, _, errOut2 := newComposeFactory(t, dir, nil)
	if code := Run(context.Background(), f2, []string{"compose", "-b", "cpu", "-t", "cpu", "--no-detect", "--yes", "--no-backup"}); code != ExitOK {
		t.Fatalf("undo: exit %d: %s", code, errOut2)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "docker-compose.yml"))
	in, err := compose.InspectTranscoding(after, "")
	if err != nil || in.Method != "cpu" {
		t.Errorf("after undo: %+v %v", in, err)
	}
	if strings.Contains(string(after), "-cuda") {
		t.Errorf("suffix left after undo")
	}
	if string(after) == string(src) {
		t.Errorf("extends-mode undo should keep the extends blocks (service: cpu)")
	}
}

func TestComposeTranscodeAutoAndWSL(t *testing.T) {
	dir, _ := stackDir(t)
	host := func(context.Context) (ComposeHostInfo, error) {
		return ComposeHostInfo{Host: compose.Host{Known: true, WSL: true}, Recommended: "openvino-wsl", Ready: true,
			Transcode: "vaapi-wsl", TranscodeWhy: "VAAPI through WSL2's d3d12 driver", TranscodeReady: true}, nil
	}
	f, _, out, errOut := newComposeFactory(t, dir, host)
	if code := Run(context.Background(), f, []string{"compose", "-t", "auto", "--dry-run", "--json"}); code != ExitChanges {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep composeReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Transcode != "vaapi-wsl" || rep.TranscodeRequested != "auto" || rep.ServerService != "immich-server" || rep.TranscodeValidation == nil || !rep.TranscodeValidation.Checked || !strings.HasSuffix(rep.Setting, ": VAAPI") {
		t.Errorf("report = %+v", rep)
	}
	// Quick Sync on WSL2 is refused with the way out.
	f2, _, _, errOut2 := newComposeFactory(t, dir, host)
	if code := Run(context.Background(), f2, []string{"compose", "-t", "quicksync", "--dry-run"}); code != ExitFailure {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(errOut2.String(), "not supported on WSL2") || !strings.Contains(errOut2.String(), "--transcode vaapi-wsl") {
		t.Errorf("stderr: %s", errOut2)
	}
	// vaapi becomes vaapi-wsl there.
	f3, _, out3, errOut3 := newComposeFactory(t, dir, host)
	if code := Run(context.Background(), f3, []string{"compose", "-t", "vaapi", "--dry-run"}); code != ExitChanges {
		t.Fatalf("exit %d: %s", code, errOut3)
	}
	if !strings.Contains(out3.String(), "service: vaapi-wsl") {
		t.Errorf("out:\n%s", out3)
	}
}
