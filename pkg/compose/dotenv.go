package compose

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/dotenv"
)

// EnvVar is one variable assignment in a .env file.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// envFile is the .env file Compose reads for a project: its values as
// compose-go's own dotenv parser reads them, and where each assignment sits
// in the text, so that one value can be changed (or a line added) keeping
// every other byte.
type envFile struct {
	path   string // the file (a symlink's target when it is one)
	given  string // the path as named
	exists bool
	// disabled: Compose reads no .env here (COMPOSE_DISABLE_ENV_FILE).
	disabled bool
	src      []byte
	vars     map[string]string
	stmts    []envStmt
	mode     os.FileMode
	size     int64
}

// envStmt is one KEY=value statement.
type envStmt struct {
	key        string
	line       int // 0-based line of the key
	multiline  bool
	valStart   int // byte offsets of the value text (quotes included) in the line
	valEnd     int
	quote      byte // 0, '\'' or '"'
	noAssign   bool // "KEY" alone: the value comes from the process environment
	afterKeyAt int  // offset just after the key, for noAssign statements
}

// projectEnvFile returns the .env file Compose reads for a project in dir:
// envFile when given (--env-file), else dir/.env (which may not exist yet).
// compose-go's project options choose and load it, as docker compose does.
func projectEnvFile(dir, given string) (*envFile, error) {
	var files []string
	if given != "" {
		files = []string{given}
		if _, err := os.Stat(given); err != nil {
			return nil, newError(ErrManual, "Check the path given with --env-file, or leave it out to use the .env next to the compose file.",
				"env file %s: %v", given, errors.Unwrap(err))
		}
	}
	o, err := cli.NewProjectOptions(nil, cli.WithWorkingDirectory(dir), cli.WithEnvFiles(files...))
	if err != nil {
		return nil, fmt.Errorf("finding the .env file: %w", err)
	}
	path := filepath.Join(dir, ".env")
	if len(o.EnvFiles) > 0 {
		path = o.EnvFiles[0]
	}
	f := &envFile{given: path, path: path, vars: map[string]string{}}
	real, err := filepath.EvalSymlinks(path)
	switch {
	case len(o.EnvFiles) == 0 && err == nil:
		// The .env is there, but compose-go, like docker compose, does not
		// read it: COMPOSE_DISABLE_ENV_FILE is set.
		f.disabled = true
		return f, nil
	case errors.Is(err, os.ErrNotExist):
		if len(o.EnvFiles) == 0 {
			return f, nil
		}
		return nil, fmt.Errorf("reading %s: %w", path, err)
	case err != nil:
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	f.path = real
	st, err := os.Stat(real)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if st.IsDir() {
		return nil, newError(ErrManual, "Remove or rename that directory: docker compose expects a file there.", "%s is a directory, not an env file", path)
	}
	src, err := readFile(real)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if err := f.load(src); err != nil {
		return nil, err
	}
	f.exists, f.mode, f.size = true, st.Mode(), st.Size()
	return f, nil
}

// load parses src with compose-go's dotenv parser and locates the
// statements.
func (f *envFile) load(src []byte) error {
	vars, err := dotenv.ParseWithLookup(bytes.NewReader(src), nil)
	if err != nil {
		return newError(ErrManual, "Fix that line (docker compose reports the same error), then run again.", "%s cannot be read as an env file: %v", f.given, err)
	}
	f.src, f.vars, f.stmts = src, vars, locateEnvStatements(newText(src))
	return nil
}

// locateEnvStatements finds the assignments of an env file, line by line,
// following compose-go's dotenv syntax: blank and # lines, an optional
// "export ", KEY=value or KEY: value, single- or double-quoted values that
// may span lines, and " #" comments after unquoted values.
func locateEnvStatements(t *text) []envStmt {
	var out []envStmt
	for i := 0; i < len(t.lines); i++ {
		l := t.lines[i]
		start := 0
		if i == 0 && strings.HasPrefix(l, "\ufeff") {
			start = len("\ufeff") // compose-go skips a UTF-8 byte order mark
		}
		p := start + len(l[start:]) - len(strings.TrimLeft(l[start:], " \t\v\f"))
		if p == len(l) || l[p] == '#' {
			continue
		}
		if rest, ok := strings.CutPrefix(l[p:], "export"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			p = len(l) - len(strings.TrimLeft(rest, " \t"))
		}
		k := p
		for k < len(l) && l[k] != '=' && l[k] != ':' {
			k++
		}
		s := envStmt{key: strings.TrimRight(l[p:k], " \t"), line: i}
		if k == len(l) {
			s.noAssign, s.afterKeyAt = true, len(strings.TrimRight(l, " \t"))
			out = append(out, s)
			continue
		}
		v := k + 1
		for v < len(l) && (l[v] == ' ' || l[v] == '\t') {
			v++
		}
		s.valStart = v
		if v < len(l) && (l[v] == '"' || l[v] == '\'') {
			s.quote = l[v]
			end, line := closingQuote(t, i, v)
			if line != i {
				s.multiline = true
				out = append(out, s)
				i = line
				continue
			}
			s.valEnd = end + 1
		} else {
			val := l[v:]
			if c := strings.Index(val, " #"); c >= 0 {
				val = val[:c]
			}
			s.valEnd = v + len(strings.TrimRight(val, " \t"))
		}
		out = append(out, s)
	}
	return out
}

// closingQuote finds the quote that ends the value opened at line i, byte
// v: its offset and line (an unterminated value runs to the end).
func closingQuote(t *text, i, v int) (int, int) {
	q := t.lines[i][v]
	esc := false
	for li, off := i, v+1; li < len(t.lines); li, off = li+1, 0 {
		l := t.lines[li]
		for ; off < len(l); off++ {
			switch {
			case esc:
				esc = false
			case l[off] == '\\':
				esc = true
			case l[off] == q:
				return off, li
			}
		}
		esc = false
	}
	return len(t.lines[len(t.lines)-1]), len(t.lines) - 1
}

// safeEnvValue reports whether v can be written unquoted (and inside
// either quote) without any escaping: what immich-accel writes are image
// references, tag suffixes and section names.
func safeEnvValue(v string) bool {
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:/@+", r)) {
			return false
		}
	}
	return true
}

