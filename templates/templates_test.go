package templates

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"
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
// upstream copy in the shared reference data, when that is present.
func TestHwaccelMLMatchesUpstream(t *testing.T) {
	p := filepath.Join("..", "..", "shared", "upstream", "immich", "hwaccel.ml.v2.0.1.yml")
	want, err := os.ReadFile(p)
	if os.IsNotExist(err) {
		t.Logf("%s not present; skipping the upstream comparison", p)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(HwaccelML, want) {
		t.Errorf("templates/hwaccel.ml.yml differs from %s; copy the upstream file", p)
	}
}
