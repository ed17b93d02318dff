package compose

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"

	"github.com/immich-accel/immich-accel/pkg/accel"
)

const fixtures = "../../testdata/compose"

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkGolden compares got with the golden file, or rewrites it with -update.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/compose -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s:\n%s", path, UnifiedDiff("golden", "got", want, got))
	}
}

func TestFixtures(t *testing.T) {
	armHost := Host{Known: true, LibMaliPath: "/usr/lib/aarch64-linux-gnu/libmali.so.1", MaliFirmware: false}
	tests := []struct {
		name    string
		fixture string
		opts    EditOptions
		wantErr error  // sentinel, when an error is expected
		errHas  string // part of the message
	}{
		{name: "basic-cuda", fixture: "basic.yml", opts: EditOptions{Backend: "cuda"}},
		{name: "basic-cuda-inline", fixture: "basic.yml", opts: EditOptions{Backend: "cuda", Inline: true}},
		{name: "basic-openvino-wsl-host", fixture: "basic.yml", opts: EditOptions{Backend: "openvino", Host: Host{Known: true, WSL: true}}},
		{name: "basic-armnn-inline-host", fixture: "basic.yml", opts: EditOptions{Backend: "armnn", Inline: true, Host: armHost}},
		{name: "basic-cpu", fixture: "basic.yml", opts: EditOptions{Backend: "cpu"}},
		{name: "four-space-cuda", fixture: "four-space.yml", opts: EditOptions{Backend: "cuda"}},
		{name: "four-space-rknn-inline", fixture: "four-space.yml", opts: EditOptions{Backend: "rknn", Inline: true}},
		{name: "four-space-cpu", fixture: "four-space.yml", opts: EditOptions{Backend: "cpu"}},
		{name: "crlf-openvino-inline", fixture: "crlf.yml", opts: EditOptions{Backend: "openvino", Inline: true}},
		{name: "crlf-cuda", fixture: "crlf.yml", opts: EditOptions{Backend: "cuda"}},
		{name: "anchors-rknn-inline", fixture: "anchors.yml", opts: EditOptions{Backend: "rknn", Inline: true}},
		{name: "anchors-cuda", fixture: "anchors.yml", opts: EditOptions{Backend: "cuda"}},
		{name: "flow-rknn-inline", fixture: "flow.yml", opts: EditOptions{Backend: "rknn", Inline: true}},
		{name: "flow-cuda", fixture: "flow.yml", opts: EditOptions{Backend: "cuda"}},
		{name: "compact-rocm-inline", fixture: "compact.yml", opts: EditOptions{Backend: "rocm", Inline: true}},
		{name: "compact-cuda-gpus-inline", fixture: "compact.yml", opts: EditOptions{Backend: "cuda", Inline: true, GPUs: []string{"0", "1"}}},
		{name: "digest-cuda", fixture: "digest.yml", opts: EditOptions{Backend: "cuda"}, wantErr: ErrManual, errHas: "pinned by digest"},
		{name: "digest-cuda-drop", fixture: "digest.yml", opts: EditOptions{Backend: "cuda", DropDigest: true}},
		{name: "inline-openvino-to-cuda", fixture: "inline-openvino.yml", opts: EditOptions{Backend: "cuda", Inline: true}},
		{name: "inline-openvino-to-rocm", fixture: "inline-openvino.yml", opts: EditOptions{Backend: "rocm", Inline: true}},
		{name: "inline-openvino-to-cpu", fixture: "inline-openvino.yml", opts: EditOptions{Backend: "cpu", Inline: true}},
		{name: "inline-openvino-to-extends", fixture: "inline-openvino.yml", opts: EditOptions{Backend: "openvino"}},
		{name: "swarm-cuda-inline", fixture: "swarm.yml", opts: EditOptions{Backend: "cuda", Inline: true}},
		{name: "unicode-armnn-inline", fixture: "unicode.yml", opts: EditOptions{Backend: "armnn", Inline: true}},
		{name: "unicode-rocm", fixture: "unicode.yml", opts: EditOptions{Backend: "rocm"}},
		{name: "hwaccel-var-inline", fixture: "hwaccel-var.yml", opts: EditOptions{Backend: "cuda", Inline: true}},
		{name: "build", fixture: "build.yml", opts: EditOptions{Backend: "cuda"}, wantErr: ErrManual, errHas: "DEVICE=cpu"},
		{name: "k8s", fixture: "k8s.yml", opts: EditOptions{Backend: "cuda"}, wantErr: ErrNotCompose, errHas: "Kubernetes manifest (kind: Deployment)"},
		{name: "jinja", fixture: "jinja.yml", opts: EditOptions{Backend: "cuda"}, wantErr: ErrNotCompose, errHas: "Jinja template"},
		{name: "caddy-labels-cuda", fixture: "caddy-labels.yml", opts: EditOptions{Backend: "cuda"}},
		{name: "caddy-labels-openvino-inline", fixture: "caddy-labels.yml", opts: EditOptions{Backend: "openvino", Inline: true}},
		{name: "helm-keys", fixture: "helm-keys.yml", opts: EditOptions{Backend: "cuda"}, wantErr: ErrNotCompose, errHas: "template syntax in a key or the file's structure (line 2)"},
		{name: "template-image", fixture: "template-image.yml", opts: EditOptions{Backend: "cuda"}, wantErr: ErrNotCompose, errHas: "is template text"},
		{name: "override", fixture: "override.yml", opts: EditOptions{Backend: "cuda"}, wantErr: ErrNoMLService, errHas: "override file"},
		{name: "two-ml", fixture: "two-ml.yml", opts: EditOptions{Backend: "cuda"}, wantErr: ErrSeveralMLServices, errHas: "ml-a, ml-b"},
		{name: "two-ml-service", fixture: "two-ml.yml", opts: EditOptions{Backend: "cuda", Service: "ml-b"}},
		{name: "anchor-service", fixture: "anchor-service.yml", opts: EditOptions{Backend: "cuda"}, wantErr: ErrSeveralMLServices, errHas: "immich-machine-learning, immich-machine-learning-2"},
		{name: "anchor-service-named", fixture: "anchor-service.yml", opts: EditOptions{Backend: "cuda", Service: "immich-machine-learning"}, wantErr: ErrManual, errHas: "the anchor &ml"},
		{name: "anchor-list-inline", fixture: "anchor-list.yml", opts: EditOptions{Backend: "armnn", Inline: true}, wantErr: ErrManual, errHas: "alias"},
		{name: "anchor-list-extends", fixture: "anchor-list.yml", opts: EditOptions{Backend: "openvino"}},
		{name: "commented-in-list-cuda", fixture: "commented-in-list.yml", opts: EditOptions{Backend: "cuda"}},
		{name: "two-sections-cuda-inline", fixture: "two-sections.yml", opts: EditOptions{Backend: "cuda", Inline: true}},
		{name: "two-sections-rocm-inline", fixture: "two-sections.yml", opts: EditOptions{Backend: "rocm", Inline: true}},
		{name: "two-sections-openvino", fixture: "two-sections.yml", opts: EditOptions{Backend: "openvino"}},
		{name: "legacy", fixture: "legacy.yml", opts: EditOptions{Backend: "openvino"}, wantErr: ErrManual, errHas: "legacy image altran1502/immich-machine-learning:release"},
		{name: "no-ml", fixture: "no-ml.yml", opts: EditOptions{Backend: "cuda"}, wantErr: ErrNoMLService, errHas: "services in the file: database, immich-server, redis; immich-server sends machine learning to http://gpu-box:3003"},
		{name: "hwaccel-as-compose", fixture: "../../templates/hwaccel.ml.yml", opts: EditOptions{Backend: "cuda"}, wantErr: ErrNoMLService, errHas: "hwaccel.ml.yml-style file"},
		{name: "bad-backend", fixture: "basic.yml", opts: EditOptions{Backend: "tpu"}, wantErr: ErrManual, errHas: "unknown backend"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := readFixture(t, tt.fixture)
			res, err := Edit(src, tt.opts)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("want error %v, got none", tt.wantErr)
				}
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("want %v containing %q, got %v", tt.wantErr, tt.errHas, err)
				}
				var e *Error
				if !errors.As(err, &e) || e.Fix == "" {
					t.Errorf("error has no fix: %#v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join(fixtures, tt.name+".golden.yml"), res.Output)
			// Idempotent: the same command again changes nothing.
			again, err := Edit(res.Output, tt.opts)
			if err != nil {
				t.Fatalf("second run: %v", err)
			}
			if again.Changed {
				t.Errorf("second run changes the output:\n%s", UnifiedDiff("first", "second", res.Output, again.Output))
			}
			checkPreserved(t, src, res.Output)
			// The result validates with compose-go.
			plan, err := prepareCopy(t, "docker-compose.yml", src, Options{EditOptions: tt.opts}, nil)
			if err != nil {
				t.Fatalf("prepare: %v", err)
			}
			if plan.Validation == nil || !plan.Validation.Checked {
				t.Errorf("not validated: %+v", plan.Validation)
			}
		})
	}
}

