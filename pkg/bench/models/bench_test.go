package models

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
)

// BenchmarkInference measures one inference of each built-in model on the
// CPU provider (2 intra-op threads unless IMMICH_ACCEL_BENCH_THREADS says
// otherwise) and reports the implied GFLOP/s (FLOPs as in Model.FLOPs).
//
//	go test -run '^$' -bench Inference -benchtime 5x ./pkg/bench/models/
func BenchmarkInference(b *testing.B) {
	requireORT(b)
	threads := 2
	if v, err := strconv.Atoi(os.Getenv("IMMICH_ACCEL_BENCH_THREADS")); err == nil && v > 0 {
		threads = v
	}
	for _, m := range append(Builtin(), matmulPeer(), clipGEMMPeer()) {
		b.Run(m.Name, func(b *testing.B) {
			data, err := m.Build()
			if err != nil {
				b.Fatal(err)
			}
			s := newSession(b, m, data, threads)
			s.run(b) // warm-up: the first run allocates and plans memory
			for b.Loop() {
				if err := s.sess.Run(s.inputs, s.outputs); err != nil {
					b.Fatal(err)
				}
			}
			nsPerOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(nsPerOp/1e6, "ms/inference")
			b.ReportMetric(float64(m.FLOPs)/nsPerOp, "GFLOP/s")
		})
	}
}

// matmulPeer is a reference model for BenchmarkInference: four chained
// 1024x1024 MatMuls (8.6 GFLOPs), close to the best GFLOP/s ONNX Runtime
// reaches on this CPU. The built-in models' GFLOP/s are read against it.
func matmulPeer() Model {
	define := func(b *builder) {
		x := b.input("input", 1024, 1024)
		for i := range 4 {
			x = b.linear(fmt.Sprintf("fc%d", i), x, 1024, false, 1)
		}
		b.output(x, "output")
	}
	m, err := describe(definition{name: "peer-matmul-1024", about: "reference: 4 chained 1024x1024 MatMuls", define: define})
	if err != nil {
		panic(err)
	}
	return m
}

// clipGEMMPeer is a second reference: only the weight MatMuls of CLIP
// ViT-B/32's 12 blocks, with CLIP's own shapes (50 tokens x 768; q, k, v
// and out projections, 768->3072->768 MLP), chained without attention,
// normalisation or activations: 8.5 GFLOPs, 96% of CLIP's. CLIP's GFLOP/s
// against this one shows what the rest of the graph costs; against
// peer-matmul-1024, what CLIP's skinny (M=50) GEMMs cost.
func clipGEMMPeer() Model {
	define := func(b *builder) {
		x := b.input("tokens", 1, 50, 768)
		for i := range 12 {
			p := fmt.Sprintf("blocks.%d.", i)
			for _, n := range []string{"q", "k", "v", "out"} {
				x = b.linear(p+n, x, 768, false, 1)
			}
			x = b.linear(p+"fc", x, 3072, false, 1)
			x = b.linear(p+"proj", x, 768, false, 1)
		}
		b.output(x, "output")
	}
	m, err := describe(definition{name: "peer-clip-gemms", about: "reference: CLIP ViT-B/32's weight MatMuls alone", define: define})
	if err != nil {
		panic(err)
	}
	return m
}

// BenchmarkBuild measures generating and serializing each built-in model.
func BenchmarkBuild(b *testing.B) {
	for _, m := range Builtin() {
		b.Run(m.Name, func(b *testing.B) {
			var size int
			for b.Loop() {
				data, err := m.Build()
				if err != nil {
					b.Fatal(err)
				}
				size = len(data)
			}
			b.SetBytes(int64(size))
		})
	}
}

// TestBuildMemory checks that building CLIP allocates little beyond the
// returned bytes: weights are generated in place, not copied.
func TestBuildMemory(t *testing.T) {
	m, _ := ByName("clip-vit-b32-visual")
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	data, err := m.Build()
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("model %d bytes, allocated %d bytes", len(data), alloc)
	if alloc > uint64(len(data))+16<<20 {
		t.Errorf("building a %d-byte model allocated %d bytes; weights are being copied", len(data), alloc)
	}
	if want := 4 * m.Params; int64(len(data)) < want || int64(len(data)) > want+1<<20 {
		t.Errorf("model is %d bytes for %d float32 parameters", len(data), m.Params)
	}
}
