package detect

import (
	"context"
	"reflect"
	"testing"
	"time"
)

// TestCollectCancelsProbesAtTheBudget checks that a probe that blocks
// until its context ends does not outlive the run: collect gives the probes
// a context that ends with the budget, and cancels it when it returns.
func TestCollectCancelsProbesAtTheBudget(t *testing.T) {
	d := New(WithTimeout(10 * time.Millisecond))
	ended := make(chan error, 1)
	blocker := probe{"blocker", func(ctx context.Context) func(*facts) {
		<-ctx.Done()
		ended <- ctx.Err()
		return func(f *facts) { f.cpu.Model = "set too late" }
	}}
	quick := probe{"quick", func(context.Context) func(*facts) {
		return func(f *facts) { f.groups.VideoGID = 44 }
	}}
	start := time.Now()
	f := d.collect(context.Background(), []probe{blocker, quick})
	if took := time.Since(start); took > 10*d.runBudget() {
		t.Errorf("collect took %s with a budget of %s", took, d.runBudget())
	}
	if !reflect.DeepEqual(f.unfinished, []string{"blocker"}) {
		t.Errorf("unfinished = %q, want [blocker]", f.unfinished)
	}
	select {
	case err := <-ended:
		if err == nil {
			t.Error("the probe's context ended without an error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the blocked probe's context did not end when collect returned")
	}
	if f.cpu.Model != "" || f.groups.VideoGID != 44 {
		t.Errorf("facts: cpu %q (a late probe must change nothing), video gid %d", f.cpu.Model, f.groups.VideoGID)
	}
}

// TestCollectCancelsProbesWithTheCaller checks that a canceled caller ends
// the run and the probes' context at once.
func TestCollectCancelsProbesWithTheCaller(t *testing.T) {
	d := New(WithTimeout(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan struct{})
	blocker := probe{"blocker", func(ctx context.Context) func(*facts) {
		<-ctx.Done()
		close(ended)
		return func(*facts) {}
	}}
	time.AfterFunc(20*time.Millisecond, cancel)
	done := make(chan struct{})
	go func() {
		d.collect(ctx, []probe{blocker})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("collect did not return when its caller was canceled")
	}
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the probe's context did not end with the caller's")
	}
}
