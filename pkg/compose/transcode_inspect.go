package compose

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/immich-accel/immich-accel/pkg/accel"
	"github.com/immich-accel/immich-accel/templates"
)

// TranscodeInspection is what a compose file says about hardware
// transcoding on the server service, read statically.
type TranscodeInspection struct {
	Service string `json:"service"` // the service that transcodes
	// Method is the configured hwaccel.transcoding.yml section ("cpu" when
	// none), or "" when it cannot be told: from a variable, or an inlined
	// /dev/dri that quicksync and vaapi share (see Candidates).
	Method string `json:"method"`
	// Candidates are the methods an inlined section can be: both quicksync
	// and vaapi for a bare /dev/dri (Immich's admin setting tells them apart).
	Candidates    []string `json:"candidates,omitempty"`
	MethodFromEnv bool     `json:"methodFromEnv"`
	Mode          string   `json:"mode"` // "extends", "inline" or "none"

	ExtendsFile      string `json:"extendsFile,omitempty"`
	ExtendsFileFound bool   `json:"extendsFileFound"`
	ExtendsCommented bool   `json:"extendsCommented"`

	Devices []string `json:"devices"`
	// Capabilities are those of the NVIDIA device reservation the service
	// gets (inline, or from the extended section when the file was read).
	Capabilities []string  `json:"capabilities"`
	Problems     []Problem `json:"problems"`
}

// transcodeSignature is an entry that a transcoding section adds and that
// marks the section when found inlined in the server service.
type transcodeSignature struct {
	method accel.Transcode
	path   string
	key    string
}

// transcodeSignatures, from the sections of hwaccel.transcoding.yml: nvenc
// reserves an NVIDIA device, rkmpp passes /dev/rga and /dev/mpp_service,
// vaapi-wsl /dev/dxg; quicksync and vaapi both pass /dev/dri alone.
var transcodeSignatures = []transcodeSignature{
	{accel.NVENC, "deploy.resources.reservations.devices", "driver=nvidia"},
	{accel.RKMPP, "devices", "/dev/rga"},
	{accel.RKMPP, "devices", "/dev/mpp_service"},
	{accel.VAAPIWSL, "devices", "/dev/dxg"},
	{accel.QuickSync, "devices", "/dev/dri"},
	{accel.VAAPI, "devices", "/dev/dri"},
}

// inlinedTranscodes returns the sections whose signature entries the
// service carries. A /dev/dri that rkmpp or vaapi-wsl explains is theirs.
func inlinedTranscodes(svc *yaml.Node) []string {
	found := map[accel.Transcode]bool{}
	for _, s := range transcodeSignatures {
		seq := pathGet(svc, s.path)
		if seq == nil || seq.Kind != yaml.SequenceNode {
			continue
		}
		for _, it := range seq.Content {
			if itemKey(s.path, it) == s.key {
				found[s.method] = true
				break
			}
		}
	}
	if found[accel.RKMPP] || found[accel.VAAPIWSL] {
		delete(found, accel.QuickSync)
		delete(found, accel.VAAPI)
	}
	var out []string
	for _, m := range accel.TranscodeNames() {
		if found[m] {
			out = append(out, string(m))
		}
	}
	return out
}

// nvidiaCapabilities returns the capabilities of the first NVIDIA device
// reservation of a service or section, and whether there is one.
func nvidiaCapabilities(svc *yaml.Node) ([]string, bool) {
	seq := pathGet(svc, "deploy.resources.reservations.devices")
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return nil, false
	}
	for _, it := range seq.Content {
		it = resolve(it)
		if itemKey("deploy.resources.reservations.devices", it) != "driver=nvidia" {
			continue
		}
		caps := []string{}
		if c := resolve(mapGet(it, "capabilities")); c != nil && c.Kind == yaml.SequenceNode {
			for _, x := range c.Content {
				if x = resolve(x); x.Kind == yaml.ScalarNode {
					caps = append(caps, x.Value)
				}
			}
		}
		return caps, true
	}
	return nil, false
}

// InspectTranscoding reads what a compose file says about hardware
// transcoding. service names the server service ("" to find it). The
// extends file is not read (InspectFile does that).
func InspectTranscoding(src []byte, service string) (*TranscodeInspection, error) {
	p, err := parse(src)
	if err != nil {
		return nil, err
	}
	if err := p.findServer(service); err != nil {
		return nil, err
	}
	return p.inspectTranscoding(), nil
}

