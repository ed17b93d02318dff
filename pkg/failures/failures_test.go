package failures

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/immich-accel/immich-accel/internal/testenv"
	"github.com/immich-accel/immich-accel/pkg/accel"
)

func ids(ms []Match) []ID {
	var out []ID
	for _, m := range ms {
		out = append(out, m.Entry.ID)
	}
	return out
}

// fixture reads testdata/NAME.BACKEND.log and returns its text and backend.
func fixture(t *testing.T, path string) (string, accel.Backend) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(filepath.Base(path), ".")
	if len(parts) != 3 {
		t.Fatalf("%s: want NAME.BACKEND.log", path)
	}
	be, ok := accel.ParseBackend(parts[1])
	if !ok {
		t.Fatalf("%s: unknown backend %q", path, parts[1])
	}
	return string(b), be
}

// Every entry with text patterns has a fixture of its own, and Scan finds
// it there with the matched text as evidence.
func TestEachEntryOnItsFixture(t *testing.T) {
	seen := map[ID]bool{}
	for _, e := range Catalogue() {
		if seen[e.ID] {
			t.Errorf("duplicate id %s", e.ID)
		}
		seen[e.ID] = true
		if e.Cause == "" || e.Fix == "" || e.Where == 0 {
			t.Errorf("%s: cause, fix and where are required", e.ID)
		}
		if e.Where&InExitState != 0 && len(e.ExitCodes) == 0 && !e.OOMKilled {
			t.Errorf("%s: an exit-state entry needs exit codes or OOMKilled", e.ID)
		}
		if len(e.Patterns) == 0 {
			continue
		}
		t.Run(string(e.ID), func(t *testing.T) {
			paths, _ := filepath.Glob(filepath.Join("testdata", string(e.ID)+".*.log"))
			if len(paths) == 0 {
				t.Fatalf("no testdata/%s.BACKEND.log", e.ID)
			}
			for _, p := range paths {
				text, b := fixture(t, p)
				ms := Scan(text, b)
				i := slices.IndexFunc(ms, func(m Match) bool { return m.Entry.ID == e.ID })
				if i < 0 {
					t.Fatalf("%s: Scan found %v, not %s", p, ids(ms), e.ID)
				}
				if len(ms[i].Lines) == 0 {
					t.Fatalf("%s: match without evidence", p)
				}
				// The evidence holds a pattern (ignoring the whitespace
				// Rich's wrapping adds).
				ev, _ := squeeze(strings.Join(ms[i].Lines, " "))
				if !slices.ContainsFunc(e.Patterns, func(p string) bool { s, _ := squeeze(p); return strings.Contains(ev, s) }) {
					t.Errorf("%s: evidence %q holds none of %q", p, ms[i].Lines, e.Patterns)
				}
				if strings.Contains(strings.Join(ms[i].Lines, ""), "\x1b") {
					t.Errorf("%s: ANSI codes in the evidence %q", p, ms[i].Lines)
				}
			}
		})
	}
}

// Lines that look alarming but are normal: ARM NN's probe on any image but
// -armnn, CPU providers on the CPU image, RKNN loading its model, CUDA
// chosen on the -cuda image.
func TestBenign(t *testing.T) {
	paths, _ := filepath.Glob("testdata/benign/*.log")
	if len(paths) < 4 {
		t.Fatalf("benign fixtures: %v", paths)
	}
	for _, p := range paths {
		text, b := fixture(t, p)
		if ms := Scan(text, b); len(ms) > 0 {
			t.Errorf("%s (%s): benign log matched %v: %q", p, b, ids(ms), ms[0].Lines)
		}
	}
}

// The same ARM NN line is the failure on the -armnn image; the same
// provider line is the failure on the -rknn and -cuda images.
func TestBackendDecides(t *testing.T) {
	b, err := os.ReadFile("testdata/benign/cpu-image.cpu.log")
	if err != nil {
		t.Fatal(err)
	}
	for be, want := range map[accel.Backend]ID{
		accel.ARMNN: "armnn-no-libmali", accel.RKNN: "rknn-not-chosen", accel.CUDA: "cpu-fallback",
		accel.OpenVINO: "cpu-fallback", accel.ROCm: "cpu-fallback",
	} {
		if got := ids(Scan(string(b), be)); !slices.Contains(got, want) {
			t.Errorf("%s: %v, want %s", be, got, want)
		}
	}
	if got := ids(Scan(string(b), "")); len(got) > 0 {
		t.Errorf("unknown backend: %v, want nothing backend-specific", got)
	}
}

