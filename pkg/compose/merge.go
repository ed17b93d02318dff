package compose

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/immich-accel/immich-accel/pkg/accel"
)

// image sets the tag suffix of the ML service's image.
func (e *editor) image() error {
	p := e.p
	if b, _ := mergedGet(p.svc, "build"); b != nil {
		dev := ""
		walk(b, func(n *yaml.Node) {
			if n.Kind == yaml.ScalarNode && strings.HasPrefix(n.Value, "DEVICE=") {
				dev = n.Value
			}
			if n.Kind == yaml.MappingNode {
				if d := mapGet(n, "DEVICE"); d != nil {
					dev = "DEVICE: " + d.Value
				}
			}
		})
		fix := "Set the DEVICE build argument to the backend (cuda, openvino, armnn, rocm, rknn or cpu), rebuild, and add the hwaccel.ml.yml section by hand; or use Immich's published image instead of build:."
		if dev != "" {
			return newError(ErrManual, fix, "service %q builds its image locally and picks the backend with the build argument %s (line %d), so an image tag suffix would be wrong", p.name, dev, b.Line)
		}
		return newError(ErrManual, fix, "service %q builds its image locally (build: on line %d), so an image tag suffix would be wrong", p.name, b.Line)
	}
	k, v := mapEntry(p.svc, "image")
	if k == nil {
		if mv, merged := mergedGet(p.svc, "image"); merged && mv != nil {
			return newError(ErrManual, "Set image: in the service itself (so other services sharing the anchor keep theirs), then run again.",
				"the image of %q comes from a merge key (<<), which other services may share (line %d)", p.name, mv.Line)
		}
		return newError(ErrManual, "Add image: ghcr.io/immich-app/immich-machine-learning:${IMMICH_VERSION:-release} to the service.",
			"service %q has no image:", p.name)
	}
	if v.Kind != yaml.ScalarNode {
		return newError(ErrManual, "Write the image as a plain string.", "the image of %q is not a string (line %d)", p.name, v.Line)
	}
	if countMarkers(v.Value) > 0 {
		return newError(ErrNotCompose, "Render the template first and run immich-accel on the result, or edit the template by hand.",
			"the image of %q is template text (%s, line %d), not a final image reference", p.name, v.Value, v.Line)
	}
	ref := parseImage(v.Value)
	want := accel.Backend(e.backend).Suffix()
	if ref.legacy {
		return newError(ErrManual, "Switch to ghcr.io/immich-app/immich-machine-learning:${IMMICH_VERSION:-release} as in Immich's current docker-compose.yml, then run again.",
			"service %q uses the legacy image %s, which has no accelerated variants", p.name, v.Value)
	}
	if handled, err := e.imageFromVariable(v, ref, want); handled || err != nil {
		return err
	}
	if !ref.hasTag {
		return newError(ErrManual, fmt.Sprintf("Add a tag such as :release-%s or :v2-%s.", orCPU(want), orCPU(want)),
			"the image of %q has no tag (%s means :latest, which has no accelerated variant)", p.name, v.Value)
	}
	if ref.suffix == want && ref.written == want {
		return nil
	}
	if ref.digest != "" && !e.opts.DropDigest {
		return newError(ErrManual, "Re-run with --drop-digest to drop the pin, or pin the digest of the -"+orCPU(want)+" image by hand.",
			"the image of %q is pinned by digest (%s); a digest names exactly one image, so it cannot get a different tag suffix", p.name, ref.digest)
	}
	nv := ref.withSuffix(want, e.opts.DropDigest)
	if ref.digest != "" {
		e.note("dropped the digest pin %s from the image; pin the new image's digest again if you want one", ref.digest)
	}
	return e.replaceScalar(v, nv)
}

