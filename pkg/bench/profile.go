package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Placement says where the nodes of a model ran, from an ONNX Runtime
// profile: a provider that silently hands nodes to the CPU shows a share
// below 100%.
type Placement struct {
	// Provider is the provider that was asked for.
	Provider string `json:"provider"`
	// Nodes is the number of distinct nodes executed; NodesOnProvider of
	// them ran on Provider.
	Nodes           int `json:"nodes"`
	NodesOnProvider int `json:"nodesOnProvider"`
	// NodeShare and TimeShare are the fractions (0..1) of nodes and of
	// kernel time on Provider.
	NodeShare float64 `json:"nodeShare"`
	TimeShare float64 `json:"timeShare"`
	// ByProvider counts nodes per provider.
	ByProvider map[string]int `json:"byProvider"`
	// CPUOps lists the operator types that fell back to the CPU.
	CPUOps []string `json:"cpuOps,omitempty"`
}

type profileEvent struct {
	Cat  string `json:"cat"`
	Name string `json:"name"`
	Dur  int64  `json:"dur"`
	Args struct {
		OpName   string `json:"op_name"`
		Provider string `json:"provider"`
	} `json:"args"`
}

// parseProfile reads an ONNX Runtime profile (Chrome trace JSON: an array of
// events; node events have cat "Node", a name ending in "_kernel_time" and
// args.provider) and computes the placement for provider.
func parseProfile(b []byte, provider string) (*Placement, error) {
	var events []profileEvent
	if err := json.Unmarshal(b, &events); err != nil {
		return nil, fmt.Errorf("reading the ONNX Runtime profile: %w", err)
	}
	p := &Placement{Provider: provider, ByProvider: map[string]int{}}
	nodeProv := map[string]string{}
	nodeOp := map[string]string{}
	var total, on int64
	for _, e := range events {
		if e.Cat != "Node" || !strings.HasSuffix(e.Name, "_kernel_time") || e.Args.Provider == "" {
			continue
		}
		node := strings.TrimSuffix(e.Name, "_kernel_time")
		nodeProv[node] = e.Args.Provider
		nodeOp[node] = e.Args.OpName
		total += e.Dur
		if e.Args.Provider == provider {
			on += e.Dur
		}
	}
	if len(nodeProv) == 0 {
		return nil, fmt.Errorf("the ONNX Runtime profile has no node events")
	}
	cpuOps := map[string]bool{}
	for n, prov := range nodeProv {
		p.ByProvider[prov]++
		if prov == provider {
			p.NodesOnProvider++
		} else if prov == "CPUExecutionProvider" {
			cpuOps[nodeOp[n]] = true
		}
	}
	p.Nodes = len(nodeProv)
	p.NodeShare = float64(p.NodesOnProvider) / float64(p.Nodes)
	if total > 0 {
		p.TimeShare = float64(on) / float64(total)
	} else {
		p.TimeShare = p.NodeShare
	}
	for op := range cpuOps {
		p.CPUOps = append(p.CPUOps, op)
	}
	sort.Strings(p.CPUOps)
	return p, nil
}

// readProfile finds the file ONNX Runtime wrote for prefix and parses it.
func readProfile(prefix, provider string) (*Placement, error) {
	files, _ := filepath.Glob(prefix + "*.json")
	if len(files) == 0 {
		return nil, fmt.Errorf("ONNX Runtime wrote no profile under %s", filepath.Dir(prefix))
	}
	sort.Strings(files)
	b, err := os.ReadFile(files[len(files)-1])
	if err != nil {
		return nil, err
	}
	return parseProfile(b, provider)
}
