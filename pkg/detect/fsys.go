package detect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// fsys reads host files under a root directory. Paths passed in and
// returned are host paths ("/dev/dri"); only the reads are rooted.
type fsys struct{ root string }

func (f fsys) path(p string) string {
	if f.root == "/" || f.root == "" {
		return p
	}
	return filepath.Join(f.root, p)
}

// read returns the file's contents, capped at 1 MiB.
func (f fsys) read(p string) (string, error) {
	// O_NONBLOCK: opening a FIFO planted where a host file belongs must
	// not wait for a writer; only regular files are read (procfs, sysfs
	// and device-tree files are regular).
	fh, err := os.OpenFile(f.path(p), os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	if st, err := fh.Stat(); err != nil {
		return "", err
	} else if !st.Mode().IsRegular() {
		if st.IsDir() {
			return "", &fs.PathError{Op: "read", Path: p, Err: errIsDir}
		}
		return "", &fs.PathError{Op: "read", Path: p, Err: errNotRegular}
	}
	b, err := io.ReadAll(io.LimitReader(fh, 1<<20))
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// readTrim returns the trimmed contents of a small file, or "" on error.
func (f fsys) readTrim(p string) string {
	s, err := f.read(p)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.TrimRight(s, "\x00"))
}

// exists reports whether p exists (following links).
func (f fsys) exists(p string) bool {
	_, err := os.Stat(f.path(p))
	return err == nil
}

// lexists reports whether p exists, as a link or anything else.
func (f fsys) lexists(p string) bool {
	_, err := os.Lstat(f.path(p))
	return err == nil
}

func (f fsys) isDir(p string) bool {
	st, err := os.Stat(f.path(p))
	return err == nil && st.IsDir()
}

// glob returns the host paths matching pattern, sorted.
func (f fsys) glob(pattern string) []string {
	m, err := filepath.Glob(f.path(pattern))
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(m))
	for _, p := range m {
		out = append(out, f.host(p))
	}
	sort.Strings(out)
	return out
}

// host turns a rooted path back into a host path.
func (f fsys) host(p string) string {
	if f.root == "/" || f.root == "" {
		return p
	}
	rel, err := filepath.Rel(f.root, p)
	if err != nil {
		return p
	}
	return "/" + filepath.ToSlash(rel)
}

// linkBase returns the last element of the link target at p ("i915" for a
// driver link), or "".
func (f fsys) linkBase(p string) string {
	t, err := os.Readlink(f.path(p))
	if err != nil {
		return ""
	}
	return filepath.Base(t)
}

// readDirNames lists a directory's entries, sorted; nil when unreadable.
func (f fsys) readDirNames(p string) []string {
	es, err := os.ReadDir(f.path(p))
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// findBinary looks for name in the usual binary directories under the root.
func (f fsys) findBinary(name string, extra ...string) string {
	dirs := append([]string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}, extra...)
	for _, d := range dirs {
		p := d + "/" + name
		if st, err := os.Stat(f.path(p)); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

var (
	errIsDir      = errors.New("is a directory")
	errNotRegular = errors.New("is not a regular file")
)

// errNotText: a file that should hold a short line of text holds something
// else (binary data, or far too much of it).
var errNotText = errors.New("does not hold a line of text")

// isToken reports whether s is a short printable value such as a kernel
// release or machine name.
func isToken(s string) bool {
	if s == "" || len(s) > 128 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// describeErr turns a read error into a short, user-facing phrase.
func describeErr(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, fs.ErrNotExist):
		return "not found"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// accessRW checks read-write access to a device node for this process.
func accessRW(path string) error {
	return unix.Access(path, unix.R_OK|unix.W_OK)
}

// defaultExec runs commands on the real host; under another root it runs
// nothing, since the binaries there belong to a different system.
type defaultExec struct{ hostRoot bool }

// errNotRun is returned for commands that are not run under --host-root.
var errNotRun = errors.New("not run: host files are read under another root")

func (e defaultExec) Output(ctx context.Context, name string, args ...string) ([]byte, error) {
	if !e.hostRoot {
		return nil, errNotRun
	}
	cmd := exec.CommandContext(ctx, name, args...)
	// A command killed at the deadline may leave children that hold its
	// output open; stop waiting for them shortly after.
	cmd.WaitDelay = 100 * time.Millisecond
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("running %s: %w", name, err)
	}
	return out, nil
}
