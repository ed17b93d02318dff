// Package ansi removes terminal escape sequences from text that native
// libraries and containers print for a terminal.
package ansi

import "strings"

// Strip removes CSI sequences (ESC [ parameters final-byte: colours,
// cursor moves, erases) from s. Other text, other escapes included, is
// kept as it is.
func Strip(s string) string {
	if !strings.Contains(s, "\x1b[") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
