// Command immich-accel checks a host for GPU/NPU acceleration of Immich's
// machine-learning container, enables it in a compose file and benchmarks it.
package main

import (
	"os"

	"github.com/immich-accel/immich-accel/internal/cli"
)

func main() {
	os.Exit(int(cli.Main()))
}
