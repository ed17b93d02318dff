package bench

import (
	"bytes"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// stderrCapture collects what native code (ONNX Runtime, provider
// libraries, Dawn/Vulkan) writes to file descriptor 2 while fn runs: the
// reason a provider library did not load is often only logged there.
// Nothing written by this process's Go code may go to stderr meanwhile.
type stderrCapture struct {
	mu sync.Mutex
}

func (c *stderrCapture) run(fn func() error) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	saved, err := unix.Dup(2)
	if err != nil {
		return "", fn()
	}
	defer unix.Close(saved)
	r, w, err := os.Pipe()
	if err != nil {
		return "", fn()
	}
	if err := unix.Dup2(int(w.Fd()), 2); err != nil {
		r.Close()
		w.Close()
		return "", fn()
	}
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(&buf, r)
		close(done)
	}()
	ferr := fn()
	_ = unix.Dup2(saved, 2)
	w.Close()
	<-done
	r.Close()
	return stripANSI(buf.String()), ferr
}

func stripANSI(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}
