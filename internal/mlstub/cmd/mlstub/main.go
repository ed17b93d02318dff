// Command mlstub serves the Immich ML stand-in on IMMICH_PORT (default
// 3003), logging to standard output like the real container. MLSTUB_PROVIDERS
// (comma-separated) sets the providers it says it loads models with, and
// MLSTUB_FAULTS ("faces=500,clip-textual=malformed") makes tasks fail.
package main

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/immich-accel/immich-accel/internal/mlstub"
)

func main() {
	port := os.Getenv("IMMICH_PORT")
	if port == "" {
		port = "3003"
	}
	cfg := mlstub.Config{Log: os.Stdout, Faults: map[string]mlstub.Fault{}}
	if p := os.Getenv("MLSTUB_PROVIDERS"); p != "" {
		cfg.Providers = strings.Split(p, ",")
	}
	for _, kv := range strings.Split(os.Getenv("MLSTUB_FAULTS"), ",") {
		task, what, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		var f mlstub.Fault
		switch what {
		case "malformed":
			f.Malformed = true
		case "hang":
			f.Hang = true
		case "close":
			f.Close = true
		default:
			n, err := strconv.Atoi(what)
			if err != nil {
				fmt.Fprintf(os.Stderr, "mlstub: MLSTUB_FAULTS: unknown fault %q\n", what)
				os.Exit(2)
			}
			f.Status = n
		}
		cfg.Faults[task] = f
	}
	fmt.Println("[" + time.Now().Format("01/02/06 15:04:05") + "] INFO     Initializing Immich ML [stand-in]")
	srv := &http.Server{Addr: ":" + port, Handler: mlstub.New(cfg), ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, "mlstub:", err)
		os.Exit(1)
	}
}
