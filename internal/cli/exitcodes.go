package cli

import (
	"errors"
	"fmt"
	"strings"
)

// ExitCode is the process exit status. All of immich-accel's exit codes are
// named here; the README and each command's help list them.
type ExitCode int

const (
	// ExitOK: success. For doctor, a hardware backend is ready.
	ExitOK ExitCode = 0
	// ExitFailure: an error, or failed checks (already reported).
	ExitFailure ExitCode = 1
	// ExitUsage: bad flags or arguments.
	ExitUsage ExitCode = 2
	// ExitCPUOnly: doctor found no usable accelerator; only CPU can serve Immich ML.
	ExitCPUOnly ExitCode = 3
	// ExitChanges: compose --dry-run found changes to make (nothing written).
	ExitChanges ExitCode = 4
	// ExitInterrupted: interrupted by SIGINT/SIGTERM.
	ExitInterrupted ExitCode = 130
)

// ExitError carries an exit code out of a command. When Err is nil the
// command has already reported everything and nothing more is printed.
type ExitError struct {
	Code ExitCode
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Silent returns an error that exits with code without printing anything.
func Silent(code ExitCode) error { return &ExitError{Code: code} }

// UsageError marks err as a usage error (exit 2).
func UsageError(err error) error { return &ExitError{Code: ExitUsage, Err: err} }

// FlagError is returned by cobra for bad flags.
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

func exitCodeFor(err error) ExitCode {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	var fe *FlagError
	if errors.As(err, &fe) {
		return ExitUsage
	}
	if isCobraUsageError(err) {
		return ExitUsage
	}
	return ExitFailure
}

// isCobraUsageError recognises the argument errors that cobra returns as
// plain errors (unknown commands, wrong argument counts).
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command ", "accepts ", "requires at least ", "requires at most ", "received ", "invalid argument "} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
