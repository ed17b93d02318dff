package compose

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/immich-accel/immich-accel/pkg/accel"
)

// Inspection is what a compose file says about the ML deployment, read
// statically (no variables resolved, no host probed).
type Inspection struct {
	File    string `json:"file"`
	Service string `json:"service"` // ML service key, "" when none found

	Image         string `json:"image"`         // raw image string as written
	ImageSuffix   string `json:"imageSuffix"`   // "cuda","openvino","armnn","rocm","rknn" or ""
	SuffixFromEnv bool   `json:"suffixFromEnv"` // the tag suffix comes from a variable
	ImageDigest   string `json:"imageDigest,omitempty"`
	// ImageResolved is the image with its variables substituted from the
	// .env (unset ones take their defaults), when it has variables;
	// ImageSuffix and ImageDigest are those of this image.
	ImageResolved string `json:"imageResolved,omitempty"`
	// EnvFile is the .env file variables were read from ("" when none).
	EnvFile string `json:"envFile,omitempty"`

	Backend        accel.Backend `json:"backend"`        // cuda, openvino, openvino-wsl, armnn, rocm, rknn, cpu, or ""
	BackendFromEnv bool          `json:"backendFromEnv"` // e.g. service: ${HWACCEL_ML:-cpu}; Backend is its value
	Mode           string        `json:"mode"`           // "extends", "inline" or "none"

	ExtendsFile      string `json:"extendsFile,omitempty"` // as written
	ExtendsFileFound bool   `json:"extendsFileFound"`      // exists next to the compose file
	// ExtendsCommented: Immich's commented-out extends block is present.
	ExtendsCommented bool `json:"extendsCommented"`

	Devices []string `json:"devices"` // the ML service's, as written
	Volumes []string `json:"volumes"`

	StackKind string    `json:"stackKind"` // "portainer", "unraid", "casaos", "runtipi" or ""
	Problems  []Problem `json:"problems"`

	// Transcoding is what the file says about hardware transcoding on the
	// server service (InspectFile only; nil when the file has no server).
	Transcoding *TranscodeInspection `json:"transcoding,omitempty"`
}

// Problem is a static mistake in the deployment; its ID is one of the
// registry's (problems.go).
type Problem struct {
	ID      ProblemID `json:"id"`
	Message string    `json:"message"`
	// Fix says what to do. With Run set, it says what that run does and
	// follows it ("Run `immich-accel compose ...`: " + Fix).
	Fix string  `json:"fix"`
	Run *FixRun `json:"run,omitempty"`
}

// FixRun is a run of `immich-accel compose` that fixes a problem. Commands
// write it as a command line.
type FixRun struct {
	// Backend is the backend to switch to; "" when the user must pick one
	// (and no Transcode is set).
	Backend accel.Backend `json:"backend,omitempty"`
	// Transcode is the transcoding method to switch the server to.
	Transcode  accel.Transcode `json:"transcode,omitempty"`
	Inline     bool            `json:"inline,omitempty"`
	DropDigest bool            `json:"dropDigest,omitempty"`
	// File is the compose file, when the run in the working directory
	// would not find it by itself.
	File string `json:"file,omitempty"`
}

// InspectFile parses a compose file through the same loader the editor uses
// and reports the ML deployment. An error means the file cannot be read or
// is not a compose file with an ML service; the Inspection is still
// returned with what was found (File, StackKind) when possible.
func InspectFile(path string) (*Inspection, error) {
	src, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading compose file: %w", err)
	}
	// The .env next to the compose file, as Compose reads it: variables
	// that select the backend are resolved with it.
	var vars map[string]string
	env, envErr := projectEnvFile(filepath.Dir(path), "")
	if envErr == nil {
		vars = env.vars
	}
	in, err := InspectEnv(src, "", vars)
	if in != nil {
		in.File = path
		if envErr == nil && env.exists {
			in.EnvFile = env.given
		}
		if envErr != nil && err == nil {
			in.Problems = append(in.Problems, Problem{ID: ProblemEnvFileInvalid, Message: envErr.Error(),
				Fix: "Fix the .env file next to the compose file: docker compose cannot read it either."})
		}
		if in.ExtendsFile != "" {
			ef := in.ExtendsFile
			if !filepath.IsAbs(ef) {
				ef = filepath.Join(filepath.Dir(path), ef)
			}
			if _, serr := os.Stat(ef); serr == nil {
				in.ExtendsFileFound = true
			}
			in.addExtendsProblems(ef)
		}
		if tr, terr := InspectTranscoding(src, ""); terr == nil {
			tr.inspectTranscodingFile(path)
			in.Transcoding = tr
		}
	}
	return in, err
}

// Inspect reads compose file content. service names the ML service ("" to
// find it). The extends file is not looked at (see InspectFile), and
// variables take their defaults (see InspectEnv).
func Inspect(src []byte, service string) (*Inspection, error) {
	return InspectEnv(src, service, nil)
}

