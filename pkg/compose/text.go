package compose

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// text is a document split into lines, each with its own line ending, so
// that edits touch only the lines they must and everything else comes back
// byte for byte.
type text struct {
	lines []string // without line endings
	eols  []string // "\n", "\r\n" or "" (only the last line may have "")
	eol   string   // the dominant line ending, used for inserted lines
}

func newText(src []byte) *text {
	t := &text{}
	s := string(src)
	crlf, lf := 0, 0
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			t.lines = append(t.lines, s)
			t.eols = append(t.eols, "")
			break
		}
		line, eol := s[:i], "\n"
		if strings.HasSuffix(line, "\r") {
			line, eol = line[:len(line)-1], "\r\n"
			crlf++
		} else {
			lf++
		}
		t.lines = append(t.lines, line)
		t.eols = append(t.eols, eol)
		s = s[i+1:]
	}
	t.eol = "\n"
	if crlf > lf {
		t.eol = "\r\n"
	}
	return t
}

// indentOf returns the number of leading spaces of a line.
func indentOf(line string) int {
	return len(line) - len(strings.TrimLeft(line, " "))
}

func isBlankOrComment(line string) bool {
	tr := strings.TrimSpace(line)
	return tr == "" || strings.HasPrefix(tr, "#")
}

// byteOffset converts a 1-based column counted in characters, as the YAML
// parser reports it, to a byte offset into line.
func byteOffset(line string, column int) int {
	off := 0
	for i := 1; i < column && off < len(line); i++ {
		_, size := utf8.DecodeRuneInString(line[off:])
		off += size
	}
	return off
}

// edit replaces lines [start, end) of the original text with repl. An
// insertion has start == end. Edits are collected against the original line
// numbers and applied together.
type edit struct {
	start, end int
	repl       []string
	seq        int
	// depth orders insertions at the same line: deeper first, so that an
	// entry appended to an inner list comes before a key added to the
	// mapping around it.
	depth int
}

type patch struct {
	t     *text
	edits []edit
}

func (p *patch) replaceLine(i int, s string) {
	p.add(edit{start: i, end: i + 1, repl: []string{s}})
}

func (p *patch) insert(at int, lines []string) {
	p.insertDepth(at, 0, lines)
}

// insertDepth inserts lines at a nesting depth (see edit.depth).
func (p *patch) insertDepth(at, depth int, lines []string) {
	if len(lines) == 0 {
		return
	}
	p.add(edit{start: at, end: at, repl: lines, depth: depth})
}

func (p *patch) remove(start, end int) {
	p.add(edit{start: start, end: end})
}

func (p *patch) add(e edit) {
	e.seq = len(p.edits)
	p.edits = append(p.edits, e)
}

// replacement returns the text an earlier edit gave line i, if any, so
// that a second edit of the line can build on the first.
func (p *patch) replacement(i int) (string, bool) {
	for k := len(p.edits) - 1; k >= 0; k-- {
		e := p.edits[k]
		if e.start == i && e.end == i+1 && len(e.repl) == 1 {
			return e.repl[0], true
		}
	}
	return "", false
}

// current returns line i as the patch so far would leave it.
func (p *patch) current(i int) string {
	if s, ok := p.replacement(i); ok {
		return s
	}
	return p.t.lines[i]
}

// setLine replaces line i, merging with an earlier replacement of the same
// line.
func (p *patch) setLine(i int, s string) {
	for k := len(p.edits) - 1; k >= 0; k-- {
		e := &p.edits[k]
		if e.start == i && e.end == i+1 && len(e.repl) == 1 {
			e.repl[0] = s
			return
		}
	}
	p.replaceLine(i, s)
}

// apply returns the patched document. It fails when two edits overlap.
func (p *patch) apply() ([]byte, error) {
	es := append([]edit(nil), p.edits...)
	sort.SliceStable(es, func(a, b int) bool {
		if es[a].start != es[b].start {
			return es[a].start < es[b].start
		}
		// insertions before replacements at the same line
		ai, bi := es[a].start == es[a].end, es[b].start == es[b].end
		if ai != bi {
			return ai
		}
		if ai && es[a].depth != es[b].depth {
			return es[a].depth > es[b].depth
		}
		return es[a].seq < es[b].seq
	})
	for k := 1; k < len(es); k++ {
		prev, cur := es[k-1], es[k]
		if cur.start < prev.end || (cur.start == prev.start && prev.end > prev.start && cur.end > cur.start) {
			return nil, fmt.Errorf("internal error: overlapping edits at lines %d and %d", prev.start+1, cur.start+1)
		}
	}
	t := p.t
	type outLine struct{ s, eol string }
	var out []outLine
	pos := 0
	for _, e := range es {
		for ; pos < e.start; pos++ {
			out = append(out, outLine{t.lines[pos], t.eols[pos]})
		}
		for _, r := range e.repl {
			out = append(out, outLine{r, t.eol})
		}
		if e.end > e.start && len(e.repl) > 0 && e.end-e.start == len(e.repl) {
			// keep each replaced line's own ending
			for k := range e.repl {
				out[len(out)-len(e.repl)+k].eol = t.eols[e.start+k]
			}
		}
		if e.end > pos {
			pos = e.end
		}
	}
	for ; pos < len(t.lines); pos++ {
		out = append(out, outLine{t.lines[pos], t.eols[pos]})
	}
	finalNL := len(t.eols) == 0 || t.eols[len(t.eols)-1] != ""
	var b bytes.Buffer
	for k, l := range out {
		b.WriteString(l.s)
		eol := l.eol
		if eol == "" {
			eol = t.eol
		}
		if k == len(out)-1 && !finalNL {
			eol = ""
		}
		b.WriteString(eol)
	}
	return b.Bytes(), nil
}