// checkPreserved checks what the edit must keep: line endings, the final
// newline, every comment line and every line outside the ML changes.
func checkPreserved(t *testing.T, src, out []byte) {
	t.Helper()
	if bytes.Contains(src, []byte("\r\n")) {
		if n := bytes.Count(out, []byte("\n")) - bytes.Count(out, []byte("\r\n")); n != 0 {
			t.Errorf("%d lines lost their CRLF ending", n)
		}
	}
	if (len(src) > 0 && src[len(src)-1] == '\n') != (len(out) > 0 && out[len(out)-1] == '\n') {
		t.Errorf("final newline changed")
	}
	// Every comment of the original is still there, possibly uncommented
	// (Immich's extends block).
	for _, l := range strings.Split(string(src), "\n") {
		tr := strings.TrimSpace(l)
		if strings.HasPrefix(tr, "#") && !bytes.Contains(out, []byte(strings.TrimRight(l, "\r"))) {
			c, _ := commentText(tr)
			if !strings.HasPrefix(c, "extends:") && !strings.HasPrefix(c, "file:") && !strings.HasPrefix(c, "service:") {
				t.Errorf("comment line lost: %q", l)
			}
		}
	}
}

func TestWritesHwaccelFileWhenMissing(t *testing.T) {
	src := readFixture(t, "basic.yml")
	plan, err := prepareCopy(t, "docker-compose.yml", src, Options{EditOptions: EditOptions{Backend: "rocm"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Changes) != 2 || !plan.Changes[1].Create || filepath.Base(plan.Changes[1].Path) != "hwaccel.ml.yml" {
		t.Fatalf("want the compose change and a new hwaccel.ml.yml, got %+v", plan.Changes)
	}
	if !strings.HasPrefix(plan.Changes[1].Diff, "--- /dev/null\n+++ b/hwaccel.ml.yml\n") {
		t.Errorf("diff of the new file: %q", firstLine(plan.Changes[1].Diff))
	}
	if _, err := plan.Write(WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(plan.Changes[1].Path)
	if err != nil {
		t.Fatal(err)
	}
	secs, err := loadSections(got)
	if err != nil || secs.get("rocm") == nil {
		t.Fatalf("written hwaccel.ml.yml has no rocm section: %v", err)
	}
	// Second run: nothing to change, the existing file is kept.
	plan2, err := Prepare(t.Context(), Options{EditOptions: EditOptions{Backend: "rocm"}, File: plan.File})
	if err != nil {
		t.Fatal(err)
	}
	if plan2.Changed() {
		t.Errorf("second run wants changes: %+v", plan2.Changes)
	}
}

func TestKeepsUsersHwaccelFile(t *testing.T) {
	src := readFixture(t, "basic.yml")
	old := []byte("services:\n  cpu: {}\n  cuda:\n    deploy:\n      resources:\n        reservations:\n          devices:\n            - driver: nvidia\n              count: all\n              capabilities: [gpu]\n")
	plan, err := prepareCopy(t, "docker-compose.yml", src, Options{EditOptions: EditOptions{Backend: "cuda"}}, map[string][]byte{"hwaccel.ml.yml": old})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Changes) != 1 {
		t.Fatalf("the user's hwaccel.ml.yml must not be rewritten: %+v", plan.Changes)
	}
	if !strings.Contains(strings.Join(plan.Notes, "\n"), "kept your hwaccel.ml.yml") {
		t.Errorf("notes do not say the file was kept: %q", plan.Notes)
	}
	// A section the user's file lacks is a clear error.
	_, err = prepareCopy(t, "docker-compose.yml", src, Options{EditOptions: EditOptions{Backend: "rocm"}}, map[string][]byte{"hwaccel.ml.yml": old})
	if !errors.Is(err, ErrManual) || !strings.Contains(err.Error(), "no rocm section") {
		t.Errorf("want a missing-section error, got %v", err)
	}
}

func TestWriteAtomicBackupModeSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "stacks", "immich.yml")
	if err := os.MkdirAll(filepath.Dir(real), 0o755); err != nil {
		t.Fatal(err)
	}
	src := readFixture(t, "basic.yml")
	if err := os.WriteFile(real, src, 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "docker-compose.yml")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	plan, err := Prepare(t.Context(), Options{EditOptions: EditOptions{Backend: "cuda", Inline: true}, File: link})
	if err != nil {
		t.Fatal(err)
	}
	w, err := plan.Write(WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the symlink was replaced: %v", err)
	}
	st, err := os.Stat(real)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", st.Mode().Perm())
	}
	got, _ := os.ReadFile(real)
	if !bytes.Contains(got, []byte("-cuda")) {
		t.Errorf("target not written")
	}
	bak, err := os.ReadFile(real + ".bak")
	if err != nil || !bytes.Equal(bak, src) || w.Backup != real+".bak" {
		t.Errorf("backup %q: %v", w.Backup, err)
	}
	// A second write keeps the first backup and makes a timestamped one.
	plan2, err := Prepare(t.Context(), Options{EditOptions: EditOptions{Backend: "cpu", Inline: true}, File: link})
	if err != nil {
		t.Fatal(err)
	}
	w2, err := plan2.Write(WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if w2.Backup == real+".bak" || !strings.HasSuffix(w2.Backup, ".bak") {
		t.Errorf("second backup %q overwrote the first", w2.Backup)
	}
	after, _ := os.ReadFile(real)
	if !bytes.Equal(after, src) {
		t.Errorf("cuda then cpu inline does not give back the original:\n%s", UnifiedDiff("orig", "after", src, after))
	}
	// No temporary files left behind.
	ents, _ := os.ReadDir(filepath.Dir(real))
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

// TestSymlinkExtendsFileNextToLink checks that a compose file reached
// through a symlink into another directory gets hwaccel.ml.yml next to the
// link: Compose resolves extends: from the directory of the path it is
// given, so a file next to the target would not be found.
func TestSymlinkExtendsFileNextToLink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "repo", "immich.yml")
	if err := os.MkdirAll(filepath.Dir(real), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(real, readFixture(t, "basic.yml"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "docker-compose.yml")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	plan, err := Prepare(t.Context(), Options{EditOptions: EditOptions{Backend: "cuda"}, File: link})
	if err != nil {
		t.Fatal(err)
	}
	if plan.File != real {
		t.Errorf("plan.File = %s, want the link's target %s", plan.File, real)
	}
	if !strings.Contains(strings.Join(plan.Notes, "\n"), "is a link to") {
		t.Errorf("notes do not mention the link: %q", plan.Notes)
	}
	if _, err := plan.Write(WriteOptions{NoBackup: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "hwaccel.ml.yml")); err != nil {
		t.Errorf("hwaccel.ml.yml not next to the link: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "repo", "hwaccel.ml.yml")); err == nil {
		t.Errorf("hwaccel.ml.yml written next to the link's target, where Compose does not look")
	}
	// Load through the link as docker compose does (env_file: .env is
	// next to the link too).
	if err := os.WriteFile(filepath.Join(dir, ".env"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	po, err := cli.NewProjectOptions([]string{link}, cli.WithEnv([]string{"UPLOAD_LOCATION=/srv/photos"}), cli.WithWorkingDirectory(""), cli.WithResolvedPaths(true))
	if err != nil {
		t.Fatal(err)
	}
	proj, err := po.LoadProject(t.Context())
	if err != nil {
		t.Fatalf("compose-go cannot load the result through the link: %v", err)
	}
	ml, err := proj.GetService(plan.Service)
	if err != nil {
		t.Fatal(err)
	}
	if ml.Deploy == nil || len(ml.Deploy.Resources.Reservations.Devices) != 1 || ml.Deploy.Resources.Reservations.Devices[0].Driver != "nvidia" {
		t.Errorf("%s has no nvidia reservation after loading through the link: %+v", plan.Service, ml.Deploy)
	}
}

// TestRelativeFileInSubdirectory checks that a relative path to a plain
// file in a subdirectory is not taken for a symlink (the directory of the
// path as given and of its resolved path are compared absolute), while a
// relative symlink into another directory still is.
func TestRelativeFileInSubdirectory(t *testing.T) {
	src := readFixture(t, "basic.yml")
	dir := t.TempDir()
	t.Chdir(dir)
	for _, d := range []string{"sub", "repo", "other"} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join("sub", "docker-compose.yml"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	plan, err := Prepare(t.Context(), Options{EditOptions: EditOptions{Backend: "cuda"}, File: "sub/docker-compose.yml"})
	if err != nil {
		t.Fatal(err)
	}
	if notes := strings.Join(plan.Notes, "\n"); strings.Contains(notes, "is a link to") {
		t.Errorf("a plain file is reported as a link:\n%s", notes)
	}
	if len(plan.Changes) != 2 || plan.Changes[1].Path != filepath.Join(dir, "sub", "hwaccel.ml.yml") {
		t.Errorf("want hwaccel.ml.yml planned in %s, got %+v", filepath.Join(dir, "sub"), plan.Changes)
	}

	if err := os.WriteFile(filepath.Join("repo", "immich.yml"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("..", "repo", "immich.yml"), filepath.Join("other", "docker-compose.yml")); err != nil {
		t.Fatal(err)
	}
	plan, err = Prepare(t.Context(), Options{EditOptions: EditOptions{Backend: "cuda"}, File: "other/docker-compose.yml"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(plan.Notes, "\n"), "other/docker-compose.yml is a link to repo/immich.yml") {
		t.Errorf("notes do not mention the relative link: %q", plan.Notes)
	}
	if len(plan.Changes) != 2 || plan.Changes[1].Path != filepath.Join(dir, "other", "hwaccel.ml.yml") {
		t.Errorf("want hwaccel.ml.yml planned next to the link, got %+v", plan.Changes)
	}
}

// TestWriteReportsDirectorySyncFailure checks that a failed fsync of the
// directory after the rename is an error (the file is in place but may
// not survive a crash), and that Written still lists what was renamed.
func TestWriteReportsDirectorySyncFailure(t *testing.T) {
	src := readFixture(t, "basic.yml")
	plan, err := prepareCopy(t, "docker-compose.yml", src, Options{EditOptions: EditOptions{Backend: "cuda", Inline: true}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	eio := errors.New("input/output error")
	w, err := plan.Write(WriteOptions{NoBackup: true, syncDir: func(string) error { return eio }})
	if !errors.Is(err, ErrNotDurable) || !errors.Is(err, eio) {
		t.Fatalf("want an error wrapping ErrNotDurable and the sync error, got %v", err)
	}
	if !strings.Contains(err.Error(), plan.File) {
		t.Errorf("the error does not name the file: %v", err)
	}
	if len(w.Files) != 1 || w.Files[0] != plan.File {
		t.Errorf("Written.Files = %q, want the renamed %s", w.Files, plan.File)
	}
	got, _ := os.ReadFile(plan.File)
	if !bytes.Equal(got, plan.Changes[0].New) {
		t.Errorf("the renamed file does not hold the new content")
	}
	// The backup is written first; its failed sync stops before the file.
	plan, err = prepareCopy(t, "docker-compose.yml", src, Options{EditOptions: EditOptions{Backend: "cuda", Inline: true}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err = plan.Write(WriteOptions{syncDir: func(string) error { return eio }})
	if !errors.Is(err, ErrNotDurable) || w.Backup != plan.File+".bak" || len(w.Files) != 0 {
		t.Errorf("backup sync failure: err %v, written %+v", err, w)
	}
	if got, _ := os.ReadFile(plan.File); !bytes.Equal(got, src) {
		t.Errorf("the compose file was written after its backup could not be synced")
	}
}

func TestWriteRefusesWhenChangedOnDisk(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "compose.yaml")
	src := readFixture(t, "basic.yml")
	if err := os.WriteFile(p, src, 0o644); err != nil {
		t.Fatal(err)
	}
	plan, err := Prepare(t.Context(), Options{EditOptions: EditOptions{Backend: "cuda", Inline: true}, File: p})
	if err != nil {
		t.Fatal(err)
	}
	edited := append(append([]byte{}, src...), []byte("# edited meanwhile\n")...)
	if err := os.WriteFile(p, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := plan.Write(WriteOptions{}); !errors.Is(err, ErrChangedOnDisk) {
		t.Fatalf("want ErrChangedOnDisk, got %v", err)
	}
	got, _ := os.ReadFile(p)
	if !bytes.Equal(got, edited) {
		t.Errorf("the file was overwritten")
	}
	if _, err := os.Stat(p + ".bak"); err == nil {
		t.Errorf("a backup was written although nothing was")
	}
}

func TestFindFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := FindFile(dir); !errors.Is(err, ErrNoComposeFile) {
		t.Fatalf("empty dir: %v", err)
	}
	for _, n := range []string{"docker-compose.yml", "compose.yml"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("services: {}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := FindFile(dir)
	if err != nil || filepath.Base(got) != "compose.yml" {
		t.Errorf("FindFile = %q, %v; want compose.yml (Compose's order)", got, err)
	}
	// Every name, added from last to first, wins over the ones after it;
	// a directory with the name does not count.
	dir2 := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir2, "compose.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := len(DefaultFileNames) - 1; i >= 0; i-- {
		n, want := DefaultFileNames[i], DefaultFileNames[i]
		if n == "compose.yaml" {
			want = DefaultFileNames[i+1] // the directory is skipped
		} else if err := os.WriteFile(filepath.Join(dir2, n), []byte("services: {}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := FindFile(dir2)
		if err != nil || filepath.Base(got) != want {
			t.Errorf("with %v: FindFile = %q, %v; want %s", DefaultFileNames[i:], got, err, want)
		}
	}
	if got := DefaultFileNames; strings.Join(got, ",") != "compose.yaml,compose.yml,docker-compose.yaml,docker-compose.yml" {
		t.Errorf("DefaultFileNames = %v, not Compose's order", got)
	}
}

func TestInspect(t *testing.T) {
	tests := []struct {
		fixture string
		want    Inspection
		problem string
	}{
		{"basic.yml", Inspection{Service: "immich-machine-learning", Mode: "none", ExtendsCommented: true}, ""},
		{"four-space.yml", Inspection{Service: "immich-machine-learning", Mode: "extends", Backend: "rocm", ImageSuffix: "rocm", ExtendsFile: "hwaccel.ml.yml"}, ""},
		{"inline-openvino.yml", Inspection{Service: "immich-machine-learning", Mode: "inline", Backend: "openvino", ImageSuffix: "openvino"}, ""},
		{"env-suffix.yml", Inspection{Service: "immich-machine-learning", Mode: "none", SuffixFromEnv: true}, ""},
		{"hwaccel-var.yml", Inspection{Service: "immich-machine-learning", Mode: "extends", Backend: "cpu", BackendFromEnv: true, ExtendsFile: "hwaccel.ml.yml"}, ""},
		{"digest.yml", Inspection{Service: "immich-machine-learning", Mode: "none"}, "image-digest-pinned"},
		{"two-ml.yml", Inspection{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			in, err := InspectFile(filepath.Join(fixtures, tt.fixture))
			if tt.want.Service == "" {
				if !errors.Is(err, ErrSeveralMLServices) {
					t.Fatalf("want ErrSeveralMLServices, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if in.Service != tt.want.Service || in.Mode != tt.want.Mode || in.Backend != tt.want.Backend ||
				in.ImageSuffix != tt.want.ImageSuffix || in.SuffixFromEnv != tt.want.SuffixFromEnv ||
				in.BackendFromEnv != tt.want.BackendFromEnv || in.ExtendsFile != tt.want.ExtendsFile ||
				in.ExtendsCommented != tt.want.ExtendsCommented {
				t.Errorf("got %+v\nwant %+v", *in, tt.want)
			}
			if tt.problem != "" {
				found := false
				for _, p := range in.Problems {
					found = found || string(p.ID) == tt.problem
				}
				if !found {
					t.Errorf("problem %s not reported: %+v", tt.problem, in.Problems)
				}
			}
		})
	}
}

func TestInspectProblems(t *testing.T) {
	// A -cuda tag without any section, and a missing extends file.
	dir := t.TempDir()
	p := filepath.Join(dir, "compose.yaml")
	src := "services:\n  immich-machine-learning:\n    image: ghcr.io/immich-app/immich-machine-learning:release-cuda\n"
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := InspectFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Problems) != 1 || in.Problems[0].ID != "suffix-without-section" {
		t.Errorf("problems: %+v", in.Problems)
	}
	src = "services:\n  immich-machine-learning:\n    image: ghcr.io/immich-app/immich-machine-learning:release\n    extends:\n      file: hwaccel.ml.yml\n      service: cuda\n"
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err = InspectFile(p)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, pr := range in.Problems {
		ids[string(pr.ID)] = true
	}
	if !ids["section-without-suffix"] || !ids["extends-file-missing"] || in.ExtendsFileFound {
		t.Errorf("problems: %+v", in.Problems)
	}
	// extends cuda plus an inlined openvino section.
	src = "services:\n  immich-machine-learning:\n    image: ghcr.io/immich-app/immich-machine-learning:release-cuda\n    extends:\n      file: hwaccel.ml.yml\n      service: cuda\n    device_cgroup_rules:\n      - 'c 189:* rmw'\n"
	in, err = Inspect([]byte(src), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Problems) != 1 || in.Problems[0].ID != "several-sections" || in.Backend != "cuda" || in.Mode != "extends" {
		t.Errorf("got %+v", in)
	}
}

func TestImageSuffix(t *testing.T) {
	tests := []struct {
		in, backend, want string
	}{
		{"ghcr.io/immich-app/immich-machine-learning:${IMMICH_VERSION:-release}", "cuda", "ghcr.io/immich-app/immich-machine-learning:${IMMICH_VERSION:-release}-cuda"},
		{"ghcr.io/immich-app/immich-machine-learning:${IMMICH_VERSION:-release}-cuda", "openvino-wsl", "ghcr.io/immich-app/immich-machine-learning:${IMMICH_VERSION:-release}-openvino"},
		{"ghcr.io/immich-app/immich-machine-learning:v2.7.5-openvino", "cpu", "ghcr.io/immich-app/immich-machine-learning:v2.7.5"},
		{"ghcr.io/immich-app/immich-machine-learning:$IMMICH_VERSION", "rocm", "ghcr.io/immich-app/immich-machine-learning:$IMMICH_VERSION-rocm"},
		{"${ML_IMAGE:-ghcr.io/immich-app/immich-machine-learning}:${ML_TAG:-release}", "rknn", "${ML_IMAGE:-ghcr.io/immich-app/immich-machine-learning}:${ML_TAG:-release}-rknn"},
		{"localhost:5000/immich-machine-learning:v3", "armnn", "localhost:5000/immich-machine-learning:v3-armnn"},
		{"ghcr.io/immich-app/immich-machine-learning:release-openvinowsl", "openvino", "ghcr.io/immich-app/immich-machine-learning:release-openvino"},
	}
	for _, tt := range tests {
		r := parseImage(tt.in)
		if got := r.withSuffix(accel.Backend(tt.backend).Suffix(), false); got != tt.want {
			t.Errorf("%s + %s = %s, want %s", tt.in, tt.backend, got, tt.want)
		}
	}
	if r := parseImage("x/immich-machine-learning:${V:-release}${S:-}"); !r.fromEnv {
		t.Errorf("suffix from env not recognised")
	}
	if r := parseImage("x/immich-machine-learning:v1@sha256:abc"); r.digest != "@sha256:abc" || r.tag != "v1" {
		t.Errorf("digest: %+v", r)
	}
}

func TestNotComposeFiles(t *testing.T) {
	tests := []struct{ src, has string }{
		{"", "empty"},
		{"- a\n- b\n", "without a top-level services"},
		{"services: [a]\n", "not a mapping"},
		{"services:\n  ml:\n    image: ghcr.io/immich-app/immich-machine-learning:release\n#@ if x:\n", "ytt"},
		{"image:\n  repository: ghcr.io/immich-app/immich-machine-learning\n  tag: release\n", "Helm"},
		{"images:\n  ml_image:\n    repository: ghcr.io/immich-app/immich-machine-learning\n    tag: v2.7.5\nimmich:\n  enable_ml: true\n", "TrueNAS app values"},
		{"services:\n  a: {\n", "not valid YAML"},
	}
	for _, tt := range tests {
		_, err := Edit([]byte(tt.src), EditOptions{Backend: "cuda"})
		if !errors.Is(err, ErrNotCompose) || !strings.Contains(err.Error(), tt.has) {
			t.Errorf("%q: want ErrNotCompose with %q, got %v", tt.src, tt.has, err)
		}
		// The advice about chart values is for chart values only.
		var ce *Error
		if errors.As(err, &ce) && strings.Contains(ce.Fix, "chart") != (tt.has == "Helm" || tt.has == "TrueNAS app values") {
			t.Errorf("%q: fix %q", tt.src, ce.Fix)
		}
	}
}

func TestTailoredHwaccelFile(t *testing.T) {
	src := readFixture(t, "basic.yml")
	host := Host{Known: true, LibMaliPath: "/usr/lib/aarch64-linux-gnu/libmali.so.1"}
	plan, err := prepareCopy(t, "docker-compose.yml", src, Options{EditOptions: EditOptions{Backend: "armnn", Host: host}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Changes) != 2 || !plan.Changes[1].Create {
		t.Fatalf("changes: %+v", plan.Changes)
	}
	hw := string(plan.Changes[1].New)
	if strings.Contains(hw, "mali_csffw.bin") || !strings.Contains(hw, "- /usr/lib/aarch64-linux-gnu/libmali.so.1:/usr/lib/libmali.so:ro") {
		t.Errorf("hwaccel.ml.yml not tailored:\n%s", hw)
	}
	// Only the armnn lines differ from Immich's file.
	if n := diffCost(defaultSections().src, plan.Changes[1].New); n != 2 {
		t.Errorf("tailoring touched %d lines of hwaccel.ml.yml, want 2", n)
	}
	if plan.Validation == nil || !plan.Validation.Checked {
		t.Errorf("not validated: %+v", plan.Validation)
	}
	// Extends with the tailored file and inline with the same host give the
	// same service.
	ext := newContent(plan, src)
	inl, err := Edit(src, EditOptions{Backend: "armnn", Inline: true, Host: host})
	if err != nil {
		t.Fatal(err)
	}
	m1 := effectiveWith(t, ext, plan.Changes[1].New)
	m2 := effectiveWith(t, inl.Output, nil)
	if !equalJSON(m1, m2) {
		t.Errorf("extends and inline differ: %s", firstDiff(m1, m2))
	}
}

func TestParseCheckCatchesOtherServiceChanges(t *testing.T) {
	src := readFixture(t, "basic.yml")
	bad := bytes.Replace(src, []byte("image: docker.io/valkey/valkey:8"), []byte("image: docker.io/valkey/valkey:9"), 1)
	err := parseCheck(t.Context(), src, bad, "immich-machine-learning", "/srv/stack")
	if !errors.Is(err, ErrValidation) || !strings.Contains(err.Error(), `service "redis"`) {
		t.Errorf("want a validation error about redis, got %v", err)
	}
	if err := parseCheck(t.Context(), src, src, "immich-machine-learning", "/srv/stack"); err != nil {
		t.Errorf("unchanged file: %v", err)
	}
	if err := parseCheck(t.Context(), src, []byte("services: [\n"), "immich-machine-learning", "/srv/stack"); !errors.Is(err, ErrValidation) {
		t.Errorf("unreadable result: %v", err)
	}
}

// TestSuffixVarFix checks that the advice for a tag suffix taken from a
// variable names the variable and the value that gives the backend's
// suffix, for the forms users write.
func TestSuffixVarFix(t *testing.T) {
	tests := []struct {
		expr, suffix, want string
	}{
		{"${ML_VARIANT:-}", "cuda", "Set ML_VARIANT=-cuda in your .env file"},
		{"${IMMICH_ML_VARIANT:-}", "", "Leave IMMICH_ML_VARIANT empty in your .env file (IMMICH_ML_VARIANT=)"},
		{"$ML_SUFFIX", "openvino", "Set ML_SUFFIX=-openvino"},
		{"${ML_SUFFIX}", "rknn", "Set ML_SUFFIX=-rknn"},
		{"${ML_SUFFIX-}", "armnn", "Set ML_SUFFIX=-armnn"},
		{"${ML_HARDWARE_ACCELERATOR:+-$ML_HARDWARE_ACCELERATOR}", "cuda", "Set ML_HARDWARE_ACCELERATOR=cuda in"},
		{"${ACCEL:+-${ACCEL}}", "rocm", "Set ACCEL=rocm in"},
		{"${ACCEL:+-${ACCEL}}", "", "Leave ACCEL empty"},
		{"${GPU:+-cuda}", "openvino", "tag must end in -openvino"},
		{"${ML_SUFFIX:?set it}", "cuda", "tag must end in -cuda"},
	}
	for _, tt := range tests {
		if got := suffixVarFix(tt.expr, tt.suffix); !strings.Contains(got, tt.want) {
			t.Errorf("suffixVarFix(%q, %q) = %q, want it to contain %q", tt.expr, tt.suffix, got, tt.want)
		}
	}
	// Through Edit, on fixtures: the variable is set, in the variable's
	// own shape, and the compose file is left alone.
	for fixture, want := range map[string]EnvVar{"env-suffix.yml": {"ML_VARIANT", "-cuda"}, "env-suffix-alt.yml": {"ML_ACCEL", "cuda"}} {
		res, err := Edit(readFixture(t, fixture), EditOptions{Backend: "cuda", Inline: true, Env: map[string]string{"IMMICH_VERSION": "v2.3.1"}})
		if err != nil {
			t.Fatalf("%s: %v", fixture, err)
		}
		if len(res.Env) != 1 || res.Env[0] != want {
			t.Errorf("%s: sets %+v, want %+v", fixture, res.Env, want)
		}
	}
	// A suffix no value of the variable can give: explained, with the fix.
	src := []byte("services:\n  immich-machine-learning:\n    image: ghcr.io/immich-app/immich-machine-learning:release${GPU:+-cuda}\n")
	_, err := Edit(src, EditOptions{Backend: "openvino"})
	var ce *Error
	if !errors.As(err, &ce) || !errors.Is(err, ErrManual) || !strings.Contains(ce.Fix, "tag must end in -openvino") {
		t.Errorf("${GPU:+-cuda} to openvino: want ErrManual with a fix, got %v", err)
	}
}

// TestStackHints checks that stacks which cannot read a second file get a
// hint to use --inline in extends mode, naming the stack, and no hint
// with --inline, with cpu, or for a plain compose file.
func TestStackHints(t *testing.T) {
	for fixture, want := range map[string]string{
		"stack-portainer.yml": "a Portainer stack",
		"stack-unraid.yml":    "an Unraid stack",
		"stack-casaos.yml":    "a CasaOS app",
		"stack-runtipi.yml":   "a runtipi app",
		"basic.yml":           "",
	} {
		t.Run(fixture, func(t *testing.T) {
			src := readFixture(t, fixture)
			plan, err := prepareCopy(t, "docker-compose.yml", src, Options{EditOptions: EditOptions{Backend: "cuda"}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			notes := strings.Join(plan.Notes, "\n")
			if want == "" {
				if strings.Contains(notes, "--inline") {
					t.Errorf("hint for a plain compose file: %q", plan.Notes)
				}
				return
			}
			if !strings.Contains(notes, "this looks like "+want) || !strings.Contains(notes, "re-run with --inline") {
				t.Errorf("notes %q do not name %q with the --inline hint", plan.Notes, want)
			}
			for _, eo := range []EditOptions{{Backend: "cuda", Inline: true}, {Backend: "cpu"}} {
				plan, err := prepareCopy(t, "docker-compose.yml", src, Options{EditOptions: eo}, nil)
				if err != nil {
					t.Fatal(err)
				}
				if n := strings.Join(plan.Notes, "\n"); strings.Contains(n, "re-run with --inline") {
					t.Errorf("%+v: hint although not needed: %q", eo, plan.Notes)
				}
			}
			// Inline mode edits these stacks.
			plan, err = prepareCopy(t, "docker-compose.yml", src, Options{EditOptions: EditOptions{Backend: "cuda", Inline: true}}, nil)
			if err != nil || plan.Validation == nil || !plan.Validation.Checked {
				t.Errorf("inline edit not checked: %v %+v", err, plan)
			}
		})
	}
}

// TestNoMLServiceSaysWhereMLIs checks that a file without an ML service
// says so, and what the server's IMMICH_MACHINE_LEARNING_URL tells.
func TestNoMLServiceSaysWhereMLIs(t *testing.T) {
	tests := []struct{ src, has, fix string }{
		{"services:\n  immich-server:\n    image: ghcr.io/immich-app/immich-server:release\n    environment:\n      IMMICH_MACHINE_LEARNING_URL: false\n",
			"immich-server turns machine learning off", "remove IMMICH_MACHINE_LEARNING_URL: false"},
		{"services:\n  server:\n    image: ghcr.io/immich-app/immich-server:release\n    environment:\n      - TZ=UTC\n      - IMMICH_MACHINE_LEARNING_URL=http://10.0.0.5:3003\n",
			"server sends machine learning to http://10.0.0.5:3003", "on the machine that runs immich-machine-learning"},
		{"services:\n  immich-server:\n    image: ghcr.io/immich-app/immich-server:release\n  redis:\n    image: valkey\n",
			"services in the file: immich-server, redis", "Add Immich's immich-machine-learning service"},
		{"services:\n  immich-server:\n    image: ghcr.io/immich-app/immich-server:release\n    environment: [1, {a: b}]\n  x: 3\n",
			"services in the file:", "Add Immich's"},
	}
	for _, tt := range tests {
		_, err := Edit([]byte(tt.src), EditOptions{Backend: "cuda"})
		var ce *Error
		if !errors.Is(err, ErrNoMLService) || !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.has) || !strings.Contains(ce.Fix, tt.fix) {
			t.Errorf("%q: want ErrNoMLService with %q and fix %q, got %v", tt.src, tt.has, tt.fix, err)
		}
	}
}

// TestKeptHwaccelFileNoteOnlyForChosenSection checks that the note about a
// kept hwaccel.ml.yml appears only when the chosen backend's section
// differs: a file written earlier with armnn host tailoring, or one with
// other comments, is not reported when switching to another backend.
func TestKeptHwaccelFileNoteOnlyForChosenSection(t *testing.T) {
	armHost := Host{Known: true, LibMaliPath: "/usr/lib/aarch64-linux-gnu/libmali.so.1"}
	src := readFixture(t, "basic.yml")
	plan, err := prepareCopy(t, "docker-compose.yml", src, Options{EditOptions: EditOptions{Backend: "armnn", Host: armHost}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plan.Write(WriteOptions{NoBackup: true}); err != nil {
		t.Fatal(err)
	}
	hw, err := os.ReadFile(filepath.Join(filepath.Dir(plan.File), "hwaccel.ml.yml"))
	if err != nil || !bytes.Contains(hw, []byte("/usr/lib/aarch64-linux-gnu/libmali.so.1:")) {
		t.Fatalf("tailored hwaccel.ml.yml not written: %v", err)
	}
	for _, eo := range []EditOptions{{Backend: "cpu"}, {Backend: "cuda"}, {Backend: "armnn", Host: armHost}} {
		p, err := Prepare(t.Context(), Options{EditOptions: eo, File: plan.File})
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Join(p.Notes, "\n"); strings.Contains(n, "kept your") {
			t.Errorf("%s: note about the kept file although its %s section is ours: %q", eo.Backend, eo.Backend, p.Notes)
		}
	}
	// Without the host facts, armnn's section differs (libmali path).
	p, err := Prepare(t.Context(), Options{EditOptions: EditOptions{Backend: "armnn"}, File: plan.File})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Join(p.Notes, "\n"); !strings.Contains(n, "kept your hwaccel.ml.yml, whose armnn section differs") {
		t.Errorf("no note for a differing armnn section: %q", p.Notes)
	}
}

// TestServerServiceAndTranscodingFile checks that neither --service naming
// Immich's server nor a transcoding extends block is taken for the ML
// service's hwaccel.ml.yml.
func TestServerServiceAndTranscodingFile(t *testing.T) {
	_, err := Edit(readFixture(t, "basic.yml"), EditOptions{Backend: "cuda", Service: "immich-server"})
	if !errors.Is(err, ErrNoMLService) || !strings.Contains(err.Error(), "runs Immich's server") {
		t.Errorf("--service immich-server: want a refusal, got %v", err)
	}
	// A commented transcoding block in the ML service stays commented; a
	// new extends block is added for hwaccel.ml.yml.
	commented := "services:\n  immich-machine-learning:\n    image: ghcr.io/immich-app/immich-machine-learning:release\n    # extends:\n    #   file: hwaccel.transcoding.yml\n    #   service: cpu\n"
	res, err := Edit([]byte(commented), EditOptions{Backend: "cuda"})
	if err != nil {
		t.Fatal(err)
	}
	out := string(res.Output)
	if !strings.Contains(out, "    # extends:\n    #   file: hwaccel.transcoding.yml\n    #   service: cpu\n") || !strings.Contains(out, "file: hwaccel.ml.yml") || res.ExtendsFile != "hwaccel.ml.yml" {
		t.Errorf("transcoding block reused:\n%s", out)
	}
	// An active transcoding extends is another file: extends mode refuses.
	active := "services:\n  immich-machine-learning:\n    image: ghcr.io/immich-app/immich-machine-learning:release\n    extends:\n      file: hwaccel.transcoding.yml\n      service: cpu\n"
	if _, err := Edit([]byte(active), EditOptions{Backend: "cuda"}); !errors.Is(err, ErrManual) || !strings.Contains(err.Error(), "already extends something else") {
		t.Errorf("active transcoding extends: want a refusal, got %v", err)
	}
	for _, tt := range []struct {
		name string
		want bool
	}{{"hwaccel.ml.yml", true}, {"./docker/hwaccel.ml.yaml", true}, {"mlaccel-armnn.yml", true}, {"hwaccel.transcoding.yml", false}, {"../hwaccel.transcoding.yml", false}, {"other.yml", false}} {
		if got := isHwaccelFileName(tt.name); got != tt.want {
			t.Errorf("isHwaccelFileName(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestSeveralNVIDIAGPUs checks the multi-GPU tailoring: a hint for --gpus
// on a host with several NVIDIA GPUs (none with one), and --gpus giving
// device_ids in a written hwaccel.ml.yml, validated.
func TestSeveralNVIDIAGPUs(t *testing.T) {
	src := readFixture(t, "basic.yml")
	for gpus, want := range map[int]bool{0: false, 1: false, 2: true, 4: true} {
		res, err := Edit(src, EditOptions{Backend: "cuda", Inline: true, Host: Host{Known: true, NVIDIAGPUs: gpus}})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(strings.Join(res.Notes, "\n"), "use --gpus 0,1 to choose"); got != want {
			t.Errorf("%d GPUs: hint=%v, want %v (notes %q)", gpus, got, want, res.Notes)
		}
	}
	plan, err := prepareCopy(t, "docker-compose.yml", src, Options{EditOptions: EditOptions{Backend: "cuda", GPUs: []string{"0", "GPU-8f2a"}, Host: Host{Known: true, NVIDIAGPUs: 2}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Changes) != 2 || !plan.Changes[1].Create {
		t.Fatalf("changes: %+v", plan.Changes)
	}
	hw := string(plan.Changes[1].New)
	if !strings.Contains(hw, "              device_ids: ['0', 'GPU-8f2a']\n") || strings.Contains(hw, "count: 1") {
		t.Errorf("device_ids not set in hwaccel.ml.yml:\n%s", hw)
	}
	if n := diffCost(defaultSections().src, plan.Changes[1].New); n != 1 {
		t.Errorf("--gpus touched %d lines of hwaccel.ml.yml, want 1", n)
	}
	if plan.Validation == nil || !plan.Validation.Checked {
		t.Errorf("not validated: %+v", plan.Validation)
	}
}
