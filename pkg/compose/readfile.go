package compose

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxFileSize bounds what is read as a compose or hwaccel file; real ones
// are a few KiB.
const MaxFileSize = 4 << 20

// ErrNotComposeFile is wrapped when a path is something no compose file can
// be (a device, a FIFO, a huge file), so it is not read.
var ErrNotComposeFile = errors.New("not a compose file")

// UnreadableError is a path CheckReadable refuses; it matches
// ErrNotComposeFile.
type UnreadableError struct {
	Path string
	// Reason says what the path is instead, naming it ("/dev/zero is a
	// character device, not a regular file").
	Reason string
}

func (e *UnreadableError) Error() string { return ErrNotComposeFile.Error() + ": " + e.Reason }

// Is reports whether target is ErrNotComposeFile.
func (e *UnreadableError) Is(target error) bool { return target == ErrNotComposeFile }

// CheckReadable refuses paths that would block or exhaust memory when read
// whole (/dev/zero, a FIFO, a disk image). Directories and missing files
// pass: reading them reports the usual error.
func CheckReadable(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return nil
	}
	switch {
	case st.IsDir():
		return nil
	case !st.Mode().IsRegular():
		return &UnreadableError{Path: path, Reason: fmt.Sprintf("%s is a %s, not a regular file", path, fileKind(st.Mode()))}
	case st.Size() > MaxFileSize:
		return &UnreadableError{Path: path, Reason: fmt.Sprintf("%s is %d MiB, far larger than any compose file", path, st.Size()>>20)}
	}
	return nil
}

// readFile reads a compose or hwaccel file after CheckReadable, never more
// than MaxFileSize bytes even if the file grows meanwhile.
func readFile(path string) ([]byte, error) {
	if err := CheckReadable(path); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFileSize {
		return nil, &UnreadableError{Path: path, Reason: fmt.Sprintf("%s grew past %d MiB while being read", path, MaxFileSize>>20)}
	}
	return b, nil
}

func fileKind(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeCharDevice != 0:
		return "character device"
	case m&os.ModeDevice != 0:
		return "device"
	}
	return "special file"
}
