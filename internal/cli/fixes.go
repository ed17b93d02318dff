package cli

import (
	"github.com/immich-accel/immich-accel/internal/shell"
	"github.com/immich-accel/immich-accel/pkg/compose"
	"github.com/immich-accel/immich-accel/pkg/detect"
)

// composeCommandLine writes a run of `immich-accel compose` as a command
// line; BACKEND stands for a backend the user picks.
func composeCommandLine(r *compose.FixRun) string {
	s := "immich-accel compose"
	if r.Backend != "" || r.Transcode == "" {
		b := string(r.Backend)
		if b == "" {
			b = "BACKEND"
		}
		s += " --backend " + b
	}
	if r.Transcode != "" {
		s += " --transcode " + string(r.Transcode)
	}
	if r.Inline {
		s += " --inline"
	}
	if r.DropDigest {
		s += " --drop-digest"
	}
	if r.File != "" {
		s += " --file " + shell.Quote(r.File)
	}
	return s
}

// fixText is a fix in words: the run's command line, followed by what it
// does when fix says so.
func fixText(fix string, run *compose.FixRun) string {
	switch {
	case run == nil:
		return fix
	case fix == "":
		return composeCommandLine(run)
	}
	return "Run `" + composeCommandLine(run) + "`: " + fix
}

// renderFixes writes the report's runs as command lines: each check's Fix
// becomes its whole text, and the recommendation gets its Command. The
// text and the JSON views both show the result.
func renderFixes(rep *detect.Report) {
	for i := range rep.Checks {
		c := &rep.Checks[i]
		c.Fix = fixText(c.Fix, c.Run)
	}
	if r := rep.Recommendation.Run; r != nil {
		rep.Recommendation.Command = composeCommandLine(r)
	}
	if r := rep.TranscodeRecommendation.Run; r != nil {
		rep.TranscodeRecommendation.Command = composeCommandLine(r)
	}
}
