package verify

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestFloatArray(t *testing.T) {
	for _, tc := range []struct {
		in string
		n  int
		ok bool
	}{
		{"[-0.013126737,-0.022995953,-0.0493738]", 3, true},
		{" [ 1 , 2e-3 ,-3.5E+2 ] ", 3, true},
		{"[]", 0, true},
		{"[1,]", 0, false},
		{"[1,,2]", 0, false},
		{"[NaN]", 0, false},
		{"[Infinity]", 0, false},
		{"[1e999]", 0, false},
		{"[0x10]", 0, false},
		{"[+1]", 0, false},
		{"[.5]", 0, false},
		{"[1.]", 0, false},
		{`["1"]`, 0, false},
		{"1,2", 0, false},
		{"[1,2", 0, false},
		{"[00]", 0, false},
		{"[0.5,-0,10]", 3, true},
		{"[1\v]", 0, false},
	} {
		n, err := floatArray(tc.in)
		if (err == nil) != tc.ok || n != tc.n {
			t.Errorf("floatArray(%q) = %d, %v; want %d, ok=%v", tc.in, n, err, tc.n, tc.ok)
		}
	}
}

// FuzzFloatArray: floatArray accepts exactly what encoding/json decodes
// as an array of finite float64s, with the same length.
func FuzzFloatArray(f *testing.F) {
	for _, s := range []string{"[1,2,3]", "[-0.5e-3]", "[]", "[1,]", "[NaN]", "[1e400]", " [ 1 ] ", "[0x1]", "[\"a\"]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := floatArray(s)
		var want []float64
		jerr := json.Unmarshal([]byte(s), &want)
		// JSON allows whitespace that floatArray's TrimSpace also trims,
		// plus null, which is not an array.
		if jerr == nil && strings.TrimSpace(s) == "null" {
			jerr = errNull
		}
		if (err == nil) != (jerr == nil) {
			t.Fatalf("floatArray(%q) = %d, %v; encoding/json: %v", s, n, err, jerr)
		}
		if err == nil && n != len(want) {
			t.Fatalf("floatArray(%q) = %d values, encoding/json %d", s, n, len(want))
		}
	})
}

var errNull = jsonNullError{}

type jsonNullError struct{}

func (jsonNullError) Error() string { return "null" }
