//go:build unix

package compose

import (
	"errors"
	"os"
	"syscall"
)

// keepOwner gives f the owner and group of ref. Not being allowed to (not
// root, file of another user) is not an error: the file then belongs to
// whoever runs immich-accel, as with any editor.
func keepOwner(f *os.File, ref string) error {
	st, err := os.Stat(ref)
	if err != nil {
		return nil
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if err := f.Chown(int(sys.Uid), int(sys.Gid)); err != nil && !errors.Is(err, os.ErrPermission) {
		return err
	}
	return nil
}
