package compose

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/immich-accel/immich-accel/internal/testenv"
	"github.com/immich-accel/immich-accel/pkg/accel"
)

// TestRealCorpus walks every file of ../shared/testdata-real/compose: each
// gives a correct, validated, idempotent edit or a clear error of a known
// kind, for every backend in both modes.
func TestRealCorpus(t *testing.T) {
	dir := testenv.RequireShared(t, "testdata-real", "compose")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range entries {
		name := ent.Name()
		if ent.IsDir() || !(strings.HasSuffix(name, ".yml") || strings.HasSuffix(name, ".yaml")) {
			continue
		}
		src, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) {
			want := corpusExpect[name]
			outcomes := map[string][]string{}
			for _, inline := range []bool{false, true} {
				for _, b := range allBackends {
					mode := "extends"
					if inline {
						mode = "inline"
					}
					plan, err := prepareCopy(t, "docker-compose.yml", src, Options{EditOptions: EditOptions{Backend: b, Inline: inline}}, nil)
					wantErr := want.err
					if want.onlyFor != nil && !want.onlyFor(b, inline) {
						wantErr = nil
					}
					if wantErr != nil && (err == nil || !errors.Is(err, wantErr) || !strings.Contains(err.Error(), want.has)) {
						t.Errorf("%s/%s: want %v with %q, got %v", mode, b, wantErr, want.has, err)
					}
					if wantErr == nil && err != nil {
						t.Errorf("%s/%s: want a correct edit, got %v", mode, b, err)
					}
					if err != nil {
						checkCleanError(t, err)
						outcomes["error: "+firstLine(err.Error())] = append(outcomes["error: "+firstLine(err.Error())], mode+"/"+string(b))
						continue
					}
					if plan.Validation == nil || !plan.Validation.Checked {
						t.Errorf("%s/%s: not validated: %+v", mode, b, plan.Validation)
					}
					out := newContent(plan, src)
					env := envAfter(t, plan)
					// Idempotent, with the .env the plan writes.
					res2, err := Edit(out, EditOptions{Backend: plan.Backend, Inline: inline, Env: env})
					if err != nil {
						t.Errorf("%s/%s: second run fails: %v", mode, b, err)
					} else if res2.Changed || len(res2.Env) > 0 {
						t.Errorf("%s/%s: second run changes the file again (%+v):\n%s", mode, b, res2.Env, UnifiedDiff("first", "second", out, res2.Output))
					}
					if len(env) > 0 {
						// What doctor reads from the result and its .env.
						in, err := InspectEnv(out, plan.Service, env)
						if err != nil || in.ImageSuffix != plan.Backend.Suffix() {
							t.Errorf("%s/%s: with the new .env the image is %s (%v)", mode, b, in.ImageResolved, err)
						}
						if !inline && in.Backend != plan.Backend {
							t.Errorf("%s/%s: with the new .env the backend is %q", mode, b, in.Backend)
						}
						// Undo through the same variables, from the edited
						// file and its .env.
						undo, err := prepareCopy(t, "docker-compose.yml", out, Options{EditOptions: EditOptions{Backend: "cpu", Inline: inline}}, map[string][]byte{".env": envContent(plan)})
						if err != nil || undo.Validation == nil || !undo.Validation.Checked {
							t.Errorf("%s/%s then cpu: %v", mode, b, err)
						} else if in, err := InspectEnv(newContent(undo, out), undo.Service, undoEnv(t, undo, env)); err != nil || in.ImageSuffix != "" {
							t.Errorf("%s/%s then cpu: image %s (%v)", mode, b, in.ImageResolved, err)
						}
						outcomes["ok, through .env"] = append(outcomes["ok, through .env"], mode+"/"+string(b))
					}
					outcomes["ok"] = append(outcomes["ok"], mode+"/"+string(b))
				}
			}
			var keys []string
			for k := range outcomes {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				t.Logf("%s: %s", k, strings.Join(outcomes[k], " "))
			}
		})
	}
}

// corpusExpect is the right outcome for the files of the real corpus that
// must be refused (see SOURCES.md); every other file must give a correct
// edit for every backend in both modes.
var corpusExpect = map[string]struct {
	err     error
	has     string
	onlyFor func(backend accel.Backend, inline bool) bool // nil: every case
}{
	"Earlopain__server__immich-compose-no-ml.yml":                {err: ErrNoMLService, has: "no machine-learning service"},
	"EnigmaCurry__d.rymcg.tech__immich-instance-ytt.yml":         {err: ErrNotCompose, has: "ytt template"},
	"karlmdavis__justdavis-ansible__role-compose-j2.yml":         {err: ErrNotCompose, has: "Jinja template"},
	"solarorange__ansible-homelab__role-compose-j2.yml":          {err: ErrNotCompose, has: "Jinja template"},
	"cdesiles__ansible-playbooks__podman-kube-pod-j2.yml":        {err: ErrNotCompose, has: "template"},
	"Thomas141100__homeserver__k8s-helm-values.yml":              {err: ErrNotCompose, has: "Helm chart or TrueNAS app values"},
	"elvismercado__docker-templates__immich-override-wud.yml":    {err: ErrNoMLService, has: "override file"},
	"immich-app__immich__docker-compose-prod-build.yml":          {err: ErrManual, has: "DEVICE=cpu"},
	"immich-app__immich__hwaccel-ml-official-2026.yml":           {err: ErrNoMLService, has: "hwaccel.ml.yml-style file"},
	"bigbeartechworld__big-bear-universal-apps__apps-immich.yml": {err: ErrManual, has: "pinned by digest", onlyFor: func(b accel.Backend, _ bool) bool { return b != accel.CPU }},
	"mikeage__docker-compose-files__immich-compose.yml":          {err: ErrManual, has: "pinned by digest", onlyFor: func(b accel.Backend, _ bool) bool { return b.Suffix() != "openvino" }},
}

