package models

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/immich-accel/immich-accel/internal/onnx"
)

func TestByName(t *testing.T) {
	names := map[string]bool{}
	for _, m := range Builtin() {
		if names[m.Name] {
			t.Errorf("duplicate model name %q", m.Name)
		}
		names[m.Name] = true
		got, ok := ByName(m.Name)
		if !ok || got.Name != m.Name || got.Params != m.Params || got.FLOPs != m.FLOPs {
			t.Errorf("ByName(%q) = %+v, %v", m.Name, got, ok)
		}
		if m.Params <= 0 || m.FLOPs <= 0 || len(m.Inputs) == 0 || len(m.Outputs) == 0 {
			t.Errorf("%s: params %d, FLOPs %d, %d inputs, %d outputs", m.Name, m.Params, m.FLOPs, len(m.Inputs), len(m.Outputs))
		}
		if !strings.Contains(m.Description, "FLOPs per inference") {
			t.Errorf("%s: description %q does not state the compute", m.Name, m.Description)
		}
	}
	if fmt.Sprint(Names()) != fmt.Sprint(keys(Builtin())) {
		t.Errorf("Names() = %v", Names())
	}
	if _, ok := ByName("resnet-9000"); ok {
		t.Error("ByName found a model that does not exist")
	}
	if _, err := (Model{Name: "x"}).Build(); err == nil || !strings.Contains(err.Error(), "not a built-in model") {
		t.Errorf("Build of a zero Model: %v", err)
	}
}

func keys(ms []Model) []string {
	var s []string
	for _, m := range ms {
		s = append(s, m.Name)
	}
	return s
}

func TestBadPerturbation(t *testing.T) {
	m, _ := ByName("tiny")
	for _, s := range []float64{-1, math.NaN(), math.Inf(1), 11} {
		if _, err := m.Build(WithPerturbation(s)); err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("WithPerturbation(%v): err = %v", s, err)
		}
	}
}

