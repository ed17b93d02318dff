package compose

import (
	"bytes"
	"slices"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/immich-accel/immich-accel/pkg/accel"
	"github.com/immich-accel/immich-accel/templates"
)

// Target is what an edit applies to: Immich's machine-learning service with
// a section of hwaccel.ml.yml and an image tag suffix, or the service that
// transcodes (immich-server, immich-microservices before v1.106) with a
// section of hwaccel.transcoding.yml and no suffix.
type Target int

// The targets.
const (
	TargetML Target = iota
	TargetTranscode
)

// targetSpec is everything the editor, the inspection and the compose-go
// check need to know of a target.
type targetSpec struct {
	what     string // "backend" or "transcoding method", for messages
	flag     string // the command-line flag that names the section
	service  string // the kind of service, for messages
	fileName string // the sections file Immich's compose file extends
	embedded []byte
	names    []string
	// suffix: the service's image tag carries the section (ML only).
	suffix   bool
	isFile   func(string) bool
	inlined  func(*yaml.Node) []string
	defaults func() *sectionSet
	find     func(p *parsed, want string) error
}

func (t Target) spec() *targetSpec {
	if t == TargetTranscode {
		return transcodeSpec
	}
	return mlSpec
}

// String names the target for people.
func (t Target) String() string {
	if t == TargetTranscode {
		return "transcoding"
	}
	return "machine learning"
}

var mlSpec = &targetSpec{
	what: "backend", flag: "--backend", service: "machine-learning", fileName: templates.HwaccelMLName,
	embedded: templates.HwaccelML, names: backendNames(), suffix: true,
	isFile: isHwaccelFileName, inlined: inlinedBackends, defaults: defaultSections,
	find: func(p *parsed, want string) error { return p.findService(want) },
}

func backendNames() []string {
	var out []string
	for _, b := range accel.BackendNames() {
		out = append(out, string(b))
	}
	return out
}

// section is the name of the section the options ask for.
func (o EditOptions) section() string {
	if o.Target == TargetTranscode {
		return string(o.Transcode)
	}
	return string(o.Backend)
}

// Section is the name of the section the edit applied (the backend, or the
// transcoding method).
func (r *EditResult) Section() string {
	if r.Target == TargetTranscode {
		return string(r.Transcode)
	}
	return string(r.Backend)
}

func (r *EditResult) setSection(s string) {
	if r.Target == TargetTranscode {
		r.Transcode = accel.Transcode(s)
	} else {
		r.Backend = accel.Backend(s)
	}
}

// Transcodes lists the sections of hwaccel.transcoding.yml immich-accel can
// set, hardware ones first and cpu (the undo) last.
var Transcodes = func() []string {
	var out []string
	for _, t := range accel.TranscodeNames() {
		out = append(out, string(t))
	}
	return out
}()

// ValidTranscode reports whether m is a transcoding method immich-accel
// knows.
func ValidTranscode(m string) bool { return slices.Contains(Transcodes, m) }

var transcodeSpec = &targetSpec{
	what: "transcoding method", flag: "--transcode", service: "server", fileName: templates.HwaccelTranscodingName,
	embedded: templates.HwaccelTranscoding, names: Transcodes,
	isFile: isTranscodingFileName, inlined: inlinedTranscodes, defaults: defaultTranscodeSections,
	find: func(p *parsed, want string) error { return p.findServer(want) },
}

// defaultTranscodeSections is the embedded hwaccel.transcoding.yml, parsed
// once. It is never modified: get returns copies.
var defaultTranscodeSections = sync.OnceValue(func() *sectionSet {
	s, err := loadSections(templates.HwaccelTranscoding)
	if err != nil {
		panic("embedded hwaccel.transcoding.yml: " + err.Error()) // checked by tests
	}
	return s
})

// sectionsFrom parses src, reusing an embedded copy when src is one.
func (s *targetSpec) sectionsFrom(src []byte) (*sectionSet, error) {
	if bytes.Equal(src, s.embedded) {
		return s.defaults(), nil
	}
	return loadSections(src)
}

// isExtends reports whether an extends mapping points at this target's
// sections file.
func (s *targetSpec) isExtends(ext *yaml.Node) (file string, ok bool) {
	ext = resolve(ext)
	if ext == nil || ext.Kind != yaml.MappingNode {
		return "", false
	}
	f := mapGet(ext, "file")
	if f == nil {
		return "", false
	}
	return f.Value, s.isFile(f.Value)
}

// legacyTranscodingFile: before v1.94 the server's commented extends block
// named hwaccel.yml (service hwaccel); its sections now live in
// hwaccel.transcoding.yml, which is what an uncommented block should name.
func legacyTranscodingFile(f string) bool {
	base := strings.ToLower(f[strings.LastIndexAny(f, `/\`)+1:])
	return base == "hwaccel.yml" || base == "hwaccel.yaml"
}

// hostSection adapts the section asked for to the host: openvino becomes
// openvino-wsl and vaapi becomes vaapi-wsl on WSL2, where Quick Sync is not
// supported at all (Immich's hardware-transcoding docs).
func hostSection(opts EditOptions, res *EditResult) (string, error) {
	b := opts.section()
	if !opts.Host.Known || !opts.Host.WSL {
		return b, nil
	}
	switch {
	case opts.Target == TargetML && b == "openvino":
		res.Notes = append(res.Notes, "this host runs WSL2, so openvino-wsl is used instead of openvino (it adds /dev/dxg and the WSL libraries)")
		return "openvino-wsl", nil
	case opts.Target == TargetTranscode && b == string(accel.VAAPI):
		res.Notes = append(res.Notes, "this host runs WSL2, so vaapi-wsl is used instead of vaapi (it adds /dev/dxg, /usr/lib/wsl and the d3d12 driver)")
		return string(accel.VAAPIWSL), nil
	case opts.Target == TargetTranscode && b == string(accel.QuickSync):
		return "", newError(ErrManual, "Use --transcode vaapi-wsl, and set "+accel.AdminSetting+": VAAPI.",
			"Quick Sync is not supported on WSL2 (Immich's hardware-transcoding docs), and this host runs WSL2")
	}
	return b, nil
}
