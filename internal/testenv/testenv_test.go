package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestUnavailable runs a test that lacks its input in a child process,
// with and without CI=true, and checks it is skipped or fails.
func TestUnavailable(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") == "1" {
		RequireShared(t, "no-such-directory-here")
		t.Fatal("RequireShared returned for a missing directory")
	}
	for _, tt := range []struct {
		ci   string
		fail bool
		want string
	}{
		{"", false, "--- SKIP"},
		{"true", true, "--- FAIL"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestUnavailable$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTENV_CHILD=1", "CI="+tt.ci)
		out, err := cmd.CombinedOutput()
		if (err != nil) != tt.fail || !strings.Contains(string(out), tt.want) || !strings.Contains(string(out), "no-such-directory-here") {
			t.Errorf("CI=%q: err %v, output:\n%s", tt.ci, err, out)
		}
	}
}