// envAfter returns the variables of the .env file the plan writes (nil
// when it writes none).
func envAfter(t *testing.T, plan *Plan) map[string]string {
	t.Helper()
	for _, c := range plan.Changes {
		if filepath.Base(c.Path) == ".env" {
			f := &envFile{given: c.Path}
			if err := f.load(c.New); err != nil {
				t.Fatalf("the planned .env does not read: %v", err)
			}
			return f.vars
		}
	}
	return nil
}

// undoEnv is the .env after the undo plan: the one it writes, else the one
// already there.
func undoEnv(t *testing.T, undo *Plan, before map[string]string) map[string]string {
	if e := envAfter(t, undo); e != nil {
		return e
	}
	return before
}

// envContent returns the .env file the plan writes.
func envContent(plan *Plan) []byte {
	for _, c := range plan.Changes {
		if filepath.Base(c.Path) == ".env" {
			return c.New
		}
	}
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// checkCleanError fails unless err is one of the package's input errors
// with a message and a fix.
func checkCleanError(t *testing.T, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Errorf("error is not a compose.Error: %v", err)
		return
	}
	if errors.Is(err, ErrValidation) {
		t.Errorf("validation failed: %v", err)
	}
	if e.Message == "" || (e.Fix == "" && !errors.Is(err, ErrValidation)) {
		t.Errorf("error without message or fix: %#v", e)
	}
}

// TestRealCorpusInspect checks what InspectFile reports for the real files
// whose mistakes SOURCES.md describes.
func TestRealCorpusInspect(t *testing.T) {
	dir := testenv.RequireShared(t, "testdata-real", "compose")
	tests := []struct {
		file, backend, mode, problem string
	}{
		{"plex-migration-homelab__compose-stack__cloud-immich-ml-compose.yml", "cuda", "inline", "section-without-suffix"},
		{"NeoHuncho__rasbpian-docker-compose__immich-remote-ml-armnn.yml", "", "none", "suffix-without-section"},
		{"formless63__wmc-stackshare__immich-compose.yml", "", "none", "suffix-without-section"},
		{"jansauer__truenas-apps__immich-compose-ml-svc.yml", "", "none", "suffix-without-section"},
		{"polivera__infra__swarm-immich-compose.yml", "cuda", "inline", "section-without-suffix"},
		{"mikeage__docker-compose-files__immich-compose.yml", "openvino", "extends", "image-digest-pinned"},
		{"Orion-zhen__self-hosted__immich-compose.yml", "cuda", "extends", ""},
		{"Hudater__services__docker-immich-compose.yml", "rocm", "extends", ""},
		{"ad5665__portainer-composes__immich-compose-portainer.yml", "cuda", "inline", ""},
		{"immich-app__immich__docker-compose-official-2026.yml", "", "none", ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			in, err := Inspect(mustRead(t, filepath.Join(dir, tt.file)), "")
			if err != nil {
				t.Fatal(err)
			}
			if string(in.Backend) != tt.backend || in.Mode != tt.mode {
				t.Errorf("backend %q mode %q, want %q %q", in.Backend, in.Mode, tt.backend, tt.mode)
			}
			var ids []string
			for _, p := range in.Problems {
				ids = append(ids, string(p.ID))
			}
			if tt.problem == "" && len(ids) > 0 {
				t.Errorf("unexpected problems: %+v", in.Problems)
			}
			if tt.problem != "" && !strings.Contains(strings.Join(ids, ","), tt.problem) {
				t.Errorf("want %s, got %+v", tt.problem, in.Problems)
			}
		})
	}
	// The stack hints.
	for file, kind := range map[string]string{
		"IceWhaleTech__CasaOS-AppStore__casaos-apps-immich.yml":    "casaos",
		"runtipi__runtipi-appstore__apps-immich-compose.yml":       "runtipi",
		"ad5665__portainer-composes__immich-compose-portainer.yml": "portainer",
	} {
		in, err := Inspect(mustRead(t, filepath.Join(dir, file)), "")
		if err != nil || in.StackKind != kind {
			t.Errorf("%s: stack kind %q, want %q (%v)", file, in.StackKind, kind, err)
		}
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
