package compose

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immich-accel/immich-accel/pkg/accel"
)

// copyFixtureDir copies testdata/compose/env/<name> into a fresh directory.
func copyFixtureDir(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join(fixtures, "env", name)
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// planDiffs joins the diffs of the compose file and the env file (not of a
// new hwaccel.ml.yml, which is Immich's file).
func planDiffs(p *Plan) string {
	var b strings.Builder
	for _, c := range p.Changes {
		if filepath.Base(c.Path) != "hwaccel.ml.yml" {
			b.WriteString(c.Diff)
		}
	}
	return b.String()
}

func readIfAny(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return b
}

// TestEnvFixtures runs each variable pattern with and without a .env:
// the dry-run diff of both files against its golden file, the write, the
// second run (nothing left), what InspectFile then reads, a switch to
// another backend through the same variable, and the undo with cpu.
func TestEnvFixtures(t *testing.T) {
	tests := []struct {
		dir        string
		backend    accel.Backend
		inline     bool
		switchTo   accel.Backend // second backend
		envChanged bool          // the env file changes
		imageSame  bool          // the image in the compose file does not change
		envFile    string        // the env file ("" .env)
		note       string        // part of a note
		undoSame   bool          // cpu gives back the compose file byte for byte
	}{
		{dir: "suffix-var", backend: "cuda", switchTo: "openvino", envChanged: true, imageSame: false},
		{dir: "suffix-var", backend: "rocm", inline: true, switchTo: "cuda", envChanged: true},
		{dir: "suffix-var-noenv", backend: "cuda", switchTo: "rknn", envChanged: true, note: "will be created"},
		{dir: "suffix-alt-crlf", backend: "cuda", inline: true, switchTo: "openvino", envChanged: true, imageSame: true},
		{dir: "extends-var", backend: "cuda", switchTo: "rocm", envChanged: true, imageSame: true},
		{dir: "image-var-set", backend: "cuda", switchTo: "armnn", envChanged: true, imageSame: true},
		{dir: "image-var-unset", backend: "openvino", switchTo: "cuda", note: "goes after it in the compose file"},
		{dir: "portainer-var", backend: "cuda", inline: true, switchTo: "openvino", imageSame: true, envFile: "stack.env", note: "set ML_VARIANT=-cuda in Portainer", undoSame: true},
	}
	for _, tt := range tests {
		name := tt.dir + "-" + string(tt.backend)
		if tt.inline {
			name += "-inline"
		}
		t.Run(name, func(t *testing.T) {
			dir := copyFixtureDir(t, tt.dir)
			file := filepath.Join(dir, "docker-compose.yml")
			envName := ".env"
			if tt.envFile != "" {
				envName = tt.envFile
			}
			envPath := filepath.Join(dir, envName)
			origCompose, origEnv := mustRead(t, file), readIfAny(t, envPath)
			opts := func(b accel.Backend) Options {
				return Options{EditOptions: EditOptions{Backend: b, Inline: tt.inline}, File: file}
			}
			plan, err := Prepare(t.Context(), opts(tt.backend))
			if err != nil {
				t.Fatal(err)
			}
			if plan.Validation == nil || !plan.Validation.Checked {
				t.Fatalf("not validated: %+v", plan.Validation)
			}
			checkGolden(t, filepath.Join(fixtures, "env", name+".golden.diff"), []byte(planDiffs(plan)))
			if tt.note != "" && !strings.Contains(strings.Join(plan.Notes, "\n"), tt.note) {
				t.Errorf("notes %q lack %q", plan.Notes, tt.note)
			}
			if _, err := plan.Write(WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			gotCompose, gotEnv := mustRead(t, file), readIfAny(t, envPath)
			if tt.imageSame && imageOf(t, gotCompose) != imageOf(t, origCompose) {
				t.Errorf("the image in the compose file changed:\n%s", UnifiedDiff("before", "after", origCompose, gotCompose))
			}
			if tt.envChanged == bytes.Equal(gotEnv, origEnv) {
				t.Errorf("env file changed = %v, want %v", !bytes.Equal(gotEnv, origEnv), tt.envChanged)
			}
			if tt.envChanged && len(origEnv) > 0 {
				checkEnvPreserved(t, origEnv, gotEnv)
				if _, err := os.Stat(envPath + ".bak"); err != nil {
					t.Errorf("no backup of the env file: %v", err)
				}
			}
			// Idempotent.
			again, err := Prepare(t.Context(), opts(tt.backend))
			if err != nil {
				t.Fatal(err)
			}
			if again.Changed() {
				t.Errorf("second run wants changes:\n%s", planDiffs(again))
			}
			if tt.envFile == "" {
				// What doctor reads.
				in, err := InspectFile(file)
				if err != nil {
					t.Fatal(err)
				}
				if want := plan.Backend.Suffix(); in.ImageSuffix != want {
					t.Errorf("InspectFile: suffix %q, want %q (%s)", in.ImageSuffix, want, in.ImageResolved)
				}
				for _, p := range in.Problems {
					if p.ID != "extends-file-missing" {
						t.Errorf("InspectFile after the edit: problem %s: %s", p.ID, p.Message)
					}
				}
			}
			// Switch, then undo.
			for _, b := range []accel.Backend{tt.switchTo, accel.CPU} {
				p, err := Prepare(t.Context(), opts(b))
				if err != nil {
					t.Fatalf("%s: %v", b, err)
				}
				if p.Validation == nil || !p.Validation.Checked {
					t.Fatalf("%s: not validated", b)
				}
				if _, err := p.Write(WriteOptions{NoBackup: true}); err != nil {
					t.Fatal(err)
				}
				if tt.envFile != "" {
					continue
				}
				in, err := InspectFile(file)
				if err != nil {
					t.Fatal(err)
				}
				if in.ImageSuffix != b.Suffix() {
					t.Errorf("after switching to %s: suffix %q (%s)", b, in.ImageSuffix, in.ImageResolved)
				}
			}
			if tt.undoSame {
				// Inline undo gives back the compose file byte for byte.
				if got := mustRead(t, file); !bytes.Equal(got, origCompose) {
					t.Errorf("undo did not give back the compose file:\n%s", UnifiedDiff("orig", "undone", origCompose, got))
				}
			}
		})
	}
}

func imageOf(t *testing.T, src []byte) string {
	t.Helper()
	in, err := Inspect(src, "")
	if err != nil {
		t.Fatal(err)
	}
	return in.Image
}

// checkEnvPreserved checks that every line of the original env file but
// the ones the edit changes is still there, with its line ending, and that
// the final newline (or its absence) is kept.
func checkEnvPreserved(t *testing.T, orig, got []byte) {
	t.Helper()
	ot, gt := newText(orig), newText(got)
	changed := 0
	for i := range ot.lines {
		if i >= len(gt.lines) {
			t.Fatalf("lines lost")
		}
		if ot.lines[i] != gt.lines[i] {
			changed++
		}
		if i < len(ot.lines)-1 && ot.eols[i] != gt.eols[i] {
			t.Errorf("line %d: ending %q became %q", i+1, ot.eols[i], gt.eols[i])
		}
	}
	if changed > 1 {
		t.Errorf("%d lines changed, want at most 1:\n%s", changed, UnifiedDiff("orig", "got", orig, got))
	}
	if (orig[len(orig)-1] == '\n') != (got[len(got)-1] == '\n') {
		t.Errorf("final newline changed")
	}
}

// TestEnvRefusals: variables that immich-accel must not set.
func TestEnvRefusals(t *testing.T) {
	dir := copyFixtureDir(t, "shared-var")
	_, err := Prepare(t.Context(), Options{EditOptions: EditOptions{Backend: "cuda"}, File: filepath.Join(dir, "docker-compose.yml")})
	if !errors.Is(err, ErrManual) || !strings.Contains(err.Error(), "HWACCEL, which selects the backend") {
		t.Fatalf("a variable the server's transcoding section also reads: want ErrManual, got %v", err)
	}
	// Compose told not to read .env.
	dir = copyFixtureDir(t, "suffix-var")
	t.Setenv("COMPOSE_DISABLE_ENV_FILE", "1")
	_, err = Prepare(t.Context(), Options{EditOptions: EditOptions{Backend: "cuda", Inline: true}, File: filepath.Join(dir, "docker-compose.yml")})
	if !errors.Is(err, ErrManual) || !strings.Contains(err.Error(), "COMPOSE_DISABLE_ENV_FILE is set") {
		t.Fatalf("COMPOSE_DISABLE_ENV_FILE: want ErrManual, got %v", err)
	}
	t.Setenv("COMPOSE_DISABLE_ENV_FILE", "0")
	// --env-file that does not exist.
	dir = copyFixtureDir(t, "suffix-var")
	_, err = Prepare(t.Context(), Options{EditOptions: EditOptions{Backend: "cuda"}, File: filepath.Join(dir, "docker-compose.yml"), EnvFile: filepath.Join(dir, "prod.env")})
	if !errors.Is(err, ErrManual) || !strings.Contains(err.Error(), "prod.env") {
		t.Fatalf("missing --env-file: got %v", err)
	}
	// A tag variable whose .env value already carries a suffix.
	src := []byte("services:\n  immich-machine-learning:\n    image: ghcr.io/immich-app/immich-machine-learning:${IMMICH_VERSION:-release}\n")
	_, err = Edit(src, EditOptions{Backend: "openvino", Env: map[string]string{"IMMICH_VERSION": "release-cuda"}})
	if !errors.Is(err, ErrManual) || !strings.Contains(err.Error(), "comes from IMMICH_VERSION") {
		t.Fatalf("suffix inside the tag variable: got %v", err)
	}
}

// TestTemplateValues: template text only in values is edited when the file
// loads as Compose (see caddy-labels.yml in TestFixtures), and refused when
// it does not.
func TestTemplateValues(t *testing.T) {
	_, err := prepareCopy(t, "docker-compose.yml", readFixture(t, "template-values.yml"), Options{EditOptions: EditOptions{Backend: "cuda", Inline: true}}, nil)
	if !errors.Is(err, ErrNotCompose) || !strings.Contains(err.Error(), "holds template text (line 7)") {
		t.Fatalf("want ErrNotCompose naming line 7, got %v", err)
	}
	checkCleanError(t, err)
}

// TestEnvFileFlag: --env-file names the file Compose reads, which is the
// one changed.
func TestEnvFileFlag(t *testing.T) {
	dir := copyFixtureDir(t, "suffix-var")
	other := filepath.Join(dir, "prod.env")
	if err := os.WriteFile(other, []byte("IMMICH_VERSION=v2.4.0\nIMMICH_ML_VARIANT=-openvino\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dotenv := mustRead(t, filepath.Join(dir, ".env"))
	plan, err := Prepare(t.Context(), Options{EditOptions: EditOptions{Backend: "cuda", Inline: true}, File: filepath.Join(dir, "docker-compose.yml"), EnvFile: other,
		LookupEnv: func(k string) (string, bool) {
			if k == "IMMICH_ML_VARIANT" {
				return "-rocm", true
			}
			return "", false
		}})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Changes) != 2 || plan.Changes[1].Path != other {
		t.Fatalf("want the compose file and %s changed, got %+v", other, plan.Changes)
	}
	if !strings.Contains(plan.Changes[1].Diff, "-IMMICH_ML_VARIANT=-openvino\n+IMMICH_ML_VARIANT=-cuda\n") {
		t.Errorf("diff:\n%s", plan.Changes[1].Diff)
	}
	if !strings.Contains(strings.Join(plan.Notes, "\n"), `IMMICH_ML_VARIANT is set in this shell's environment (to "-rocm"), which overrides`) {
		t.Errorf("no note about the process environment: %q", plan.Notes)
	}
	if _, err := plan.Write(WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustRead(t, filepath.Join(dir, ".env")), dotenv) {
		t.Errorf(".env changed although --env-file named another file")
	}
	// COMPOSE_ENV_FILES names it the same way; several files are refused.
	envs := func(v string) func(string) (string, bool) {
		return func(k string) (string, bool) { return v, k == "COMPOSE_ENV_FILES" }
	}
	plan, err = Prepare(t.Context(), Options{EditOptions: EditOptions{Backend: "rocm", Inline: true}, File: filepath.Join(dir, "docker-compose.yml"), LookupEnv: envs(other)})
	if err != nil || len(plan.Changes) != 2 || plan.Changes[1].Path != other {
		t.Fatalf("COMPOSE_ENV_FILES: %v %+v", err, plan)
	}
	_, err = Prepare(t.Context(), Options{EditOptions: EditOptions{Backend: "rocm", Inline: true}, File: filepath.Join(dir, "docker-compose.yml"), LookupEnv: envs(other + ",.env")})
	if !errors.Is(err, ErrManual) || !strings.Contains(err.Error(), "several env files") {
		t.Fatalf("COMPOSE_ENV_FILES with two files: %v", err)
	}
}

// TestEnvLocate checks the .env locator against compose-go's parser on
// the layouts it must edit in place.
func TestEnvLocate(t *testing.T) {
	for _, src := range []string{
		"A=1\nB=2",
		"# c\r\nexport A = 'x' # keep\r\nB=\"y\"\r\n",
		"A=\"multi\nline\"\nB=2\n",
		"A: yaml-style\nB=2 #c\n",
		"B=1\nB=2\n",
		"",
		"\ufeffB=1\n",
	} {
		f := &envFile{given: ".env"}
		if err := f.load([]byte(src)); err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		out, err := f.with([]EnvVar{{"B", "-cuda"}, {"NEW", "cuda"}})
		if err != nil {
			t.Errorf("%q: %v", src, err)
			continue
		}
		if !strings.HasSuffix(strings.TrimRight(string(out), "\r\n"), "NEW=cuda") {
			t.Errorf("%q: NEW not appended: %q", src, out)
		}
	}
	// In place, byte for byte around the value.
	for src, want := range map[string]string{
		"\ufeffB=1\n":                      "\ufeffB=-cuda\n",
		"# c\r\nexport B = 'x' # keep\r\n": "# c\r\nexport B = '-cuda' # keep\r\n",
		"B=1\nB=2":                         "B=1\nB=-cuda",
		"B\n":                              "B=-cuda\n",
	} {
		f := &envFile{given: ".env"}
		if err := f.load([]byte(src)); err != nil {
			t.Fatal(err)
		}
		if out, err := f.with([]EnvVar{{"B", "-cuda"}}); err != nil || string(out) != want {
			t.Errorf("%q: got %q (%v), want %q", src, out, err, want)
		}
	}
	// A value over several lines is not rewritten.
	f := &envFile{given: ".env"}
	if err := f.load([]byte("B=\"a\nb\"\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.with([]EnvVar{{"B", "x"}}); !errors.Is(err, ErrManual) {
		t.Errorf("multi-line value: want ErrManual, got %v", err)
	}
}

// TestUpstreamWithExampleEnv edits each of Immich's compose files next to
// the example.env of its release (or the newest one before it), as people
// install them: the edit is validated with that .env, leaves it alone, and
// what doctor then reads is the accelerated image.
func TestUpstreamWithExampleEnv(t *testing.T) {
	dir := sharedDir(t, "upstream", "immich")
	if dir == "" {
		return
	}
	composes, _ := filepath.Glob(filepath.Join(dir, "docker-compose.v*.yml"))
	envs, _ := filepath.Glob(filepath.Join(dir, "example.v*.env"))
	if len(composes) == 0 || len(envs) == 0 {
		t.Fatalf("no compose files or example.env in %s", dir)
	}
	version := func(p, prefix, ext string) [3]int {
		var v [3]int
		s := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), prefix), ext)
		for i, f := range strings.SplitN(s, ".", 3) {
			fmt.Sscan(f, &v[i])
		}
		return v
	}
	less := func(a, b [3]int) bool {
		for i := range a {
			if a[i] != b[i] {
				return a[i] < b[i]
			}
		}
		return false
	}
	for _, c := range composes {
		cv := version(c, "docker-compose.v", ".yml")
		env := ""
		for _, e := range envs {
			ev := version(e, "example.v", ".env")
			if !less(cv, ev) && (env == "" || less(version(env, "example.v", ".env"), ev)) {
				env = e
			}
		}
		if env == "" {
			continue
		}
		t.Run(filepath.Base(c)+"+"+filepath.Base(env), func(t *testing.T) {
			for _, inline := range []bool{false, true} {
				plan, err := prepareCopy(t, "docker-compose.yml", mustRead(t, c), Options{EditOptions: EditOptions{Backend: accel.CUDA, Inline: inline}},
					map[string][]byte{".env": mustRead(t, env)})
				if bytes.Contains(mustRead(t, c), []byte("altran1502/")) {
					// The legacy image has no accelerated variants.
					if !errors.Is(err, ErrManual) || !strings.Contains(err.Error(), "legacy image") {
						t.Errorf("legacy image: want ErrManual, got %v", err)
					}
					return
				}
				if err != nil {
					t.Fatalf("inline=%v: %v", inline, err)
				}
				if v := plan.Validation; v == nil || !v.Checked || !v.Interpolated {
					t.Errorf("inline=%v: not validated with the .env: %+v", inline, v)
				}
				for _, ch := range plan.Changes {
					if filepath.Base(ch.Path) == ".env" {
						t.Errorf("inline=%v: the .env would change:\n%s", inline, ch.Diff)
					}
				}
				if _, err := plan.Write(WriteOptions{NoBackup: true}); err != nil {
					t.Fatal(err)
				}
				in, err := InspectFile(plan.File)
				if err != nil {
					t.Fatal(err)
				}
				if in.ImageSuffix != "cuda" || in.EnvFile == "" || !strings.HasSuffix(in.ImageResolved, "-cuda") {
					t.Errorf("inline=%v: InspectFile reads suffix %q, image %q, env %q", inline, in.ImageSuffix, in.ImageResolved, in.EnvFile)
				}
			}
		})
	}
}

// FuzzEnvWith feeds arbitrary env files to the .env editor: it must never
// panic, and whatever it returns must read back, with compose-go, as the
// original with the variables set (which with() itself checks).
func FuzzEnvWith(f *testing.F) {
	for _, s := range []string{"A=1\nB=2", "# c\r\nexport B = 'x' # keep\r\n", "B=\"a\nb\"\n", "B\n", "\ufeffB=1", "B: x\nB=\"y\" C=1\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		e := &envFile{given: ".env"}
		if e.load(src) != nil {
			return
		}
		out, err := e.with([]EnvVar{{"B", "-cuda"}, {"IMMICH_ML_VARIANT", "-rocm"}})
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("not a compose.Error: %v", err)
			}
			return
		}
		back := &envFile{given: ".env"}
		if err := back.load(out); err != nil || back.vars["B"] != "-cuda" {
			t.Fatalf("%q -> %q: B=%q (%v)", src, out, back.vars["B"], err)
		}
	})
}

