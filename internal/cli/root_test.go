package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/immich-accel/immich-accel/internal/iostreams"
)

func versionFactory() (*Factory, *bytes.Buffer, *bytes.Buffer) {
	ios, _, out, errOut := iostreams.Test()
	f := &Factory{
		IOStreams: ios,
		Getenv:    func(string) string { return "" },
		Getwd:     func() (string, error) { return "/nonexistent", nil },
		ComponentVersions: func() []ComponentVersion {
			return []ComponentVersion{
				{Name: "NVIDIA driver", Detail: "libnvidia-ml.so.1 not found"},
				{Name: "onnxruntime", Version: "1.29.0", Detail: "/cache/libonnxruntime.so.1"},
			}
		},
	}
	return f, out, errOut
}

func TestVersionFlagAndCommandAgree(t *testing.T) {
	f, out, _ := versionFactory()
	if code := Run(context.Background(), f, []string{"--version"}); code != ExitOK {
		t.Fatalf("--version: exit %d", code)
	}
	flagOut := out.String()
	for _, want := range []string{"immich-accel ", "NVIDIA driver:", "not found (libnvidia-ml.so.1 not found)", "onnxruntime:", "1.29.0 (/cache/libonnxruntime.so.1)"} {
		if !strings.Contains(flagOut, want) {
			t.Errorf("--version output lacks %q:\n%s", want, flagOut)
		}
	}
	f2, out2, _ := versionFactory()
	if code := Run(context.Background(), f2, []string{"version"}); code != ExitOK {
		t.Fatalf("version: exit %d", code)
	}
	if out2.String() != flagOut {
		t.Errorf("version and --version differ:\n%s\n---\n%s", out2.String(), flagOut)
	}

	f3, out3, _ := versionFactory()
	if code := Run(context.Background(), f3, []string{"version", "--json"}); code != ExitOK {
		t.Fatalf("version --json: exit %d", code)
	}
	var rep struct {
		Version    string             `json:"version"`
		Platform   string             `json:"platform"`
		Components []ComponentVersion `json:"components"`
	}
	if err := json.Unmarshal(out3.Bytes(), &rep); err != nil {
		t.Fatalf("version --json is not JSON: %v\n%s", err, out3.String())
	}
	if rep.Version == "" || rep.Platform == "" || len(rep.Components) != 2 || rep.Components[1].Version != "1.29.0" {
		t.Errorf("version --json = %+v", rep)
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{{"bogus"}, {"--no-such-flag"}, {"version", "extra"}, {"doctor", "--no-such-flag"}} {
		f, _, errOut := versionFactory()
		if code := Run(context.Background(), f, args); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d (stderr: %s)", args, code, ExitUsage, errOut.String())
		}
		if !strings.Contains(errOut.String(), "immich-accel --help") {
			t.Errorf("%v: stderr does not point at --help: %s", args, errOut.String())
		}
	}
}
