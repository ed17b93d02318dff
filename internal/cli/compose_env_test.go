package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// envStack copies testdata/compose/env/<name> into a fresh directory.
func envStack(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("../../testdata/compose/env", name)
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

// TestComposeEnvVariable: a suffix chosen in .env is set there; the dry
// run shows both diffs, the write keeps a backup of each, and a variable
// set in the shell is pointed out.
func TestComposeEnvVariable(t *testing.T) {
	dir := envStack(t, "suffix-var")
	f, _, out, errOut := newComposeFactory(t, dir, nil)
	f.LookupEnv = func(k string) (string, bool) {
		if k == "IMMICH_ML_VARIANT" {
			return "", true
		}
		return "", false
	}
	if code := Run(context.Background(), f, []string{"compose", "-b", "cuda", "--inline", "--dry-run", "--no-detect"}); code != ExitChanges {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"+++ b/docker-compose.yml", "+++ b/.env", "-IMMICH_ML_VARIANT=\n+IMMICH_ML_VARIANT=-cuda\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut.String(), "IMMICH_ML_VARIANT is set in this shell's environment") {
		t.Errorf("no note about the shell's variable: %s", errOut)
	}
	f, _, _, errOut = newComposeFactory(t, dir, nil)
	if code := Run(context.Background(), f, []string{"compose", "-b", "cuda", "--inline", "--yes", "--no-detect"}); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, b := range []string{"docker-compose.yml.bak", ".env.bak"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil || !strings.Contains(errOut.String(), "backup: "+filepath.Join(dir, b)) {
			t.Errorf("backup %s: %v\n%s", b, err, errOut)
		}
	}
	env, _ := os.ReadFile(filepath.Join(dir, ".env"))
	if !strings.Contains(string(env), "\nIMMICH_ML_VARIANT=-cuda\n") {
		t.Errorf(".env not written: %s", env)
	}
	// --env-file names another file, which is the one changed.
	other := filepath.Join(dir, "prod.env")
	if err := os.WriteFile(other, []byte("IMMICH_ML_VARIANT=-cuda\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, _, out, errOut = newComposeFactory(t, dir, nil)
	if code := Run(context.Background(), f, []string{"compose", "-b", "openvino", "--inline", "--dry-run", "--no-detect", "--env-file", other}); code != ExitChanges {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out.String(), "+++ b/prod.env\n@@ -1 +1 @@\n-IMMICH_ML_VARIANT=-cuda\n+IMMICH_ML_VARIANT=-openvino\n") {
		t.Errorf("--env-file diff:\n%s", out)
	}
}

// TestComposeEnvInUI: a Portainer stack's variables live in Portainer, so
// compose says what to set there instead of writing a file.
func TestComposeEnvInUI(t *testing.T) {
	dir := envStack(t, "portainer-var")
	stackEnv, _ := os.ReadFile(filepath.Join(dir, "stack.env"))
	// Inline first (what Portainer needs), then the variable alone.
	f, _, _, errOut := newComposeFactory(t, dir, nil)
	if code := Run(context.Background(), f, []string{"compose", "-b", "cuda", "--inline", "--yes", "--no-detect"}); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut.String(), "set ML_VARIANT=-cuda in Portainer") {
		t.Errorf("no Portainer instruction: %s", errOut)
	}
	f, _, out, errOut := newComposeFactory(t, dir, nil)
	if code := Run(context.Background(), f, []string{"compose", "-b", "cuda", "--inline", "--dry-run", "--no-detect", "--json"}); code != ExitChanges {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep composeReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.SetInUI) != 1 || rep.SetInUI[0].Name != "ML_VARIANT" || rep.SetInUI[0].Value != "-cuda" || rep.Changed {
		t.Errorf("setInUI %+v changed %v", rep.SetInUI, rep.Changed)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "stack.env")); string(got) != string(stackEnv) {
		t.Errorf("stack.env was written")
	}
	if _, err := os.Stat(filepath.Join(dir, ".env")); err == nil {
		t.Errorf("a .env was created for a Portainer stack")
	}
}
