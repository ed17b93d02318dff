package verify

import (
	"strings"
	"testing"

	"github.com/immich-accel/immich-accel/pkg/accel"
	"github.com/immich-accel/immich-accel/pkg/failures"
)

func TestCatalogue(t *testing.T) {
	for id := range cpuFallbackIDs {
		if _, ok := failures.Lookup(id); !ok {
			t.Errorf("%q is not in the failure catalogue", id)
		}
	}
	logs := "[12/01/25 07:40:05] INFO     Setting execution providers to\n" +
		"                             ['CPUExecutionProvider'], in descending order of\n" +
		"                             preference\n"
	ms := Catalogue{}.Scan(logs, accel.CUDA)
	if len(ms) == 0 || !ms[0].CPUFallback || ms[0].Fix == "" || !strings.Contains(ms[0].Text, "CPUExecutionProvider") {
		t.Fatalf("matches on a -cuda image = %+v", ms)
	}
	if ms := (Catalogue{}).Scan(logs, accel.CPU); len(ms) != 0 {
		t.Fatalf("the CPU image choosing the CPU matched: %+v", ms)
	}
	ms = Catalogue{}.Scan("2024-12-19 04:55:15.116539945 [E:onnxruntime:Default, cuda_call.cc:118 CudaCall] CUDA failure 100: no CUDA-capable device is detected ; GPU=0\n", accel.CUDA)
	if len(ms) == 0 || ms[0].Class != "cuda-no-device" || ms[0].CPUFallback || ms[0].Meaning == "" {
		t.Fatalf("CUDA failure 100 = %+v", ms)
	}
}
