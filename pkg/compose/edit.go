package compose

import (
	"bytes"
	"fmt"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/immich-accel/immich-accel/pkg/accel"
)

// Host is what the caller knows about the machine the stack runs on. The
// editor never probes; it only tailors sections from these facts.
type Host struct {
	Known        bool   // the facts below were detected
	WSL          bool   // running under WSL2
	LibMaliPath  string // where this host has libmali.so ("" when not found)
	MaliFirmware bool   // /lib/firmware/mali_csffw.bin exists
	NVIDIAGPUs   int    // number of NVIDIA GPUs
}

// EditOptions says what to change in a compose file.
type EditOptions struct {
	// Target is the service and sections file the edit applies to: the
	// machine-learning service and hwaccel.ml.yml (the zero value), or the
	// server and hwaccel.transcoding.yml.
	Target Target
	// Backend is the hwaccel.ml.yml section to apply (TargetML).
	Backend accel.Backend
	// Transcode is the hwaccel.transcoding.yml section (TargetTranscode).
	Transcode  accel.Transcode
	Inline     bool   // merge the section into the service instead of extends
	Service    string // the target service's name; "" finds it
	DropDigest bool   // allow dropping an @sha256 digest pin from the image
	// Host tailors sections to this machine when Host.Known.
	Host Host
	// GPUs selects NVIDIA GPUs by index or UUID for cuda (device_ids
	// instead of count: 1).
	GPUs []string
	// Sections is the hwaccel.ml.yml content to take sections from; nil
	// means the embedded copy.
	Sections []byte
	// HwaccelName is the file a new extends block points at; "" means
	// hwaccel.ml.yml (hwaccel.transcoding.yml for TargetTranscode).
	HwaccelName string
	// Env is what the project's .env file sets, which Compose interpolates
	// the file with (nil: no .env). A variable that selects the backend
	// (the tag suffix, the extends service, the whole image) is set
	// through it: see EditResult.Env.
	Env map[string]string
	// EnvFile names the .env file in messages ("" means .env).
	EnvFile string
}

// EditResult is the outcome of Edit.
type EditResult struct {
	Output  []byte
	Changed bool
	Service string
	// Backend is the section applied; it can differ from the one asked for
	// (openvino becomes openvino-wsl on WSL2). Transcode is the same for
	// TargetTranscode (vaapi becomes vaapi-wsl on WSL2).
	Backend   accel.Backend
	Transcode accel.Transcode
	// ExtendsFile is the hwaccel file the service extends after the edit,
	// as written ("" in inline mode or for cpu without extends).
	ExtendsFile string
	// Sections is the hwaccel.ml.yml content the edit is based on, tailored
	// to the host; this is what a missing hwaccel file is written from.
	Sections []byte
	// Tailored is true when Sections differs from the source because of
	// host tailoring.
	Tailored bool
	// Env lists the variables to set in the .env file, in order.
	Env []EnvVar
	// Variables are the variables that select the backend (set or not).
	Variables []string
	Notes     []string
	// Before is the ML inspection of the original (TargetML), and
	// TranscodeBefore the transcoding one (TargetTranscode).
	Before          *Inspection
	TranscodeBefore *TranscodeInspection
	// Target is what was edited; StackKind the stack manager the file
	// looks like it belongs to ("" for a plain compose project).
	Target    Target
	StackKind string
	// Inline: the section was merged into the service.
	Inline bool

	templated int // line of template text in a string value, 0 if none
}

// Edit applies the backend to a compose file's ML service and returns the
// new content. Only the lines that must change are changed.
func Edit(src []byte, opts EditOptions) (*EditResult, error) {
	res, err := editOnce(src, opts)
	if err != nil || (!res.Changed && len(res.Env) == 0) {
		return res, err
	}
	// The edit must have landed where it was meant to: editing the result
	// again, with the variables set, must find nothing left to do.
	opts2 := opts
	for _, v := range res.Env {
		opts2.Env = withVar(opts2.Env, v.Name, v.Value)
	}
	again, err := editOnce(res.Output, opts2)
	if err == nil && len(again.Env) > 0 {
		err = fmt.Errorf("a second pass still sets %s", again.Env[0].Name)
	}
	if err != nil || again.Changed {
		if err == nil {
			err = fmt.Errorf("a second pass still finds changes to make")
		}
		return nil, newError(ErrValidation, "Nothing was written. Add the section by hand (see hwaccel.ml.yml), and please report the file's layout.",
			"the edit did not land where intended (an unusual layout, such as a multi-line value, near the change): %v", err)
	}
	return res, nil
}

