package compose

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/immich-accel/immich-accel/pkg/accel"
)

// parsed is a compose file parsed into a node tree, with the ML service
// located. The node tree is only used to find things; edits are made to the
// text.
type parsed struct {
	src      []byte
	t        *text
	docs     []*yaml.Node
	root     *yaml.Node // the top-level mapping that holds services:
	services *yaml.Node // the services: mapping
	svcKey   *yaml.Node // the ML service's key node
	svc      *yaml.Node // the ML service's mapping
	name     string     // the ML service's name

	templated  int // first line with template syntax inside string values, 0 if none
	indentUnit int // indentation step of block mappings in this file
	seqOffset  int // dash column relative to the parent key for block sequences
}

// wellKnownMLNames are service names used for Immich's ML service when its
// image does not say so (an image from a variable, a local build).
var wellKnownMLNames = []string{
	"immich-machine-learning", "immich_machine_learning", "machine-learning",
	"machine_learning", "immich-ml", "immich_ml", "ml",
}

var (
	jinjaRe = regexp.MustCompile(`\{%|\{\{|\{#`)
	yttRe   = regexp.MustCompile(`^\s*#@`)
)

// nonCommentPart returns the part of a line before a comment that starts
// at the line's beginning or after a space. It does not track quotes; it is
// only used to spot template syntax.
func nonCommentPart(line string) string {
	tr := strings.TrimSpace(line)
	if strings.HasPrefix(tr, "#") {
		return ""
	}
	if i := strings.Index(line, " #"); i >= 0 {
		return line[:i]
	}
	return line
}

// sniffYtt returns the first line of a ytt directive (#@), or 0. ytt
// directives are YAML comments that change the document's structure.
func sniffYtt(t *text) int {
	for i, l := range t.lines {
		if yttRe.MatchString(l) {
			return i + 1
		}
	}
	return 0
}

// sniffTemplate finds template syntax ({{ }}, {% %}, {# #}) outside
// comments: its kind and first line. Where it sits decides what it means
// (see templateStructure).
func sniffTemplate(t *text) (kind string, line int) {
	for i, l := range t.lines {
		nc := nonCommentPart(l)
		if strings.Contains(nc, "{%") || strings.Contains(nc, "{#") {
			return "a Jinja template ({% %} blocks)", i + 1
		}
	}
	for i, l := range t.lines {
		if jinjaRe.MatchString(nonCommentPart(l)) {
			return "a template with {{ }} placeholders (Jinja, Helm or Go templates)", i + 1
		}
	}
	return "", 0
}

// oddBreak finds line breaks YAML honours but line-based editing would
// miscount: a carriage return not followed by a line feed, NEL, and the
// Unicode line and paragraph separators.
func oddBreak(t *text) (string, int) {
	for i, l := range t.lines {
		switch {
		case strings.Contains(l, "\r"):
			return "a carriage return without line feed", i + 1
		case strings.Contains(l, "\u0085"):
			return "a NEL (U+0085) line break", i + 1
		case strings.Contains(l, "\u2028"), strings.Contains(l, "\u2029"):
			return "a Unicode line/paragraph separator", i + 1
		}
	}
	return "", 0
}

