package compose

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/immich-accel/immich-accel/internal/testenv"
	"github.com/immich-accel/immich-accel/pkg/accel"
	"github.com/immich-accel/immich-accel/templates"
)

func upstreamComposeFiles(t *testing.T) []string {
	dir := testenv.RequireShared(t, "upstream", "immich")
	files, err := filepath.Glob(filepath.Join(dir, "docker-compose.*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no docker-compose.*.yml in %s", dir)
	}
	return files
}

func modeName(inline bool) string {
	if inline {
		return "inline"
	}
	return "extends"
}

// TestUpstreamMatrix applies every backend in both modes to each of
// Immich's own compose files and compares the diff with a golden file.
func TestUpstreamMatrix(t *testing.T) {
	for _, f := range upstreamComposeFiles(t) {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		base := strings.TrimSuffix(filepath.Base(f), ".yml")
		for _, inline := range []bool{false, true} {
			for _, b := range allBackends {
				name := fmt.Sprintf("%s/%s-%s", base, modeName(inline), b)
				t.Run(name, func(t *testing.T) {
					opts := EditOptions{Backend: b, Inline: inline}
					plan, err := prepareCopy(t, "docker-compose.yml", src, Options{EditOptions: opts}, nil)
					var golden string
					if err != nil {
						var e *Error
						if !errors.As(err, &e) || errors.Is(err, ErrValidation) {
							t.Fatalf("unexpected error: %v", err)
						}
						golden = fmt.Sprintf("error: %s\nfix: %s\n", e.Message, e.Fix)
					} else {
						if plan.Validation == nil || !plan.Validation.Checked {
							t.Errorf("not validated: %+v", plan.Validation)
						}
						out := newContent(plan, src)
						golden = UnifiedDiff("a/docker-compose.yml", "b/docker-compose.yml", src, out)
						again, err := Edit(out, opts)
						if err != nil || again.Changed {
							t.Errorf("not idempotent: %v", err)
						}
					}
					checkGolden(t, filepath.Join(fixtures, "upstream", name+".golden"), []byte(golden))
				})
			}
		}
	}
}

// effectiveML loads a compose file with the embedded hwaccel.ml.yml and
// returns the ML service's effective configuration.
func effectiveML(t *testing.T, src []byte, service string) types.ServiceConfig {
	t.Helper()
	return effectiveSections(t, src, service, templates.HwaccelML)
}

// effectiveWith is effectiveML for immich-machine-learning with the given
// hwaccel.ml.yml content (nil: the embedded one).
func effectiveWith(t *testing.T, src, sections []byte) types.ServiceConfig {
	t.Helper()
	if sections == nil {
		sections = templates.HwaccelML
	}
	return effectiveSections(t, src, "immich-machine-learning", sections)
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func effectiveSections(t *testing.T, src []byte, service string, sections []byte) types.ServiceConfig {
	t.Helper()
	m, err := decodeModel(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	hw := filepath.Join(dir, "hwaccel.ml.yml")
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
	}
	p, err := loadModel(context.Background(), m, "/srv/stack", true, (&models{}).lookup(nil, false))
	if err != nil {
		t.Fatalf("loading: %v", err)
	}
	s, ok := p.Services[service]
	if !ok {
		t.Fatalf("no service %q", service)
	}
	return normalizeService(s)
}

// TestModesAndSwitching checks, on the newest upstream files, that extends
// and inline give the same effective service, that switching from any
// backend to another equals applying the second directly, and that going
// back to cpu restores the original (byte for byte in inline mode).
func TestModesAndSwitching(t *testing.T) {
	var files []string
	for _, f := range upstreamComposeFiles(t) {
		b := filepath.Base(f)
		if strings.Contains(b, "v1.94.0") || strings.Contains(b, "v1.130.0") || strings.Contains(b, "v3.1.0") {
			files = append(files, f)
		}
	}
	files = append(files, filepath.Join(fixtures, "basic.yml"), filepath.Join(fixtures, "compact.yml"), filepath.Join(fixtures, "crlf.yml"))
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			r0, err := Edit(src, EditOptions{Backend: "cpu"})
			if err != nil {
				t.Fatal(err)
			}
			svc := r0.Service
			orig := effectiveML(t, src, svc)
			direct := map[accel.Backend]types.ServiceConfig{}
			for _, b := range allBackends {
				ext, err := Edit(src, EditOptions{Backend: b})
				if err != nil {
					t.Fatal(err)
				}
				inl, err := Edit(src, EditOptions{Backend: b, Inline: true})
				if err != nil {
					t.Fatal(err)
				}
				e1, e2 := effectiveML(t, ext.Output, svc), effectiveML(t, inl.Output, svc)
				if !reflect.DeepEqual(e1, e2) {
					t.Errorf("%s: extends and inline differ: %s", b, firstDiff(e1, e2))
				}
				direct[b] = e1
			}
			if !reflect.DeepEqual(direct["cpu"], orig) {
				t.Errorf("cpu on the original changes the service: %s", firstDiff(orig, direct["cpu"]))
			}
			for _, from := range allBackends[:len(allBackends)-1] {
				for _, to := range allBackends {
					for _, inline := range []bool{false, true} {
						r1, err := Edit(src, EditOptions{Backend: from, Inline: inline})
						if err != nil {
							t.Fatal(err)
						}
						r2, err := Edit(r1.Output, EditOptions{Backend: to, Inline: inline})
						if err != nil {
							t.Fatalf("%s -> %s (%s): %v", from, to, modeName(inline), err)
						}
						got := effectiveML(t, r2.Output, svc)
						if !reflect.DeepEqual(got, direct[to]) {
							t.Errorf("%s -> %s (%s) differs from %s directly: %s", from, to, modeName(inline), to, firstDiff(direct[to], got))
						}
						if to == "cpu" && inline && string(r2.Output) != string(src) {
							t.Errorf("%s -> cpu inline does not restore the original:\n%s", from, UnifiedDiff("orig", "after", src, r2.Output))
						}
						// Switching across modes too.
						r3, err := Edit(r1.Output, EditOptions{Backend: to, Inline: !inline})
						if err != nil {
							t.Fatalf("%s (%s) -> %s (%s): %v", from, modeName(inline), to, modeName(!inline), err)
						}
						if got := effectiveML(t, r3.Output, svc); !reflect.DeepEqual(got, direct[to]) {
							t.Errorf("%s (%s) -> %s (%s) differs from %s directly: %s", from, modeName(inline), to, modeName(!inline), to, firstDiff(direct[to], got))
						}
					}
				}
			}
		})
	}
}
