// Command mlstandin stands in for Immich's machine-learning container in
// engine tests: a static program, built into a FROM scratch image, that
// logs like Immich's ML server (Python's Rich handler, gunicorn) and then
// behaves as the mode in its first argument says:
//
//	serve     (default) answer GET /ping on :3003 with "pong", like the ML server
//	segfault  die of SIGSEGV (the container exits 139)
//	abort     die of SIGABRT (exit 134)
//	oom       allocate memory until the kernel's OOM killer stops it
//	crash     log an import error and exit 3 (under a restart policy: a restart loop)
//	hang      log, then never answer (for a failing healthcheck)
//	health    the healthcheck: GET http://127.0.0.1:3003/ping, exit 1 unless "pong"
//
// Like tini in Immich's image, the process Docker starts (PID 1) runs the
// server as its child and exits with the child's status, 128+signal for a
// signal: PID 1 itself cannot die of a signal it raises.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

const childEnv = "MLSTANDIN_CHILD"

func main() {
	mode := "serve"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	if mode == "health" {
		os.Exit(health())
	}
	if os.Getenv(childEnv) == "" {
		os.Exit(supervise())
	}
	run(mode)
}

// supervise runs this program again as its child and passes its fate on.
func supervise() int {
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "mlstandin:", err)
		return 1
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	_ = cmd.Wait()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return cmd.ProcessState.ExitCode()
}

// logf writes one record the way Immich's Rich handler does: time and
// level columns, long messages wrapped onto lines indented past them.
func logf(level, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	prefix := fmt.Sprintf("[%s] %-8s ", time.Now().UTC().Format("01/02/06 15:04:05"), level)
	const width = 51
	for first := true; msg != "" || first; first = false {
		n := len(msg)
		if n > width {
			n = strings.LastIndexByte(msg[:width], ' ')
			if n <= 0 {
				n = width
			}
		}
		line := strings.TrimSpace(msg[:n])
		msg = strings.TrimSpace(msg[n:])
		if !first {
			prefix = strings.Repeat(" ", 29)
		}
		fmt.Printf("%s%-*s\n", prefix, width, line)
	}
}

func run(mode string) {
	pid := os.Getpid()
	logf("INFO", "Starting gunicorn 23.0.0")
	logf("INFO", "Booting worker with pid: %d", pid)
	logf("INFO", "Application startup complete.")
	if mode != "crash" {
		logf("INFO", "Loading visual model 'ViT-B-32__openai' to memory")
		logf("INFO", "Setting execution providers to ['CPUExecutionProvider'], in descending order of preference")
	}
	switch mode {
	case "segfault":
		die(syscall.SIGSEGV)
	case "abort":
		die(syscall.SIGABRT)
	case "oom":
		debug.SetGCPercent(-1)
		var keep [][]byte
		for {
			b := make([]byte, 8<<20)
			for i := range b {
				b[i] = 1
			}
			keep = append(keep, b)
		}
	case "crash":
		// How the OpenVINO build of ONNX Runtime fails to import on a host
		// that refuses executable stacks (imagegenius/docker-immich#502).
		logf("ERROR", "Exception in worker process")
		logf("ERROR", "ImportError: /opt/venv/lib/python3.11/site-packages/onnxruntime/capi/onnxruntime_pybind11_state.cpython-311-x86_64-linux-gnu.so: cannot enable executable stack as shared object requires: Invalid argument")
		logf("ERROR", "Reason: Worker failed to boot.")
		os.Exit(3)
	case "hang":
		for {
			time.Sleep(time.Hour) // (a bare select{} is a deadlock to Go's runtime)
		}
	default:
		http.HandleFunc("/ping", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "pong") })
		if err := http.ListenAndServe(":3003", nil); err != nil {
			logf("ERROR", "%v", err)
			os.Exit(1)
		}
	}
}

// die kills the process with sig's default action, as a native library's
// crash does; Go's own handler would turn it into an exit status of 2.
func die(sig syscall.Signal) {
	time.Sleep(200 * time.Millisecond) // let the log reach Docker
	// struct sigaction {handler, flags, restorer, mask} with SIG_DFL (0).
	var act [4]uint64
	if _, _, errno := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0); errno != 0 {
		fmt.Fprintln(os.Stderr, "rt_sigaction:", errno)
		os.Exit(2)
	}
	_ = syscall.Kill(os.Getpid(), sig)
	time.Sleep(time.Second)
	os.Exit(2)
}

func health() int {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://127.0.0.1:3003/ping")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
	if string(b) != "pong" {
		fmt.Printf("/ping answered %q\n", b)
		return 1
	}
	return 0
}
