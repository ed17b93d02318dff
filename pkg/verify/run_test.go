package verify

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/immich-accel/immich-accel/internal/docker"
	"github.com/immich-accel/immich-accel/internal/mlstub"
	"github.com/immich-accel/immich-accel/pkg/accel"
	"github.com/immich-accel/immich-accel/pkg/detect"
)

// quick is a configuration that keeps every test to about a second.
func quick(u string) Config {
	return Config{URL: u, Duration: 150 * time.Millisecond, Concurrency: 2, PingTimeout: time.Second,
		FirstTimeout: time.Second, Timeout: 300 * time.Millisecond, SampleInterval: 20 * time.Millisecond}
}

func stub(t *testing.T, cfg mlstub.Config) (*mlstub.Server, string) {
	t.Helper()
	s := mlstub.New(cfg)
	srv := httptest.NewServer(s)
	t.Cleanup(func() { s.Close(); srv.Close() })
	return s, srv.URL
}

// bounded runs Run with an overall deadline, so a hang fails the test.
func bounded(t *testing.T, env Env, cfg Config) (*Report, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	rep, err := Run(ctx, env, cfg)
	if ctx.Err() != nil {
		t.Fatalf("Run did not finish within 10 s (%s)", time.Since(start))
	}
	return rep, err
}

func TestRemoteServerLatencyOnly(t *testing.T) {
	s, u := stub(t, mlstub.Config{})
	rep, err := bounded(t, Env{}, quick(u))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != NotMeasurable || !strings.Contains(rep.Reason, "latency only") {
		t.Fatalf("verdict %s: %s", rep.Verdict, rep.Reason)
	}
	if len(rep.Tasks) != 3 {
		t.Fatalf("tasks = %+v", rep.Tasks)
	}
	for _, task := range rep.Tasks {
		if !task.OK || task.Warm.Requests == 0 || task.FirstMs <= 0 || task.Warm.P95Ms < task.Warm.P50Ms || task.Warm.PerSecond <= 0 {
			t.Errorf("%s: %+v", task.Task, task)
		}
		if task.Device != nil || task.CPUSecondsPerRequest != nil {
			t.Errorf("%s: a remote server's device was reported: %+v", task.Task, task)
		}
		// The stand-in counted the first request plus every warm one.
		if got := s.Count(string(task.Task)); got < task.Warm.Requests+1 {
			t.Errorf("%s: stand-in saw %d requests, report says %d warm + 1", task.Task, got, task.Warm.Requests)
		}
	}
	if n := rep.Tasks[2].Note; !strings.Contains(n, "1 face(s)") {
		t.Errorf("faces note = %q; the black image with minScore 0.034 should yield a face", n)
	}
	if rep.Tasks[0].Model != DefaultCLIPModel || rep.Tasks[2].Model != DefaultFaceModel {
		t.Errorf("models = %s, %s", rep.Tasks[0].Model, rep.Tasks[2].Model)
	}
}

