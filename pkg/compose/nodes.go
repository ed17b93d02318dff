package compose

// Helpers that read go.yaml.in/yaml/v3 node trees: lookups by key and
// dotted path, aliases and merge keys followed, list entries named for
// de-duplication, deep copies. They never edit the file's text.

import (
	"bytes"
	"strings"

	"go.yaml.in/yaml/v3"
)

// walk calls f on n and every node below it, depth first.
func walk(n *yaml.Node, f func(*yaml.Node)) {
	if n == nil {
		return
	}
	f(n)
	for _, c := range n.Content {
		walk(c, f)
	}
}

// mapGet returns the value for key in a mapping node, or nil.
func mapGet(m *yaml.Node, key string) *yaml.Node {
	_, v := mapEntry(m, key)
	return v
}

// mapEntry returns the key and value nodes for key in a mapping node, or
// nils.
func mapEntry(m *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Kind == yaml.ScalarNode && m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// resolve follows an alias.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// mergedGet looks key up in a mapping, then in the mappings merged into it
// with <<. It returns the value and whether it came from a merge key.
func mergedGet(m *yaml.Node, key string) (*yaml.Node, bool) {
	if v := mapGet(m, key); v != nil {
		return v, false
	}
	if m == nil {
		return nil, false
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if k.Value != "<<" || k.Kind != yaml.ScalarNode {
			continue
		}
		v := resolve(m.Content[i+1])
		var srcs []*yaml.Node
		if v != nil && v.Kind == yaml.SequenceNode {
			for _, c := range v.Content {
				srcs = append(srcs, resolve(c))
			}
		} else {
			srcs = append(srcs, v)
		}
		for _, s := range srcs {
			if r, _ := mergedGet(s, key); r != nil {
				return r, true
			}
		}
	}
	return nil, false
}

func deepCopy(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	c := *n
	c.Content = nil
	for _, k := range n.Content {
		c.Content = append(c.Content, deepCopy(k))
	}
	return &c
}

// itemKey names a list entry for de-duplication: two entries with the same
// key are the same mount, device or option.
func itemKey(listPath string, n *yaml.Node) string {
	n = resolve(n)
	if n == nil {
		return ""
	}
	last := listPath[strings.LastIndex(listPath, ".")+1:]
	switch n.Kind {
	case yaml.ScalarNode:
		v := n.Value
		if last == "environment" {
			// KEY=VALUE: the same variable, whatever its value.
			k, _, _ := strings.Cut(v, "=")
			return k
		}
		if last == "devices" || last == "volumes" {
			f := strings.Split(v, ":")
			if len(f) >= 2 {
				return f[1]
			}
			return f[0]
		}
		return v
	case yaml.MappingNode:
		if t := mapGet(n, "target"); t != nil {
			return t.Value
		}
		if d := mapGet(n, "driver"); d != nil {
			return "driver=" + d.Value
		}
		var b bytes.Buffer
		_ = yaml.NewEncoder(&b).Encode(n)
		return b.String()
	}
	return ""
}

// pathGet follows a dotted path of mapping keys.
func pathGet(m *yaml.Node, path string) *yaml.Node {
	cur := m
	for _, k := range strings.Split(path, ".") {
		cur = resolve(mapGet(resolve(cur), k))
		if cur == nil {
			return nil
		}
	}
	return cur
}

// listEntries flattens a section into (path of list, entry) pairs.
func listEntries(sec *yaml.Node) map[string][]*yaml.Node {
	out := map[string][]*yaml.Node{}
	var visit func(n *yaml.Node, path string)
	visit = func(n *yaml.Node, path string) {
		n = resolve(n)
		if n == nil {
			return
		}
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := n.Content[i].Value
				if path != "" {
					p = path + "." + p
				}
				visit(n.Content[i+1], p)
			}
		case yaml.SequenceNode:
			out[path] = append(out[path], n.Content...)
		}
	}
	visit(sec, "")
	return out
}

func joinPath(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

func isEmpty(n *yaml.Node) bool {
	return (n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode) && len(n.Content) == 0
}