// TestVariableShapes: each shape of variable, the value it gets (in its
// own shape), and the refusals.
func TestVariableShapes(t *testing.T) {
	const ml = "services:\n  immich-machine-learning:\n    image: %s\n"
	const ext = "services:\n  immich-machine-learning:\n    image: ghcr.io/immich-app/immich-machine-learning:release-cuda\n    extends:\n      file: hwaccel.ml.yml\n      service: %s\n"
	tests := []struct {
		name, src string
		backend   accel.Backend
		env       map[string]string
		drop      bool
		want      []EnvVar // variables set
		image     string   // the image line after the edit, when it changes
		errHas    string
	}{
		{name: "suffix variable set, switched", src: fmt.Sprintf(ml, "ghcr.io/immich-app/immich-machine-learning:${IMMICH_VERSION:-release}${V:-}"),
			backend: accel.OpenVINO, env: map[string]string{"V": "-cuda"}, want: []EnvVar{{"V", "-openvino"}}},
		{name: "unbraced suffix variable", src: fmt.Sprintf(ml, "ghcr.io/immich-app/immich-machine-learning:${IMMICH_VERSION:-release}$ML"),
			backend: accel.ROCm, want: []EnvVar{{"ML", "-rocm"}}},
		{name: "suffix variable to cpu", src: fmt.Sprintf(ml, "ghcr.io/immich-app/immich-machine-learning:release${V}"),
			backend: accel.CPU, env: map[string]string{"V": "-cuda"}, want: []EnvVar{{"V", ""}}},
		{name: "+ without colon cannot give no suffix", src: fmt.Sprintf(ml, "ghcr.io/immich-app/immich-machine-learning:release${X+-$X}"),
			backend: accel.CPU, env: map[string]string{"X": "cuda"}, errHas: "no value of X gives a tag ending in no suffix"},
		{name: "whole image set in .env, to cpu", src: fmt.Sprintf(ml, "${IMG:-ghcr.io/immich-app/immich-machine-learning:release}"),
			backend: accel.CPU, env: map[string]string{"IMG": "ghcr.io/immich-app/immich-machine-learning:v2.3.1-cuda"}, want: []EnvVar{{"IMG", "ghcr.io/immich-app/immich-machine-learning:v2.3.1"}}},
		{name: "whole image pinned by digest", src: fmt.Sprintf(ml, "${IMG}"),
			backend: accel.CUDA, env: map[string]string{"IMG": "ghcr.io/immich-app/immich-machine-learning:v2.3.1@sha256:0123"}, errHas: "IMG in .env is pinned by digest"},
		{name: "whole image pinned by digest, dropped", src: fmt.Sprintf(ml, "${IMG}"), drop: true,
			backend: accel.CUDA, env: map[string]string{"IMG": "ghcr.io/immich-app/immich-machine-learning:v2.3.1@sha256:0123"}, want: []EnvVar{{"IMG", "ghcr.io/immich-app/immich-machine-learning:v2.3.1-cuda"}}},
		{name: "whole image unset without default", src: fmt.Sprintf(ml, "${IMG}"),
			backend: accel.CUDA, errHas: "comes entirely from IMG, which is not set and has no default"},
		{name: "whole image default with a suffix", src: fmt.Sprintf(ml, "${IMG:-ghcr.io/immich-app/immich-machine-learning:release-cuda}"),
			backend: accel.OpenVINO, errHas: "already carries a tag suffix or digest"},
		{name: "suffix after the whole image, switched", src: fmt.Sprintf(ml, "${IMG:-ghcr.io/immich-app/immich-machine-learning:release}-cuda"),
			backend: accel.ARMNN, image: "${IMG:-ghcr.io/immich-app/immich-machine-learning:release}-armnn"},
		{name: "suffix after a whole image that has one itself", src: fmt.Sprintf(ml, "${IMG:-ghcr.io/immich-app/immich-machine-learning:release}-cuda"),
			backend: accel.ARMNN, env: map[string]string{"IMG": "ghcr.io/immich-app/immich-machine-learning:release-rocm"}, errHas: "already carries a suffix"},
		{name: "unbraced extends variable", src: fmt.Sprintf(ext, "$HW"), backend: accel.CUDA, want: []EnvVar{{"HW", "cuda"}}},
		{name: "required extends variable", src: fmt.Sprintf(ext, "${HW:?set HW}"), backend: accel.CUDA, want: []EnvVar{{"HW", "cuda"}}},
		{name: "extends variable with more text", src: fmt.Sprintf(ext, "gpu-${HW}"), backend: accel.CUDA, errHas: "in a form immich-accel does not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Edit([]byte(tt.src), EditOptions{Backend: tt.backend, Inline: true, Env: tt.env, DropDigest: tt.drop})
			if strings.Contains(tt.src, "extends:") {
				res, err = Edit([]byte(tt.src), EditOptions{Backend: tt.backend, Env: tt.env, DropDigest: tt.drop})
			}
			if tt.errHas != "" {
				if !errors.Is(err, ErrManual) || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("want ErrManual with %q, got %v", tt.errHas, err)
				}
				checkCleanError(t, err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Env) != len(tt.want) || (len(tt.want) > 0 && res.Env[0] != tt.want[0]) {
				t.Errorf("sets %+v, want %+v", res.Env, tt.want)
			}
			if tt.image != "" && !strings.Contains(string(res.Output), "image: "+tt.image+"\n") {
				t.Errorf("image line:\n%s", res.Output)
			}
		})
	}
}
