// Package units formats counts for people.
package units

import "fmt"

// Count formats n with an SI prefix and a trailing space, ready for a unit:
// "1.66 k", "87.8 M", "8.82 G"; below 1000, the number itself ("512 ").
func Count(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.3g G", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.3g M", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.3g k", float64(n)/1e3)
	}
	return fmt.Sprintf("%d ", n)
}
