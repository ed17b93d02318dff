package compose

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/immich-accel/immich-accel/pkg/accel"
)

// diffCost is the number of lines a diff touches: per run of changes, the
// larger of the lines removed and added (a modified line counts once).
func diffCost(a, b []byte) int {
	al, _ := splitLines(a)
	bl, _ := splitLines(b)
	cost, del, add := 0, 0, 0
	flush := func() {
		cost += max(del, add)
		del, add = 0, 0
	}
	for _, o := range diffLines(al, bl) {
		switch o.op {
		case '-':
			del++
		case '+':
			add++
		default:
			flush()
		}
	}
	flush()
	return cost
}

// nodeCount is the number of lines a subtree needs at least in block style.
func nodeCount(n *yaml.Node) int {
	n = resolve(n)
	if n == nil {
		return 0
	}
	switch n.Kind {
	case yaml.MappingNode:
		c := 0
		for i := 0; i+1 < len(n.Content); i += 2 {
			c += 1 + nodeCount(n.Content[i+1])
		}
		return c
	case yaml.SequenceNode:
		c := 0
		for _, it := range n.Content {
			if it.Kind == yaml.ScalarNode {
				c++
			} else {
				c += nodeCount(it)
			}
		}
		return c
	}
	return 0
}

// semanticDelta is a lower bound on the lines an edit must touch: every
// key or list entry added, removed or changed between two service nodes.
func semanticDelta(a, b *yaml.Node) int {
	a, b = resolve(a), resolve(b)
	if a == nil || b == nil {
		return nodeCount(a) + nodeCount(b)
	}
	if a.Kind != b.Kind {
		return 1 + nodeCount(a) + nodeCount(b)
	}
	switch a.Kind {
	case yaml.ScalarNode:
		if a.Value != b.Value {
			return 1
		}
		return 0
	case yaml.MappingNode:
		d := 0
		keys := map[string]bool{}
		for i := 0; i+1 < len(a.Content); i += 2 {
			keys[a.Content[i].Value] = true
		}
		for i := 0; i+1 < len(b.Content); i += 2 {
			keys[b.Content[i].Value] = true
		}
		for k := range keys {
			va, vb := mapGet(a, k), mapGet(b, k)
			switch {
			case va == nil:
				d += 1 + nodeCount(vb)
			case vb == nil:
				d += 1 + nodeCount(va)
			default:
				d += semanticDelta(va, vb)
			}
		}
		return d
	case yaml.SequenceNode:
		enc := func(n *yaml.Node) string {
			out, _ := yaml.Marshal(n)
			return string(out)
		}
		ca := map[string]int{}
		for _, it := range a.Content {
			ca[enc(it)]++
		}
		d := 0
		for _, it := range b.Content {
			k := enc(it)
			if ca[k] > 0 {
				ca[k]--
				continue
			}
			d += max(1, nodeCount(it))
		}
		for _, it := range a.Content {
			if ca[enc(it)] > 0 {
				ca[enc(it)]--
				d += max(1, nodeCount(it))
			}
		}
		return d
	}
	return 0
}

