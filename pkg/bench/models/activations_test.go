package models

import (
	"math"
	"testing"

	"github.com/immich-accel/immich-accel/internal/onnx"
)

// TestActivationRange exposes the intermediate tensors of each built-in
// model as extra outputs, runs it once, and checks that every activation is
// finite and small enough for fp16 execution providers (|x| well below
// 65504), so that the pseudo-random weights behave like trained ones in
// range.
func TestActivationRange(t *testing.T) {
	requireORT(t)
	const fp16Margin = 1000 // fp16 overflows at 65504
	for _, d := range definitions {
		t.Run(d.name, func(t *testing.T) {
			b, err := buildGraph(d.name, d.define, buildConfig{seed: DefaultSeed})
			if err != nil {
				t.Fatal(err)
			}
			m, _ := ByName(d.name)
			var names []string
			for _, o := range b.g.Outputs {
				names = append(names, o.Name)
			}
			declared := len(names)
			for _, n := range b.g.Nodes {
				out := n.Outputs[0]
				s := b.shapes[out]
				if n.OpType == "Identity" || n.OpType == "Constant" || numel(s) > 2_000_000 {
					continue // graph outputs already, or too large to copy cheaply
				}
				b.g.Outputs = append(b.g.Outputs, onnx.ValueInfo{Name: out, Type: onnx.Float, Shape: onnx.Dims(s...)})
				names = append(names, out)
			}
			data, err := b.model().Marshal()
			if err != nil {
				t.Fatal(err)
			}
			m.Outputs = nil
			for _, o := range b.g.Outputs {
				m.Outputs = append(m.Outputs, tensorInfo(o))
			}
			outs := runOnce(t, m, data, 2)
			var worst float64
			worstName := ""
			for i, v := range outs {
				for _, x := range v {
					a := math.Abs(float64(x))
					if math.IsNaN(a) || math.IsInf(a, 0) {
						t.Fatalf("%s has NaN or Inf", names[i])
					}
					if a > worst {
						worst, worstName = a, names[i]
					}
				}
			}
			t.Logf("%d tensors checked (%d outputs + intermediates); largest |x| = %.3g in %s", len(outs), declared, worst, worstName)
			if worst > fp16Margin {
				t.Errorf("activation %s reaches %.3g; keep activations within %v for fp16 providers", worstName, worst, fp16Margin)
			}
		})
	}
}
