package compose

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/immich-accel/immich-accel/pkg/accel"
	"github.com/immich-accel/immich-accel/templates"
)

// TestUpstreamTranscodeMatrix applies every transcoding method in both
// modes to each of Immich's own compose files (immich-microservices before
// v1.106, immich-server after) and compares the diff with a golden file.
func TestUpstreamTranscodeMatrix(t *testing.T) {
	for _, f := range upstreamComposeFiles(t) {
		src := mustRead(t, f)
		base := strings.TrimSuffix(filepath.Base(f), ".yml")
		for _, inline := range []bool{false, true} {
			for _, m := range Transcodes {
				name := fmt.Sprintf("%s/%s-%s", base, modeName(inline), m)
				t.Run(name, func(t *testing.T) {
					plan, err := prepareCopy(t, "docker-compose.yml", src, Options{EditOptions: EditOptions{Inline: inline}, Transcode: accel.Transcode(m)}, nil)
					var golden string
					if err != nil {
						var e *Error
						if !errors.As(err, &e) || errors.Is(err, ErrValidation) {
							t.Fatalf("unexpected error: %v", err)
						}
						golden = fmt.Sprintf("error: %s\nfix: %s\n", e.Message, e.Fix)
					} else {
						if plan.TranscodeValidation == nil || !plan.TranscodeValidation.Checked {
							t.Errorf("not validated: %+v", plan.TranscodeValidation)
						}
						if plan.Validation != nil || plan.Service != "" {
							t.Errorf("an ML edit was made: %+v", plan)
						}
						out := newContent(plan, src)
						golden = UnifiedDiff("a/docker-compose.yml", "b/docker-compose.yml", src, out)
						again, err := Edit(out, EditOptions{Target: TargetTranscode, Transcode: accel.Transcode(m), Inline: inline})
						if err != nil || again.Changed {
							t.Errorf("not idempotent: %v", err)
						}
						if img := serverImage(t, out, plan.ServerService); img != serverImage(t, src, plan.ServerService) {
							t.Errorf("the server image changed: %s", img)
						}
						if !inline && m != "cpu" && !hasCreate(plan, templates.HwaccelTranscodingName) {
							t.Errorf("hwaccel.transcoding.yml not written: %+v", plan.Changes)
						}
					}
					checkGolden(t, filepath.Join(fixtures, "upstream-transcode", name+".golden"), []byte(golden))
				})
			}
		}
	}
}