// InspectEnv is Inspect with variables resolved from env, what the
// project's .env sets (unset ones take their defaults, as for Compose).
func InspectEnv(src []byte, service string, env map[string]string) (*Inspection, error) {
	p, err := parse(src)
	if err != nil {
		in := &Inspection{Mode: "none", StackKind: stackKindText(src)}
		return in, err
	}
	if err := p.findService(service); err != nil {
		in := &Inspection{Mode: "none", StackKind: stackKindText(src)}
		return in, err
	}
	return p.inspect(env), nil
}

func stackKindText(src []byte) string {
	s := string(src)
	switch {
	case strings.Contains(s, "x-casaos"):
		return "casaos"
	case strings.Contains(s, "runtipi"):
		return "runtipi"
	case strings.Contains(s, "net.unraid.docker"):
		return "unraid"
	case strings.Contains(s, "stack.env"):
		return "portainer"
	}
	return ""
}

func (p *parsed) stackKind() string {
	if mapGet(p.root, "x-casaos") != nil {
		return "casaos"
	}
	return stackKindText(p.src)
}

func (p *parsed) inspect(env map[string]string) *Inspection {
	in := &Inspection{Service: p.name, Mode: "none", StackKind: p.stackKind(), Devices: []string{}, Volumes: []string{}, Problems: []Problem{}}
	if img, _ := mergedGet(p.svc, "image"); img != nil && img.Kind == yaml.ScalarNode {
		in.Image = img.Value
		ref := parseImage(img.Value)
		in.SuffixFromEnv = ref.fromEnv || ref.onlyVar
		if strings.Contains(img.Value, "$") {
			if r, err := interpolate(img.Value, env); err == nil {
				in.ImageResolved = r
				ref = parseImage(r)
			}
		}
		in.ImageSuffix = ref.suffix
		in.ImageDigest = ref.digest
		if ref.written != "" && ref.written != ref.suffix {
			in.Problems = append(in.Problems, Problem{ID: ProblemImageSuffixUnknown,
				Message: fmt.Sprintf("the image tag ends in -%s, which Immich does not publish", ref.written),
				Fix:     fmt.Sprintf("Use -%s (for every OpenVINO section, WSL2 included).", ref.suffix)})
		}
		if ref.digest != "" {
			in.Problems = append(in.Problems, Problem{ID: ProblemImageDigestPinned,
				Message: "the ML image is pinned by digest, so changing the backend needs a new digest",
				Fix:     "it drops the pin when it changes the suffix.", Run: &FixRun{Backend: in.Backend, DropDigest: true}})
		}
		if ref.legacy {
			in.Problems = append(in.Problems, Problem{ID: ProblemImageLegacy,
				Message: "the ML image is the legacy altran1502 image, which has no accelerated variants",
				Fix:     "Use ghcr.io/immich-app/immich-machine-learning:${IMMICH_VERSION:-release}."})
		}
	}
	collect := func(key string) []string {
		out := []string{}
		v, _ := mergedGet(p.svc, key)
		v = resolve(v)
		if v == nil || v.Kind != yaml.SequenceNode {
			return out
		}
		for _, it := range v.Content {
			it = resolve(it)
			switch it.Kind {
			case yaml.ScalarNode:
				out = append(out, it.Value)
			case yaml.MappingNode:
				s, t := mapGet(it, "source"), mapGet(it, "target")
				if s != nil && t != nil {
					out = append(out, s.Value+":"+t.Value)
				} else if t != nil {
					out = append(out, t.Value)
				}
			}
		}
		return out
	}
	in.Devices = collect("devices")
	in.Volumes = collect("volumes")

	ext := resolve(mapGet(p.svc, "extends"))
	if file, ok := isHwaccelExtends(ext); ok {
		in.Mode = "extends"
		in.ExtendsFile = file
		if s := mapGet(ext, "service"); s != nil {
			if strings.Contains(s.Value, "$") {
				in.BackendFromEnv = true
				if r, err := interpolate(s.Value, env); err == nil {
					if b, ok := accel.ParseBackend(r); ok {
						in.Backend = b
					}
				}
			} else {
				in.Backend = accel.Backend(s.Value)
			}
		}
	} else {
		start, end := p.serviceRegion()
		for i := start + 1; i < end; i++ {
			if c, ok := commentText(p.t.lines[i]); ok && strings.HasPrefix(c, "extends:") {
				in.ExtendsCommented = true
			}
		}
	}
	if inl := inlinedBackends(p.svc); len(inl) > 0 {
		if in.Mode == "none" {
			in.Mode = "inline"
			in.Backend = accel.Backend(inl[0])
		}
		all := inl
		if in.Mode == "extends" && in.Backend != "" && !slices.Contains(inl, string(in.Backend)) {
			all = append([]string{string(in.Backend) + " (extends)"}, inl...)
		}
		if len(all) > 1 {
			in.Problems = append(in.Problems, Problem{ID: ProblemSeveralSections,
				Message: "the ML service carries entries of several backends: " + strings.Join(all, ", "),
				Fix:     "name the backend to keep (add --inline to merge it); it removes the others.", Run: &FixRun{}})
		}
	}
	if b, _ := mergedGet(p.svc, "build"); b != nil {
		in.Problems = append(in.Problems, Problem{ID: ProblemImageBuiltLocally,
			Message: "the ML image is built locally; the backend is chosen by the DEVICE build argument, not a tag suffix",
			Fix:     "Set build.args DEVICE to the backend and rebuild."})
	}
	in.addStaticProblems()
	if b := in.ImageSuffix; b != "" && in.Mode == "none" {
		if sec := defaultSections().get(b); sec != nil {
			if miss := missingEntries(p.svc, sec); len(miss) > 0 {
				for i := range in.Problems {
					if in.Problems[i].ID == ProblemSuffixWithoutSection {
						in.Problems[i].Message += "; missing: " + strings.Join(miss, ", ")
					}
				}
			}
		}
	}
	return in
}