func TestRecords(t *testing.T) {
	in := "immich_machine_learning  | \x1b[2m[03/06/25 00:25:10]\x1b[0m INFO     Setting execution providers to                     \r\n" +
		"immich_machine_learning  |                              ['CPUExecutionProvider'], in descending order of   \n" +
		"\n" +
		"immich_machine_learning  |                              preference\n" +
		"2024/07/01 18:12:59\tstdout\t[07/01/24 10:12:59] ERROR    Worker (pid:691) was sent code 139!  \n" +
		"2026-01-09T20:42:51.638206804Z E RKNN: failed to allocate handle\n"
	got := Records(in)
	want := []string{
		"[03/06/25 00:25:10] INFO     Setting execution providers to ['CPUExecutionProvider'], in descending order of preference",
		"[07/01/24 10:12:59] ERROR    Worker (pid:691) was sent code 139!",
		"E RKNN: failed to allocate handle",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Records:\n got %q\nwant %q", got, want)
	}
}

// A message Rich wrapped mid-word still matches.
func TestWrappedMidWord(t *testing.T) {
	text := "[01/01/26 00:00:00] ERROR    Exception\n" + strings.Repeat(" ", 29) + "clCreateSubBuf\n" + strings.Repeat(" ", 29) + "fer, error code: -30\n"
	if got := ids(Scan(text, accel.OpenVINO)); !slices.Contains(got, "openvino-plugin") {
		t.Errorf("got %v", got)
	}
}

func TestStartErrorAndExit(t *testing.T) {
	// The Engine's State.Error for a -cuda service on a host without the
	// NVIDIA runtime (Docker 20.10), and for a devices: entry it lacks.
	for msg, want := range map[string]ID{
		`could not select device driver "nvidia" with capabilities: [[gpu]]`:                                  "nvidia-no-device-driver",
		`error gathering device information while adding custom device "/dev/kfd": no such file or directory`: "device-missing",
	} {
		if got := ids(StartError(msg, accel.CUDA)); len(got) != 1 || got[0] != want {
			t.Errorf("StartError(%q) = %v, want [%s]", msg, got, want)
		}
	}
	// Log-only entries are not start errors.
	if got := StartError("CUDA failure 100: no CUDA-capable device is detected", accel.CUDA); len(got) > 0 {
		t.Errorf("log text as start error: %v", ids(got))
	}
	for _, c := range []struct {
		code int
		oom  bool
		want []ID
	}{
		{139, false, []ID{Segfault}},
		{134, false, []ID{Abort}},
		{137, true, []ID{OutOfMemory}},
		{137, false, []ID{Killed}},
		{1, false, nil},
		{0, false, nil},
	} {
		if got := ids(Exit(c.code, c.oom, accel.CUDA)); !slices.Equal(got, c.want) {
			t.Errorf("Exit(%d, %v) = %v, want %v", c.code, c.oom, got, c.want)
		}
	}
}

func TestExcerpt(t *testing.T) {
	long := strings.Repeat("é", 300) + "NEEDLE" + strings.Repeat("x", 300)
	i := strings.Index(long, "NEEDLE")
	got := excerpt(long, i, i+6)
	if !strings.Contains(got, "NEEDLE") || len(got) > maxExcerpt+12 || !strings.HasPrefix(got, "…") || !strings.HasSuffix(got, "…") {
		t.Errorf("excerpt = %q (%d bytes)", got, len(got))
	}
	if !strings.Contains(excerpt("short", 0, 5), "short") {
		t.Error("short record changed")
	}
}

