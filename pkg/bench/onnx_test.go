package bench

import (
	"encoding/binary"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// A minimal ONNX writer for test models: just enough of onnx.proto
// (ModelProto, GraphProto, NodeProto, TensorProto, ValueInfoProto) to build
// small graphs in memory with known weights.

type tNode struct {
	op      string
	inputs  []string
	outputs []string
	ints    map[string]int64
}

type tInit struct {
	name string
	dims []int64
	data []float32
}

type tValue struct {
	name  string
	elem  int32 // 1 float, 6 int32, 7 int64, 10 float16
	shape []any // int64 or string (dim_param)
}

type tGraph struct {
	nodes   []tNode
	inits   []tInit
	inputs  []tValue
	outputs []tValue
}

func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	return appendBytes(b, num, []byte(s))
}

func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func (v tValue) encode() []byte {
	var shape []byte
	for _, d := range v.shape {
		var dim []byte
		switch x := d.(type) {
		case int:
			dim = appendVarint(dim, 1, uint64(x))
		case int64:
			dim = appendVarint(dim, 1, uint64(x))
		case string:
			dim = appendString(dim, 2, x)
		}
		shape = appendBytes(shape, 1, dim)
	}
	var tensor []byte
	tensor = appendVarint(tensor, 1, uint64(v.elem))
	tensor = appendBytes(tensor, 2, shape)
	var typ []byte
	typ = appendBytes(typ, 1, tensor)
	var out []byte
	out = appendString(out, 1, v.name)
	out = appendBytes(out, 2, typ)
	return out
}

func (g tGraph) encode() []byte {
	var gb []byte
	for i, n := range g.nodes {
		var nb []byte
		for _, in := range n.inputs {
			nb = appendString(nb, 1, in)
		}
		for _, o := range n.outputs {
			nb = appendString(nb, 2, o)
		}
		nb = appendString(nb, 3, n.op+"_"+string(rune('a'+i)))
		nb = appendString(nb, 4, n.op)
		for k, v := range n.ints {
			var ab []byte
			ab = appendString(ab, 1, k)
			ab = appendVarint(ab, 3, uint64(v))
			ab = appendVarint(ab, 20, 2) // AttributeType INT
			nb = appendBytes(nb, 5, ab)
		}
		gb = appendBytes(gb, 1, nb)
	}
	gb = appendString(gb, 2, "test")
	for _, in := range g.inits {
		var tb []byte
		for _, d := range in.dims {
			tb = appendVarint(tb, 1, uint64(d))
		}
		tb = appendVarint(tb, 2, 1)
		tb = appendString(tb, 8, in.name)
		raw := make([]byte, 4*len(in.data))
		for i, f := range in.data {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
		}
		tb = appendBytes(tb, 9, raw)
		gb = appendBytes(gb, 5, tb)
	}
	for _, v := range g.inputs {
		gb = appendBytes(gb, 11, v.encode())
	}
	for _, v := range g.outputs {
		gb = appendBytes(gb, 12, v.encode())
	}
	var mb []byte
	mb = appendVarint(mb, 1, 8) // ir_version
	mb = appendString(mb, 2, "immich-accel-test")
	mb = appendBytes(mb, 7, gb)
	var op []byte
	op = appendString(op, 1, "")
	op = appendVarint(op, 2, 17)
	mb = appendBytes(mb, 8, op)
	return mb
}

// weights returns n deterministic values in [-1, 1).
func weights(n int, seed uint64) []float32 {
	out := make([]float32, n)
	s := seed
	for i := range out {
		s = s*6364136223846793005 + 1442695040888963407
		out[i] = float32(s>>40)/float32(1<<24)*2 - 1
	}
	return out
}

// mlpModel is x[N,in] -> MatMul W1 -> Add b1 -> Relu -> MatMul W2 -> y[N,out].
// perturb adds delta to every weight of W2.
func mlpModel(in, hidden, out int, perturb float32) []byte {
	w2 := weights(hidden*out, 2)
	for i := range w2 {
		w2[i] += perturb
	}
	g := tGraph{
		nodes: []tNode{
			{op: "MatMul", inputs: []string{"x", "w1"}, outputs: []string{"h"}},
			{op: "Add", inputs: []string{"h", "b1"}, outputs: []string{"hb"}},
			{op: "Relu", inputs: []string{"hb"}, outputs: []string{"r"}},
			{op: "MatMul", inputs: []string{"r", "w2"}, outputs: []string{"y"}},
		},
		inits: []tInit{
			{name: "w1", dims: []int64{int64(in), int64(hidden)}, data: weights(in*hidden, 1)},
			{name: "b1", dims: []int64{int64(hidden)}, data: weights(hidden, 3)},
			{name: "w2", dims: []int64{int64(hidden), int64(out)}, data: w2},
		},
		inputs:  []tValue{{name: "x", elem: 1, shape: []any{"N", in}}},
		outputs: []tValue{{name: "y", elem: 1, shape: []any{"N", out}}},
	}
	return g.encode()
}

// imageModel has a fully dynamic image input x[N,3,H,W], averaged to a
// scalar.
func imageModel() []byte {
	g := tGraph{
		nodes: []tNode{
			{op: "ReduceMean", inputs: []string{"x"}, outputs: []string{"y"}, ints: map[string]int64{"keepdims": 1}},
		},
		inputs:  []tValue{{name: "x", elem: 1, shape: []any{"N", 3, "H", "W"}}},
		outputs: []tValue{{name: "y", elem: 1, shape: []any{"N", 1, 1, 1}}},
	}
	return g.encode()
}

// textModel looks up int32 tokens [1,77] in an embedding table and averages
// them, like the first layer of CLIP's text encoder.
func textModel(vocab, width int) []byte {
	g := tGraph{
		nodes: []tNode{
			{op: "Gather", inputs: []string{"emb", "text"}, outputs: []string{"e"}},
			{op: "ReduceMean", inputs: []string{"e"}, outputs: []string{"y"}, ints: map[string]int64{"keepdims": 1}},
		},
		inits:   []tInit{{name: "emb", dims: []int64{int64(vocab), int64(width)}, data: weights(vocab*width, 5)}},
		inputs:  []tValue{{name: "text", elem: 6, shape: []any{1, 77}}},
		outputs: []tValue{{name: "y", elem: 1, shape: []any{1, 1, 1}}},
	}
	return g.encode()
}
