package docker

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// An inspect answer as the Engine sends it for a compose-started ML
// container on a bridge network with port 3003 published (trimmed).
const verifyInspectJSON = `{"Id":"3f9c2a7d41b8","Name":"/immich_machine_learning",
"State":{"Status":"running","Running":true,"Pid":4242,"StartedAt":"2025-11-20T09:31:40.123456789Z"},
"HostConfig":{"NetworkMode":"immich_default"},
"Config":{"Image":"ghcr.io/immich-app/immich-machine-learning:v2.2.3-cuda","Env":["PATH=/usr/bin","MACHINE_LEARNING_WORKERS=1","IMMICH_PORT=3003"],"ExposedPorts":{"3003/tcp":{}}},
"NetworkSettings":{"Ports":{"3003/tcp":[{"HostIp":"0.0.0.0","HostPort":"3003"},{"HostIp":"::","HostPort":"3003"}]},
"Networks":{"immich_default":{"IPAddress":"172.18.0.4","GlobalIPv6Address":""}}}}`

func TestInspectAndLogsSince(t *testing.T) {
	since := time.Unix(1732095100, 250000000)
	mux := http.NewServeMux()
	mux.HandleFunc("/containers/3f9c2a7d41b8/json", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(verifyInspectJSON)) })
	mux.HandleFunc("/containers/3f9c2a7d41b8/logs", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("since") != "1732095100.250000000" {
			http.Error(w, `{"message":"bad since `+r.URL.Query().Get("since")+`"}`, http.StatusBadRequest)
			return
		}
		_, _ = w.Write(frame(2, "Loading visual model 'ViT-B-32__openai' to memory\n"))
	})
	c := serve(t, mux)
	ctx := context.Background()
	d, err := c.InspectNetwork(ctx, "3f9c2a7d41b8")
	if err != nil {
		t.Fatal(err)
	}
	if d.State.Pid != 4242 || d.HostConfig.NetworkMode != "immich_default" || d.NetworkSettings.Networks["immich_default"].IPAddress != "172.18.0.4" {
		t.Fatalf("inspect decoded wrong: %+v", d)
	}
	if b := d.NetworkSettings.Ports["3003/tcp"]; len(b) != 2 || b[0].HostPort != "3003" {
		t.Fatalf("ports = %+v", d.NetworkSettings.Ports)
	}
	if v, ok := d.Env("IMMICH_PORT"); !ok || v != "3003" {
		t.Fatalf("Env(IMMICH_PORT) = %q, %v", v, ok)
	}
	if _, ok := d.Env("MACHINE"); ok {
		t.Fatal("a prefix of a variable name matched")
	}
	logs, err := c.LogsSince(ctx, "3f9c2a7d41b8", since)
	if err != nil || !strings.Contains(logs, "Loading visual model") {
		t.Fatalf("LogsSince = %q, %v", logs, err)
	}
	if _, err := c.InspectNetwork(ctx, "missing"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("inspect of a missing container: %v", err)
	}
	if _, err := c.InspectNetwork(ctx, ""); err == nil {
		t.Fatal("empty id accepted")
	}
}

func TestParsePort(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{{"3003/tcp", 3003, true}, {"3003", 3003, true}, {"3003/udp", 0, false}, {"x/tcp", 0, false}, {"70000/tcp", 0, false}} {
		if n, ok := ParsePort(tc.in); n != tc.want || ok != tc.ok {
			t.Errorf("ParsePort(%q) = %d, %v; want %d, %v", tc.in, n, ok, tc.want, tc.ok)
		}
	}
}
