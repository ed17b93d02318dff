package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/immich-accel/immich-accel/internal/ansi"
)

// stderrCapture collects what native code (ONNX Runtime, provider
// libraries, Dawn/Vulkan) writes to file descriptor 2 while fn runs: the
// reason a provider library did not load is often only logged there.
// Nothing written by this process's Go code may go to stderr meanwhile.
type stderrCapture struct {
	mu sync.Mutex
	// lost is set once stderr could not be put back: capturing is off
	// from then on.
	lost error
	// restore puts the saved descriptor back on 2: unix.Dup2 unless set
	// (tests).
	restore func(saved, fd int) error
}

// run calls fn with stderr captured and returns what was written. When
// ctx ends before fn returns, run restores stderr and returns ctx's error
// at once; fn goes on in the background. lost is non-nil when stderr could
// not be restored; it then points at /dev/null (or is closed) rather than
// at the pipe, and later messages of the process are lost.
func (c *stderrCapture) run(ctx context.Context, fn func() error) (log string, lost, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lost != nil {
		return "", nil, fn()
	}
	saved, err := unix.Dup(2)
	if err != nil {
		return "", nil, fn()
	}
	defer unix.Close(saved)
	r, w, err := os.Pipe()
	if err != nil {
		return "", nil, fn()
	}
	if err := unix.Dup2(int(w.Fd()), 2); err != nil {
		r.Close()
		w.Close()
		return "", nil, fn()
	}
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(&buf, r)
		close(done)
	}()
	res := make(chan error, 1)
	go func() { res <- fn() }()
	var ferr error
	select {
	case ferr = <-res:
	case <-ctx.Done():
		ferr = ctx.Err()
	}
	restore := c.restore
	if restore == nil {
		restore = unix.Dup2
	}
	if rerr := restore(saved, 2); rerr != nil {
		c.lost = fmt.Errorf("stderr could not be restored after capturing native logs: %w", rerr)
		lost = c.lost
		// fd 2 still writes into the pipe, which would never reach its
		// end: point it elsewhere so that the copy above ends.
		if null, err := unix.Open(os.DevNull, unix.O_WRONLY|unix.O_CLOEXEC, 0); err == nil && unix.Dup2(null, 2) == nil {
			unix.Close(null)
		} else {
			if err == nil {
				unix.Close(null)
			}
			unix.Close(2)
		}
	}
	w.Close()
	<-done
	r.Close()
	return ansi.Strip(buf.String()), lost, ferr
}
