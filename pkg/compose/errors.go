package compose

import "errors"

// Sentinel errors, for errors.Is. Every error this package returns for bad
// input is an *Error that wraps one of them and says what to do.
var (
	// ErrNoComposeFile: no compose file was given or found.
	ErrNoComposeFile = errors.New("no compose file")
	// ErrNotCompose: the file is not a Compose file (a template, a
	// Kubernetes manifest, Helm values, invalid YAML).
	ErrNotCompose = errors.New("not a compose file")
	// ErrNoMLService: no machine-learning service was found.
	ErrNoMLService = errors.New("no machine-learning service")
	// ErrSeveralMLServices: more than one service looks like Immich's
	// machine-learning service.
	ErrSeveralMLServices = errors.New("several machine-learning services")
	// ErrManual: the file sets something up in a way that must be changed by
	// hand (the backend comes from a variable, a build argument, a legacy
	// image, a digest pin without --drop-digest, ...).
	ErrManual = errors.New("needs a manual change")
	// ErrChangedOnDisk: the file changed between reading and writing.
	ErrChangedOnDisk = errors.New("file changed on disk")
	// ErrValidation: the edited file does not load, or its effective
	// configuration is not the expected one. Nothing is written.
	ErrValidation = errors.New("validation of the edited file failed")
	// ErrNotDurable: a file was renamed into place, but its directory could
	// not be synced, so the change may not survive a crash or power loss.
	ErrNotDurable = errors.New("written, but the directory could not be synced to disk")
)

// Error is an input error with what went wrong and what to do about it.
type Error struct {
	Kind    error  // one of the sentinels above
	Message string // what failed and why, lowercase, no trailing period
	Fix     string // what to do, a full sentence; may be empty
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the sentinel, for errors.Is.
func (e *Error) Unwrap() error { return e.Kind }

func newError(kind error, fix, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: sprintf(format, args...), Fix: fix}
}