func editOnce(src []byte, opts EditOptions) (*EditResult, error) {
	spec := opts.Target.spec()
	if !slices.Contains(spec.names, opts.section()) {
		return nil, newError(ErrManual, "Use one of: "+strings.Join(spec.names, ", ")+".",
			"unknown %s %q", spec.what, opts.section())
	}
	secSrc := opts.Sections
	if secSrc == nil {
		secSrc = spec.embedded
	}
	res := &EditResult{Backend: opts.Backend, Transcode: opts.Transcode, Target: opts.Target, Inline: opts.Inline}
	backend, err := hostSection(opts, res)
	if err != nil {
		return nil, err
	}
	res.setSection(backend)
	tailored := secSrc
	if opts.Target == TargetML {
		var tnotes []string
		if tailored, tnotes, err = tailorSections(secSrc, backend, opts); err != nil {
			return nil, err
		}
		res.Notes = append(res.Notes, tnotes...)
	}
	res.Sections = tailored
	res.Tailored = !bytes.Equal(tailored, secSrc)
	secs, err := spec.sectionsFrom(tailored)
	if err != nil {
		return nil, err
	}
	section := secs.get(string(backend))
	if section == nil {
		return nil, newError(ErrManual,
			fmt.Sprintf("Update the hwaccel file to Immich's current %s (https://github.com/immich-app/immich/releases/latest/download/%s).", spec.fileName, spec.fileName),
			"the hwaccel file has no %q section (it has: %s)", backend, strings.Join(secs.names(), ", "))
	}

	p, err := parse(src)
	if err != nil {
		return nil, err
	}
	if err := spec.find(p, opts.Service); err != nil {
		return nil, err
	}
	res.Service = p.name
	res.StackKind = p.stackKind()
	if opts.Target == TargetML {
		res.Before = p.inspect(opts.Env)
	} else {
		res.TranscodeBefore = p.inspectTranscoding()
	}

	if err := checkSharedService(p); err != nil {
		return nil, err
	}
	e := &editor{p: p, pt: &patch{t: p.t}, opts: opts, backend: backend, secs: secs, section: section}
	if err := e.run(); err != nil {
		return nil, err
	}
	out, err := e.pt.apply()
	if err != nil {
		return nil, err
	}
	if e.uncommented {
		// Immich's commented block may sit where uncommenting it does not
		// give the mapping we want; check, and fall back to a new block.
		if ok := checkExtends(out, p.name, backend, spec); !ok {
			e2 := &editor{p: p, pt: &patch{t: p.t}, opts: opts, backend: backend, secs: secs, section: section, noUncomment: true}
			if err := e2.run(); err != nil {
				return nil, err
			}
			if out, err = e2.pt.apply(); err != nil {
				return nil, err
			}
			e = e2
		}
	}
	res.Notes = append(res.Notes, e.notes...)
	res.Env, res.Variables, res.templated = e.envSet, e.selectors, p.templated
	res.ExtendsFile = e.extendsFile
	res.Output = out
	res.Changed = !bytes.Equal(out, src)
	// The result must parse and still name the same service.
	const report = "Nothing was written. Add the section by hand (see hwaccel.ml.yml), and please report the file's layout."
	p2, err := parse(out)
	if err != nil {
		return nil, newError(ErrValidation, report, "the edit would not give valid YAML (an unusual layout, such as a multi-line value, near the change): %v", err)
	}
	if err := spec.find(p2, p.name); err != nil {
		return nil, newError(ErrValidation, report, "the edit would lose service %q: %v", p.name, err)
	}
	return res, nil
}

func checkExtends(out []byte, name, backend string, spec *targetSpec) bool {
	p, err := parse(out)
	if err != nil {
		return false
	}
	if err := spec.find(p, name); err != nil {
		return false
	}
	ext := mapGet(p.svc, "extends")
	return ext != nil && ext.Kind == yaml.MappingNode && mapGet(ext, "service") != nil && mapGet(ext, "service").Value == backend
}

