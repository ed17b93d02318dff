// Package buildinfo holds the version stamp that release builds set through
// -ldflags "-X".
package buildinfo

import "runtime/debug"

// Stamped at build time by -ldflags "-X github.com/immich-accel/immich-accel/internal/buildinfo.Version=...".
// They are strings (not mutated at run time) so that the linker can set them.
var (
	Version = "dev"
	Commit  = ""
	Date    = ""
)

// Info is the version stamp of the running binary.
type Info struct {
	Version string `json:"version"`
	Commit  string `json:"commit,omitempty"`
	Date    string `json:"date,omitempty"`
	Go      string `json:"go"`
}

// Get returns the stamp, filling the commit from the Go build info when the
// binary was built from a VCS checkout without ldflags.
func Get() Info {
	in := Info{Version: Version, Commit: Commit, Date: Date}
	if bi, ok := debug.ReadBuildInfo(); ok {
		in.Go = bi.GoVersion
		if in.Commit == "" || in.Date == "" {
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					if in.Commit == "" {
						in.Commit = s.Value
					}
				case "vcs.time":
					if in.Date == "" {
						in.Date = s.Value
					}
				}
			}
		}
	}
	return in
}