func parse(src []byte) (*parsed, error) {
	p := &parsed{src: src, t: newText(src)}
	if what, line := oddBreak(p.t); what != "" {
		return nil, newError(ErrManual, "Convert the file to plain LF or CRLF line endings (for example with dos2unix), then run again.",
			"line %d contains %s, which YAML reads as a line break", line, what)
	}
	if line := sniffYtt(p.t); line > 0 {
		return nil, newError(ErrNotCompose,
			"Render the template first and run immich-accel on the result, or edit the template by hand.",
			"the file looks like a ytt template (#@ directives, line %d), not a Compose file", line)
	}
	tmplKind, tmplLine := sniffTemplate(p.t)
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if tmplKind != "" {
				return nil, newError(ErrNotCompose,
					"Render the template first and run immich-accel on the result, or edit the template by hand.",
					"the file looks like %s (line %d) and is not valid YAML: %v", tmplKind, tmplLine, err)
			}
			return nil, newError(ErrNotCompose, "Fix the YAML syntax (docker compose config shows the same error), then run again.",
				"the file is not valid YAML: %v", err)
		}
		p.docs = append(p.docs, &n)
	}
	var kinds []string
	for _, d := range p.docs {
		if len(d.Content) == 0 {
			continue
		}
		r := d.Content[0]
		if r.Kind != yaml.MappingNode {
			continue
		}
		if s := mapGet(r, "services"); s != nil {
			if p.services != nil {
				return nil, newError(ErrNotCompose, "Split the documents into separate files.",
					"the file has services: in more than one YAML document")
			}
			p.root = r
			p.services = s
			continue
		}
		if mapGet(r, "apiVersion") != nil && mapGet(r, "kind") != nil {
			kinds = append(kinds, fmt.Sprintf("a Kubernetes manifest (kind: %s)", mapGet(r, "kind").Value))
		} else if looksLikeHelmValues(r) {
			kinds = append(kinds, "Helm chart or TrueNAS app values (image repository/tag keys, no services:)")
		}
	}
	if p.services == nil {
		what := "a YAML file without a top-level services: section"
		fix := "Point --file at the docker-compose.yml that defines immich-machine-learning."
		if len(kinds) > 0 {
			what = kinds[0]
			fix = "Point --file at the docker-compose.yml that defines immich-machine-learning; for Kubernetes, Helm or TrueNAS apps, set the image tag suffix and GPU resources in the chart or app values instead."
		}
		if len(p.docs) == 0 {
			what = "empty"
		}
		return nil, newError(ErrNotCompose, fix, "the file is %s, not a Compose file", what)
	}
	if p.services.Kind != yaml.MappingNode {
		return nil, newError(ErrNotCompose, "Make services: a mapping of service names to definitions.",
			"services: is not a mapping (line %d)", p.services.Line)
	}
	if kind, line := templateStructure(p); kind != "" {
		return nil, newError(ErrNotCompose,
			"Render the template first and run immich-accel on the result, or edit the template by hand.",
			"the file looks like %s: template syntax in a key or the file's structure (line %d), not in a string value", kind, line)
	}
	p.templated = tmplLine
	if err := checkDuplicateKeys(p.root); err != nil {
		return nil, err
	}
	p.detectStyle()
	return p, nil
}

func looksLikeHelmValues(r *yaml.Node) bool {
	found := false
	walk(r, func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode && mapGet(n, "repository") != nil {
			found = true
		}
	})
	return found
}

// detectStyle measures the file's indentation step and sequence style from
// the services mapping.
func (p *parsed) detectStyle() {
	p.indentUnit = 2
	p.seqOffset = 2
	if len(p.services.Content) >= 2 && p.services.Style&yaml.FlowStyle == 0 {
		svcCol := p.services.Content[0].Column
		for i := 1; i < len(p.services.Content); i += 2 {
			v := p.services.Content[i]
			if v.Kind == yaml.MappingNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 {
				if d := v.Content[0].Column - svcCol; d > 0 {
					p.indentUnit = d
				}
				break
			}
		}
	}
	// Sequence style: the first block sequence that is a mapping value.
	found := false
	var visit func(n *yaml.Node)
	visit = func(n *yaml.Node) {
		if found || n == nil {
			return
		}
		if n.Kind == yaml.MappingNode && n.Style&yaml.FlowStyle == 0 {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if v.Kind == yaml.SequenceNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 && v.Line > k.Line {
					p.seqOffset = v.Column - k.Column
					if p.seqOffset < 0 {
						p.seqOffset = 0
					}
					found = true
					return
				}
				visit(v)
			}
		}
	}
	visit(p.root)
}

// serviceInfo describes one entry of services: for finding the ML service.
type serviceInfo struct {
	name  string
	key   *yaml.Node
	val   *yaml.Node
	image string
	ml    bool // image names immich-machine-learning
}

func (p *parsed) serviceList() []serviceInfo {
	var out []serviceInfo
	for i := 0; i+1 < len(p.services.Content); i += 2 {
		k, v := p.services.Content[i], resolve(p.services.Content[i+1])
		si := serviceInfo{name: k.Value, key: k, val: v}
		if img, _ := mergedGet(v, "image"); img != nil && img.Kind == yaml.ScalarNode {
			si.image = img.Value
			si.ml = strings.Contains(strings.ToLower(img.Value), "immich-machine-learning")
		}
		out = append(out, si)
	}
	return out
}