func checkDuplicateKeys(m *yaml.Node) error {
	var err error
	var visit func(n *yaml.Node)
	visit = func(n *yaml.Node) {
		if n == nil || err != nil {
			return
		}
		if n.Kind == yaml.MappingNode {
			seen := map[string]int{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if l, ok := seen[k.Value]; ok && k.Value != "<<" {
					err = newError(ErrNotCompose, "Remove one of the two keys (a template tool may have left both in place).",
						"the key %q appears twice in one mapping (lines %d and %d); Compose rejects duplicate keys", k.Value, l, k.Line)
					return
				}
				seen[k.Value] = k.Line
			}
		}
		for _, c := range n.Content {
			visit(c)
		}
	}
	visit(m)
	return err
}

type editor struct {
	p           *parsed
	pt          *patch
	opts        EditOptions
	backend     string // the section's name
	secs        *sectionSet
	section     *yaml.Node
	notes       []string
	extendsFile string
	uncommented bool
	noUncomment bool
	removed     map[*yaml.Node]bool
	envSet      []EnvVar
	selectors   []string
}

func (e *editor) note(format string, args ...any) {
	e.notes = append(e.notes, sprintf(format, args...))
}

// isHwaccelExtends reports whether an extends mapping points at a
// hwaccel.ml-style file.
func isHwaccelExtends(ext *yaml.Node) (file string, ok bool) {
	return extendsFileMatching(ext, isHwaccelFileName)
}

// extendsFileMatching returns the file an extends mapping names, and
// whether match accepts its name.
func extendsFileMatching(ext *yaml.Node, match func(string) bool) (file string, ok bool) {
	ext = resolve(ext)
	if ext == nil || ext.Kind != yaml.MappingNode {
		return "", false
	}
	f := mapGet(ext, "file")
	if f == nil {
		return "", false
	}
	return f.Value, match(f.Value)
}

// isHwaccelFileName reports whether an extends file is a hwaccel.ml-style
// file (hwaccel.ml.yml, or the older mlaccel-armnn.yml), not the
// transcoding one (hwaccel.transcoding.yml).
func isHwaccelFileName(f string) bool {
	base := strings.ToLower(path.Base(strings.ReplaceAll(f, "\\", "/")))
	if strings.Contains(base, "transcod") {
		return false
	}
	return strings.Contains(base, "hwaccel") || strings.Contains(base, "mlaccel")
}

func (e *editor) run() error {
	p := e.p
	spec := e.opts.Target.spec()
	if spec.suffix {
		if err := e.image(); err != nil {
			return err
		}
	}
	extKey, ext := mapEntry(p.svc, "extends")
	hwFile, hwExt := spec.isExtends(ext)
	if ext != nil && !hwExt {
		if !e.opts.Inline && e.backend != "cpu" {
			return newError(ErrManual, "Use --inline to merge the section into the service instead.",
				"service %q already extends something else (line %d); a service can extend only one other service", p.name, extKey.Line)
		}
	}
	old := spec.inlined(p.svc)
	// Remove what earlier inlined sections added.
	var keep *yaml.Node
	if e.opts.Inline {
		keep = e.section
	}
	var oldSecs []*yaml.Node
	for _, b := range old {
		sec := e.secs.get(b)
		if sec == nil {
			sec = spec.defaults().get(b)
		}
		if sec == nil || (e.opts.Inline && b == string(e.backend)) {
			continue
		}
		oldSecs = append(oldSecs, sec)
	}
	if len(oldSecs) > 0 {
		// One pass over all of them, so that an entry two old sections
		// share is removed once.
		if _, err := e.removeSection(p.svc, unionSections(oldSecs), keep, ""); err != nil {
			return err
		}
	}
	if e.opts.Inline {
		if hwExt {
			e.removeKeepingComments(extKey.Line-1, e.entryEnd(extKey.Line-1, extKey.Column-1, ext)+1)
		}
		if err := e.merge(p.svc, e.section, ""); err != nil {
			return err
		}
		return nil
	}
	// Extends mode.
	if err := e.checkNullKeys(); err != nil {
		return err
	}
	if hwExt {
		e.extendsFile = hwFile
		svcNode := mapGet(ext, "service")
		if svcNode == nil {
			return newError(ErrManual, "Add service: to the extends block.", "the extends block of %q has no service: (line %d)", p.name, extKey.Line)
		}
		if strings.Contains(svcNode.Value, "$") && spec.suffix {
			return e.extendsVariable(svcNode)
		}
		if strings.Contains(svcNode.Value, "$") {
			// extendsVariable sets the ML backend's variables in .env;
			// a transcoding section from a variable is set by hand.
			return newError(ErrManual,
				fmt.Sprintf("Set the variable to %s in your .env file, or replace %s with %s.", e.backend, svcNode.Value, e.backend),
				"the %s section of %q comes from a variable (service: %s, line %d), so immich-accel cannot set it here", spec.fileName, p.name, svcNode.Value, svcNode.Line)
		}
		if svcNode.Value != string(e.backend) {
			return e.replaceScalar(svcNode, string(e.backend))
		}
		return nil
	}
	if e.backend == "cpu" {
		return nil
	}
	e.extendsFile = e.opts.HwaccelName
	if e.extendsFile == "" {
		e.extendsFile = spec.fileName
	}
	if !e.noUncomment {
		done, err := e.uncomment()
		if err != nil || done {
			return err
		}
	}
	return e.insertExtends()
}

