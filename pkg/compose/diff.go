package compose

import (
	"fmt"
	"strings"
)

// splitLines splits text into lines without their endings, and says
// whether the text ends with a newline.
func splitLines(b []byte) ([]string, bool) {
	if len(b) == 0 {
		return nil, true
	}
	t := newText(b)
	return t.lines, t.eols[len(t.eols)-1] != ""
}

// UnifiedDiff returns a unified diff (3 lines of context) from a to b, with
// the given file names; "" when they are equal. A nil a is a new file.
func UnifiedDiff(aName, bName string, a, b []byte) string {
	if string(a) == string(b) {
		return ""
	}
	al, aNL := splitLines(a)
	bl, bNL := splitLines(b)
	// Lines keep their CR of a CRLF ending, so that the diff applies.
	crOf := func(src []byte) func(int) string {
		t := newText(src)
		return func(i int) string {
			if i >= 0 && i < len(t.eols) && t.eols[i] == "\r\n" {
				return "\r"
			}
			return ""
		}
	}
	aCR, bCR := crOf(a), crOf(b)
	// A last line without newline differs from the same text with one.
	const noNL = "\x00"
	if !aNL && len(al) > 0 {
		al = append(al[:len(al)-1:len(al)-1], al[len(al)-1]+noNL)
	}
	if !bNL && len(bl) > 0 {
		bl = append(bl[:len(bl)-1:len(bl)-1], bl[len(bl)-1]+noNL)
	}
	if a == nil {
		aName = "/dev/null"
	}
	ops := diffLines(al, bl)
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", aName, bName)
	const ctx = 3
	// ops: ' ' equal, '-' delete, '+' insert, with indexes.
	all := ops
	for i := 0; i < len(all); {
		if all[i].op == ' ' {
			i++
			continue
		}
		start := i - ctx
		if start < 0 {
			start = 0
		}
		end := i
		for end < len(all) {
			if all[end].op != ' ' {
				end++
				continue
			}
			// run of equal lines
			j := end
			for j < len(all) && all[j].op == ' ' {
				j++
			}
			if j == len(all) || j-end > 2*ctx {
				end += ctx
				if end > len(all) {
					end = len(all)
				}
				break
			}
			end = j
		}
		h := all[start:end]
		aStart, bStart, aCount, bCount := 0, 0, 0, 0
		for _, l := range h {
			if l.op != '+' {
				if aCount == 0 {
					aStart = l.ai
				}
				aCount++
			}
			if l.op != '-' {
				if bCount == 0 {
					bStart = l.bi
				}
				bCount++
			}
		}
		if aCount == 0 {
			aStart = h[0].ai - 1
		}
		if bCount == 0 {
			bStart = h[0].bi - 1
		}
		fmt.Fprintf(&sb, "@@ -%s +%s @@\n", rangeStr(aStart+1, aCount), rangeStr(bStart+1, bCount))
		for _, l := range h {
			sb.WriteByte(l.op)
			sb.WriteString(strings.TrimSuffix(l.text, noNL))
			if l.op == '+' {
				sb.WriteString(bCR(l.bi))
			} else {
				sb.WriteString(aCR(l.ai))
			}
			sb.WriteByte('\n')
			if l.op != '+' && l.ai == len(al)-1 && !aNL {
				sb.WriteString("\\ No newline at end of file\n")
			} else if l.op == '+' && l.bi == len(bl)-1 && !bNL {
				sb.WriteString("\\ No newline at end of file\n")
			}
		}
		i = end
	}
	return sb.String()
}

func rangeStr(start, count int) string {
	if count == 1 {
		return fmt.Sprint(start)
	}
	if count == 0 {
		return fmt.Sprintf("%d,0", start)
	}
	return fmt.Sprintf("%d,%d", start, count)
}

type diffOp struct {
	op     byte
	text   string
	ai, bi int
}

// diffLines computes a line diff: common prefix and suffix, then a longest
// common subsequence of the middle.
func diffLines(a, b []string) []diffOp {
	var ops []diffOp
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		ops = append(ops, diffOp{' ', a[p], p, p})
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	am, bm := a[p:len(a)-s], b[p:len(b)-s]
	n, m := len(am), len(bm)
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if am[i] == bm[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else if lcs[i+1][j] >= lcs[i][j+1] {
				lcs[i][j] = lcs[i+1][j]
			} else {
				lcs[i][j] = lcs[i][j+1]
			}
		}
	}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && am[i] == bm[j]:
			ops = append(ops, diffOp{' ', am[i], p + i, p + j})
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, diffOp{'-', am[i], p + i, p + j})
			i++
		default:
			ops = append(ops, diffOp{'+', bm[j], p + i, p + j})
			j++
		}
	}
	for k := 0; k < s; k++ {
		ai, bi := len(a)-s+k, len(b)-s+k
		ops = append(ops, diffOp{' ', a[ai], ai, bi})
	}
	return ops
}

// changedLines counts the lines a diff removes and adds.
func changedLines(a, b []byte) int {
	al, _ := splitLines(a)
	bl, _ := splitLines(b)
	n := 0
	for _, o := range diffLines(al, bl) {
		if o.op != ' ' {
			n++
		}
	}
	return n
}
