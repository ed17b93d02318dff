package compose

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/immich-accel/immich-accel/pkg/accel"
)

// corpusTranscodeExpect is the right outcome for the real files that must
// be refused for transcoding (see SOURCES.md); every other file must give
// a correct, validated, idempotent edit for every method in both modes.
var corpusTranscodeExpect = map[string]struct {
	err     error
	has     string
	onlyFor func(method string, inline bool) bool // nil: every case
}{
	"EnigmaCurry__d.rymcg.tech__immich-instance-ytt.yml":      {err: ErrNotCompose, has: "ytt template"},
	"karlmdavis__justdavis-ansible__role-compose-j2.yml":      {err: ErrNotCompose, has: "Jinja template"},
	"solarorange__ansible-homelab__role-compose-j2.yml":       {err: ErrNotCompose, has: "Jinja template"},
	"cdesiles__ansible-playbooks__podman-kube-pod-j2.yml":     {err: ErrNotCompose, has: "template"},
	"Thomas141100__homeserver__k8s-helm-values.yml":           {err: ErrNotCompose, has: "Helm chart or TrueNAS app values"},
	"elvismercado__docker-templates__immich-override-wud.yml": {err: ErrNoServerService, has: "override file"},
	"immich-app__immich__hwaccel-ml-official-2026.yml":        {err: ErrNoServerService, has: "no Immich server service"},
}

// TestRealCorpusTranscode walks ../shared/testdata-real/compose for
// transcoding: each file gives a correct edit of the server or a refusal
// of a known kind, for every method in both modes.
func TestRealCorpusTranscode(t *testing.T) {
	dir := sharedDir(t, "testdata-real", "compose")
	if dir == "" {
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	total := map[string]int{}
	for _, ent := range entries {
		name := ent.Name()
		if ent.IsDir() || !(strings.HasSuffix(name, ".yml") || strings.HasSuffix(name, ".yaml")) {
			continue
		}
		src := mustRead(t, filepath.Join(dir, name))
		t.Run(name, func(t *testing.T) {
			want, listed := corpusTranscodeExpect[name]
			outcomes := map[string][]string{}
			for _, inline := range []bool{false, true} {
				for _, m := range Transcodes {
					mode := modeName(inline)
					plan, err := prepareCopy(t, "docker-compose.yml", src, Options{EditOptions: EditOptions{Inline: inline}, Transcode: accel.Transcode(m)}, nil)
					wantErr := want.err
					if want.onlyFor != nil && !want.onlyFor(m, inline) {
						wantErr = nil
					}
					switch {
					case wantErr != nil && (err == nil || !errors.Is(err, wantErr) || !strings.Contains(err.Error(), want.has)):
						t.Errorf("%s/%s: want %v with %q, got %v", mode, m, wantErr, want.has, err)
					case err != nil && !listed:
						// Unlisted refusals must still be specific ones.
						checkCleanError(t, err)
					}
					if err != nil {
						checkCleanError(t, err)
						outcomes["error: "+firstLine(err.Error())] = append(outcomes["error: "+firstLine(err.Error())], mode+"/"+m)
						total["refused"]++
						continue
					}
					if plan.TranscodeValidation == nil || (!plan.TranscodeValidation.Checked && plan.TranscodeValidation.Skipped == "") {
						t.Errorf("%s/%s: not validated: %+v", mode, m, plan.TranscodeValidation)
					}
					out := newContent(plan, src)
					res2, err := Edit(out, EditOptions{Target: TargetTranscode, Transcode: plan.Transcode, Inline: inline})
					if err != nil {
						t.Errorf("%s/%s: second run fails: %v", mode, m, err)
					} else if res2.Changed {
						t.Errorf("%s/%s: second run changes the file again:\n%s", mode, m, UnifiedDiff("first", "second", out, res2.Output))
					}
					outcomes["ok"] = append(outcomes["ok"], mode+"/"+m)
					total["ok"]++
				}
			}
			var keys []string
			for k := range outcomes {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				t.Logf("%s: %s", k, strings.Join(outcomes[k], " "))
			}
		})
	}
	t.Logf("transcoding over the corpus: %d edits, %d refusals", total["ok"], total["refused"])
}