// serviceRegion returns the 0-based line range [start, end) of the ML
// service, up to the next service key or the end of services.
func (p *parsed) serviceRegion() (int, int) {
	start := p.svcKey.Line - 1
	end := len(p.t.lines)
	keyIndent := p.svcKey.Column - 1
	for i := start + 1; i < len(p.t.lines); i++ {
		l := p.t.lines[i]
		if isBlankOrComment(l) {
			continue
		}
		if indentOf(l) <= keyIndent {
			end = i
			break
		}
	}
	return start, end
}

// uncomment turns Immich's commented extends block in the service into a
// live one.
func (e *editor) uncomment() (bool, error) {
	p := e.p
	start, end := p.serviceRegion()
	bodyIndent := p.svc.Content[0].Column - 1
	for i := start + 1; i < end; i++ {
		c, ok := commentText(p.t.lines[i])
		if !ok || !strings.HasPrefix(c, "extends:") {
			continue
		}
		var fileLine, svcLine = -1, -1
		for j := i + 1; j < end && j <= i+3; j++ {
			cj, ok := commentText(p.t.lines[j])
			if !ok {
				break
			}
			switch {
			case strings.HasPrefix(cj, "file:"):
				fileLine = j
			case strings.HasPrefix(cj, "service:"):
				svcLine = j
			}
		}
		if fileLine < 0 || svcLine < 0 {
			continue
		}
		fc, _ := commentText(p.t.lines[fileLine])
		file := strings.TrimSpace(strings.TrimPrefix(fc, "file:"))
		if k := strings.Index(file, " #"); k >= 0 {
			file = strings.TrimSpace(file[:k])
		}
		file = strings.Trim(file, `'"`)
		spec := e.opts.Target.spec()
		if !spec.isFile(file) {
			continue
		}
		ind := strings.Repeat(" ", bodyIndent)
		sub := strings.Repeat(" ", bodyIndent+p.indentUnit)
		e.pt.setLine(i, ind+c)
		fcText, _ := commentText(p.t.lines[fileLine])
		if e.opts.Target == TargetTranscode && legacyTranscodingFile(file) {
			// hwaccel.yml's sections moved to hwaccel.transcoding.yml.
			fcText = strings.Replace(fcText, file, spec.fileName, 1)
			e.note("the commented extends block named %s, which Immich replaced with %s in v1.94; it now names %s", file, spec.fileName, spec.fileName)
			file = spec.fileName
		}
		e.pt.setLine(fileLine, sub+fcText)
		scText, _ := commentText(p.t.lines[svcLine])
		e.pt.setLine(svcLine, sub+setServiceValue(scText, string(e.backend)))
		e.extendsFile = file
		e.uncommented = true
		return true, nil
	}
	return false, nil
}

