// Command immich-accel checks a host for GPU/NPU acceleration of Immich's
// machine-learning container, enables it in a compose file and benchmarks it.
package main

import (
	"os"
	"runtime/debug"

	"github.com/immich-accel/immich-accel/internal/cli"
)

func main() {
	// A run is short and allocates a lot while it parses (compose-go and
	// YAML decode every file several times): collecting garbage four times
	// less often saves about a third of compose's CPU time, for a heap of a
	// few tens of MiB. GOGC in the environment still decides.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	os.Exit(int(cli.Main()))
}
