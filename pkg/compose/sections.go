package compose

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/immich-accel/immich-accel/templates"
)

// sectionSet is a parsed hwaccel.ml.yml.
type sectionSet struct {
	src      []byte
	services *yaml.Node
}

func loadSections(src []byte) (*sectionSet, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("hwaccel file is not valid YAML: %w", err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("hwaccel file is empty")
	}
	s := mapGet(doc.Content[0], "services")
	if s == nil || s.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("hwaccel file has no services: mapping")
	}
	return &sectionSet{src: src, services: s}, nil
}

// defaultSections is the embedded hwaccel.ml.yml, parsed once. It is never
// modified: get returns copies.
var defaultSections = sync.OnceValue(func() *sectionSet {
	s, err := loadSections(templates.HwaccelML)
	if err != nil {
		panic("embedded hwaccel.ml.yml: " + err.Error()) // checked by tests
	}
	return s
})

// sectionsFor parses src, reusing the embedded copy when src is it.
func sectionsFor(src []byte) (*sectionSet, error) {
	if bytes.Equal(src, templates.HwaccelML) {
		return defaultSections(), nil
	}
	return loadSections(src)
}

func (s *sectionSet) names() []string {
	var out []string
	for i := 0; i+1 < len(s.services.Content); i += 2 {
		out = append(out, s.services.Content[i].Value)
	}
	sort.Strings(out)
	return out
}

// get returns a deep copy of a section, or nil.
func (s *sectionSet) get(name string) *yaml.Node {
	n := resolve(mapGet(s.services, name))
	if n == nil {
		return nil
	}
	return deepCopy(n)
}

// signature is an entry that only one section adds; finding it in a service
// means that section was inlined.
var signatures = []struct {
	backend, path, key string
}{
	{"cuda", "deploy.resources.reservations.devices", "driver=nvidia"},
	{"openvino-wsl", "devices", "/dev/dxg"},
	{"openvino", "device_cgroup_rules", "c 189:* rmw"},
	{"rocm", "devices", "/dev/kfd"},
	{"rknn", "security_opt", "systempaths=unconfined"},
	{"armnn", "devices", "/dev/mali0"},
}

// inlinedBackends returns the sections whose signature entries the service
// carries. openvino-wsl wins over openvino when /dev/dxg is present.
func inlinedBackends(svc *yaml.Node) []string {
	var out []string
	for _, s := range signatures {
		seq := pathGet(svc, s.path)
		if seq == nil || seq.Kind != yaml.SequenceNode {
			continue
		}
		for _, it := range seq.Content {
			if itemKey(s.path, it) == s.key {
				out = append(out, s.backend)
				break
			}
		}
	}
	if slices.Contains(out, "openvino-wsl") {
		out = slices.DeleteFunc(out, func(b string) bool { return b == "openvino" })
	}
	return out
}

// unionSections merges sections into one: mappings merged key by key,
// lists concatenated.
func unionSections(secs []*yaml.Node) *yaml.Node {
	out := deepCopy(secs[0])
	for _, s := range secs[1:] {
		mergeInto(out, s)
	}
	return out
}

func mergeInto(dst, src *yaml.Node) {
	for i := 0; i+1 < len(src.Content); i += 2 {
		k, v := src.Content[i], resolve(src.Content[i+1])
		_, dv := mapEntry(dst, k.Value)
		switch {
		case dv == nil:
			dst.Content = append(dst.Content, deepCopy(k), deepCopy(v))
		case dv.Kind == yaml.MappingNode && v.Kind == yaml.MappingNode:
			mergeInto(dv, v)
		case dv.Kind == yaml.SequenceNode && v.Kind == yaml.SequenceNode:
			for _, it := range v.Content {
				dv.Content = append(dv.Content, deepCopy(it))
			}
		}
	}
}
