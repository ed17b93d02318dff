package bench

import (
	"fmt"
	"math"
)

// Tolerance bounds the difference from the CPU result for one precision
// class. An output agrees when its cosine similarity with the CPU output is
// at least MinCosine and its largest absolute difference is at most
// MaxAbs·max(1, largest |CPU value|).
type Tolerance struct {
	MinCosine float64 `json:"minCosine"`
	MaxAbs    float64 `json:"maxAbs"`
}

// Tolerances per precision class. fp32 allows for a different summation
// order (threads, kernels); fp16 for float16 or TF32 arithmetic, which keeps
// 10 bits of mantissa (relative error about 1e-3 per operation, growing with
// depth).
var Tolerances = map[Precision]Tolerance{
	FP32: {MinCosine: 0.99999, MaxAbs: 1e-3},
	FP16: {MinCosine: 0.999, MaxAbs: 5e-2},
}

// Agreement compares one output with the CPU provider's.
type Agreement struct {
	Output      string    `json:"output"`
	MaxAbsDiff  float64   `json:"maxAbsDiff"`
	MeanAbsDiff float64   `json:"meanAbsDiff"`
	Cosine      float64   `json:"cosine"`
	Precision   Precision `json:"precision"`
	Agrees      bool      `json:"agrees"`
	Detail      string    `json:"detail,omitempty"`
}

// Compare computes the agreement of got with ref under the tolerance of
// class p.
func Compare(name string, ref, got []float64, p Precision) Agreement {
	a := Agreement{Output: name, Precision: p}
	if len(ref) != len(got) {
		a.Detail = fmt.Sprintf("shape differs: %d values, CPU gave %d", len(got), len(ref))
		a.Cosine = math.NaN()
		return a
	}
	var dot, nr, ng, sum, maxRef float64
	for i := range ref {
		r, g := ref[i], got[i]
		if math.IsNaN(g) != math.IsNaN(r) || math.IsInf(g, 0) != math.IsInf(r, 0) {
			a.Detail = fmt.Sprintf("value %d is %v, CPU gave %v", i, g, r)
			a.MaxAbsDiff = math.Inf(1)
			a.Cosine = math.NaN()
			return a
		}
		if math.IsNaN(r) || math.IsInf(r, 0) {
			continue
		}
		d := math.Abs(r - g)
		sum += d
		a.MaxAbsDiff = math.Max(a.MaxAbsDiff, d)
		maxRef = math.Max(maxRef, math.Abs(r))
		dot += r * g
		nr += r * r
		ng += g * g
	}
	if len(ref) > 0 {
		a.MeanAbsDiff = sum / float64(len(ref))
	}
	switch {
	case nr == 0 && ng == 0:
		a.Cosine = 1
	case nr == 0 || ng == 0:
		a.Cosine = 0
	default:
		a.Cosine = dot / math.Sqrt(nr*ng)
	}
	tol := Tolerances[p]
	a.Agrees = a.Cosine >= tol.MinCosine && a.MaxAbsDiff <= tol.MaxAbs*math.Max(1, maxRef)
	if !a.Agrees {
		a.Detail = fmt.Sprintf("beyond %s tolerance (cosine ≥ %g, max abs diff ≤ %g×max(1,|ref|))", p, tol.MinCosine, tol.MaxAbs)
	}
	return a
}