func (p *parsed) inspectTranscoding() *TranscodeInspection {
	in := &TranscodeInspection{Service: p.name, Mode: "none", Method: string(accel.TranscodeCPU),
		Devices: []string{}, Capabilities: []string{}, Problems: []Problem{}}
	if v, _ := mergedGet(p.svc, "devices"); v != nil {
		if v = resolve(v); v.Kind == yaml.SequenceNode {
			for _, it := range v.Content {
				if it = resolve(it); it.Kind == yaml.ScalarNode {
					in.Devices = append(in.Devices, it.Value)
				}
			}
		}
	}
	if caps, ok := nvidiaCapabilities(p.svc); ok {
		in.Capabilities = caps
	}
	ext := resolve(mapGet(p.svc, "extends"))
	if file, ok := isTranscodingExtends(ext); ok {
		in.Mode, in.ExtendsFile = "extends", file
		if s := mapGet(ext, "service"); s != nil {
			if strings.Contains(s.Value, "$") {
				in.MethodFromEnv, in.Method = true, ""
			} else {
				in.Method = s.Value
			}
		}
	} else {
		in.ExtendsCommented = p.transcodingCommented()
	}
	inl := inlinedTranscodes(p.svc)
	if in.Mode == "none" && len(inl) > 0 {
		in.Mode = "inline"
		switch {
		case len(inl) == 2 && inl[0] == string(accel.QuickSync) && inl[1] == string(accel.VAAPI):
			in.Method, in.Candidates = "", inl
		default:
			in.Method = inl[0]
		}
	}
	distinct := inl
	if len(inl) == 2 && inl[0] == string(accel.QuickSync) && inl[1] == string(accel.VAAPI) {
		distinct = []string{"quicksync or vaapi"}
	}
	all := distinct
	if in.Mode == "extends" && in.Method != "" && in.Method != string(accel.TranscodeCPU) && !slices.Contains(inl, in.Method) {
		all = append([]string{in.Method + " (extends)"}, distinct...)
	}
	if len(all) > 1 {
		in.Problems = append(in.Problems, Problem{ID: ProblemTranscodeSeveralSections,
			Message: "the server service carries entries of several transcoding methods: " + strings.Join(all, ", "),
			Fix:     "name the method to keep (add --inline to merge it); it removes the others.", Run: &FixRun{Transcode: "METHOD"}})
	}
	if in.Method != "" && in.Method != string(accel.TranscodeCPU) && !accel.Transcode(in.Method).Valid() {
		in.Problems = append(in.Problems, Problem{ID: ProblemTranscodeSectionUnknown,
			Message: fmt.Sprintf("the server extends section %q, which is not one of hwaccel.transcoding.yml's (%s)", in.Method, transcodeList()),
			Fix:     "name one of them; it sets the section.", Run: &FixRun{Transcode: "METHOD"}})
	}
	in.capabilityProblems()
	return in
}

// capabilityProblems: NVENC needs the video capability in the container
// (NVIDIA Container Toolkit, NVIDIA_DRIVER_CAPABILITIES "video: required
// for using the Video Codec SDK"); Immich's nvenc section asks for gpu,
// compute and video.
func (in *TranscodeInspection) capabilityProblems() {
	if in.Method != string(accel.NVENC) || len(in.Capabilities) == 0 {
		return
	}
	for _, p := range in.Problems {
		if p.ID == ProblemTranscodeCapabilities {
			return
		}
	}
	for _, c := range in.Capabilities {
		if c == "video" || c == "all" {
			return
		}
	}
	in.Problems = append(in.Problems, Problem{ID: ProblemTranscodeCapabilities,
		Message: fmt.Sprintf("the server's NVIDIA reservation has capabilities [%s] without video, so NVENC is not visible in the container", strings.Join(in.Capabilities, ", ")),
		Fix:     "it adds the video capability (Immich's nvenc section has gpu, compute and video).", Run: &FixRun{Transcode: accel.NVENC, Inline: in.Mode == "inline"}})
}

func transcodeList() string {
	var names []string
	for _, t := range accel.TranscodeNames() {
		names = append(names, string(t))
	}
	return strings.Join(names, ", ")
}

// inspectTranscodingFile adds what the transcoding extends file says: that
// it exists, has the section, and the section's NVIDIA capabilities.
func (in *TranscodeInspection) inspectTranscodingFile(composePath string) {
	if in.Mode != "extends" {
		return
	}
	ef := in.ExtendsFile
	if !filepath.IsAbs(ef) {
		ef = filepath.Join(filepath.Dir(composePath), ef)
	}
	if _, err := os.Stat(ef); err != nil {
		in.Problems = append(in.Problems, Problem{ID: ProblemTranscodeExtendsFileMissing,
			Message: fmt.Sprintf("the server extends %s, which is not next to the compose file; docker compose will fail", in.ExtendsFile),
			Fix:     "it writes the file (or download " + templates.HwaccelTranscodingName + " from the Immich release).", Run: &FixRun{Transcode: accel.Transcode(orCPU(in.Method))}})
		return
	}
	in.ExtendsFileFound = true
	if in.Method == "" {
		return
	}
	src, err := readFile(ef)
	if err != nil {
		return
	}
	secs, err := loadSections(src)
	if err != nil {
		in.Problems = append(in.Problems, Problem{ID: ProblemTranscodeExtendsFileInvalid, Message: fmt.Sprintf("%s: %v", in.ExtendsFile, err),
			Fix: "Replace it with Immich's current " + templates.HwaccelTranscodingName + "."})
		return
	}
	sec := secs.get(in.Method)
	if sec == nil {
		in.Problems = append(in.Problems, Problem{ID: ProblemTranscodeExtendsSectionMissing,
			Message: fmt.Sprintf("%s has no %s section", in.ExtendsFile, in.Method),
			Fix:     "Replace it with Immich's current " + templates.HwaccelTranscodingName + "."})
		return
	}
	if len(in.Capabilities) == 0 {
		if caps, ok := nvidiaCapabilities(sec); ok {
			in.Capabilities = caps
		}
	}
	if v := resolve(mapGet(sec, "devices")); v != nil && v.Kind == yaml.SequenceNode {
		for _, it := range v.Content {
			if it = resolve(it); it.Kind == yaml.ScalarNode && !slices.Contains(in.Devices, it.Value) {
				in.Devices = append(in.Devices, it.Value)
			}
		}
	}
	in.capabilityProblems()
}
