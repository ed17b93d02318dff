package cli

import (
	"testing"

	"github.com/immich-accel/immich-accel/pkg/accel"
	"github.com/immich-accel/immich-accel/pkg/compose"
	"github.com/immich-accel/immich-accel/pkg/detect"
)

func TestComposeCommandLine(t *testing.T) {
	tests := []struct {
		run  compose.FixRun
		want string
	}{
		{compose.FixRun{Backend: accel.CUDA}, "immich-accel compose --backend cuda"},
		{compose.FixRun{Backend: accel.CUDA, Inline: true}, "immich-accel compose --backend cuda --inline"},
		{compose.FixRun{Backend: accel.CUDA, File: "/srv/immich/docker-compose.yml"}, "immich-accel compose --backend cuda --file /srv/immich/docker-compose.yml"},
		{compose.FixRun{Backend: accel.CUDA, File: "/srv/my immich/docker-compose.yml"}, "immich-accel compose --backend cuda --file '/srv/my immich/docker-compose.yml'"},
		{compose.FixRun{Backend: accel.OpenVINO, Inline: true, DropDigest: true, File: "it's.yml"}, `immich-accel compose --backend openvino --inline --drop-digest --file 'it'\''s.yml'`},
		{compose.FixRun{}, "immich-accel compose --backend BACKEND"},
	}
	for _, tt := range tests {
		if got := composeCommandLine(&tt.run); got != tt.want {
			t.Errorf("%+v: %s, want %s", tt.run, got, tt.want)
		}
	}
}

func TestRenderFixes(t *testing.T) {
	rep := &detect.Report{
		Checks: []detect.Check{
			{ID: "a", Fix: "Install the driver."},
			{ID: "b", Run: &compose.FixRun{Backend: accel.ROCm}},
			{ID: "c", Fix: "it adds the suffix.", Run: &compose.FixRun{Backend: accel.CUDA, File: "x.yml"}},
		},
		Recommendation: detect.Recommendation{Backend: accel.CUDA, Run: &compose.FixRun{Backend: accel.CUDA, Inline: true}},
	}
	renderFixes(rep)
	want := []string{
		"Install the driver.",
		"immich-accel compose --backend rocm",
		"Run `immich-accel compose --backend cuda --file x.yml`: it adds the suffix.",
	}
	for i, w := range want {
		if got := rep.Checks[i].Fix; got != w {
			t.Errorf("check %s fix = %q, want %q", rep.Checks[i].ID, got, w)
		}
	}
	if got := rep.Recommendation.Command; got != "immich-accel compose --backend cuda --inline" {
		t.Errorf("command = %q", got)
	}
	// Without a run there is no command to write.
	empty := &detect.Report{}
	renderFixes(empty)
	if empty.Recommendation.Command != "" {
		t.Errorf("command without a run: %q", empty.Recommendation.Command)
	}
}