// with returns the file's content with the variables set: the last
// assignment of each is changed in place (its quoting, spacing, export and
// comment kept), the others are appended, each on its own line, in the
// file's line ending. The result is read back with compose-go: the
// variables must have their new values and every other one its old value.
func (f *envFile) with(set []EnvVar) ([]byte, error) {
	t := newText(f.src)
	pt := &patch{t: t}
	var add []string
	for _, v := range set {
		if !safeEnvValue(v.Value) {
			return nil, fmt.Errorf("internal error: %q is not a plain env value", v.Value)
		}
		last := -1
		for i, s := range f.stmts {
			if s.key == v.Name {
				last = i
			}
		}
		if last < 0 {
			add = append(add, v.Name+"="+v.Value)
			continue
		}
		s := f.stmts[last]
		l := pt.current(s.line)
		switch {
		case s.multiline:
			return nil, newError(ErrManual, fmt.Sprintf("Set %s=%s in %s by hand.", v.Name, v.Value, f.given),
				"%s sets %s with a value over several lines (line %d), which immich-accel does not rewrite", f.given, v.Name, s.line+1)
		case s.noAssign:
			pt.setLine(s.line, l[:s.afterKeyAt]+"="+v.Value+l[s.afterKeyAt:])
		default:
			nv := v.Value
			if s.quote != 0 {
				nv = string(s.quote) + nv + string(s.quote)
			}
			pt.setLine(s.line, l[:s.valStart]+nv+l[s.valEnd:])
		}
	}
	if len(add) > 0 {
		pt.insert(len(t.lines), add)
	}
	out, err := pt.apply()
	if err != nil {
		return nil, err
	}
	got, err := dotenv.ParseWithLookup(bytes.NewReader(out), nil)
	if err != nil {
		return nil, newError(ErrValidation, "Nothing was written. Please report this with the .env file's layout (not its secrets).", "the edited %s does not read back: %v", f.given, err)
	}
	want := map[string]string{}
	for k, v := range f.vars {
		want[k] = v
	}
	for _, v := range set {
		want[v.Name] = v.Value
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			return nil, newError(ErrValidation, "Nothing was written. Please report this with the .env file's layout (not its secrets).",
				"the edited %s would read %s as %q instead of %q", f.given, k, g, v)
		}
	}
	if len(got) != len(want) {
		return nil, newError(ErrValidation, "Nothing was written. Please report this with the .env file's layout (not its secrets).",
			"the edited %s has %d variables, expected %d", f.given, len(got), len(want))
	}
	return out, nil
}