// missingEntries lists the section's list entries the service lacks.
func missingEntries(svc, sec *yaml.Node) []string {
	var out []string
	for path, items := range listEntries(sec) {
		have := map[string]bool{}
		if seq := pathGet(svc, path); seq != nil && seq.Kind == yaml.SequenceNode {
			for _, it := range seq.Content {
				have[itemKey(path, it)] = true
			}
		}
		for _, it := range items {
			if !have[itemKey(path, it)] {
				v := it.Value
				if it.Kind == yaml.MappingNode {
					v = itemKey(path, it)
				}
				out = append(out, path+" "+v)
			}
		}
	}
	sort.Strings(out)
	return out
}

func (in *Inspection) addStaticProblems() {
	accelerated := in.Backend != "" && in.Backend != "cpu"
	wantSuffix := in.Backend.Suffix()
	switch {
	case (in.SuffixFromEnv && in.ImageResolved == "") || (in.BackendFromEnv && in.Backend == ""):
		// a variable that does not resolve: cannot be checked
	case accelerated && in.ImageSuffix == "":
		in.Problems = append(in.Problems, Problem{ID: ProblemSectionWithoutSuffix,
			Message: fmt.Sprintf("the %s section is set but the image tag has no -%s suffix, so the CPU-only image runs", in.Backend, wantSuffix),
			Fix:     "it adds the suffix.", Run: &FixRun{Backend: in.Backend}})
	case accelerated && in.ImageSuffix != wantSuffix:
		in.Problems = append(in.Problems, Problem{ID: ProblemSuffixSectionMismatch,
			Message: fmt.Sprintf("the image tag suffix -%s does not match the %s section (needs -%s)", in.ImageSuffix, in.Backend, wantSuffix),
			Fix:     "it sets both.", Run: &FixRun{Backend: in.Backend}})
	case !accelerated && in.ImageSuffix != "":
		b := in.ImageSuffix
		msg := fmt.Sprintf("the image tag has the -%s suffix but the service does not have the %s section", b, b)
		if in.ExtendsCommented {
			msg += "; the extends block is still commented out"
		}
		in.Problems = append(in.Problems, Problem{ID: ProblemSuffixWithoutSection,
			Message: msg,
			Fix:     "it adds the section (add --inline to merge it).", Run: &FixRun{Backend: accel.Backend(b)}})
	}
	if in.Mode == "inline" && in.Backend == "openvino" {
		hasDRI := false
		for _, d := range in.Devices {
			if strings.HasPrefix(d, "/dev/dri") {
				hasDRI = true
			}
		}
		if !hasDRI {
			in.Problems = append(in.Problems, Problem{ID: ProblemSectionIncomplete,
				Message: "the inlined openvino section lacks the /dev/dri device",
				Fix:     "it adds the missing entries.", Run: &FixRun{Backend: accel.OpenVINO, Inline: true}})
		}
	}
}

func (in *Inspection) addExtendsProblems(path string) {
	if !in.ExtendsFileFound {
		in.Problems = append(in.Problems, Problem{ID: ProblemExtendsFileMissing,
			Message: fmt.Sprintf("the service extends %s, which is not next to the compose file; docker compose will fail", in.ExtendsFile),
			Fix:     "it writes it; or download hwaccel.ml.yml from the Immich release.", Run: &FixRun{Backend: cmp.Or(in.Backend, accel.CPU)}})
		return
	}
	if in.Backend == "" {
		return
	}
	src, err := readFile(path)
	if err != nil {
		return
	}
	secs, err := loadSections(src)
	if err != nil {
		in.Problems = append(in.Problems, Problem{ID: ProblemExtendsFileInvalid, Message: fmt.Sprintf("%s: %v", in.ExtendsFile, err),
			Fix: "Replace it with Immich's current hwaccel.ml.yml."})
		return
	}
	if secs.get(string(in.Backend)) == nil {
		in.Problems = append(in.Problems, Problem{ID: ProblemExtendsSectionMissing,
			Message: fmt.Sprintf("%s has no %s section (it is older than that backend)", in.ExtendsFile, in.Backend),
			Fix:     "Replace it with Immich's current hwaccel.ml.yml."})
	}
}
