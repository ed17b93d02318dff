package docker

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrNoModelCache is wrapped when no Immich model-cache volume exists.
var ErrNoModelCache = errors.New("no Immich model-cache volume found")

// Compose's labels on the volumes it creates.
const (
	labelComposeProject = "com.docker.compose.project"
	labelComposeVolume  = "com.docker.compose.volume"
)

// ModelCacheFinder finds the host directory of Immich's model-cache volume
// (the volume that Immich's compose file mounts at /cache in the
// machine-learning container).
type ModelCacheFinder struct {
	API API
}

// ModelCacheDir returns the mount point of the model-cache volume. When
// several Compose projects have one, the project named "immich" wins; any
// other tie is an error that lists the candidates.
func (f ModelCacheFinder) ModelCacheDir(ctx context.Context) (string, error) {
	vols, err := f.API.Volumes(ctx)
	if err != nil {
		return "", fmt.Errorf("listing Docker volumes: %w", err)
	}
	var found []Volume
	for _, v := range vols {
		if v.Labels[labelComposeVolume] == "model-cache" || strings.HasSuffix(v.Name, "_model-cache") {
			found = append(found, v)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%w among %d volumes; pass the directory with --immich-cache DIR", ErrNoModelCache, len(vols))
	case 1:
		return mountpoint(found[0])
	}
	for _, v := range found {
		if v.Labels[labelComposeProject] == "immich" {
			return mountpoint(v)
		}
	}
	names := make([]string, len(found))
	for i, v := range found {
		names[i] = v.Name
	}
	sort.Strings(names)
	return "", fmt.Errorf("several model-cache volumes (%s): pass the one to use with --immich-cache DIR", strings.Join(names, ", "))
}

func mountpoint(v Volume) (string, error) {
	if v.Mountpoint == "" {
		return "", fmt.Errorf("volume %s has no mount point on this host (driver %q): pass the directory with --immich-cache DIR", v.Name, v.Driver)
	}
	return v.Mountpoint, nil
}
