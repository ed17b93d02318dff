package docker

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// volumesOnly answers Volumes and nothing else.
type volumesOnly struct {
	API
	vols []Volume
	err  error
}

func (v volumesOnly) Volumes(context.Context) ([]Volume, error) { return v.vols, v.err }

func composeVolume(project, name, mount string) Volume {
	return Volume{
		Name:       project + "_" + name,
		Driver:     "local",
		Mountpoint: mount,
		Labels:     map[string]string{labelComposeProject: project, labelComposeVolume: name},
	}
}

func TestModelCacheDir(t *testing.T) {
	pg := composeVolume("immich", "pgdata", "/var/lib/docker/volumes/immich_pgdata/_data")
	cases := []struct {
		name    string
		vols    []Volume
		err     error
		want    string
		wantErr string
	}{
		{name: "official project", vols: []Volume{pg, composeVolume("immich", "model-cache", "/var/lib/docker/volumes/immich_model-cache/_data")},
			want: "/var/lib/docker/volumes/immich_model-cache/_data"},
		{name: "renamed project", vols: []Volume{composeVolume("photos", "model-cache", "/v/photos")}, want: "/v/photos"},
		{name: "unlabelled volume by name", vols: []Volume{{Name: "immich_model-cache", Mountpoint: "/v/x"}}, want: "/v/x"},
		{name: "immich project wins a tie", vols: []Volume{composeVolume("old", "model-cache", "/v/old"), composeVolume("immich", "model-cache", "/v/immich")}, want: "/v/immich"},
		{name: "ambiguous", vols: []Volume{composeVolume("a", "model-cache", "/v/a"), composeVolume("b", "model-cache", "/v/b")}, wantErr: "several model-cache volumes (a_model-cache, b_model-cache)"},
		{name: "none", vols: []Volume{pg}, wantErr: "no Immich model-cache volume found"},
		{name: "no mount point", vols: []Volume{{Name: "immich_model-cache", Driver: "nfs"}}, wantErr: "has no mount point"},
		{name: "daemon error", err: ErrTimeout, wantErr: "listing Docker volumes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ModelCacheFinder{API: volumesOnly{vols: tc.vols, err: tc.err}}.ModelCacheDir(context.Background())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				if tc.err != nil && !errors.Is(err, tc.err) {
					t.Errorf("err = %v does not wrap %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
