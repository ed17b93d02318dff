package compose

// ProblemID names a mistake Inspect finds in a compose file; doctor reports
// each as the check compose-<id>. IDs are stable across releases.
type ProblemID string

// The problems, one constant each; problemTable says how bad each is.
const (
	ProblemSectionWithoutSuffix  ProblemID = "section-without-suffix"
	ProblemSuffixWithoutSection  ProblemID = "suffix-without-section"
	ProblemSuffixSectionMismatch ProblemID = "suffix-section-mismatch"
	ProblemSectionIncomplete     ProblemID = "section-incomplete"
	ProblemSeveralSections       ProblemID = "several-sections"
	ProblemImageSuffixUnknown    ProblemID = "image-suffix-unknown"
	ProblemImageDigestPinned     ProblemID = "image-digest-pinned"
	ProblemImageLegacy           ProblemID = "image-legacy"
	ProblemImageBuiltLocally     ProblemID = "image-built-locally"
	ProblemExtendsFileMissing    ProblemID = "extends-file-missing"
	ProblemExtendsFileInvalid    ProblemID = "extends-file-invalid"
	ProblemExtendsSectionMissing ProblemID = "extends-section-missing"
	ProblemEnvFileInvalid        ProblemID = "env-file-invalid"

	ProblemTranscodeExtendsFileMissing    ProblemID = "transcode-extends-file-missing"
	ProblemTranscodeExtendsFileInvalid    ProblemID = "transcode-extends-file-invalid"
	ProblemTranscodeExtendsSectionMissing ProblemID = "transcode-extends-section-missing"
	ProblemTranscodeSectionUnknown        ProblemID = "transcode-section-unknown"
	ProblemTranscodeCapabilities          ProblemID = "transcode-capabilities"
	ProblemTranscodeSeveralSections       ProblemID = "transcode-several-sections"
)

// ProblemInfo is what the registry knows of a problem.
type ProblemInfo struct {
	ID ProblemID
	// Blocking: the deployment does not work as meant (the container
	// fails to start, or runs on the CPU); doctor fails the check. Other
	// problems deserve a look and warn.
	Blocking bool
}

func problemTable() []ProblemInfo {
	return []ProblemInfo{
		{ProblemSectionWithoutSuffix, true},
		{ProblemSuffixWithoutSection, true},
		{ProblemSuffixSectionMismatch, true},
		{ProblemSectionIncomplete, true},
		{ProblemSeveralSections, false},
		{ProblemImageSuffixUnknown, true},
		{ProblemImageDigestPinned, false},
		{ProblemImageLegacy, true},
		{ProblemImageBuiltLocally, false},
		{ProblemExtendsFileMissing, true},
		{ProblemExtendsFileInvalid, true},
		{ProblemExtendsSectionMissing, true},
		{ProblemEnvFileInvalid, true},
		{ProblemTranscodeExtendsFileMissing, true},
		{ProblemTranscodeExtendsFileInvalid, true},
		{ProblemTranscodeExtendsSectionMissing, true},
		{ProblemTranscodeSectionUnknown, true},
		{ProblemTranscodeCapabilities, true},
		{ProblemTranscodeSeveralSections, false},
	}
}

// Problems lists every problem Inspect and InspectTranscoding can report.
func Problems() []ProblemInfo { return problemTable() }

// Info returns the registry entry for id; ok is false for an unknown id.
func (id ProblemID) Info() (ProblemInfo, bool) {
	for _, p := range problemTable() {
		if p.ID == id {
			return p, true
		}
	}
	return ProblemInfo{}, false
}

// Blocking reports whether the problem keeps the deployment from working.
func (id ProblemID) Blocking() bool {
	p, _ := id.Info()
	return p.Blocking
}
