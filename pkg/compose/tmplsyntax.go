package compose

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// templateMarkers open template constructs: Jinja, Go and Helm {{ }},
// Jinja {% %} and {# #}.
var templateMarkers = []string{"{{", "{%", "{#"}

func countMarkers(s string) int {
	n := 0
	for _, m := range templateMarkers {
		n += strings.Count(s, m)
	}
	return n
}

// templateStructure tells a template from a Compose file that merely holds
// template text in its strings (a Caddy label "{{upstreams 2283}}", a
// Traefik rule, a Homepage widget). For a file that parses as YAML it
// returns the kind and line of template syntax that is not inside a string
// value: in a mapping key, a key that is itself a mapping (what {{ x }}
// parses as outside quotes), or anywhere else the values do not account
// for. "" when every marker of the text lies in a string value.
func templateStructure(p *parsed) (string, int) {
	kindOf := func(s string) string {
		if strings.Contains(s, "{%") || strings.Contains(s, "{#") {
			return "a Jinja template ({% %} blocks)"
		}
		return "a template with {{ }} placeholders (Jinja, Helm or Go templates)"
	}
	kind, line := "", 0
	inValues := 0
	for _, d := range p.docs {
		walk(d, func(n *yaml.Node) {
			if kind != "" {
				return
			}
			switch n.Kind {
			case yaml.MappingNode:
				for i := 0; i+1 < len(n.Content); i += 2 {
					k := n.Content[i]
					switch {
					case k.Kind == yaml.MappingNode || k.Kind == yaml.SequenceNode:
						kind, line = kindOf(p.t.lines[k.Line-1]), k.Line
						return
					case k.Kind == yaml.ScalarNode && countMarkers(k.Value) > 0:
						kind, line = kindOf(k.Value), k.Line
						return
					}
					inValues += markersIn(n.Content[i+1])
				}
			case yaml.SequenceNode:
				for _, c := range n.Content {
					inValues += markersIn(c)
				}
			}
		})
	}
	if kind != "" {
		return kind, line
	}
	inText := 0
	for _, l := range p.t.lines {
		inText += countMarkers(nonCommentPart(l))
	}
	if inText > inValues {
		k, l := sniffTemplate(p.t)
		return k, l
	}
	return "", 0
}

// markersIn counts template markers in a scalar value (0 for collections,
// whose scalars are counted on their own).
func markersIn(n *yaml.Node) int {
	if n == nil || n.Kind != yaml.ScalarNode {
		return 0
	}
	return countMarkers(n.Value)
}
