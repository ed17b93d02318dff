package verify

import (
	"context"
	"sync"
	"time"
)

// Reading is one look at the device.
type Reading struct {
	// Busy is the device's busy percentage: the utilisation the driver
	// reports now, or for counter-based devices the share of time since the
	// previous reading. BusyKnown is false when there was none to give (the
	// first reading of a counter).
	Busy      float64
	BusyKnown bool
	// Mem is the device memory held (by the container's processes where the
	// driver says whose memory it is, else the device's).
	Mem      uint64
	MemKnown bool
	// Note is something worth telling about this reading.
	Note string
}

// Sampler reads one kind of device.
type Sampler interface {
	// Name says what is read and how, for the report.
	Name() string
	// Sample takes a reading. pids are the container's processes (host
	// PIDs), for devices that account per process.
	Sample(pids []int) (Reading, error)
	// Close releases what the sampler holds (NVML).
	Close()
}

// DeviceUse is what the device did during one task's warm phase.
type DeviceUse struct {
	BusyMeanPct float64 `json:"busyMeanPct"`
	BusyMaxPct  float64 `json:"busyMaxPct"`
	Samples     int     `json:"samples"`
	// MemBytes is the most device memory seen held.
	MemBytes uint64 `json:"memBytes,omitempty"`
	Error    string `json:"error,omitempty"`
	Note     string `json:"note,omitempty"`
}

// watch samples a device every interval until stopped.
type watch struct {
	s        Sampler
	pids     func() []int
	interval time.Duration

	stop chan struct{}
	done chan struct{}

	mu  sync.Mutex
	use DeviceUse
	sum float64
}

// startWatch begins sampling. A sampler stuck in a driver call is given up
// on at stop; its goroutine is left to finish on its own.
func startWatch(s Sampler, pids func() []int, interval time.Duration) *watch {
	w := &watch{s: s, pids: pids, interval: interval, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		// The first reading primes counter-based samplers.
		w.take()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				w.take()
				return
			case <-t.C:
				w.take()
			}
		}
	}()
	return w
}

func (w *watch) take() {
	r, err := w.s.Sample(w.pids())
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		if w.use.Error == "" {
			w.use.Error = err.Error()
		}
		return
	}
	if r.Note != "" {
		w.use.Note = r.Note
	}
	if r.MemKnown && r.Mem > w.use.MemBytes {
		w.use.MemBytes = r.Mem
	}
	if !r.BusyKnown {
		return
	}
	w.use.Samples++
	w.sum += r.Busy
	if r.Busy > w.use.BusyMaxPct {
		w.use.BusyMaxPct = r.Busy
	}
}

// finish stops sampling and returns what was seen. It waits at most
// budget for a reading in progress.
func (w *watch) finish(ctx context.Context, budget time.Duration) DeviceUse {
	close(w.stop)
	t := time.NewTimer(budget)
	defer t.Stop()
	select {
	case <-w.done:
	case <-t.C:
		w.mu.Lock()
		w.use.Error = "the device stopped answering (a reading took longer than " + budget.String() + ")"
		w.mu.Unlock()
	case <-ctx.Done():
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	u := w.use
	if u.Samples > 0 {
		u.BusyMeanPct = round(w.sum/float64(u.Samples), 1)
	}
	u.BusyMaxPct = round(u.BusyMaxPct, 1)
	return u
}
