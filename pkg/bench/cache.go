package bench

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// VolumeFinder finds the host directory of Immich's model-cache Docker
// volume (the `model-cache` volume of the Immich compose project).
type VolumeFinder interface {
	ModelCacheDir(ctx context.Context) (string, error)
}

// ErrNoImmichModels is wrapped when a directory holds no Immich models.
var ErrNoImmichModels = errors.New("no Immich models found")

// FindImmichModels lists the ONNX models in an Immich model cache, laid out
// as <task>/<model>/<type>/model.onnx, for example
// clip/ViT-B-32__openai/visual/model.onnx or
// facial-recognition/buffalo_l/detection/model.onnx. Face detectors get
// 640x640 inputs, as Immich uses; the batch dimension is 1.
func FindImmichModels(dir string) ([]Model, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("--immich-cache %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("--immich-cache %s: not a directory", dir)
	}
	var models []Model
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrPermission) {
				return fmt.Errorf("--immich-cache %s: %w: Docker volumes are readable by root only; re-run with sudo, or copy the models elsewhere", dir, err)
			}
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if d.IsDir() {
			if len(parts) > 3 || strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if len(parts) != 4 || parts[3] != "model.onnx" {
			return nil
		}
		m := Model{Name: strings.Join(parts[:3], "/"), Path: p,
			Description: fmt.Sprintf("Immich %s model %s (%s)", parts[0], parts[1], parts[2])}
		if parts[2] == "detection" {
			m.DefaultDim = 640
		}
		models = append(models, m)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(models) == 0 {
		return nil, fmt.Errorf("--immich-cache %s: %w: expected <task>/<model>/<type>/model.onnx, e.g. clip/ViT-B-32__openai/visual/model.onnx; Immich downloads models on first use", dir, ErrNoImmichModels)
	}
	sort.Slice(models, func(i, j int) bool { return models[i].Name < models[j].Name })
	return models, nil
}
