// Package failures is the catalogue of the ways Immich's machine-learning
// container fails with hardware acceleration, and the matcher that finds
// them in what Docker and the container say: the Engine's start error
// (State.Error, or `docker compose up`'s output), the container's exit state,
// and its log lines. Each entry names its cause, the fix that addresses it,
// the backends it applies to and the upstream report it comes from.
//
// Matching is pure (no I/O) and holds up on logs as users get them: ANSI
// colour codes, `name  |` prefixes from `docker compose logs`, timestamps,
// Rich's wrapping of long messages onto indented continuation lines (even
// mid-word), blank lines between wrapped lines, and ONNX Runtime's own
// `[E:onnxruntime:...]` lines.
package failures

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/immich-accel/immich-accel/pkg/accel"
)

// Evidence says where an entry's evidence shows up.
type Evidence uint8

// Where evidence shows up (an entry may have several).
const (
	// InStartError: Docker's error when it cannot start the container,
	// kept in State.Error (the container stays "created", exit code 128).
	InStartError Evidence = 1 << iota
	// InExitState: the exit code and OOMKilled of a stopped container.
	InExitState
	// InLog: the container's log lines.
	InLog
)

func (e Evidence) String() string {
	var parts []string
	if e&InStartError != 0 {
		parts = append(parts, "start error")
	}
	if e&InExitState != 0 {
		parts = append(parts, "exit state")
	}
	if e&InLog != 0 {
		parts = append(parts, "log line")
	}
	return strings.Join(parts, ", ")
}

// Entry is one known failure.
type Entry struct {
	// ID is stable across releases.
	ID ID
	// Where the evidence shows up.
	Where Evidence
	// Patterns are exact substrings of the evidence text. They are matched
	// ignoring whitespace, so a message Rich wrapped onto several lines
	// still matches.
	Patterns []string
	// ExitCodes are exit codes that are this failure (InExitState).
	ExitCodes []int
	// OOMKilled: the Engine's OOMKilled flag is this failure (InExitState).
	OOMKilled bool
	// Cause says what happened, for people.
	Cause string
	// Fix says what to do about it.
	Fix string
	// Backends the entry applies to: the backend of the container's image
	// (accel.ImageBackend). Empty means any; an entry that lists backends
	// does not match for others, nor for an unknown (empty) backend.
	Backends []accel.Backend
	// Upstream names the reports the entry comes from.
	Upstream string
}

// AppliesTo reports whether e applies to a container of backend b.
func (e Entry) AppliesTo(b accel.Backend) bool {
	if len(e.Backends) == 0 {
		return true
	}
	for _, x := range e.Backends {
		if x == b {
			return true
		}
	}
	return false
}

// Match is an entry found in some evidence.
type Match struct {
	Entry Entry
	// Lines are the evidence: the log records (a Rich-wrapped message
	// joined back into one line) or the start error that matched, each
	// shortened to the part around the match.
	Lines []string
}

// Scan finds the catalogue's failures in text (container logs, or a
// start error as Docker or Compose printed it) from a container of backend
// b, in catalogue order, each with the records that show it.
func Scan(text string, b accel.Backend) []Match {
	return scan(Records(text), b, InLog|InStartError|InExitState)
}

// StartError finds the failures in the Engine's error for a container that
// did not start (State.Error).
func StartError(msg string, b accel.Backend) []Match {
	return scan(Records(msg), b, InStartError)
}

// Exit finds the failures that a container's exit code and OOMKilled flag
// are by themselves.
func Exit(code int, oomKilled bool, b accel.Backend) []Match {
	var out []Match
	for _, e := range entries() {
		if e.Where&InExitState == 0 || !e.AppliesTo(b) {
			continue
		}
		switch {
		case oomKilled && e.OOMKilled:
			out = append(out, Match{Entry: e, Lines: []string{"OOMKilled (exit code " + strconv.Itoa(code) + ")"}})
		case !oomKilled && containsInt(e.ExitCodes, code):
			out = append(out, Match{Entry: e, Lines: []string{"exit code " + strconv.Itoa(code)}})
		}
	}
	return out
}

