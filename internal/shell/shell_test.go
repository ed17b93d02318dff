package shell

import (
	"os/exec"
	"testing"
)

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"docker-compose.yml":       "docker-compose.yml",
		"/srv/immich/compose.yaml": "/srv/immich/compose.yaml",
		"user@host:8080/a=b,c+d%":  "user@host:8080/a=b,c+d%",
		"":                         "''",
		"my stack/compose.yml":     "'my stack/compose.yml'",
		"it's.yml":                 `'it'\''s.yml'`,
		"$HOME/x;rm -rf ~":         `'$HOME/x;rm -rf ~'`,
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to check the quoting with")
	}
	for _, in := range []string{"it's here", "a b\tc", "$(id)`id`", "*?[", "x\ny", "ünï", ""} {
		out, err := exec.Command(sh, "-c", "printf %s "+Quote(in)).Output()
		if err != nil || string(out) != in {
			t.Errorf("sh reads %s as %q (%v), want %q", Quote(in), out, err, in)
		}
	}
}
