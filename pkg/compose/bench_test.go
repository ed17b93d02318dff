package compose

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"
)

// officialFile returns Immich's current docker-compose.yml from the shared
// reference data, or the basic fixture (same layout) when it is absent.
func officialFile(b *testing.B) []byte {
	p := filepath.Join(fixtures, "basic.yml")
	if d := sharedDir(b, "upstream", "immich"); d != "" {
		p = filepath.Join(d, "docker-compose.v3.1.0.yml")
	}
	src, err := os.ReadFile(p)
	if err != nil {
		b.Fatal(err)
	}
	return src
}

// BenchmarkYAMLDecode is the peer: a plain yaml.v3 decode of the same file
// into a node tree.
func BenchmarkYAMLDecode(b *testing.B) {
	src := officialFile(b)
	for b.Loop() {
		var n yaml.Node
		if err := yaml.Unmarshal(src, &n); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEdit is the edit alone (parse, locate, patch, re-parse check).
func BenchmarkEdit(b *testing.B) {
	src := officialFile(b)
	for b.Loop() {
		if _, err := Edit(src, EditOptions{Backend: "cuda"}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEditInline(b *testing.B) {
	src := officialFile(b)
	for b.Loop() {
		if _, err := Edit(src, EditOptions{Backend: "openvino", Inline: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPrepare is what compose --dry-run does: read the file, edit,
// diff and validate with compose-go (three loads).
func BenchmarkPrepare(b *testing.B) {
	src := officialFile(b)
	dir := b.TempDir()
	p := filepath.Join(dir, "docker-compose.yml")
	if err := os.WriteFile(p, src, 0o644); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		if _, err := Prepare(ctx, Options{EditOptions: EditOptions{Backend: "cuda"}, File: p}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPrepareEnv is BenchmarkPrepare with Immich's example .env next
// to the file, and a suffix variable that the edit sets in it.
func BenchmarkPrepareEnv(b *testing.B) {
	dir := b.TempDir()
	p := filepath.Join(dir, "docker-compose.yml")
	src := bytes.Replace(officialFile(b), []byte("immich-machine-learning:${IMMICH_VERSION:-release}"), []byte("immich-machine-learning:${IMMICH_VERSION:-release}${IMMICH_ML_VARIANT:-}"), 1)
	if err := os.WriteFile(p, src, 0o644); err != nil {
		b.Fatal(err)
	}
	env := []byte("UPLOAD_LOCATION=./library\n# The Immich version to use\nIMMICH_VERSION=v3\nDB_PASSWORD=postgres\n")
	if d := sharedDir(b, "upstream", "immich"); d != "" {
		var err error
		if env, err = os.ReadFile(filepath.Join(d, "example.v3.0.0.env")); err != nil {
			b.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ".env"), env, 0o644); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		plan, err := Prepare(ctx, Options{EditOptions: EditOptions{Backend: "cuda"}, File: p})
		if err != nil || len(plan.Changes) < 2 {
			b.Fatalf("%v %+v", err, plan)
		}
	}
}

// BenchmarkComposeGoLoad is the peer for validation: one compose-go load
// of the original file (every variable set, as validation does when the
// file uses variables without defaults).
func BenchmarkComposeGoLoad(b *testing.B) {
	src := officialFile(b)
	m, err := decodeModel(src)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		if _, err := loadModel(ctx, m, "/srv/stack", true, (&models{}).lookup(nil, true)); err != nil {
			b.Fatal(err)
		}
	}
}