func scan(recs []string, b accel.Backend, where Evidence) []Match {
	type squeezed struct {
		text string
		at   []int // at[i] is the offset in the record of text[i]
	}
	sq := make([]squeezed, len(recs))
	for i, r := range recs {
		sq[i].text, sq[i].at = squeeze(r)
	}
	var out []Match
	for _, e := range entries() {
		if e.Where&where == 0 || len(e.Patterns) == 0 || !e.AppliesTo(b) {
			continue
		}
		var lines []string
		for i, s := range sq {
			for _, p := range e.Patterns {
				ps, _ := squeeze(p)
				if j := strings.Index(s.text, ps); j >= 0 {
					lines = append(lines, excerpt(recs[i], s.at[j], s.at[j+len(ps)-1]+1))
					break
				}
			}
		}
		if len(lines) > 0 {
			out = append(out, Match{Entry: e, Lines: dedupe(lines)})
		}
	}
	return out
}

// squeeze drops all whitespace from s and maps each byte left to its offset.
func squeeze(s string) (string, []int) {
	var b strings.Builder
	at := make([]int, 0, len(s))
	for i, r := range s {
		if unicode.IsSpace(r) {
			continue
		}
		n := b.Len()
		b.WriteRune(r)
		for k := n; k < b.Len(); k++ {
			at = append(at, i+k-n)
		}
	}
	return b.String(), at
}

// maxExcerpt is how much of a long record (a whole traceback) is shown.
const maxExcerpt = 240

// excerpt shortens rec to about maxExcerpt bytes around [from, to).
func excerpt(rec string, from, to int) string {
	if len(rec) <= maxExcerpt {
		return rec
	}
	start := from - (maxExcerpt-(to-from))/2
	if start < 0 {
		start = 0
	}
	end := start + maxExcerpt
	if end < to {
		end = to
	}
	if end > len(rec) {
		end = len(rec)
		if start = end - maxExcerpt; start < 0 || start > from {
			start = min(from, max(0, end-maxExcerpt))
		}
	}
	for start > 0 && !utf8Start(rec[start]) {
		start--
	}
	for end < len(rec) && !utf8Start(rec[end]) {
		end++
	}
	s := rec[start:end]
	if start > 0 {
		s = "…" + s
	}
	if end < len(rec) {
		s += "…"
	}
	return s
}

func utf8Start(c byte) bool { return c&0xC0 != 0x80 }

var (
	reANSI = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07`)
	// Prefixes that tools put before each line of a container's output:
	// a Markdown quote, `docker compose logs`' "name  | ", a Synology
	// export's "2024/07/01 18:12:59<TAB>stdout<TAB>", and the RFC 3339
	// timestamp of `docker logs -t`.
	rePrefix = []*regexp.Regexp{
		regexp.MustCompile(`^> ?`),
		regexp.MustCompile(`^[A-Za-z0-9][\w.-]*\s+\| ?`),
		regexp.MustCompile(`^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\t(?:stdout|stderr)\t`),
		regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d) `),
	}
)

// richIndent is the least indentation of a continuation line of Rich's
// log handler, which wraps messages past its time and level columns
// (29 columns in Immich's logs).
const richIndent = 20

// Records splits container output into log records: ANSI codes, CRs and
// per-line prefixes removed, blank lines dropped, and each Rich
// continuation line joined to the record it continues (with a space; a
// message wrapped mid-word gets a space inside the word, which matching
// ignores).
func Records(text string) []string {
	text = reANSI.ReplaceAllString(text, "")
	var recs []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			recs = append(recs, cur.String())
			cur.Reset()
		}
	}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, " \t\r")
		for _, re := range rePrefix {
			if loc := re.FindStringIndex(line); loc != nil {
				line = line[loc[1]:]
			}
		}
		body := strings.TrimLeft(line, " ")
		if strings.TrimSpace(body) == "" {
			continue
		}
		if len(line)-len(body) >= richIndent && cur.Len() > 0 {
			cur.WriteByte(' ')
			cur.WriteString(strings.TrimSpace(body))
			continue
		}
		flush()
		cur.WriteString(strings.TrimSpace(line))
	}
	flush()
	return recs
}

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	out := ss[:0]
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// Catalogue returns every entry, in the order Scan reports them.
func Catalogue() []Entry {
	return entries()
}

// Lookup returns the entry with the given id.
func Lookup(id ID) (Entry, bool) {
	for _, e := range entries() {
		if e.ID == id {
			return e, true
		}
	}
	return Entry{}, false
}
