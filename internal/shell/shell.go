// Package shell writes command lines for a POSIX shell.
package shell

import "strings"

// Quote returns s as one shell word: as it is when it has only characters
// no POSIX shell treats specially, in single quotes otherwise.
func Quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:@%+=,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
