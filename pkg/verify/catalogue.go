package verify

import (
	"strings"

	"github.com/immich-accel/immich-accel/pkg/accel"
	"github.com/immich-accel/immich-accel/pkg/failures"
)

// cpuFallbackIDs are the catalogue entries that mean the models run on the
// CPU although the image is an accelerated one.
var cpuFallbackIDs = map[failures.ID]bool{
	failures.CPUFallback:      true,
	failures.ProviderFallback: true,
	failures.RKNNNotChosen:    true,
	failures.OpenVINONoGPU:    true,
}

// Catalogue scans logs with doctor's catalogue of known ML failures
// (pkg/failures).
type Catalogue struct{}

var _ LogScanner = Catalogue{}

// Scan matches text, logs of a container of backend b.
func (Catalogue) Scan(text string, b accel.Backend) []LogMatch {
	var out []LogMatch
	for _, m := range failures.Scan(text, b) {
		out = append(out, LogMatch{
			Class:       string(m.Entry.ID),
			Text:        strings.Join(m.Lines, " | "),
			Meaning:     m.Entry.Cause,
			Fix:         m.Entry.Fix,
			CPUFallback: cpuFallbackIDs[m.Entry.ID],
		})
	}
	return out
}
