package ortlib

import (
	"testing"

	"github.com/immich-accel/immich-accel/internal/testenv"
)

// The tests find the runtime through the variable users set.
func TestTestenvNamesTheRuntimeVariable(t *testing.T) {
	if testenv.ORTLibEnv != EnvVar {
		t.Errorf("testenv.ORTLibEnv = %s, want %s", testenv.ORTLibEnv, EnvVar)
	}
}
