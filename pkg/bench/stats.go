package bench

import (
	"math"
	"sort"
	"time"
)

// Stats summarises latencies in milliseconds.
type Stats struct {
	Count  int     `json:"count"`
	Mean   float64 `json:"meanMs"`
	P50    float64 `json:"p50Ms"`
	P90    float64 `json:"p90Ms"`
	P95    float64 `json:"p95Ms"`
	P99    float64 `json:"p99Ms"`
	Min    float64 `json:"minMs"`
	Max    float64 `json:"maxMs"`
	Stddev float64 `json:"stddevMs"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Summarize computes Stats; percentiles interpolate linearly between
// closest ranks.
func Summarize(lat []time.Duration) Stats {
	if len(lat) == 0 {
		return Stats{}
	}
	v := make([]float64, len(lat))
	for i, d := range lat {
		v[i] = ms(d)
	}
	sort.Float64s(v)
	var sum float64
	for _, x := range v {
		sum += x
	}
	mean := sum / float64(len(v))
	var ss float64
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	sd := 0.0
	if len(v) > 1 {
		sd = math.Sqrt(ss / float64(len(v)-1))
	}
	return Stats{
		Count: len(v), Mean: mean,
		P50: percentile(v, 50), P90: percentile(v, 90), P95: percentile(v, 95), P99: percentile(v, 99),
		Min: v[0], Max: v[len(v)-1], Stddev: sd,
	}
}

// percentile of sorted values, p in [0,100].
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 1 {
		return sorted[0]
	}
	r := p / 100 * float64(len(sorted)-1)
	lo := int(math.Floor(r))
	hi := int(math.Ceil(r))
	return sorted[lo] + (sorted[hi]-sorted[lo])*(r-float64(lo))
}