// The real log excerpts users posted (../shared/testdata-real/ml-logs, see
// its SOURCES.md) are each recognised with the cause the thread settled on
// (or the one the excerpt shows, where the thread settled none); the ARM
// NN probe on a non-armnn image stays benign.
func TestRealLogs(t *testing.T) {
	dir := testenv.RequireShared(t, "testdata-real", "ml-logs")
	// file → the backend of its setup (SOURCES.md) and the entry it shows.
	want := map[string]struct {
		b  accel.Backend
		id ID
	}{
		"01-01-imagegenius-497.txt":   {accel.OpenVINO, "openvino-no-gpu"},
		"01-03-immich-app-28031.txt":  {accel.CUDA, "cuda-driver-too-old"},
		"02-07-immich-app-10334.txt":  {accel.CUDA, "cuda-session-failed"},
		"03-08-RapidAI-596.txt":       {accel.CUDA, "cudnn-kernel"},
		"03-10-loeeeee-32.txt":        {accel.CUDA, "cudnn-missing"},
		"04-11-immich-app-25165.txt":  {accel.ROCm, "gpu-memory"},
		"05-14-immich-app-7487.txt":   {accel.OpenVINO, "openvino-plugin"},
		"05-15-imagegenius-502.txt":   {accel.OpenVINO, "openvino-exec-stack"},
		"06-16-immich-app-11063.txt":  {accel.ROCm, "rocm-kernel"},
		"07-18-immich-app-12789.txt":  {accel.CPU, ""},
		"07-20-immich-app-8353.txt":   {accel.OpenVINO, ""},
		"08-22-immich-app-15241.txt":  {accel.RKNN, "rknn-npu-memory"},
		"09-23-immich-app-17448.txt":  {accel.CUDA, "nvidia-hook-no-driver"},
		"09-24-immich-app-6531.txt":   {accel.CUDA, "nvidia-hook-no-driver"},
		"09-25-immich-app-17271.txt":  {accel.CUDA, "nvidia-hook-mismatch"},
		"09-26-immich-app-28184.txt":  {accel.CUDA, "nvidia-hook-no-driver"},
		"09-27-hydrian-17.txt":        {accel.ROCm, "device-missing"},
		"09-28-weskerfoot-156.txt":    {accel.OpenVINO, "device-missing"},
		"09-29-AbdBarho-423.txt":      {accel.CUDA, "nvidia-no-device-driver"},
		"09-30-gpustack-3654.txt":     {accel.CUDA, "nvidia-no-runtime"},
		"10-31-immich-app-10726.txt":  {accel.CUDA, "segfault"},
		"10-33-imagegenius-577.txt":   {accel.CUDA, "segfault"},
		"10-34-immich-app-17326.txt":  {accel.OpenVINO, "segfault"},
		"10-35-loeeeee-123.txt":       {accel.OpenVINO, "abort"},
		"10-37-adampetrovic-2464.txt": {accel.CPU, "out-of-memory"},
		"10-38-immich-app-20706.txt":  {accel.CPU, "abort"},
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no logs in %s: %v", dir, err)
	}
	for _, p := range paths {
		name := filepath.Base(p)
		w, ok := want[name]
		if !ok {
			t.Errorf("%s: not in this test's table; add the cause SOURCES.md names", name)
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		got := Scan(string(b), w.b)
		if w.id == "" {
			if len(got) > 0 {
				t.Errorf("%s (%s): benign log matched %v", name, w.b, ids(got))
			}
			continue
		}
		if !slices.Contains(ids(got), w.id) {
			t.Errorf("%s (%s): found %v, want %s", name, w.b, ids(got), w.id)
		}
	}
	// The ARM NN probe of #12789 is the failure on an -armnn image.
	b, err := os.ReadFile(filepath.Join(dir, "07-18-immich-app-12789.txt"))
	if err == nil && !slices.Contains(ids(Scan(string(b), accel.ARMNN)), "armnn-no-libmali") {
		t.Error("07-18 on an -armnn image: armnn-no-libmali not found")
	}
}

// README.md lists every entry's id.
func TestREADMEListsEveryID(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range Catalogue() {
		if !strings.Contains(string(b), "`"+string(e.ID)+"`") {
			t.Errorf("README.md does not list %s", e.ID)
		}
	}
}