func serviceNames(list []serviceInfo) string {
	var names []string
	for _, s := range list {
		names = append(names, s.name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// pick makes s the service to edit, which must be a block-style mapping.
func (p *parsed) pick(s serviceInfo) error {
	if s.val == nil || s.val.Kind != yaml.MappingNode {
		return newError(ErrNotCompose, "Write the service as a mapping of keys.",
			"service %q is not a mapping (line %d)", s.name, s.key.Line)
	}
	if s.val.Style&yaml.FlowStyle != 0 {
		return newError(ErrManual, "Write the service in block style (one key per line), then run again.",
			"service %q is written in flow style ({...}) on line %d; immich-accel edits block-style services only", s.name, s.key.Line)
	}
	p.svcKey, p.svc, p.name = s.key, s.val, s.name
	return nil
}

// findService locates the ML service: by --service, by image, then by
// well-known names. Entries without an image or build (overrides) never
// count.
func (p *parsed) findService(want string) error {
	list := p.serviceList()
	pick := p.pick
	if want != "" {
		for _, s := range list {
			if s.name != want {
				continue
			}
			if strings.Contains(strings.ToLower(s.image), "immich-server") {
				return newError(ErrNoMLService, "Leave out --service, or name the service that runs immich-machine-learning. Transcoding acceleration is set up with hwaccel.transcoding.yml: see https://docs.immich.app/features/hardware-transcoding.",
					"service %q runs Immich's server (%s), not machine learning; the hwaccel.ml.yml sections and image suffixes are for the machine-learning service", s.name, s.image)
			}
			return pick(s)
		}
		return newError(ErrNoMLService, "Pick one of the services in the file with --service.",
			"there is no service %q; the file has: %s", want, serviceNames(list))
	}
	var byImage []serviceInfo
	for _, s := range list {
		if s.ml {
			byImage = append(byImage, s)
		}
	}
	if len(byImage) == 1 {
		return pick(byImage[0])
	}
	if len(byImage) > 1 {
		return newError(ErrSeveralMLServices, "Choose one with --service NAME.",
			"several services use the immich-machine-learning image: %s", serviceNames(byImage))
	}
	var byName []serviceInfo
	var overrides []string
	for _, name := range wellKnownMLNames {
		for _, s := range list {
			if s.name != name || s.val == nil || s.val.Kind != yaml.MappingNode {
				continue
			}
			img, _ := mergedGet(s.val, "image")
			build, _ := mergedGet(s.val, "build")
			if img == nil && build == nil {
				overrides = append(overrides, s.name)
				continue
			}
			if strings.Contains(strings.ToLower(s.image), "immich-server") {
				continue
			}
			byName = append(byName, s)
		}
	}
	if len(byName) == 1 {
		return pick(byName[0])
	}
	if len(byName) > 1 {
		return newError(ErrSeveralMLServices, "Choose one with --service NAME.",
			"several services could be Immich's machine-learning service: %s", serviceNames(byName))
	}
	sections := 0
	for _, s := range list {
		if accel.Backend(s.name).Valid() && s.image == "" {
			sections++
		}
	}
	if sections >= 3 {
		return newError(ErrNoMLService, "Point --file at the docker-compose.yml next to it; immich-accel reads the sections from this file itself (--hwaccel-file).",
			"this is a hwaccel.ml.yml-style file (sections %s), not the compose file that defines the machine-learning service", serviceNames(list))
	}
	if len(overrides) > 0 {
		return newError(ErrNoMLService,
			"Run immich-accel on the main compose file that sets the image of the machine-learning service.",
			"service %q has no image: this looks like an override file, not the file that defines the machine-learning service", overrides[0])
	}
	msg := fmt.Sprintf("no machine-learning service found (no image with immich-machine-learning); services in the file: %s", serviceNames(list))
	fix := "Add Immich's immich-machine-learning service (see https://docs.immich.app/install/docker-compose), or name the service with --service."
	if svc, url := mlURL(list); svc != "" {
		if strings.EqualFold(url, "false") {
			msg += fmt.Sprintf("; %s turns machine learning off (IMMICH_MACHINE_LEARNING_URL: false)", svc)
			fix = "Add Immich's immich-machine-learning service and remove IMMICH_MACHINE_LEARNING_URL: false (see https://docs.immich.app/install/docker-compose), then run again."
		} else {
			msg += fmt.Sprintf("; %s sends machine learning to %s (IMMICH_MACHINE_LEARNING_URL)", svc, url)
			fix = "Run immich-accel on the machine that runs immich-machine-learning, with its compose file."
		}
	}
	return newError(ErrNoMLService, fix, "%s", msg)
}

// mlURL returns the first service that sets IMMICH_MACHINE_LEARNING_URL
// in its environment (mapping or KEY=VALUE list), and the value.
func mlURL(list []serviceInfo) (service, url string) {
	const key = "IMMICH_MACHINE_LEARNING_URL"
	for _, s := range list {
		env, _ := mergedGet(s.val, "environment")
		env = resolve(env)
		if env == nil {
			continue
		}
		switch env.Kind {
		case yaml.MappingNode:
			if v := resolve(mapGet(env, key)); v != nil && v.Kind == yaml.ScalarNode {
				return s.name, v.Value
			}
		case yaml.SequenceNode:
			for _, it := range env.Content {
				if it = resolve(it); it != nil && it.Kind == yaml.ScalarNode {
					if v, ok := strings.CutPrefix(it.Value, key+"="); ok {
						return s.name, v
					}
				}
			}
		}
	}
	return "", ""
}