// TestGraphMatchesMetadata decodes the built bytes and checks that the
// declared inputs, outputs and parameter count are what the file holds.
func TestGraphMatchesMetadata(t *testing.T) {
	for _, m := range Builtin() {
		t.Run(m.Name, func(t *testing.T) {
			data, err := m.Build()
			if err != nil {
				t.Fatal(err)
			}
			g, err := onnx.Unmarshal(data)
			if err != nil {
				t.Fatal(err)
			}
			if g.IRVersion != onnx.DefaultIRVersion || len(g.Opsets) != 1 || g.Opsets[0].Version != onnx.DefaultOpset {
				t.Errorf("IR %d, opsets %+v", g.IRVersion, g.Opsets)
			}
			var params int64
			names := map[string]bool{}
			for _, init := range g.Graph.Initializers {
				if names[init.Name] {
					t.Errorf("duplicate initializer %q", init.Name)
				}
				names[init.Name] = true
				if int64(len(init.Raw)) != init.NumElements()*int64(init.Type.Size()) {
					t.Errorf("initializer %s: %d bytes for dims %v", init.Name, len(init.Raw), init.Dims)
				}
				if init.Type == onnx.Float && !strings.HasPrefix(init.Name, "const.") {
					params += init.NumElements()
				}
			}
			if params != m.Params {
				t.Errorf("file holds %d float parameters, model reports %d", params, m.Params)
			}
			check := func(kind string, vi []onnx.ValueInfo, ti []TensorInfo) {
				if len(vi) != len(ti) {
					t.Fatalf("%d %ss in file, %d declared", len(vi), kind, len(ti))
				}
				for i := range vi {
					got := tensorInfo(vi[i])
					if got.Name != ti[i].Name || got.Type != ti[i].Type || fmt.Sprint(got.Shape) != fmt.Sprint(ti[i].Shape) {
						t.Errorf("%s %d: file %+v, declared %+v", kind, i, got, ti[i])
					}
				}
			}
			check("input", g.Graph.Inputs, m.Inputs)
			check("output", g.Graph.Outputs, m.Outputs)
			// Every node input is a graph input, an initializer or an
			// earlier node's output (the graph is topologically sorted).
			defined := map[string]bool{}
			for _, in := range g.Graph.Inputs {
				defined[in.Name] = true
			}
			for n := range names {
				defined[n] = true
			}
			for _, n := range g.Graph.Nodes {
				for _, in := range n.Inputs {
					if in != "" && !defined[in] {
						t.Errorf("node %s (%s) reads %q before it is defined", n.Name, n.OpType, in)
					}
				}
				for _, out := range n.Outputs {
					defined[out] = true
				}
			}
			// Weights are finite and, for the large tensors, spread as intended.
			for _, init := range g.Graph.Initializers {
				if init.Type != onnx.Float {
					continue
				}
				for i := 0; i < len(init.Raw); i += 4 {
					v := math.Float32frombits(uint32(init.Raw[i]) | uint32(init.Raw[i+1])<<8 | uint32(init.Raw[i+2])<<16 | uint32(init.Raw[i+3])<<24)
					if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || math.Abs(float64(v)) > 10 {
						t.Fatalf("initializer %s[%d] = %v", init.Name, i/4, v)
					}
				}
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	for _, m := range Builtin() {
		t.Run(m.Name, func(t *testing.T) {
			hash := func(opts ...Option) [32]byte {
				data, err := m.Build(opts...)
				if err != nil {
					t.Fatal(err)
				}
				return sha256.Sum256(data)
			}
			a, b := hash(), hash(WithSeed(DefaultSeed))
			if a != b {
				t.Fatal("two builds with the same seed differ")
			}
			if hash(WithSeed(7)) == a {
				t.Error("a different seed gives the same model")
			}
			if hash(WithPerturbation(DefaultPerturbation)) == a {
				t.Error("the perturbed model equals the original")
			}
		})
	}
}

// TestPerturbationKeepsGraph checks that a perturbed model differs from the
// original only in its weight values.
func TestPerturbationKeepsGraph(t *testing.T) {
	m, _ := ByName("tiny")
	a, err := m.Build()
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Build(WithPerturbation(0.01))
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) {
		t.Fatalf("sizes %d and %d differ", len(a), len(b))
	}
	ga, _ := onnx.Unmarshal(a)
	gb, _ := onnx.Unmarshal(b)
	if !reflect.DeepEqual(ga.Graph.Nodes, gb.Graph.Nodes) {
		t.Error("nodes differ")
	}
	for i, ta := range ga.Graph.Initializers {
		tb := gb.Graph.Initializers[i]
		if ta.Type != onnx.Float || ta.Name == "" {
			continue
		}
		var maxRel float64
		for j := 0; j+4 <= len(ta.Raw); j += 4 {
			va := math.Float32frombits(le32(ta.Raw[j:]))
			vb := math.Float32frombits(le32(tb.Raw[j:]))
			maxRel = math.Max(maxRel, math.Abs(float64(va-vb)))
		}
		if bytes.Equal(ta.Raw, tb.Raw) || maxRel > 0.1 {
			t.Errorf("initializer %s: max change %v", ta.Name, maxRel)
		}
	}
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func TestFillFloat32(t *testing.T) {
	a := make([]float32, 1001)
	b := make([]float32, 1001)
	FillFloat32(a, 3)
	FillFloat32(b, 3)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("same seed, different values")
	}
	FillFloat32(b, 4)
	if a[0] == b[0] && a[1] == b[1] && a[2] == b[2] {
		t.Error("different seeds, same values")
	}
	_, mean, std := stats(a)
	if math.Abs(mean) > 0.1 || math.Abs(std-1/math.Sqrt(3)) > 0.05 {
		t.Errorf("values not uniform on [-1,1): mean %v std %v", mean, std)
	}
	for _, v := range a {
		if v < -1 || v >= 1 {
			t.Fatalf("value %v out of [-1, 1)", v)
		}
	}
}
