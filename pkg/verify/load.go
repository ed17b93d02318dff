package verify

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"
)

// Stats summarises the warm requests of one task.
type Stats struct {
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	MeanMs   float64 `json:"meanMs"`
	P50Ms    float64 `json:"p50Ms"`
	P95Ms    float64 `json:"p95Ms"`
	MaxMs    float64 `json:"maxMs"`
	// PerSecond is completed requests per second of the warm phase.
	PerSecond float64 `json:"perSecond"`
	// Seconds is how long the warm phase ran.
	Seconds float64 `json:"seconds"`
}

// load is one warm phase's outcome.
type load struct {
	stats    Stats
	firstErr error
	note     string
	// cutOff counts requests still running when the phase ended.
	cutOff int
}

// runWarm keeps conc requests of t in flight for d and collects their
// latencies. Requests still running at the end are cut off and not
// counted. Each worker keeps its own slice, so the hot loop shares nothing,
// and hands each answer to its own checker goroutine, so that checking an
// answer's shape does not delay the next request (the latency is the
// server's, and the rate is not bounded by the checks while a CPU is free).
func runWarm(ctx context.Context, c *client, t *task, conc int, d, timeout time.Duration) load {
	pctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	type worker struct {
		lat   []time.Duration
		errs  int
		first error
		cut   int
		// set by the checker
		bad      int
		badFirst error
		note     string
	}
	ws := make([]worker, conc)
	var wg, checkers sync.WaitGroup
	start := time.Now()
	for i := range ws {
		w := &ws[i]
		answers := make(chan []byte, 64)
		checkers.Add(1)
		go func() {
			defer checkers.Done()
			for body := range answers {
				note, err := t.check(body)
				if err != nil {
					w.bad++
					if w.badFirst == nil {
						w.badFirst = err
					}
					continue
				}
				w.note = note
			}
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(answers)
			w.lat = make([]time.Duration, 0, 1024)
			for pctx.Err() == nil {
				t0 := time.Now()
				body, err := c.send(pctx, t, timeout)
				el := time.Since(t0)
				switch {
				case err == nil:
					w.lat = append(w.lat, el)
					answers <- body
				case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
					w.cut++
				default:
					w.errs++
					if w.first == nil {
						w.first = err
					}
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	checkers.Wait()
	if elapsed > d {
		elapsed = d
	}
	var all []time.Duration
	var out load
	errs := 0
	for i := range ws {
		w := &ws[i]
		all = append(all, w.lat...)
		errs += w.errs + w.bad
		out.cutOff += w.cut
		if out.firstErr == nil {
			out.firstErr = w.first
		}
		if out.firstErr == nil {
			out.firstErr = w.badFirst
		}
		if w.note != "" {
			out.note = w.note
		}
	}
	// Answers of the wrong shape were timed like good ones; they count
	// as errors, not requests.
	out.stats = summarise(all, errs, elapsed)
	bad := 0
	for i := range ws {
		bad += ws[i].bad
	}
	out.stats.Requests -= bad
	if elapsed > 0 {
		out.stats.PerSecond = round(float64(out.stats.Requests)/elapsed.Seconds(), 2)
	}
	return out
}

func summarise(lat []time.Duration, errs int, elapsed time.Duration) Stats {
	s := Stats{Requests: len(lat), Errors: errs, Seconds: round(elapsed.Seconds(), 3)}
	if len(lat) == 0 {
		return s
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	s.MeanMs = ms(sum / time.Duration(len(lat)))
	s.P50Ms = ms(percentile(lat, 50))
	s.P95Ms = ms(percentile(lat, 95))
	s.MaxMs = ms(lat[len(lat)-1])
	if elapsed > 0 {
		s.PerSecond = round(float64(len(lat))/elapsed.Seconds(), 2)
	}
	return s
}

// percentile is the nearest-rank percentile of sorted latencies.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := int(math.Ceil(float64(p) / 100 * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

func ms(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 2) }

func round(x float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(x*p) / p
}

// cutOffErr is the failure of a warm phase in which nothing finished.
func cutOffErr(d time.Duration, cut int) error {
	return fmt.Errorf("no request finished within --duration %s (%d still waiting for an answer)", d, cut)
}
