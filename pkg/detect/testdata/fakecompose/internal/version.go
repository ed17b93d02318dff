// Package internal holds the version, set at link time like Compose's.
package internal

// Version is set with -ldflags "-X github.com/docker/compose/v2/internal.Version=...".
var Version = "unknown"
