package verify

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/immich-accel/immich-accel/internal/docker"
	"github.com/immich-accel/immich-accel/internal/enginetest"
	"github.com/immich-accel/immich-accel/pkg/accel"
	"github.com/immich-accel/immich-accel/pkg/detect"
)

// The stand-in, built into an image tagged like Immich's, runs as a
// container of the test suite's Docker Engine; verify finds it through the
// Engine API and reaches it on 127.0.0.1: through a published port, then
// through the host network. Its cgroup is the real one, so the CPU time per
// request is read from the kernel.
func TestEngineDiscovery(t *testing.T) {
	e := enginetest.Require(t)
	const image = "ghcr.io/immich-app/immich-machine-learning:release"
	const cudaImage = "ghcr.io/immich-app/immich-machine-learning:release-cuda"
	e.BuildImage(t, image, "../../internal/mlstub/cmd/mlstub")
	e.Docker(t, "tag", image, cudaImage)
	eng, err := docker.New(e.Host, docker.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	cfg := func(name string) Config {
		c := quick("")
		c.Container = name
		c.Duration = 300 * time.Millisecond
		c.PingTimeout = 2 * time.Second
		return c
	}
	run := func(t *testing.T, name string, args ...string) {
		t.Helper()
		_, _ = e.Run("rm", "-f", name) // left over from an interrupted run
		e.Docker(t, append([]string{"run", "-d", "--name", name}, args...)...)
		t.Cleanup(func() { _, _ = e.Run("rm", "-f", name) })
	}
	// waitPing waits for the server in the container to listen.
	waitPing := func(t *testing.T, name string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			_, err := bounded(t, Env{Engine: eng}, Config{Container: name, Duration: time.Millisecond, PingTimeout: 500 * time.Millisecond, Models: Models{CLIP: "x"}, FirstTimeout: time.Second})
			if err == nil || time.Now().After(deadline) {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	t.Run("published port, CPU image", func(t *testing.T) {
		// The test engine has no default bridge: a network of its own, as
		// compose creates one for Immich.
		_, _ = e.Run("network", "rm", "verify-test-net")
		e.Docker(t, "network", "create", "verify-test-net")
		t.Cleanup(func() { _, _ = e.Run("network", "rm", "verify-test-net") })
		name := "verify-test-published"
		run(t, name, "--network", "verify-test-net", "-p", "127.0.0.1::3003", image)
		waitPing(t, name)
		rep, err := bounded(t, Env{Engine: eng, HostFS: detect.NewHostFS("/"), Logs: Catalogue{}}, cfg(name))
		if err != nil {
			t.Fatalf("%v\ncontainer logs:\n%s", err, e.Docker(t, "logs", name))
		}
		port := strings.TrimSpace(e.Docker(t, "port", name, "3003/tcp"))
		if rep.Container.Route != RoutePublishedPort || !strings.HasPrefix(rep.URL, "http://127.0.0.1:") || !strings.Contains(port, strings.TrimPrefix(rep.URL, "http://")) {
			t.Fatalf("reached %s by %s; docker port says %s", rep.URL, rep.Container.Route, port)
		}
		if rep.Backend != accel.CPU || rep.Verdict != CPUFallback || !strings.Contains(rep.Reason, "CPU image") {
			t.Fatalf("verdict %s: %s", rep.Verdict, rep.Reason)
		}
		for _, task := range rep.Tasks {
			if !task.OK || task.Warm.Requests == 0 {
				t.Errorf("%s: %+v", task.Task, task)
			}
		}
		// The stand-in logged its model loads during the run.
		if !rep.Logs.Read || len(rep.Logs.Providers) != 1 || rep.Logs.Providers[0] != "CPUExecutionProvider" {
			t.Errorf("logs = %+v", rep.Logs)
		}
		if rep.Device == nil || !strings.HasPrefix(rep.Device.CPU, "cgroup /sys/fs/cgroup") {
			t.Skipf("the container's cgroup is not readable here (%+v); CPU time not checked", rep.Device)
		}
		for _, task := range rep.Tasks {
			if task.CPUSecondsPerRequest == nil || *task.CPUSecondsPerRequest <= 0 {
				t.Errorf("%s: CPU-seconds per request = %v; the stand-in used some CPU", task.Task, task.CPUSecondsPerRequest)
			}
		}
	})

	t.Run("host network, cuda image on the CPU", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		name := "verify-test-host"
		run(t, name, "--network", "host", "-e", "IMMICH_PORT="+strconv.Itoa(port), cudaImage)
		waitPing(t, name)
		rep, err := bounded(t, Env{Engine: eng, HostFS: detect.NewHostFS("/"), Logs: Catalogue{}}, cfg(name))
		if err != nil {
			t.Fatalf("%v\ncontainer logs:\n%s", err, e.Docker(t, "logs", name))
		}
		if rep.Container.Route != RouteHostNetwork || rep.URL != "http://127.0.0.1:"+strconv.Itoa(port) {
			t.Fatalf("reached %s by %s", rep.URL, rep.Container.Route)
		}
		// The -cuda image logs CPUExecutionProvider: the catalogue says
		// CPU fallback, whatever NVML would have said.
		if rep.Backend != accel.CUDA || rep.Verdict != CPUFallback || !strings.Contains(rep.Reason, "cpu-fallback") {
			t.Fatalf("verdict %s: %s (logs %+v)", rep.Verdict, rep.Reason, rep.Logs)
		}
	})
}
