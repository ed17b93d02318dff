package verify

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkLoadGeneratorVsHey shows that verify's load generator is not
// what limits the requests per second it measures: against a no-op server
// that answers every POST /predict with a fixed, well-formed CLIP answer,
// it runs in the same run, on the same endpoint, with the same body,
// concurrency and duration, as hey (github.com/rakyll/hey, an established
// HTTP load tool), the two alternating for each round. It reports both
// rates and verify's over hey's. Run it with
//
//	go install github.com/rakyll/hey@latest
//	go test -run '^$' -bench LoadGeneratorVsHey -benchtime 5x ./pkg/verify/
//
// (HEY names the binary when it is not on PATH or in $(go env GOPATH)/bin;
// CONC and SECONDS change the concurrency, default 2, and each round's
// length, default 2).
func BenchmarkLoadGeneratorVsHey(b *testing.B) {
	hey := heyPath()
	if hey == "" {
		b.Skip("hey not found: go install github.com/rakyll/hey@latest, or set HEY")
	}
	conc := envInt("CONC", 2)
	d := time.Duration(envInt("SECONDS", 2)) * time.Second
	ts, err := tasks(Models{CLIP: DefaultCLIPModel, Face: DefaultFaceModel})
	if err != nil {
		b.Fatal(err)
	}
	t := &ts[0] // clip-visual: a 640×480 JPEG in a multipart body
	srvURL := startNoopServer(b)
	bodyFile := filepath.Join(b.TempDir(), "body")
	if err := os.WriteFile(bodyFile, t.body, 0o644); err != nil {
		b.Fatal(err)
	}
	reRate := regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	var best, bestHey float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cl := newClient(srvURL, conc)
		l := runWarm(context.Background(), cl, t, conc, d, 10*time.Second)
		cl.close()
		if l.firstErr != nil {
			b.Fatalf("verify's generator: %v", l.firstErr)
		}
		best = max(best, l.stats.PerSecond)

		out, err := exec.Command(hey, "-z", d.String(), "-c", strconv.Itoa(conc), "-m", "POST",
			"-T", t.contentType, "-D", bodyFile, srvURL+"/predict").CombinedOutput()
		if err != nil {
			b.Fatalf("hey: %v\n%s", err, out)
		}
		m := reRate.FindSubmatch(out)
		if m == nil {
			b.Fatalf("hey printed no Requests/sec:\n%s", out)
		}
		r, _ := strconv.ParseFloat(string(m[1]), 64)
		bestHey = max(bestHey, r)
		b.Logf("round %d: verify %.0f req/s, hey %.0f req/s", i+1, l.stats.PerSecond, r)
	}
	b.ReportMetric(best, "verify-req/s")
	b.ReportMetric(bestHey, "hey-req/s")
	b.ReportMetric(best/bestHey, "verify/hey")
}

// noopAnswer is a well-formed CLIP visual answer for the 640×480 image.
func noopAnswer() string {
	return `{"clip":"[` + strings.TrimSuffix(strings.Repeat("0.0123456,", defaultCLIPDim), ",") + `]","imageHeight":480,"imageWidth":640}`
}

// startNoopServer runs the no-op server in a process of its own (this test
// binary, re-run as TestNoopServerProcess), so that verify's generator and
// hey both talk to a server that shares no Go runtime with either.
func startNoopServer(b *testing.B) string {
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoopServerProcess$")
	cmd.Env = append(os.Environ(), "VERIFY_NOOP_SERVER=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("the no-op server did not start: %v", err)
	}
	return strings.TrimSpace(line)
}

// TestNoopServerProcess is the no-op server's process; it does nothing in
// a normal test run.
func TestNoopServerProcess(t *testing.T) {
	if os.Getenv("VERIFY_NOOP_SERVER") != "1" {
		t.Skip("only run as the no-op server of BenchmarkLoadGeneratorVsHey")
	}
	answer := noopAnswer()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, answer)
	}))
	defer srv.Close()
	fmt.Println(srv.URL)
	time.Sleep(10 * time.Minute) // killed by the benchmark when done
}

func heyPath() string {
	if h := os.Getenv("HEY"); h != "" {
		return h
	}
	if p, err := exec.LookPath("hey"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "hey")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

func envInt(k string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(k)); err == nil && n > 0 {
		return n
	}
	return def
}
