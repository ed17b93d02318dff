package compose

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immich-accel/immich-accel/pkg/accel"
)

// FuzzEdit feeds arbitrary files to the editor: it must return an error or
// an output that parses, still has the ML service with the backend applied
// (or, when pick's 0x40 bit is set, the server with the transcoding
// method), and does not change on a second run. It must never panic.
func FuzzEdit(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(fixtures, "*.yml"))
	for i, p := range files {
		if strings.HasSuffix(p, ".golden.yml") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(i), i%2 == 0)
		f.Add(b, uint8(i)|0x40, i%2 == 1)
	}
	f.Fuzz(func(t *testing.T, src []byte, pick uint8, inline bool) {
		if pick&0x40 != 0 {
			fuzzTranscode(t, src, pick, inline)
			return
		}
		backend := allBackends[int(pick)%len(allBackends)]
		_, _ = Inspect(src, "")
		opts := EditOptions{Backend: backend, Inline: inline, DropDigest: pick&0x80 != 0}
		res, err := Edit(src, opts)
		if err != nil {
			if _, ok := err.(*Error); !ok && !strings.HasPrefix(err.Error(), "hwaccel file") {
				t.Fatalf("error is not a compose.Error: %v", err)
			}
			return
		}
		env := map[string]string{}
		for _, v := range res.Env {
			env[v.Name] = v.Value
		}
		in, err := InspectEnv(res.Output, res.Service, env)
		if err != nil {
			t.Fatalf("edited output does not inspect: %v\n%s", err, res.Output)
		}
		if backend != "cpu" {
			if inline && in.Mode != "inline" && backend != "cpu" && in.Backend != backend {
				// A section without signature entries cannot be seen, but
				// the suffix must be right.
				if in.ImageSuffix != backend.Suffix() {
					t.Fatalf("inline %s: suffix %q\n%s", backend, in.ImageSuffix, res.Output)
				}
			}
			if !inline && (in.Mode != "extends" || in.Backend != res.Backend) {
				t.Fatalf("extends %s: got mode %s backend %s\n%s", backend, in.Mode, in.Backend, res.Output)
			}
		}
		opts.Env = env
		again, err := Edit(res.Output, opts)
		if err != nil {
			t.Fatalf("second run fails: %v\n%s", err, res.Output)
		}
		if again.Changed || len(again.Env) > 0 {
			t.Fatalf("second run changes the file:\n%s", UnifiedDiff("first", "second", res.Output, again.Output))
		}
	})
}

func fuzzTranscode(t *testing.T, src []byte, pick uint8, inline bool) {
	method := Transcodes[int(pick&0x3f)%len(Transcodes)]
	_, _ = InspectTranscoding(src, "")
	opts := EditOptions{Target: TargetTranscode, Transcode: accel.Transcode(method), Inline: inline}
	res, err := Edit(src, opts)
	if err != nil {
		if _, ok := err.(*Error); !ok && !strings.HasPrefix(err.Error(), "hwaccel file") {
			t.Fatalf("error is not a compose.Error: %v", err)
		}
		return
	}
	in, err := InspectTranscoding(res.Output, res.Service)
	if err != nil {
		t.Fatalf("edited output does not inspect: %v\n%s", err, res.Output)
	}
	if !inline && method != "cpu" && (in.Mode != "extends" || in.Method != method) {
		t.Fatalf("extends %s: got mode %s method %s\n%s", method, in.Mode, in.Method, res.Output)
	}
	if ml, err := Inspect(src, ""); err == nil {
		// The ML service reads the same after a transcoding edit.
		ml2, err := Inspect(res.Output, ml.Service)
		if err != nil || ml2.Image != ml.Image || ml2.Backend != ml.Backend || ml2.Mode != ml.Mode {
			if ml.Service != res.Service {
				t.Fatalf("the ML service changed: %+v -> %+v (%v)", ml, ml2, err)
			}
		}
	}
	again, err := Edit(res.Output, opts)
	if err != nil {
		t.Fatalf("second run fails: %v\n%s", err, res.Output)
	}
	if again.Changed {
		t.Fatalf("second run changes the file:\n%s", UnifiedDiff("first", "second", res.Output, again.Output))
	}
}