// suffixVarFix says how to set the variable that the end of an image tag
// comes from (expr: $NAME, ${NAME}, ${NAME:-word} or ${NAME:+-$NAME}) so
// that the tag ends in -suffix, or in no suffix when suffix is "" (cpu).
func suffixVarFix(expr, suffix string) string {
	name, op, word := "", "", ""
	if inner, ok := strings.CutPrefix(expr, "${"); ok {
		inner = strings.TrimSuffix(inner, "}")
		i := strings.IndexFunc(inner, func(r rune) bool {
			return !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
		})
		name = inner
		if i >= 0 {
			name = inner[:i]
			rest := inner[i:]
			for _, o := range []string{":-", ":+", ":?", "-", "+", "?"} {
				if w, ok := strings.CutPrefix(rest, o); ok {
					op, word = o, w
					break
				}
			}
		}
	} else {
		name = strings.TrimPrefix(expr, "$")
	}
	manual := "Write the suffix into the compose file instead (the tag must end in -" + orCPU(suffix) + ")."
	if suffix == "" {
		manual = "Write the tag without a suffix into the compose file instead."
	}
	switch {
	case name == "":
		return manual
	case op == ":+" || op == "+":
		// ${NAME:+-$NAME}: the dash comes from the expression.
		if word != "-$"+name && word != "-${"+name+"}" {
			return manual
		}
		if suffix == "" {
			return fmt.Sprintf("Leave %s empty in your .env file (%s=), or write the tag without a suffix into the compose file.", name, name)
		}
		return fmt.Sprintf("Set %s=%s in your .env file, or write the suffix into the compose file.", name, suffix)
	case op == "" || op == ":-" || op == "-":
		if suffix == "" {
			return fmt.Sprintf("Leave %s empty in your .env file (%s=), or write the tag without a suffix into the compose file.", name, name)
		}
		return fmt.Sprintf("Set %s=-%s in your .env file, or write the suffix into the compose file.", name, suffix)
	}
	return manual
}

