package units

import "testing"

func TestCount(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 ", 512: "512 ", 1664: "1.66 k", 1_030_000: "1.03 M",
		87_849_216: "87.8 M", 8_820_000_000: "8.82 G", 999: "999 ",
	} {
		if got := Count(n); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}
