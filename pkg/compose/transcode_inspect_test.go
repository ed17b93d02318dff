package compose

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// Every era of Immich's compose file names the service that transcodes:
// immich-microservices before v1.106, immich-server after, each with
// Immich's commented extends block from v1.72 on.
func TestInspectTranscodingUpstream(t *testing.T) {
	for _, f := range upstreamComposeFiles(t) {
		base := filepath.Base(f)
		in, err := InspectTranscoding(mustRead(t, f), "")
		if err != nil {
			t.Errorf("%s: %v", base, err)
			continue
		}
		want := "immich-server"
		switch base {
		case "docker-compose.v1.48.0.yml", "docker-compose.v1.60.0.yml", "docker-compose.v1.72.0.yml", "docker-compose.v1.94.0.yml":
			want = "immich-microservices"
		}
		if in.Service != want || in.Method != "cpu" || in.Mode != "none" {
			t.Errorf("%s: service %q method %q mode %q, want %s cpu none", base, in.Service, in.Method, in.Mode, want)
		}
		commented := !strings.Contains(base, "v1.48.0") && !strings.Contains(base, "v1.60.0")
		if in.ExtendsCommented != commented {
			t.Errorf("%s: ExtendsCommented = %v, want %v", base, in.ExtendsCommented, commented)
		}
	}
}

func TestInspectTranscodingInline(t *testing.T) {
	const head = "services:\n  immich-server:\n    image: ghcr.io/immich-app/immich-server:release\n"
	cases := []struct {
		body, method string
		cands        int
		problem      string
	}{
		{"    devices:\n      - /dev/dri:/dev/dri\n", "", 2, ""},
		{"    devices:\n      - /dev/dri:/dev/dri\n      - /dev/dxg:/dev/dxg\n", "vaapi-wsl", 0, ""},
		{"    devices:\n      - /dev/rga:/dev/rga\n      - /dev/dri:/dev/dri\n      - /dev/mpp_service:/dev/mpp_service\n", "rkmpp", 0, ""},
		{"    deploy:\n      resources:\n        reservations:\n          devices:\n            - driver: nvidia\n              count: 1\n              capabilities: [gpu]\n", "nvenc", 0, "transcode-capabilities"},
		{"    deploy:\n      resources:\n        reservations:\n          devices:\n            - driver: nvidia\n              count: 1\n              capabilities: [gpu, video]\n    devices:\n      - /dev/dri:/dev/dri\n", "nvenc", 0, "transcode-several-sections"},
		{"    extends:\n      file: hwaccel.transcoding.yml\n      service: ${HWACCEL:-cpu}\n", "", 0, ""},
		{"    extends:\n      file: hwaccel.transcoding.yml\n      service: cuda\n", "cuda", 0, "transcode-section-unknown"},
	}
	for _, c := range cases {
		in, err := InspectTranscoding([]byte(head+c.body), "")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, p := range in.Problems {
			ids = append(ids, string(p.ID))
		}
		if in.Method != c.method || len(in.Candidates) != c.cands || (c.problem != "" && !strings.Contains(strings.Join(ids, ","), c.problem)) || (c.problem == "" && len(ids) > 0) {
			t.Errorf("%q: method %q candidates %v problems %v; want %q, %d, %q", c.body, in.Method, in.Candidates, ids, c.method, c.cands, c.problem)
		}
	}
}

func TestFindServer(t *testing.T) {
	two := "services:\n  a:\n    image: ghcr.io/immich-app/immich-server:release\n  b:\n    image: ghcr.io/immich-app/immich-server:release\n"
	if _, err := InspectTranscoding([]byte(two), ""); !errors.Is(err, ErrSeveralServerServices) {
		t.Errorf("two servers: %v", err)
	}
	if in, err := InspectTranscoding([]byte(two), "b"); err != nil || in.Service != "b" {
		t.Errorf("--server-service b: %v %+v", err, in)
	}
	marked := two + "    # extends:\n    #   file: hwaccel.transcoding.yml\n    #   service: cpu\n"
	if in, err := InspectTranscoding([]byte(marked), ""); err != nil || in.Service != "b" {
		t.Errorf("the one with the commented block: %v %+v", err, in)
	}
	ml := "services:\n  ml:\n    image: ghcr.io/immich-app/immich-machine-learning:release\n"
	if _, err := InspectTranscoding([]byte(ml), ""); !errors.Is(err, ErrNoServerService) {
		t.Errorf("no server: %v", err)
	}
	if _, err := InspectTranscoding([]byte(ml), "ml"); !errors.Is(err, ErrNoServerService) || !strings.Contains(err.Error(), "machine learning") {
		t.Errorf("--server-service naming ML: %v", err)
	}
}