// TestDiffMinimality measures, over every file and case that edits, the
// lines the diff touches against the lower bound of lines that must
// change, and compares with re-encoding the document through yaml.v3; then
// the same for switching from one backend to another and back to cpu.
func TestDiffMinimality(t *testing.T) {
	var files []string
	if d := sharedDir(t, "testdata-real", "compose"); d != "" {
		f, _ := filepath.Glob(filepath.Join(d, "*.yml"))
		files = append(files, f...)
	}
	if d := sharedDir(t, "upstream", "immich"); d != "" {
		f, _ := filepath.Glob(filepath.Join(d, "docker-compose.*.yml"))
		files = append(files, f...)
	}
	fx, _ := filepath.Glob(filepath.Join(fixtures, "*.yml"))
	for _, f := range fx {
		if !strings.HasSuffix(f, ".golden.yml") {
			files = append(files, f)
		}
	}
	type result struct {
		name        string
		cost, bound int
		reencode    int
	}
	var results []result
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, inline := range []bool{false, true} {
			for _, b := range allBackends {
				res, err := Edit(src, EditOptions{Backend: b, Inline: inline, DropDigest: true})
				if err != nil || !res.Changed {
					continue
				}
				p1, _ := parse(src)
				p2, _ := parse(res.Output)
				_ = p1.findService(res.Service)
				_ = p2.findService(res.Service)
				bound := semanticDelta(p1.svc, p2.svc)
				cost := diffCost(src, res.Output)
				if bound == 0 {
					t.Errorf("%s %s/%s: the file changed but the service did not", filepath.Base(f), modeName(inline), b)
					continue
				}
				var doc yaml.Node
				_ = yaml.Unmarshal(res.Output, &doc)
				re, _ := yaml.Marshal(&doc)
				results = append(results, result{fmt.Sprintf("%s %s/%s", filepath.Base(f), modeName(inline), b), cost, bound, diffCost(src, re)})
			}
		}
	}
	// Switching from one backend to another (the next one in the list, and
	// back to cpu) must touch no more than the first edit does.
	var switches []result
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, inline := range []bool{false, true} {
			for i, from := range allBackends {
				if from == "cpu" {
					continue
				}
				first, err := Edit(src, EditOptions{Backend: from, Inline: inline, DropDigest: true})
				if err != nil {
					continue
				}
				for _, to := range []accel.Backend{allBackends[(i+1)%len(allBackends)], accel.CPU} {
					if to == from {
						continue
					}
					res, err := Edit(first.Output, EditOptions{Backend: to, Inline: inline, DropDigest: true})
					if err != nil {
						// Fine when the file refuses that backend anyway.
						if _, direct := Edit(src, EditOptions{Backend: to, Inline: inline, DropDigest: true}); direct == nil {
							t.Errorf("%s %s: %s -> %s: %v", filepath.Base(f), modeName(inline), from, to, err)
						}
						continue
					}
					p1, _ := parse(first.Output)
					p2, _ := parse(res.Output)
					_ = p1.findService(res.Service)
					_ = p2.findService(res.Service)
					bound := semanticDelta(p1.svc, p2.svc)
					cost := diffCost(first.Output, res.Output)
					if bound == 0 {
						if cost != 0 {
							t.Errorf("%s %s: %s -> %s changes %d lines but not the service", filepath.Base(f), modeName(inline), from, to, cost)
						}
						continue
					}
					switches = append(switches, result{name: fmt.Sprintf("%s %s/%s->%s", filepath.Base(f), modeName(inline), from, to), cost: cost, bound: bound})
				}
			}
		}
	}
	sort.Slice(switches, func(i, j int) bool {
		return float64(switches[i].cost)/float64(switches[i].bound) > float64(switches[j].cost)/float64(switches[j].bound)
	})
	if len(switches) > 0 {
		w := switches[0]
		t.Logf("%d switches: largest diff/minimal = %.2f (%s: %d lines vs %d)", len(switches), float64(w.cost)/float64(w.bound), w.name, w.cost, w.bound)
		if ratio := float64(w.cost) / float64(w.bound); ratio > 1.5 {
			t.Errorf("largest switching diff is %.2fx the minimal one (%s)", ratio, w.name)
		}
	}
	sort.Slice(results, func(i, j int) bool {
		return float64(results[i].cost)/float64(results[i].bound) > float64(results[j].cost)/float64(results[j].bound)
	})
	if len(results) == 0 {
		t.Fatal("no cases")
	}
	totalCost, totalBound, totalRe := 0, 0, 0
	for _, r := range results {
		totalCost += r.cost
		totalBound += r.bound
		totalRe += r.reencode
	}
	w := results[0]
	t.Logf("%d edits: largest diff/minimal = %.2f (%s: %d lines vs %d); overall %.3f; re-encoding through yaml.v3 would touch %.1fx the minimal lines",
		len(results), float64(w.cost)/float64(w.bound), w.name, w.cost, w.bound,
		float64(totalCost)/float64(totalBound), float64(totalRe)/float64(totalBound))
	for _, r := range results[:min(5, len(results))] {
		t.Logf("  %s: %d/%d", r.name, r.cost, r.bound)
	}
	if ratio := float64(w.cost) / float64(w.bound); ratio > 1.5 {
		t.Errorf("largest diff is %.2fx the minimal one (%s)", ratio, w.name)
	}
}