// --concurrency requests are in flight at once, and the latencies are the
// server's: each answer takes at least its 30 ms of work.
func TestConcurrencyAndLatency(t *testing.T) {
	s, u := stub(t, mlstub.Config{Work: 30 * time.Millisecond})
	cfg := quick(u)
	cfg.Concurrency = 3
	cfg.Duration = 200 * time.Millisecond
	rep, err := bounded(t, Env{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range rep.Tasks {
		if got := s.MaxInFlight(string(task.Task)); got != 3 {
			t.Errorf("%s: the stand-in saw at most %d requests at once, want 3", task.Task, got)
		}
		w := task.Warm
		if !task.OK || w.Requests == 0 || w.P50Ms < 30 || w.MeanMs < 30 || task.FirstMs < 30 || w.P95Ms < w.P50Ms || w.MaxMs < w.P95Ms {
			t.Errorf("%s: %+v", task.Task, task)
		}
		// 3 in flight, each at least 30 ms: at most 100 per second.
		if w.PerSecond > 100 || w.Seconds > 0.2 {
			t.Errorf("%s: %.1f/s over %.3f s", task.Task, w.PerSecond, w.Seconds)
		}
	}
}

// A path in the URL is dropped, as Immich's server drops it.
func TestURLPathIsDropped(t *testing.T) {
	_, u := stub(t, mlstub.Config{})
	rep, err := bounded(t, Env{}, quick(u+"/machine-learning/"))
	if err != nil || rep.URL != u || rep.Verdict != NotMeasurable {
		t.Fatalf("%v: %+v", err, rep)
	}
}

func TestModelsAreSentAsNamed(t *testing.T) {
	_, u := stub(t, mlstub.Config{})
	cfg := quick(u)
	cfg.Models = Models{CLIP: "ViT-L-14__openai", Face: "antelopev2"}
	rep, err := bounded(t, Env{}, cfg)
	if err != nil || rep.Verdict != NotMeasurable {
		t.Fatalf("%v %+v", err, rep)
	}
	// The stand-in answers 500 for names Immich does not know, as Immich does.
	cfg.Models = Models{CLIP: "no-such-model"}
	rep, err = bounded(t, Env{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != Failed || rep.Tasks[0].Status != 500 || rep.Tasks[0].Body != "Internal Server Error" || !strings.Contains(rep.Reason, "no-such-model") {
		t.Fatalf("unknown model: %s: %s (%+v)", rep.Verdict, rep.Reason, rep.Tasks[0])
	}
}

func TestFailuresFailTheirTask(t *testing.T) {
	cases := []struct {
		name  string
		fault mlstub.Fault
		task  TaskName
		want  []string
		code  int
		dur   time.Duration
	}{
		{"500 on the first request", mlstub.Fault{Status: 500}, TaskFaces, []string{"HTTP 500", "Internal Server Error"}, 500, 0},
		{"500 after warm-up", mlstub.Fault{After: 3, Status: 500, Body: `{"detail":"Failed to load model 'buffalo_l'"}`}, TaskFaces, []string{"warm requests failed", "Failed to load model"}, 500, 0},
		{"malformed JSON", mlstub.Fault{Malformed: true}, TaskCLIPVisual, []string{"malformed answer", `{"clip":[0.1,0.2`}, 0, 0},
		{"hanging answer", mlstub.Fault{Hang: true}, TaskCLIPTextual, []string{"no answer within 1s"}, 0, 0},
		{"slow answers", mlstub.Fault{After: 1, Delay: 2 * time.Second}, TaskCLIPTextual, []string{"no answer within 300ms"}, 0, 600 * time.Millisecond},
		{"slower than --duration", mlstub.Fault{After: 1, Delay: 2 * time.Second}, TaskCLIPTextual, []string{"no request finished within --duration 150ms (2 still waiting"}, 0, 0},
		{"closed connection", mlstub.Fault{Close: true}, TaskCLIPVisual, []string{"EOF"}, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, u := stub(t, mlstub.Config{Faults: map[string]mlstub.Fault{string(tc.task): tc.fault}})
			cfg := quick(u)
			if tc.dur > 0 {
				cfg.Duration = tc.dur
			}
			rep, err := bounded(t, Env{}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Verdict != Failed {
				t.Fatalf("verdict %s: %s", rep.Verdict, rep.Reason)
			}
			for _, task := range rep.Tasks {
				if task.Task == tc.task {
					if task.OK || task.Status != tc.code {
						t.Fatalf("%s: %+v", task.Task, task)
					}
					for _, w := range tc.want {
						if !strings.Contains(task.Error, w) {
							t.Errorf("error %q lacks %q", task.Error, w)
						}
					}
				} else if !task.OK {
					t.Errorf("%s failed too: %s", task.Task, task.Error)
				}
			}
			if !strings.Contains(rep.Reason, string(tc.task)) {
				t.Errorf("reason %q does not name the task", rep.Reason)
			}
		})
	}
}

func TestEmbeddingLengthsAreChecked(t *testing.T) {
	_, u := stub(t, mlstub.Config{CLIPDim: 768})
	rep, _ := bounded(t, Env{}, quick(u))
	if rep.Verdict != Failed || !strings.Contains(rep.Tasks[0].Error, "768 values, want 512") {
		t.Fatalf("%s: %+v", rep.Verdict, rep.Tasks[0])
	}
	// A model verify has no length for: visual and textual must agree.
	_, u = stub(t, mlstub.Config{CLIPDim: 768, TextDim: 512})
	cfg := quick(u)
	cfg.Models.CLIP = "ViT-L-14__openai"
	rep, _ = bounded(t, Env{}, cfg)
	if rep.Verdict != Failed || !strings.Contains(rep.Tasks[1].Error, "textual model gives a 512-dimensional") {
		t.Fatalf("%s: %+v", rep.Verdict, rep.Tasks[1])
	}
}

func TestNotAnMLServer(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"message":"Route not found"}`, http.StatusNotFound)
	}))
	defer other.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + closed.Addr().String()
	closed.Close()
	silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	_, broken := stub(t, mlstub.Config{Faults: map[string]mlstub.Fault{"ping": {Status: 503, Body: "starting"}}})
	cases := []struct{ url, want string }{
		{other.URL, "GET /ping answered HTTP 404"},
		{closedURL, "connection refused"},
		{"http://" + silent.Addr().String(), "no answer within 1s"},
		{broken, `GET / says "Immich ML"`},
	}
	for _, tc := range cases {
		start := time.Now()
		_, err := bounded(t, Env{}, quick(tc.url))
		var ne *NotMLError
		if !errors.As(err, &ne) || ne.URL != tc.url || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want a NotMLError with %q", tc.url, err, tc.want)
		}
		if time.Since(start) > 3*time.Second {
			t.Errorf("%s: took %s", tc.url, time.Since(start))
		}
	}
}

// fakeEngine answers like the Engine API for one ML container.
type fakeEngine struct {
	list    []docker.Container
	inspect *docker.ContainerDetails
	logs    func() string
	since   time.Time
	mu      sync.Mutex
}

func (f *fakeEngine) Containers(context.Context, bool) ([]docker.Container, error) {
	return f.list, nil
}
func (f *fakeEngine) InspectNetwork(_ context.Context, id string) (*docker.ContainerDetails, error) {
	if f.inspect == nil || id != f.inspect.ID {
		return nil, errors.New("docker: GET /containers/" + id + "/json: 404 Not Found: No such container")
	}
	return f.inspect, nil
}
func (f *fakeEngine) LogsSince(_ context.Context, _ string, since time.Time) (string, error) {
	f.mu.Lock()
	f.since = since
	f.mu.Unlock()
	return f.logs(), nil
}
func (f *fakeEngine) Endpoint() string { return "unix:///var/run/docker.sock" }

// localStub runs the stand-in and a fake Engine that publishes it on
// 127.0.0.1 as a container of the given image.
func localStub(t *testing.T, image string, cfg mlstub.Config) (*fakeEngine, *safeBuffer) {
	t.Helper()
	logs := &safeBuffer{}
	cfg.Log = logs
	_, u := stub(t, cfg)
	pu, _ := url.Parse(u)
	host, port, _ := net.SplitHostPort(pu.Host)
	d := &docker.ContainerDetails{ID: testID}
	d.Config.Image = image
	d.State.Pid = 4242
	d.State.Running = true
	d.HostConfig.NetworkMode = "immich_default"
	d.NetworkSettings.Ports = map[string][]docker.PortBinding{"3003/tcp": {{HostIP: host, HostPort: port}}}
	d.NetworkSettings.Networks = map[string]docker.EndpointNetwork{"immich_default": {IPAddress: "192.0.2.10"}}
	return &fakeEngine{
		list: []docker.Container{
			{ID: "0123", Names: []string{"/immich_server"}, Image: "ghcr.io/immich-app/immich-server:release", State: "running"},
			{ID: testID, Names: []string{"/immich_machine_learning"}, Image: image, State: "running"},
		},
		inspect: d,
		logs:    logs.String,
	}, logs
}

type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLocalAMDAccelerated(t *testing.T) {
	eng, _ := localStub(t, "ghcr.io/immich-app/immich-machine-learning:v2.7.5-rocm", mlstub.Config{Providers: []string{"MIGraphXExecutionProvider", "CPUExecutionProvider"}})
	cfg := quick("")
	cfg.Container = testID[:12] // an id prefix, as docker ps shows it
	// The GPU is 2% busy with a desktop before the requests, 63% while
	// they run.
	root := hostTree(t, "amd-rx7900")
	busy := "sys/class/drm/card1/device/gpu_busy_percent"
	write(t, root, busy, "2\n")
	cfg.Progress = func(_ TaskName, p Phase) {
		if p == PhaseWarm {
			write(t, root, busy, "63\n")
		}
	}
	rep, err := bounded(t, Env{Engine: eng, HostFS: detect.NewHostFS(root)}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != Accelerated || !strings.Contains(rep.Reason, "busy 63%") || !strings.Contains(rep.Reason, "2% before") {
		t.Fatalf("verdict %s: %s", rep.Verdict, rep.Reason)
	}
	if b := rep.Device.Before; b == nil || b.BusyMeanPct != 2 || b.Samples < 2 {
		t.Fatalf("before = %+v", b)
	}
	if rep.Container == nil || rep.Container.Route != RoutePublishedPort || rep.Backend != accel.ROCm {
		t.Fatalf("container = %+v, backend %s", rep.Container, rep.Backend)
	}
	if !rep.Logs.Read || len(rep.Logs.Providers) == 0 || rep.Logs.Providers[0] != "MIGraphXExecutionProvider" {
		t.Fatalf("logs = %+v", rep.Logs)
	}
	if !eng.since.Equal(rep.Started) {
		t.Fatalf("logs read since %s, the run started %s", eng.since, rep.Started)
	}
	for _, task := range rep.Tasks {
		if task.Device == nil || task.Device.BusyMeanPct != 63 || task.Device.MemBytes != 2<<30 || task.Device.Samples < 2 {
			t.Errorf("%s device = %+v", task.Task, task.Device)
		}
		// The fake cgroup's counter does not move: 0 CPU-seconds per request.
		if task.CPUSecondsPerRequest == nil || *task.CPUSecondsPerRequest != 0 {
			t.Errorf("%s CPU per request = %v", task.Task, task.CPUSecondsPerRequest)
		}
	}
}

// A device-wide figure as high before the requests as during them says
// nothing about the server.
func TestLocalDeviceBusyBefore(t *testing.T) {
	eng, _ := localStub(t, "ghcr.io/immich-app/immich-machine-learning:v2.7.5-rocm", mlstub.Config{Providers: []string{"MIGraphXExecutionProvider"}})
	rep, err := bounded(t, Env{Engine: eng, HostFS: detect.NewHostFS(hostTree(t, "amd-rx7900"))}, quick(""))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != NotMeasurable || !strings.Contains(rep.Reason, "as busy before the requests (63%)") {
		t.Fatalf("verdict %s: %s", rep.Verdict, rep.Reason)
	}
}

func TestLocalProvidersInLogsSayCPU(t *testing.T) {
	eng, _ := localStub(t, "ghcr.io/immich-app/immich-machine-learning:v2.7.5-rocm", mlstub.Config{Providers: []string{"CPUExecutionProvider"}})
	rep, err := bounded(t, Env{Engine: eng, HostFS: detect.NewHostFS(hostTree(t, "amd-rx7900"))}, quick(""))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != CPUFallback || !strings.Contains(rep.Reason, "choosing CPUExecutionProvider") {
		t.Fatalf("verdict %s: %s", rep.Verdict, rep.Reason)
	}
}

// scanner stands in for the failure catalogue.
type scanner struct{ got accel.Backend }

func (s *scanner) Scan(text string, b accel.Backend) []LogMatch {
	s.got = b
	if strings.Contains(text, "Loading visual model") {
		return []LogMatch{{Class: "CPU fallback", Text: "Setting execution providers to ['CPUExecutionProvider']", CPUFallback: true}}
	}
	return nil
}

func TestLocalIdleDeviceAndCatalogue(t *testing.T) {
	// Intel counters that do not move while requests run: the GPU is idle.
	eng, _ := localStub(t, "ghcr.io/immich-app/immich-machine-learning:release-openvino", mlstub.Config{Providers: []string{"OpenVINOExecutionProvider", "CPUExecutionProvider"}})
	rep, err := bounded(t, Env{Engine: eng, HostFS: detect.NewHostFS(hostTree(t, "intel-arc-i915"))}, quick(""))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != CPUFallback || !strings.Contains(rep.Reason, "stayed idle") || !strings.Contains(rep.Reason, "CPU-seconds per request") {
		t.Fatalf("verdict %s: %s", rep.Verdict, rep.Reason)
	}
	sc := &scanner{}
	rep, err = bounded(t, Env{Engine: eng, HostFS: detect.NewHostFS(hostTree(t, "amd-rx7900")), Logs: sc}, quick(""))
	if err != nil {
		t.Fatal(err)
	}
	if sc.got != accel.OpenVINO || rep.Verdict != CPUFallback || !strings.Contains(rep.Reason, "the logs say CPU fallback") || len(rep.Logs.Matches) != 1 {
		t.Fatalf("scanner saw %s; verdict %s: %s", sc.got, rep.Verdict, rep.Reason)
	}
}

func TestLocalCPUImage(t *testing.T) {
	eng, _ := localStub(t, "ghcr.io/immich-app/immich-machine-learning:release", mlstub.Config{})
	rep, err := bounded(t, Env{Engine: eng, HostFS: detect.NewHostFS(hostTree(t, "amd-rx7900"))}, quick(""))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != CPUFallback || !strings.Contains(rep.Reason, "CPU image") || rep.Device.Unmeasured == "" {
		t.Fatalf("verdict %s: %s (%+v)", rep.Verdict, rep.Reason, rep.Device)
	}
}

func TestDiscoveryErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Run(ctx, Env{EngineErr: errors.New("docker: no socket")}, quick("")); err == nil || !strings.Contains(err.Error(), "--url") || !strings.Contains(err.Error(), "no socket") {
		t.Fatalf("no engine: %v", err)
	}
	empty := &fakeEngine{list: []docker.Container{{ID: "1", Names: []string{"/immich_server"}, Image: "ghcr.io/immich-app/immich-server:release", State: "running"}}}
	if _, err := Run(ctx, Env{Engine: empty}, quick("")); !errors.Is(err, ErrNoContainer) {
		t.Fatalf("no ML container: %v", err)
	}
	named := quick("")
	named.Container = "immich_ml_2"
	if _, err := Run(ctx, Env{Engine: empty}, named); !errors.Is(err, ErrNoContainer) || !strings.Contains(err.Error(), `"immich_ml_2"`) {
		t.Fatalf("no container of that name: %v", err)
	}
	// The container answers at none of its addresses: each is named.
	eng, _ := localStub(t, "ghcr.io/immich-app/immich-machine-learning:release-cuda", mlstub.Config{})
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	_, port, _ := net.SplitHostPort(closed.Addr().String())
	closed.Close()
	eng.inspect.NetworkSettings.Ports = map[string][]docker.PortBinding{port + "/tcp": {{HostIP: "0.0.0.0", HostPort: port}}}
	eng.inspect.NetworkSettings.Networks = map[string]docker.EndpointNetwork{"immich_default": {IPAddress: "127.0.0.2"}}
	eng.inspect.Config.Env = []string{"IMMICH_PORT=" + port}
	cfg := quick("")
	cfg.PingTimeout = 300 * time.Millisecond
	start := time.Now()
	_, err := Run(ctx, Env{Engine: eng}, cfg)
	var ne *NotMLError
	if !errors.As(err, &ne) || !strings.Contains(err.Error(), "127.0.0.1:"+port+" (published-port)") || !strings.Contains(err.Error(), "127.0.0.2:"+port+" (network-address)") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("unreachable container: %v", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Fatalf("took %s", time.Since(start))
	}
}

// Of several published addresses, the one that answers is used.
func TestDiscoverySecondAddressAnswers(t *testing.T) {
	eng, _ := localStub(t, "ghcr.io/immich-app/immich-machine-learning:release", mlstub.Config{})
	good := eng.inspect.NetworkSettings.Ports["3003/tcp"][0]
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	_, deadPort, _ := net.SplitHostPort(closed.Addr().String())
	closed.Close()
	eng.inspect.NetworkSettings.Ports["3003/tcp"] = []docker.PortBinding{{HostIP: "127.0.0.1", HostPort: deadPort}, good}
	rep, err := bounded(t, Env{Engine: eng, HostFS: detect.NewHostFS(hostTree(t, "amd-rx7900"))}, quick(""))
	if err != nil {
		t.Fatal(err)
	}
	if want := "http://" + net.JoinHostPort(good.HostIP, good.HostPort); rep.URL != want {
		t.Fatalf("URL = %s, want %s", rep.URL, want)
	}
}

func TestCandidates(t *testing.T) {
	d := &docker.ContainerDetails{}
	d.HostConfig.NetworkMode = "host"
	d.Config.Env = []string{"IMMICH_PORT=3100"}
	d.NetworkSettings.Ports = map[string][]docker.PortBinding{
		"3100/tcp": {{HostIP: "0.0.0.0", HostPort: "3100"}, {HostIP: "::", HostPort: "3100"}, {HostIP: "192.168.1.5", HostPort: "13100"}},
		"8080/tcp": {{HostIP: "0.0.0.0", HostPort: "8080"}},
	}
	d.NetworkSettings.Networks = map[string]docker.EndpointNetwork{"b": {IPAddress: "172.18.0.4"}, "a": {IPAddress: "172.19.0.2"}, "c": {}}
	var got []string
	for _, c := range candidates(d) {
		got = append(got, c.url+" "+string(c.route))
	}
	want := []string{
		"http://127.0.0.1:3100 host-network",
		"http://[::1]:3100 published-port",
		"http://192.168.1.5:13100 published-port",
		"http://172.19.0.2:3100 network-address",
		"http://172.18.0.4:3100 network-address",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("candidates:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