func hasCreate(p *Plan, name string) bool {
	for _, c := range p.Changes {
		if c.Create && filepath.Base(c.Path) == name {
			return bytesEqual(c.New, templates.HwaccelTranscoding) || name != templates.HwaccelTranscodingName
		}
	}
	return false
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

func serverImage(t *testing.T, src []byte, service string) string {
	t.Helper()
	p, err := parse(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.findServer(service); err != nil {
		t.Fatal(err)
	}
	if img, _ := mergedGet(p.svc, "image"); img != nil {
		return img.Value
	}
	return ""
}

// TestUpstreamCombinedMatrix sets the ML backend and the transcoding
// method in one run on every era, in both modes: one diff, both steps
// checked with compose-go, each service getting exactly its own section.
func TestUpstreamCombinedMatrix(t *testing.T) {
	pairs := [][2]string{{"cuda", "nvenc"}, {"openvino", "quicksync"}, {"rocm", "vaapi"}, {"rknn", "rkmpp"}, {"openvino-wsl", "vaapi-wsl"}, {"cpu", "cpu"}}
	for _, f := range upstreamComposeFiles(t) {
		src := mustRead(t, f)
		base := strings.TrimSuffix(filepath.Base(f), ".yml")
		for _, inline := range []bool{false, true} {
			for _, pr := range pairs {
				name := fmt.Sprintf("%s/%s-%s+%s", base, modeName(inline), pr[0], pr[1])
				t.Run(name, func(t *testing.T) {
					plan, err := prepareCopy(t, "docker-compose.yml", src, Options{EditOptions: EditOptions{Backend: accel.Backend(pr[0]), Inline: inline}, Transcode: accel.Transcode(pr[1])}, nil)
					if err != nil {
						// Only the legacy ML image refuses; the transcoding
						// step must not add refusals of its own.
						if _, mlErr := Edit(src, EditOptions{Backend: accel.Backend(pr[0]), Inline: inline}); mlErr == nil {
							t.Fatalf("combined run fails where the ML edit alone does not: %v", err)
						}
						return
					}
					if plan.Validation == nil || !plan.Validation.Checked || plan.TranscodeValidation == nil || !plan.TranscodeValidation.Checked {
						t.Errorf("not both validated: %+v / %+v", plan.Validation, plan.TranscodeValidation)
					}
					out := newContent(plan, src)
					// The same as the two edits one after the other, in
					// either order.
					ml, _ := Edit(src, EditOptions{Backend: accel.Backend(pr[0]), Inline: inline})
					tr, err := Edit(ml.Output, EditOptions{Target: TargetTranscode, Transcode: accel.Transcode(pr[1]), Inline: inline})
					if err != nil || string(tr.Output) != string(out) {
						t.Errorf("combined output differs from ML then transcoding: %v", err)
					}
					tr2, _ := Edit(src, EditOptions{Target: TargetTranscode, Transcode: accel.Transcode(pr[1]), Inline: inline})
					ml2, err := Edit(tr2.Output, EditOptions{Backend: accel.Backend(pr[0]), Inline: inline})
					if err != nil || string(ml2.Output) != string(out) {
						t.Errorf("transcoding then ML differs:\n%s", UnifiedDiff("ml-first", "transcode-first", out, ml2.Output))
					}
					if pr[0] == "cpu" {
						return
					}
					if n := strings.Count(plan.Changes[0].Diff, "+++ "); n != 1 {
						t.Errorf("%d diffs", n)
					}
					if pr == [2]string{"cuda", "nvenc"} {
						checkGolden(t, filepath.Join(fixtures, "upstream-transcode", name+".golden"), []byte(plan.Changes[0].Diff))
						checkSharedGPU(t, out, plan)
					}
				})
			}
		}
	}
}

// checkSharedGPU: with ML on CUDA and NVENC transcoding on the same NVIDIA
// GPU, the ML service reserves it with Immich's cuda capabilities and the
// server with gpu, compute and video.
func checkSharedGPU(t *testing.T, out []byte, plan *Plan) {
	t.Helper()
	ml := effectiveAllVars(t, out, plan.Service, templates.HwaccelML)
	srv := effectiveServer(t, out, plan.ServerService)
	caps := func(s types.ServiceConfig) []string {
		if s.Deploy == nil || s.Deploy.Resources.Reservations == nil || len(s.Deploy.Resources.Reservations.Devices) != 1 {
			t.Fatalf("%s: want one device reservation, got %+v", s.Name, s.Deploy)
		}
		return s.Deploy.Resources.Reservations.Devices[0].Capabilities
	}
	if got := caps(ml); !reflect.DeepEqual(got, []string{"gpu"}) {
		t.Errorf("ML capabilities %v, want [gpu]", got)
	}
	if got := caps(srv); !reflect.DeepEqual(got, []string{"compute", "gpu", "video"}) {
		t.Errorf("server capabilities %v, want compute, gpu, video", got)
	}
}

// transcodeSwitchFiles are the files the switching test walks: every era
// of Immich's compose file and fixtures with other layouts.
func transcodeSwitchFiles(t *testing.T) []string {
	files := upstreamComposeFiles(t)
	for _, f := range []string{"basic.yml", "server-env-map.yml"} {
		files = append(files, filepath.Join(fixtures, f))
	}
	return files
}

// TestTranscodeModesAndSwitching checks that extends and inline give the
// server the same effective configuration, that switching from any method
// to another (in either mode, and across modes) equals applying the second
// directly, and that cpu undoes (byte for byte in inline mode).
func TestTranscodeModesAndSwitching(t *testing.T) {
	for _, f := range transcodeSwitchFiles(t) {
		src := mustRead(t, f)
		t.Run(filepath.Base(f), func(t *testing.T) {
			tr := func(in []byte, m string, inline bool) *EditResult {
				t.Helper()
				r, err := Edit(in, EditOptions{Target: TargetTranscode, Transcode: accel.Transcode(m), Inline: inline})
				if err != nil {
					t.Fatalf("%s (%s): %v", m, modeName(inline), err)
				}
				return r
			}
			r0 := tr(src, "cpu", false)
			svc := r0.Service
			eff := func(b []byte) types.ServiceConfig { return effectiveServer(t, b, svc) }
			orig := eff(src)
			direct := map[string]types.ServiceConfig{}
			for _, m := range Transcodes {
				e1, e2 := eff(tr(src, m, false).Output), eff(tr(src, m, true).Output)
				if !reflect.DeepEqual(e1, e2) {
					t.Errorf("%s: extends and inline differ: %s", m, firstDiff(e1, e2))
				}
				direct[m] = e1
			}
			if !reflect.DeepEqual(direct["cpu"], orig) {
				t.Errorf("cpu on the original changes the server: %s", firstDiff(orig, direct["cpu"]))
			}
			for _, from := range Transcodes[:len(Transcodes)-1] {
				for _, to := range Transcodes {
					for _, inline := range []bool{false, true} {
						r1 := tr(src, from, inline)
						r2 := tr(r1.Output, to, inline)
						if got := eff(r2.Output); !reflect.DeepEqual(got, direct[to]) {
							t.Errorf("%s -> %s (%s) differs from %s directly: %s", from, to, modeName(inline), to, firstDiff(direct[to], got))
						}
						if to == "cpu" && inline && string(r2.Output) != string(src) {
							t.Errorf("%s -> cpu inline does not restore the original:\n%s", from, UnifiedDiff("orig", "after", src, r2.Output))
						}
						r3 := tr(r1.Output, to, !inline)
						if got := eff(r3.Output); !reflect.DeepEqual(got, direct[to]) {
							t.Errorf("%s (%s) -> %s (%s) differs from %s directly: %s", from, modeName(inline), to, modeName(!inline), to, firstDiff(direct[to], got))
						}
					}
				}
			}
		})
	}
}

// TestTranscodeLeavesML: a transcoding edit never touches the ML service,
// and an ML edit never the server, whatever was set before.
func TestTranscodeLeavesML(t *testing.T) {
	for _, f := range upstreamComposeFiles(t) {
		src := mustRead(t, f)
		ml, err := Edit(src, EditOptions{Backend: "cuda", Inline: true})
		if err != nil {
			continue // the legacy image
		}
		before := effectiveAllVars(t, ml.Output, ml.Service, templates.HwaccelML)
		for _, m := range Transcodes {
			r, err := Edit(ml.Output, EditOptions{Target: TargetTranscode, Transcode: accel.Transcode(m), Inline: true})
			if err != nil {
				t.Fatalf("%s %s: %v", filepath.Base(f), m, err)
			}
			if after := effectiveAllVars(t, r.Output, ml.Service, templates.HwaccelML); !reflect.DeepEqual(before, after) {
				t.Errorf("%s: --transcode %s changed the ML service: %s", filepath.Base(f), m, firstDiff(before, after))
			}
			// And ML cpu after transcoding leaves the server's section.
			back, err := Edit(r.Output, EditOptions{Backend: "cpu", Inline: true})
			if err != nil {
				t.Fatal(err)
			}
			s1 := effectiveServer(t, r.Output, r.Service)
			s2 := effectiveServer(t, back.Output, r.Service)
			if !reflect.DeepEqual(s1, s2) {
				t.Errorf("%s: --backend cpu after --transcode %s changed the server: %s", filepath.Base(f), m, firstDiff(s1, s2))
			}
		}
	}
}

// TestTranscodeRefusals: every refusal says what failed and what to do.
func TestTranscodeRefusals(t *testing.T) {
	cases := []struct {
		src, method string
		host        Host
		kind        error
		has         string
	}{
		{"services:\n  ml:\n    image: ghcr.io/immich-app/immich-machine-learning:release\n", "nvenc", Host{}, ErrNoServerService, "no Immich server service"},
		{"services:\n  a:\n    image: ghcr.io/immich-app/immich-server:release\n  b:\n    image: ghcr.io/immich-app/immich-server:release\n", "nvenc", Host{}, ErrSeveralServerServices, "several services use the immich-server image"},
		{"services:\n  immich-server:\n    image: ghcr.io/immich-app/immich-server:release\n    extends:\n      file: hwaccel.transcoding.yml\n      service: ${HWACCEL:-cpu}\n", "vaapi", Host{}, ErrManual, "comes from a variable"},
		{"services:\n  immich-server:\n    image: ghcr.io/immich-app/immich-server:release\n    extends:\n      file: base.yml\n      service: server\n", "vaapi", Host{}, ErrManual, "already extends something else"},
		{"services:\n  immich-server:\n    image: ghcr.io/immich-app/immich-server:release\n", "quicksync", Host{Known: true, WSL: true}, ErrManual, "not supported on WSL2"},
		{"services:\n  immich-server: {image: ghcr.io/immich-app/immich-server:release}\n", "vaapi", Host{}, ErrManual, "flow style"},
		{"services:\n  immich-server:\n    image: ghcr.io/immich-app/immich-server:release\n", "rkmpp", Host{}, ErrManual, "empty volumes:"},
		{"services:\n  immich-server:\n    image: ghcr.io/immich-app/immich-server:release\n", "qsv", Host{}, ErrManual, "unknown transcoding method"},
	}
	for _, c := range cases {
		_, err := Edit([]byte(c.src), EditOptions{Target: TargetTranscode, Transcode: accel.Transcode(c.method), Host: c.host})
		if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.has) {
			t.Errorf("%q: got %v, want %v with %q", c.src, err, c.kind, c.has)
			continue
		}
		checkCleanError(t, err)
	}
}

// effectiveServer loads a compose file with the embedded
// hwaccel.transcoding.yml and returns the server's effective
// configuration; every variable is set (the server's volumes come from
// ${UPLOAD_LOCATION}, which has no default).
func effectiveServer(t *testing.T, src []byte, service string) types.ServiceConfig {
	t.Helper()
	return effectiveAllVars(t, src, service, templates.HwaccelTranscoding)
}

// effectiveAllVars is effectiveSections with every variable set.
func effectiveAllVars(t *testing.T, src []byte, service string, sections []byte) types.ServiceConfig {
	t.Helper()
	m, err := decodeModel(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	hw := filepath.Join(dir, "sections.yml")
	if err := os.WriteFile(hw, sections, 0o644); err != nil {
		t.Fatal(err)
	}
	svcs := m["services"].(map[string]any)
	for name, s := range svcs {
		sm, _ := s.(map[string]any)
		if name != service {
			delete(svcs, name)
			continue
		}
		if ext, ok := sm["extends"].(map[string]any); ok {
			ext["file"] = hw
		}
		delete(sm, "depends_on")
	}
	p, err := loadModel(context.Background(), m, "/srv/stack", true, (&models{}).lookup(nil, true))
	if err != nil {
		// Values a variable cannot stand for (a whole list from one):
		// compare uninterpolated.
		if p, err = loadModel(context.Background(), m, "/srv/stack", false, (&models{}).lookup(nil, false)); err != nil {
			t.Fatalf("loading: %v", err)
		}
	}
	s, ok := p.Services[service]
	if !ok {
		t.Fatalf("no service %q", service)
	}
	return normalizeService(s)
}

// TestServerWithOwnGPU: a server that already reserves the NVIDIA GPU
// without the video capability gets it, its own count kept, in inline
// mode; in extends mode the reservation is taken as an inlined section and
// the nvenc section replaces it. Both are checked with compose-go.
func TestServerWithOwnGPU(t *testing.T) {
	src := mustRead(t, filepath.Join(fixtures, "server-gpu.yml"))
	for _, inline := range []bool{true, false} {
		plan, err := prepareCopy(t, "docker-compose.yml", src, Options{EditOptions: EditOptions{Backend: "cuda", Inline: inline}, Transcode: "nvenc"}, nil)
		if err != nil {
			t.Fatalf("%s: %v", modeName(inline), err)
		}
		if !plan.TranscodeValidation.Checked || !plan.Validation.Checked {
			t.Errorf("%s: not validated", modeName(inline))
		}
		out := newContent(plan, src)
		srv := effectiveServer(t, out, "immich-server")
		d := srv.Deploy.Resources.Reservations.Devices
		if len(d) != 1 || !reflect.DeepEqual(d[0].Capabilities, []string{"compute", "gpu", "video"}) {
			t.Errorf("%s: server reservations %+v", modeName(inline), d)
		}
		wantCount := types.DeviceCount(1)
		if inline {
			wantCount = -1 // the user's count: all stays
		}
		if d[0].Count != wantCount {
			t.Errorf("%s: count %d, want %d", modeName(inline), d[0].Count, wantCount)
		}
		checkGolden(t, filepath.Join(fixtures, "server-gpu-"+modeName(inline)+"-cuda-nvenc.golden.yml"), out)
	}
}

func TestEmbeddedTranscodeSections(t *testing.T) {
	if got := defaultTranscodeSections().names(); strings.Join(got, ",") != "cpu,nvenc,quicksync,rkmpp,vaapi,vaapi-wsl" {
		t.Errorf("sections %v", got)
	}
	for _, m := range Transcodes {
		if defaultTranscodeSections().get(m) == nil {
			t.Errorf("no %s section", m)
		}
	}
	if _, err := os.Stat(filepath.Join("..", "..", "templates", templates.HwaccelTranscodingName)); err != nil {
		t.Error(err)
	}
}

// TestTranscodeDiffMinimality measures, over Immich's compose files of
// every era, the real-world corpus and the fixtures, the lines each
// transcoding diff touches against the lower bound of lines that must
// change in the server service, for first edits and for switching from one
// method to the next and back to cpu.
func TestTranscodeDiffMinimality(t *testing.T) {
	var files []string
	if d := sharedDir(t, "testdata-real", "compose"); d != "" {
		f, _ := filepath.Glob(filepath.Join(d, "*.yml"))
		files = append(files, f...)
	}
	files = append(files, upstreamComposeFiles(t)...)
	fx, _ := filepath.Glob(filepath.Join(fixtures, "*.yml"))
	for _, f := range fx {
		if !strings.HasSuffix(f, ".golden.yml") {
			files = append(files, f)
		}
	}
	type result struct {
		name        string
		cost, bound int
	}
	measure := func(name string, a, b []byte, service string) (result, bool) {
		p1, _ := parse(a)
		p2, _ := parse(b)
		if p1 == nil || p2 == nil || p1.findServer(service) != nil || p2.findServer(service) != nil {
			return result{}, false
		}
		return result{name, diffCost(a, b), semanticDelta(p1.svc, p2.svc)}, true
	}
	var edits, switches []result
	for _, f := range files {
		src := mustRead(t, f)
		for _, inline := range []bool{false, true} {
			for i, m := range Transcodes {
				first, err := Edit(src, EditOptions{Target: TargetTranscode, Transcode: accel.Transcode(m), Inline: inline})
				if err != nil || !first.Changed {
					continue
				}
				r, ok := measure(fmt.Sprintf("%s %s/%s", filepath.Base(f), modeName(inline), m), src, first.Output, first.Service)
				if !ok || r.bound == 0 {
					t.Errorf("%s: the file changed but the server did not", r.name)
					continue
				}
				edits = append(edits, r)
				if m == "cpu" {
					continue
				}
				for _, to := range []string{Transcodes[(i+1)%len(Transcodes)], "cpu"} {
					if to == m {
						continue
					}
					res, err := Edit(first.Output, EditOptions{Target: TargetTranscode, Transcode: accel.Transcode(to), Inline: inline})
					if err != nil {
						if _, direct := Edit(src, EditOptions{Target: TargetTranscode, Transcode: accel.Transcode(to), Inline: inline}); direct == nil {
							t.Errorf("%s %s: %s -> %s: %v", filepath.Base(f), modeName(inline), m, to, err)
						}
						continue
					}
					s, ok := measure(fmt.Sprintf("%s %s/%s->%s", filepath.Base(f), modeName(inline), m, to), first.Output, res.Output, res.Service)
					if !ok || s.bound == 0 {
						if s.cost != 0 {
							t.Errorf("%s changes %d lines but not the server", s.name, s.cost)
						}
						continue
					}
					switches = append(switches, s)
				}
			}
		}
	}
	worst := func(rs []result) result {
		w := rs[0]
		for _, r := range rs {
			if float64(r.cost)/float64(r.bound) > float64(w.cost)/float64(w.bound) {
				w = r
			}
		}
		return w
	}
	if len(edits) == 0 || len(switches) == 0 {
		t.Fatal("no cases")
	}
	for _, set := range []struct {
		what string
		rs   []result
	}{{"transcoding edits", edits}, {"transcoding switches", switches}} {
		w := worst(set.rs)
		ratio := float64(w.cost) / float64(w.bound)
		t.Logf("%d %s: largest diff/minimal = %.2f (%s: %d lines vs %d)", len(set.rs), set.what, ratio, w.name, w.cost, w.bound)
		if ratio > 1.5 {
			t.Errorf("largest of the %s is %.2fx the minimal diff (%s)", set.what, ratio, w.name)
		}
	}
}