// commentText returns the text of a comment-only line after '#' and the
// spaces that follow it.
func commentText(line string) (string, bool) {
	tr := strings.TrimLeft(line, " \t")
	if !strings.HasPrefix(tr, "#") {
		return "", false
	}
	return strings.TrimRight(strings.TrimLeft(tr[1:], " \t"), " \t"), true
}

// setServiceValue replaces the value in "service: X # comment".
func setServiceValue(s, backend string) string {
	rest := strings.TrimPrefix(s, "service:")
	comment := ""
	if k := strings.Index(rest, " #"); k >= 0 {
		comment = rest[k:]
	}
	return "service: " + backend + comment
}

func (e *editor) insertExtends() error {
	p := e.p
	bodyIndent := p.svc.Content[0].Column - 1
	at := p.svcKey.Line // after the service key line
	if k, v := mapEntry(p.svc, "image"); k != nil {
		at = e.entryEnd(k.Line-1, k.Column-1, v) + 1
	}
	ind := strings.Repeat(" ", bodyIndent)
	sub := strings.Repeat(" ", bodyIndent+p.indentUnit)
	e.pt.insert(at, []string{
		ind + "extends:",
		sub + "file: " + e.extendsFile,
		sub + "service: " + string(e.backend),
	})
	return nil
}

// entryEnd returns the last line (0-based) that belongs to the entry that
// starts on line start at indentation indent: the lines after it that are
// indented deeper (or, for a sequence written at the key's own indentation,
// its "- " items), stopping before trailing comments and blank lines.
func (e *editor) entryEnd(start, indent int, val *yaml.Node) int {
	t := e.p.t
	last := start
	compactSeq := val != nil && val.Kind == yaml.SequenceNode && val.Style&yaml.FlowStyle == 0
	for i := start + 1; i < len(t.lines); i++ {
		l := t.lines[i]
		if isBlankOrComment(l) {
			continue
		}
		ind := indentOf(l)
		tr := strings.TrimLeft(l, " ")
		if ind > indent || (compactSeq && ind == indent && (strings.HasPrefix(tr, "- ") || tr == "-")) {
			last = i
			continue
		}
		break
	}
	return last
}

// aliased returns the nodes that an alias (*name) refers to anywhere in
// the file.
func (p *parsed) aliased() map[*yaml.Node]bool {
	out := map[*yaml.Node]bool{}
	for _, d := range p.docs {
		walk(d, func(n *yaml.Node) {
			if n.Kind == yaml.AliasNode && n.Alias != nil {
				out[n.Alias] = true
			}
		})
	}
	return out
}

// checkSharedService refuses to edit a service, or a part of it, that is
// an anchor other places use: the edit would change them too.
func checkSharedService(p *parsed) error {
	shared := p.aliased()
	if len(shared) == 0 {
		return nil
	}
	var err error
	walk(p.svc, func(n *yaml.Node) {
		if err == nil && n.Anchor != "" && shared[n] {
			err = newError(ErrManual,
				fmt.Sprintf("Give %q its own copy of what &%s holds, then run again.", p.name, n.Anchor),
				"part of service %q is the anchor &%s (line %d), which other places reuse with *%s; editing it would change them too",
				p.name, n.Anchor, n.Line, n.Anchor)
		}
	})
	return err
}

// checkNullKeys refuses extends where the section has a key with no value
// that the service lacks: rkmpp's volumes: holds only commented-out lines
// (OpenCL HDR tonemapping), and Compose rejects the resulting empty
// volumes on a service that has none of its own.
func (e *editor) checkNullKeys() error {
	if e.backend == "cpu" {
		return nil
	}
	for i := 0; i+1 < len(e.section.Content); i += 2 {
		k, v := e.section.Content[i], resolve(e.section.Content[i+1])
		if v.Kind != yaml.ScalarNode || v.Tag != "!!null" {
			continue
		}
		if have, _ := mergedGet(e.p.svc, k.Value); have == nil {
			return newError(ErrManual, fmt.Sprintf("Use --inline, or give %q a %s: list of its own (Immich's server needs its upload volume anyway), then run again.", e.p.name, k.Value),
				"the %s section has an empty %s: (its entries are commented out), and Compose rejects that on %q, which has no %s of its own", e.backend, k.Value, e.p.name, k.Value)
		}
	}
	return nil
}
