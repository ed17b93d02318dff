package templates

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/immich-accel/immich-accel/internal/testenv"
)

func TestHwaccelMLSections(t *testing.T) {
	var doc struct {
		Services map[string]map[string]any `yaml:"services"`
	}
	if err := yaml.Unmarshal(HwaccelML, &doc); err != nil {
		t.Fatalf("embedded hwaccel.ml.yml does not parse: %v", err)
	}
	for _, s := range []string{"armnn", "cpu", "cuda", "rocm", "openvino", "openvino-wsl", "rknn"} {
		if _, ok := doc.Services[s]; !ok {
			t.Errorf("embedded hwaccel.ml.yml has no section %q", s)
		}
	}
	if len(doc.Services) != 7 {
		t.Errorf("embedded hwaccel.ml.yml has %d sections, want 7", len(doc.Services))
	}
}

// TestHwaccelMLMatchesUpstream checks the embedded file against the newest
// released upstream copy (hwaccel.ml.vX.Y.Z.yml) in the shared reference
// data, when that is present.
func TestHwaccelMLMatchesUpstream(t *testing.T) {
	dir := testenv.RequireShared(t, "upstream", "immich")
	files, _ := filepath.Glob(filepath.Join(dir, "hwaccel.ml.v*.yml"))
	if len(files) == 0 {
		testenv.Unavailable(t, "no hwaccel.ml.v*.yml in %s to compare with", dir)
	}
	newest, newestV := "", []int(nil)
	for _, f := range files {
		v := parseVersion(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "hwaccel.ml.v"), ".yml"))
		if v != nil && (newestV == nil || slices.Compare(v, newestV) > 0) {
			newest, newestV = f, v
		}
	}
	if newest == "" {
		t.Fatalf("no versioned hwaccel.ml.v*.yml among %v", files)
	}
	t.Logf("comparing with %s", newest)
	want, err := os.ReadFile(newest)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(HwaccelML, want) {
		t.Errorf("templates/hwaccel.ml.yml differs from %s, the newest upstream copy; copy the upstream file", newest)
	}
}

func TestHwaccelTranscodingSections(t *testing.T) {
	var doc struct {
		Services map[string]map[string]any `yaml:"services"`
	}
	if err := yaml.Unmarshal(HwaccelTranscoding, &doc); err != nil {
		t.Fatalf("embedded hwaccel.transcoding.yml does not parse: %v", err)
	}
	for _, s := range []string{"cpu", "nvenc", "quicksync", "rkmpp", "vaapi", "vaapi-wsl"} {
		if _, ok := doc.Services[s]; !ok {
			t.Errorf("embedded hwaccel.transcoding.yml has no section %q", s)
		}
	}
	if len(doc.Services) != 6 {
		t.Errorf("embedded hwaccel.transcoding.yml has %d sections, want 6", len(doc.Services))
	}
}

// TestHwaccelTranscodingMatchesUpstream checks the embedded file against
// the newest released upstream hwaccel.transcoding.vX.Y.Z.yml.
func TestHwaccelTranscodingMatchesUpstream(t *testing.T) {
	dir := testenv.SharedDir(t, "upstream", "immich")
	if dir == "" {
		return
	}
	newest := newestVersioned(t, dir, "hwaccel.transcoding.v")
	want, err := os.ReadFile(newest)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(HwaccelTranscoding, want) {
		t.Errorf("templates/hwaccel.transcoding.yml differs from %s, the newest upstream copy; copy the upstream file", newest)
	}
}

// newestVersioned returns the file prefix<version>.yml in dir with the
// highest version.
func newestVersioned(t *testing.T, dir, prefix string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, prefix+"*.yml"))
	newest, newestV := "", []int(nil)
	for _, f := range files {
		v := parseVersion(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), prefix), ".yml"))
		if v != nil && (newestV == nil || slices.Compare(v, newestV) > 0) {
			newest, newestV = f, v
		}
	}
	if newest == "" {
		t.Fatalf("no versioned %s*.yml in %s", prefix, dir)
	}
	t.Logf("comparing with %s", newest)
	return newest
}

// parseVersion reads "1.2.3" as [1 2 3]; nil when it is not a version.
func parseVersion(s string) []int {
	var v []int
	for _, p := range strings.Split(s, ".") {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil
		}
		v = append(v, n)
	}
	return v
}

func TestParseVersion(t *testing.T) {
	if got := parseVersion("1.106.0"); slices.Compare(got, []int{1, 106, 0}) != 0 {
		t.Errorf("parseVersion(1.106.0) = %v", got)
	}
	if slices.Compare(parseVersion("2.0.1"), parseVersion("1.130.0")) <= 0 {
		t.Error("2.0.1 must sort after 1.130.0")
	}
	if parseVersion("2025-03-17") != nil {
		t.Error("a date is not a version")
	}
}
