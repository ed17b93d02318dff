package compose

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immich-accel/immich-accel/internal/testenv"
)

// TestUnifiedDiffApplies checks the diffs with patch(1), when present: the
// diff of every fixture edit turns the original into the result, CRLF and
// missing final newlines included.
func TestUnifiedDiffApplies(t *testing.T) {
	patchBin := testenv.RequireCommand(t, "patch")
	cases := []struct {
		fixture string
		opts    EditOptions
	}{
		{"basic.yml", EditOptions{Backend: "cuda"}},
		{"basic.yml", EditOptions{Backend: "armnn", Inline: true}},
		{"crlf.yml", EditOptions{Backend: "openvino", Inline: true}},
		{"inline-openvino.yml", EditOptions{Backend: "cuda", Inline: true}},
		{"four-space.yml", EditOptions{Backend: "rknn", Inline: true}},
		{"unicode.yml", EditOptions{Backend: "rocm"}},
	}
	for _, c := range cases {
		src := readFixture(t, c.fixture)
		res, err := Edit(src, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		p := filepath.Join(dir, "f.yml")
		if err := os.WriteFile(p, src, 0o644); err != nil {
			t.Fatal(err)
		}
		d := UnifiedDiff("a/f.yml", "b/f.yml", src, res.Output)
		cmd := exec.Command(patchBin, "-s", "-p1", "--binary")
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader(d)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: patch failed: %v\n%s\n%s", c.fixture, err, out, d)
		}
		got, _ := os.ReadFile(p)
		if !bytes.Equal(got, res.Output) {
			t.Errorf("%s: patched file differs from the edit:\n%s", c.fixture, UnifiedDiff("edit", "patched", res.Output, got))
		}
	}
}

func TestUnifiedDiffShape(t *testing.T) {
	a := []byte("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n")
	b := []byte("1\n2\nthree\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\nfifteen\n")
	want := "--- a\n+++ b\n@@ -1,6 +1,6 @@\n 1\n 2\n-3\n+three\n 4\n 5\n 6\n@@ -12,4 +12,4 @@\n 12\n 13\n 14\n-15\n+fifteen\n"
	if got := UnifiedDiff("a", "b", a, b); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := UnifiedDiff("a", "b", a, a); got != "" {
		t.Errorf("equal inputs: %q", got)
	}
	got := UnifiedDiff("", "b/new", nil, []byte("x\ny"))
	if got != "--- /dev/null\n+++ b/new\n@@ -0,0 +1,2 @@\n+x\n+y\n\\ No newline at end of file\n" {
		t.Errorf("new file: %q", got)
	}
}
