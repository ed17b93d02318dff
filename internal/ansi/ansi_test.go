package ansi

import "testing"

func TestStrip(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                              "plain",
		"\x1b[1;31mred\x1b[m\n":              "red\n",
		"\x1b[2m[11/20/25]\x1b[0m INFO x":    "[11/20/25] INFO x",
		"a\x1b[2Kb\x1b[10;20Hc":              "abc",
		"\x1b]0;title\x07kept":               "\x1b]0;title\x07kept",
		"cut at the end \x1b[31":             "cut at the end ",
		"lone escape \x1b":                   "lone escape \x1b",
		"\x1b[38;2;255;0;0mtruecolor\x1b[0m": "truecolor",
	} {
		if got := Strip(in); got != want {
			t.Errorf("Strip(%q) = %q, want %q", in, got, want)
		}
	}
}
