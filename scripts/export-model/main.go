// Command export-model writes a built-in benchmark model to an .onnx file,
// so that other runtimes (scripts/compare-node.sh) can load the same model.
//
//	go run ./scripts/export-model clip-vit-b32-visual /tmp/clip.onnx
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/immich-accel/immich-accel/pkg/bench/models"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintf(os.Stderr, "usage: export-model NAME FILE\nmodels: %s\n", strings.Join(models.Names(), ", "))
		os.Exit(2)
	}
	m, ok := models.ByName(os.Args[1])
	if !ok {
		fmt.Fprintf(os.Stderr, "export-model: unknown model %q; models: %s\n", os.Args[1], strings.Join(models.Names(), ", "))
		os.Exit(2)
	}
	b, err := m.Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, "export-model:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(os.Args[2], b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "export-model:", err)
		os.Exit(1)
	}
}
