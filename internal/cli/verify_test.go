package cli

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/immich-accel/immich-accel/internal/docker"
	"github.com/immich-accel/immich-accel/internal/iostreams"
	"github.com/immich-accel/immich-accel/internal/mlstub"
	"github.com/immich-accel/immich-accel/pkg/detect"
	"github.com/immich-accel/immich-accel/pkg/verify"
)

var quickVerify = []string{"--duration", "150ms", "--timeout", "500ms", "--first-timeout", "1s"}

func runVerifyCmd(t *testing.T, env func(string) verify.Env, args ...string) (string, string, ExitCode) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	f := &Factory{IOStreams: ios, Getenv: func(string) string { return "" }, VerifyEnv: env}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	code := Run(ctx, f, append([]string{"verify"}, args...))
	if ctx.Err() != nil {
		t.Fatal("verify did not finish within 15 s")
	}
	return out.String(), errOut.String(), code
}

func stubURL(t *testing.T, cfg mlstub.Config) string {
	t.Helper()
	s := mlstub.New(cfg)
	srv := httptest.NewServer(s)
	t.Cleanup(func() { s.Close(); srv.Close() })
	return srv.URL
}

func TestVerifyFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--duration", "0s"}, {"--concurrency", "0"}, {"--concurrency", "1000"},
		{"--url", "gpu-box:3003"}, {"--url", "ftp://gpu-box"}, {"--clip-model", ""}, {"extra"}, {"--bogus"}, {"--url", "http://x:3003", "--container", "ml"},
	} {
		_, errOut, code := runVerifyCmd(t, nil, args...)
		if code != ExitUsage {
			t.Errorf("%q: exit %d, want 2 (%s)", args, code, errOut)
		}
	}
	var got *VerifyOptions
	f := &Factory{IOStreams: func() *iostreams.IOStreams { i, _, _, _ := iostreams.Test(); return i }(), Getenv: func(k string) string {
		if k == "IMMICH_ACCEL_HOST_ROOT" {
			return "/host"
		}
		return ""
	}}
	cmd := NewCmdVerify(f, func(_ context.Context, o *VerifyOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--url", "http://gpu-box:3003", "--concurrency", "4", "--duration", "30s", "--clip-model", "ViT-L-14__openai", "--face-model", "antelopev2", "--json"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.URL != "http://gpu-box:3003" || got.Concurrency != 4 || got.Duration != 30*time.Second || got.CLIPModel != "ViT-L-14__openai" || got.FaceModel != "antelopev2" || !got.JSON || got.HostRoot != "/host" {
		t.Fatalf("options = %+v", got)
	}
}

func TestVerifyRemote(t *testing.T) {
	u := stubURL(t, mlstub.Config{})
	out, errOut, code := runVerifyCmd(t, func(string) verify.Env { return verify.Env{} }, append(quickVerify, "--url", u)...)
	if code != ExitOK {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	for _, want := range []string{"(remote: latency only)", "TASK  ", "clip-visual", "clip-textual", "faces", "ViT-B-32__openai", "buffalo_l", "Not measurable: remote server: latency only"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	js, _, jcode := runVerifyCmd(t, func(string) verify.Env { return verify.Env{} }, append(quickVerify, "--url", u, "--json")...)
	var rep verify.Report
	if err := json.Unmarshal([]byte(js), &rep); err != nil || jcode != code {
		t.Fatalf("--json: exit %d, %v:\n%s", jcode, err, js)
	}
	if rep.Verdict != verify.NotMeasurable || !rep.Remote || len(rep.Tasks) != 3 || rep.Tasks[0].Warm.Requests == 0 {
		t.Fatalf("--json report = %+v", rep)
	}
}

func TestVerifyFailedTask(t *testing.T) {
	u := stubURL(t, mlstub.Config{Faults: map[string]mlstub.Fault{"faces": {Status: 500}}})
	out, _, code := runVerifyCmd(t, func(string) verify.Env { return verify.Env{} }, append(quickVerify, "--url", u)...)
	if code != ExitFailure || !strings.Contains(out, "✗ faces: HTTP 500 Internal Server Error: Internal Server Error") || !strings.Contains(out, "Failed: faces (buffalo_l)") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestVerifyNotAnMLServer(t *testing.T) {
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	start := time.Now()
	_, errOut, code := runVerifyCmd(t, func(string) verify.Env { return verify.Env{} }, append(quickVerify, "--url", other.URL)...)
	if code != ExitFailure || !strings.Contains(errOut, other.URL+" is not an Immich ML server: GET /ping answered HTTP 404") || !strings.Contains(errOut, "docker ps") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("took %s", time.Since(start))
	}
}

// fakeDockerd serves recorded Engine API answers on a unix socket.
func fakeDockerd(t *testing.T, subst *strings.Replacer, logs string) string {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "verify", name))
		if err != nil {
			t.Fatal(err)
		}
		return []byte(subst.Replace(string(b)))
	}
	const id = "9a1f3c5e7b2d4f6a8c0e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a"
	mux := http.NewServeMux()
	mux.HandleFunc("/containers/json", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(read("containers.json")) })
	mux.HandleFunc("/containers/"+id+"/json", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(read("inspect.json")) })
	mux.HandleFunc("/containers/"+id+"/logs", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("since") == "" {
			http.Error(w, `{"message":"since missing"}`, http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte(logs))
	})
	sock := filepath.Join(t.TempDir(), "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "unix://" + sock
}