func orCPU(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// rawScalar returns how a single-line scalar is written in the file.
func rawScalar(n *yaml.Node) []string {
	v := n.Value
	switch {
	case n.Style&yaml.SingleQuotedStyle != 0:
		return []string{"'" + strings.ReplaceAll(v, "'", "''") + "'"}
	case n.Style&yaml.DoubleQuotedStyle != 0:
		return []string{`"` + v + `"`, strconv.Quote(v)}
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		return nil
	default:
		return []string{v}
	}
}

func quoteLike(n *yaml.Node, v string) string {
	switch {
	case n.Style&yaml.SingleQuotedStyle != 0:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case n.Style&yaml.DoubleQuotedStyle != 0:
		if !strings.ContainsAny(v, "\"\\") {
			return `"` + v + `"`
		}
		return strconv.Quote(v)
	}
	return v
}

// replaceScalar replaces a single-line scalar's text in place, keeping its
// quoting and everything else on the line.
func (e *editor) replaceScalar(n *yaml.Node, v string) error {
	li := n.Line - 1
	if li < 0 || li >= len(e.p.t.lines) {
		return fmt.Errorf("internal error: line %d out of range", n.Line)
	}
	if _, done := e.pt.replacement(li); done {
		return fmt.Errorf("internal error: line %d edited twice", n.Line)
	}
	line := e.p.t.lines[li]
	off := byteOffset(line, n.Column)
	for _, raw := range rawScalar(n) {
		if strings.HasPrefix(line[off:], raw) {
			e.pt.setLine(li, line[:off]+quoteLike(n, v)+line[off+len(raw):])
			return nil
		}
	}
	return newError(ErrManual, "Write the value on one line as a plain or quoted string, then run again.",
		"cannot edit the value on line %d in place (multi-line or escaped string)", n.Line)
}

func (e *editor) isRemoved(n *yaml.Node) bool { return e.removed != nil && e.removed[n] }

func (e *editor) markRemoved(n *yaml.Node) {
	if e.removed == nil {
		e.removed = map[*yaml.Node]bool{}
	}
	e.removed[n] = true
}

// insertPoint returns where a new entry goes at the end of a block mapping
// and its indentation.
func (e *editor) insertPoint(m *yaml.Node) (int, int) {
	lk, lv := m.Content[len(m.Content)-2], m.Content[len(m.Content)-1]
	return e.entryEnd(lk.Line-1, lk.Column-1, lv) + 1, m.Content[0].Column - 1
}

// merge adds the section's keys and list entries to target, skipping what
// is already there.
func (e *editor) merge(target, sec *yaml.Node, path string) error {
	for i := 0; i+1 < len(sec.Content); i += 2 {
		k, v := sec.Content[i], resolve(sec.Content[i+1])
		kp := joinPath(path, k.Value)
		tk, tv := mapEntry(target, k.Value)
		if tk != nil && e.isRemoved(tk) {
			tk, tv = nil, nil
		}
		if tk == nil {
			if mv, merged := mergedGet(target, k.Value); merged && mv != nil {
				return newError(ErrManual, fmt.Sprintf("Write %s: in the service itself (copy the entries from the anchor), then run again.", kp),
					"%s of %q comes from a merge key (<<); adding it to the service would hide the shared entries", kp, e.p.name)
			}
			if isEmpty(v) || (v.Kind == yaml.ScalarNode && v.Tag == "!!null") {
				// Nothing to add: an empty list, or one whose entries are
				// all commented out (rkmpp's HDR tonemapping volumes).
				continue
			}
			if target.Style&yaml.FlowStyle != 0 {
				return newError(ErrManual, "Write that mapping in block style (one key per line), then run again.",
					"cannot add %s to the flow-style mapping on line %d", kp, target.Line)
			}
			at, ind := e.insertPoint(target)
			e.pt.insertDepth(at, 2*ind, e.renderKV(k.Value, v, ind))
			continue
		}
		if tv.Kind == yaml.AliasNode {
			return newError(ErrManual, fmt.Sprintf("Write %s out in the service instead of the alias *%s, then run again.", kp, tv.Value),
				"%s of %q is an alias (line %d); adding entries would change every user of the anchor", kp, e.p.name, tv.Line)
		}
		switch v.Kind {
		case yaml.MappingNode:
			if tv.Kind != yaml.MappingNode || len(tv.Content) == 0 {
				return newError(ErrManual, fmt.Sprintf("Make %s a mapping (or remove it), then run again.", kp),
					"%s of %q is not a mapping (line %d)", kp, e.p.name, tv.Line)
			}
			if err := e.merge(tv, v, kp); err != nil {
				return err
			}
		case yaml.SequenceNode:
			if tv.Kind == yaml.MappingNode && kp == "environment" && tv.Style&yaml.FlowStyle == 0 && len(tv.Content) > 0 {
				// KEY=VALUE entries into an environment written as a mapping.
				if err := e.mergeEnvMap(tv, v); err != nil {
					return err
				}
				continue
			}
			if tv.Kind != yaml.SequenceNode {
				return newError(ErrManual, fmt.Sprintf("Make %s a list, then run again.", kp),
					"%s of %q is not a list (line %d)", kp, e.p.name, tv.Line)
			}
			have := map[string]*yaml.Node{}
			for _, it := range tv.Content {
				if !e.isRemoved(it) {
					have[itemKey(kp, it)] = it
				}
			}
			for _, it := range v.Content {
				key := itemKey(kp, it)
				if h, ok := have[key]; ok {
					if h.Kind == yaml.ScalarNode && it.Kind == yaml.ScalarNode && h.Value != it.Value {
						e.note("kept your %s entry %s (the section has %s)", kp, h.Value, it.Value)
					}
					if h = resolve(h); h.Kind == yaml.MappingNode && it.Kind == yaml.MappingNode && h.Style&yaml.FlowStyle == 0 && len(h.Content) > 0 {
						// The same device (an NVIDIA reservation the service
						// already has): it gets what the section's entry adds,
						// such as the video capability NVENC needs.
						if err := e.merge(h, it, kp); err != nil {
							return err
						}
					}
					continue
				}
				have[key] = it
				if err := e.appendItem(tv, it, kp); err != nil {
					return err
				}
			}
		case yaml.ScalarNode:
			if tv.Kind == yaml.ScalarNode && tv.Value != v.Value {
				e.note("kept your %s: %s (the section has %s)", kp, tv.Value, v.Value)
			}
		}
	}
	return nil
}

// appendItem adds an entry at the end of a list.
func (e *editor) appendItem(seq, it *yaml.Node, kp string) error {
	if seq.Style&yaml.FlowStyle != 0 {
		if it.Kind != yaml.ScalarNode {
			return newError(ErrManual, "Write the list in block style (one \"- \" entry per line), then run again.",
				"cannot add an entry to the flow-style list %s on line %d", kp, seq.Line)
		}
		return e.editFlow(seq, func(items []string) []string { return append(items, scalarText(it)) }, true)
	}
	if len(seq.Content) == 0 {
		return newError(ErrManual, "Remove the empty list, then run again.", "%s is an empty block list (line %d)", kp, seq.Line)
	}
	last := seq.Content[len(seq.Content)-1]
	ll := e.p.t.lines[last.Line-1]
	tr := strings.TrimLeft(ll, " ")
	if !strings.HasPrefix(tr, "-") {
		return newError(ErrManual, "Write each list entry on its own line starting with \"- \", then run again.",
			"cannot find where the list %s ends (line %d)", kp, last.Line)
	}
	dash := indentOf(ll)
	at := e.entryEnd(last.Line-1, dash, nil) + 1
	e.pt.insertDepth(at, 2*dash+1, e.renderItem(it, dash))
	return nil
}

// editFlow rewrites a single-line flow list. When appendOnly, new entries
// are inserted before the closing bracket and the rest of the text is kept.
func (e *editor) editFlow(seq *yaml.Node, f func([]string) []string, appendOnly bool) error {
	li := seq.Line - 1
	line := e.pt.current(li)
	start := byteOffset(e.p.t.lines[li], seq.Column)
	if start >= len(line) || line[start] != '[' {
		return newError(ErrManual, "Write the list in block style, then run again.", "cannot find the flow list on line %d", seq.Line)
	}
	end := -1
	var q byte
	for i := start + 1; i < len(line); i++ {
		c := line[i]
		if q != 0 {
			if c == q {
				q = 0
			}
			continue
		}
		if c == '\'' || c == '"' {
			q = c
			continue
		}
		if c == '[' || c == '{' {
			return newError(ErrManual, "Write the list in block style, then run again.", "nested flow list on line %d", seq.Line)
		}
		if c == ']' {
			end = i
			break
		}
	}
	if end < 0 {
		return newError(ErrManual, "Write the list on one line or in block style, then run again.", "the flow list on line %d spans several lines", seq.Line)
	}
	var cur []string
	for _, it := range seq.Content {
		if !e.isRemoved(it) {
			cur = append(cur, scalarText(it))
		}
	}
	inner := line[start+1 : end]
	if appendOnly {
		added := f(nil)
		j := end
		for j > start+1 && line[j-1] == ' ' {
			j--
		}
		ins := strings.Join(added, ", ")
		if strings.TrimSpace(inner) != "" {
			ins = ", " + ins
		}
		e.pt.setLine(li, line[:j]+ins+line[j:])
		return nil
	}
	next := f(cur)
	e.pt.setLine(li, line[:start+1]+strings.Join(next, ", ")+line[end:])
	return nil
}

// scalarText writes a scalar in its own quoting style.
func scalarText(n *yaml.Node) string { return quoteLike(n, n.Value) }

func lineComment(n *yaml.Node) string {
	if n.LineComment == "" {
		return ""
	}
	return " " + n.LineComment
}

func (e *editor) renderKV(key string, v *yaml.Node, indent int) []string {
	pad := strings.Repeat(" ", indent)
	switch v.Kind {
	case yaml.MappingNode:
		if len(v.Content) == 0 {
			return []string{pad + key + ": {}"}
		}
		out := []string{pad + key + ":"}
		for i := 0; i+1 < len(v.Content); i += 2 {
			out = append(out, e.renderKV(v.Content[i].Value, resolve(v.Content[i+1]), indent+e.p.indentUnit)...)
		}
		return out
	case yaml.SequenceNode:
		if len(v.Content) == 0 {
			return []string{pad + key + ": []"}
		}
		out := []string{pad + key + ":"}
		for _, it := range v.Content {
			out = append(out, e.renderItem(resolve(it), indent+e.p.seqOffset)...)
		}
		return out
	}
	return []string{pad + key + ": " + scalarText(v) + lineComment(v)}
}

func (e *editor) renderItem(it *yaml.Node, dash int) []string {
	pad := strings.Repeat(" ", dash)
	if it.Kind == yaml.MappingNode && len(it.Content) > 0 {
		var out []string
		for i := 0; i+1 < len(it.Content); i += 2 {
			lines := e.renderKV(it.Content[i].Value, resolve(it.Content[i+1]), dash+2)
			if i == 0 {
				lines[0] = pad + "- " + strings.TrimLeft(lines[0], " ")
			}
			out = append(out, lines...)
		}
		return out
	}
	return []string{pad + "- " + scalarText(it) + lineComment(it)}
}

// planRemove works out which entries of old (an earlier section) to remove
// from target, keeping those that keep (the new section) also has. It
// returns the removal edits, and whether every key of target would go (the
// caller then removes target as a whole).
func (e *editor) planRemove(target, old, keep *yaml.Node, path string) (ops []func() error, all bool, err error) {
	removedKeys := map[*yaml.Node]*yaml.Node{}
	for i := 0; i+1 < len(old.Content); i += 2 {
		k, v := old.Content[i], resolve(old.Content[i+1])
		kp := joinPath(path, k.Value)
		tk, tv := mapEntry(target, k.Value)
		if tk == nil || tv.Kind == yaml.AliasNode {
			continue
		}
		var keepV *yaml.Node
		if keep != nil {
			keepV = resolve(mapGet(keep, k.Value))
		}
		switch {
		case v.Kind == yaml.MappingNode && tv.Kind == yaml.MappingNode:
			cops, call, cerr := e.planRemove(tv, v, keepV, kp)
			if cerr != nil {
				return nil, false, cerr
			}
			if call {
				removedKeys[tk] = tv
			} else {
				ops = append(ops, cops...)
			}
		case v.Kind == yaml.SequenceNode && tv.Kind == yaml.MappingNode && kp == "environment":
			keepKeys := map[string]bool{}
			if keepV != nil && keepV.Kind == yaml.SequenceNode {
				for _, it := range keepV.Content {
					keepKeys[envKey(it)] = true
				}
			}
			var gone []*yaml.Node
			for _, it := range v.Content {
				k := envKey(it)
				if kk, _ := mapEntry(tv, k); kk != nil && !keepKeys[k] {
					gone = append(gone, kk)
				}
			}
			if len(gone) == 0 {
				continue
			}
			if len(gone)*2 == len(tv.Content) && len(keepKeys) == 0 {
				removedKeys[tk] = tv
				continue
			}
			envMap := tv
			for _, kk := range gone {
				kk := kk
				ops = append(ops, func() error {
					e.markRemoved(kk)
					if envMap.Style&yaml.FlowStyle != 0 {
						return newError(ErrManual, "Write the environment in block style, then run again.", "cannot remove %s from the flow mapping on line %d", kk.Value, envMap.Line)
					}
					e.removeKeepingComments(kk.Line-1, e.entryEnd(kk.Line-1, kk.Column-1, mapGet(envMap, kk.Value))+1)
					return nil
				})
			}
		case v.Kind == yaml.SequenceNode && tv.Kind == yaml.SequenceNode:
			drop := map[string]bool{}
			for _, it := range v.Content {
				drop[itemKey(kp, it)] = true
			}
			if keepV != nil && keepV.Kind == yaml.SequenceNode {
				for _, it := range keepV.Content {
					delete(drop, itemKey(kp, it))
				}
			}
			var gone []*yaml.Node
			for _, it := range tv.Content {
				if drop[itemKey(kp, it)] {
					gone = append(gone, it)
				}
			}
			if len(gone) == 0 {
				continue
			}
			// A list the new section also fills keeps its key: its old
			// entries go and the new ones are appended in place.
			refilled := keepV != nil && keepV.Kind == yaml.SequenceNode && len(keepV.Content) > 0
			if len(gone) == len(tv.Content) && !refilled {
				removedKeys[tk] = tv
				continue
			}
			seq := tv
			for _, it := range gone {
				it := it
				ops = append(ops, func() error {
					e.markRemoved(it)
					if seq.Style&yaml.FlowStyle != 0 {
						return e.editFlow(seq, func(items []string) []string { return items }, false)
					}
					ll := e.p.t.lines[it.Line-1]
					if !strings.HasPrefix(strings.TrimLeft(ll, " "), "-") {
						return newError(ErrManual, "Write each list entry on its own line, then run again.", "cannot remove the entry on line %d", it.Line)
					}
					e.pt.remove(it.Line-1, e.entryEnd(it.Line-1, indentOf(ll), nil)+1)
					return nil
				})
			}
		}
	}
	if len(removedKeys) > 0 && len(removedKeys)*2 == len(target.Content) {
		return nil, true, nil
	}
	for k, v := range removedKeys {
		k, v := k, v
		ops = append(ops, func() error {
			e.markRemoved(k)
			if target.Style&yaml.FlowStyle != 0 {
				return newError(ErrManual, "Write that mapping in block style, then run again.", "cannot remove %s from the flow mapping on line %d", k.Value, target.Line)
			}
			e.removeKeepingComments(k.Line-1, e.entryEnd(k.Line-1, k.Column-1, v)+1)
			return nil
		})
	}
	return ops, false, nil
}

// removeSection removes what an earlier section added to the service.
func (e *editor) removeSection(svc, old, keep *yaml.Node, path string) (bool, error) {
	ops, all, err := e.planRemove(svc, old, keep, path)
	if err != nil {
		return false, err
	}
	if all {
		// Never remove the whole service: remove its keys one by one.
		for i := 0; i+1 < len(old.Content); i += 2 {
			k, v := mapEntry(svc, old.Content[i].Value)
			if k != nil {
				e.markRemoved(k)
				e.removeKeepingComments(k.Line-1, e.entryEnd(k.Line-1, k.Column-1, v)+1)
			}
		}
		return true, nil
	}
	for _, op := range ops {
		if err := op(); err != nil {
			return false, err
		}
	}
	return len(ops) > 0, nil
}

// removeKeepingComments removes lines [start, end) except whole-line
// comments, which stay where they are.
func (e *editor) removeKeepingComments(start, end int) {
	run := -1
	for i := start; i <= end; i++ {
		isComment := i < end && strings.HasPrefix(strings.TrimSpace(e.p.t.lines[i]), "#")
		if i < end && !isComment {
			if run < 0 {
				run = i
			}
			continue
		}
		if run >= 0 {
			e.pt.remove(run, i)
			run = -1
		}
	}
}

// envKey is the variable name of a KEY=VALUE environment entry.
func envKey(n *yaml.Node) string {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	k, _, _ := strings.Cut(n.Value, "=")
	return k
}

// mergeEnvMap adds a section's KEY=VALUE environment entries to an
// environment written as a mapping, as KEY: VALUE, keeping the user's own
// value for a key that is already there.
func (e *editor) mergeEnvMap(env, list *yaml.Node) error {
	for _, it := range list.Content {
		it = resolve(it)
		if it.Kind != yaml.ScalarNode {
			continue
		}
		k, v, _ := strings.Cut(it.Value, "=")
		if kk, vv := mapEntry(env, k); kk != nil && !e.isRemoved(kk) {
			if vv.Kind == yaml.ScalarNode && vv.Value != v {
				e.note("kept your environment %s: %s (the section has %s)", k, vv.Value, v)
			}
			continue
		}
		val, err := yaml.Marshal(v)
		if err != nil {
			return fmt.Errorf("internal error: %w", err)
		}
		at, ind := e.insertPoint(env)
		e.pt.insertDepth(at, 2*ind, []string{strings.Repeat(" ", ind) + k + ": " + strings.TrimSpace(string(val))})
	}
	return nil
}