// The container is reached at its address on its network (the recorded
// answers carry no published port), its Intel GPU stays idle in the fake
// host tree while requests run, and verify says CPU fallback (exit 3).
func TestVerifyNetworkAddressIdleIntel(t *testing.T) {
	u, _ := url.Parse(stubURL(t, mlstub.Config{}))
	host, port, _ := net.SplitHostPort(u.Host)
	sock := fakeDockerd(t, strings.NewReplacer("{{IP}}", host, "{{GW}}", "127.0.0.254", "{{PORT}}", port),
		"[12/01/25 07:40:05] INFO     Setting execution providers to ['OpenVINOExecutionProvider', 'CPUExecutionProvider'], in descending order of preference\n")
	root := "../../pkg/verify/testdata/hosts/intel-arc-i915/root"
	env := func(hostRoot string) verify.Env {
		if hostRoot != root {
			t.Errorf("host root %q", hostRoot)
		}
		c, err := docker.New(sock, docker.WithTimeout(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		return verify.Env{Engine: c, HostFS: detect.NewHostFS(hostRoot)}
	}
	out, errOut, code := runVerifyCmd(t, env, append(quickVerify, "--host-root", root)...)
	t.Log(out)
	if code != ExitCPUOnly {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	for _, want := range []string{"reached by network-address", "Watching: Intel GPU engine busy time", "cgroup /sys/fs/cgroup/system.slice/docker-", "execution providers OpenVINOExecutionProvider", "CPU fallback: the openvino device stayed idle", "0% (peak 0%)", "512 MiB", "Before the requests: 0% busy"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// Every JSON field of verify's report is named in the README's verify
// JSON list.
func TestVerifyJSONFieldsDocumented(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(string(readme), "verify's JSON (`--json`)")
	if start < 0 {
		t.Fatal("README.md has no verify JSON section")
	}
	section := string(readme)[start:]
	if end := strings.Index(section, "\n#"); end > 0 {
		section = section[:end]
	}
	one := 0.5
	rep := verify.Report{
		Container: &verify.Container{}, Device: &verify.Device{},
		Tasks: []verify.TaskResult{{Device: &verify.DeviceUse{MemBytes: 1, Error: "x", Note: "x"}, CPUSecondsPerRequest: &one, Error: "x", Status: 500, Body: "x", Note: "x"}},
		Logs:  verify.Logs{Error: "x", Providers: []string{"x"}, Matches: []verify.LogMatch{{Meaning: "x", Fix: "x", CPUFallback: true}}},
	}
	rep.Device.Source, rep.Device.Unmeasured, rep.Backend = "x", "x", "cuda"
	rep.Device.Before = &verify.DeviceUse{}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	seen := jsonKeys(t, b)
	for k := range seen {
		if !strings.Contains(section, "`"+k+"`") {
			t.Errorf("JSON field %q is not in README.md's verify JSON list", k)
		}
	}
	if len(seen) < 40 {
		t.Errorf("only %d fields seen", len(seen))
	}
}
