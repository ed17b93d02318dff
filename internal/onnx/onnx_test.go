package onnx

import (
	"bytes"
	"encoding/binary"
	"math"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

func sampleModel() *Model {
	m := NewModel("sample")
	m.ProducerName = "immich-accel"
	m.ProducerVersion = "test"
	m.DocString = "round-trip sample"
	m.Opsets = append(m.Opsets, OpsetID{Domain: "com.microsoft", Version: 1})
	g := &m.Graph
	g.Inputs = []ValueInfo{{Name: "x", Type: Float, Shape: []Dim{{Param: "batch"}, {Value: 3}, {Value: 4}, {Value: 4}}}}
	g.Outputs = []ValueInfo{
		{Name: "y", Type: Float, Shape: []Dim{{Param: "batch"}, {Value: 2}}},
		{Name: "ids", Type: Int64, Shape: []Dim{}},
	}
	g.Initializers = []*Tensor{
		{Name: "w", Type: Float, Dims: []int64{2, 3, 3, 3}, Fill: func(dst []byte) {
			for i := 0; i < len(dst)/4; i++ {
				binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(float32(i)*0.5))
			}
		}},
		{Name: "b", Type: Float, Dims: []int64{2}, Floats: []float32{-1, 1e-7}},
		{Name: "shape", Type: Int64, Dims: []int64{2}, Int64s: []int64{-1, 2}},
		{Name: "u8", Type: Uint8, Dims: []int64{3}, Raw: []byte{1, 2, 255}},
	}
	g.Nodes = []Node{
		{Name: "conv", OpType: "Conv", Inputs: []string{"x", "w", "b"}, Outputs: []string{"c"}, Attrs: []Attribute{
			AttrIs("kernel_shape", 3, 3), AttrIs("pads", 1, 1, 1, 1), AttrI("group", 1), AttrS("auto_pad", "NOTSET"),
		}},
		{Name: "leaky", OpType: "LeakyRelu", Inputs: []string{"c"}, Outputs: []string{"l"}, Attrs: []Attribute{AttrF("alpha", 0.125)}},
		{Name: "k", OpType: "Constant", Outputs: []string{"ids"}, Attrs: []Attribute{
			AttrT("value", &Tensor{Type: Int64, Dims: []int64{}, Int64s: []int64{42}}),
		}},
		{Name: "fs", OpType: "Custom", Domain: "com.microsoft", Inputs: []string{"l", ""}, Outputs: []string{"y"}, Attrs: []Attribute{
			AttrFs("scales", 1.5, -2), AttrI("neg", -7),
		}},
	}
	return m
}

func TestRoundTrip(t *testing.T) {
	m := sampleModel()
	b, err := m.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if got.IRVersion != DefaultIRVersion || got.ProducerName != "immich-accel" || got.ProducerVersion != "test" || got.DocString != "round-trip sample" {
		t.Errorf("model header = %d %q %q %q", got.IRVersion, got.ProducerName, got.ProducerVersion, got.DocString)
	}
	if !reflect.DeepEqual(got.Opsets, m.Opsets) {
		t.Errorf("opsets = %+v, want %+v", got.Opsets, m.Opsets)
	}
	if got.Graph.Name != "sample" {
		t.Errorf("graph name = %q", got.Graph.Name)
	}
	if !reflect.DeepEqual(got.Graph.Inputs, m.Graph.Inputs) || !reflect.DeepEqual(got.Graph.Outputs, m.Graph.Outputs) {
		t.Errorf("inputs/outputs = %+v %+v", got.Graph.Inputs, got.Graph.Outputs)
	}
	// Nodes round-trip exactly, except that the Constant's tensor value comes
	// back as raw data.
	for i, n := range got.Graph.Nodes {
		want := m.Graph.Nodes[i]
		if n.Name != want.Name || n.OpType != want.OpType || n.Domain != want.Domain ||
			!reflect.DeepEqual(n.Inputs, want.Inputs) || !reflect.DeepEqual(n.Outputs, want.Outputs) || len(n.Attrs) != len(want.Attrs) {
			t.Errorf("node %d = %+v, want %+v", i, n, want)
			continue
		}
		for j, a := range n.Attrs {
			w := want.Attrs[j]
			if a.Tensor != nil {
				if a.Type != AttrTensor || a.Tensor.Type != Int64 || len(a.Tensor.Dims) != 0 ||
					!bytes.Equal(a.Tensor.Raw, []byte{42, 0, 0, 0, 0, 0, 0, 0}) {
					t.Errorf("tensor attribute = %+v", a.Tensor)
				}
				continue
			}
			if !reflect.DeepEqual(a, w) {
				t.Errorf("node %q attribute %d = %+v, want %+v", n.Name, j, a, w)
			}
		}
	}
	if len(got.Graph.Initializers) != 4 {
		t.Fatalf("%d initializers, want 4", len(got.Graph.Initializers))
	}
	w := got.Graph.Initializers[0]
	if w.Name != "w" || w.Type != Float || !reflect.DeepEqual(w.Dims, []int64{2, 3, 3, 3}) || len(w.Raw) != 54*4 {
		t.Fatalf("initializer w = %s %v %v, %d raw bytes", w.Name, w.Type, w.Dims, len(w.Raw))
	}
	if v := math.Float32frombits(binary.LittleEndian.Uint32(w.Raw[4*53:])); v != 26.5 {
		t.Errorf("w[53] = %v, want 26.5", v)
	}
	bias := got.Graph.Initializers[1]
	if math.Float32frombits(binary.LittleEndian.Uint32(bias.Raw[4:])) != 1e-7 {
		t.Errorf("b raw = %v", bias.Raw)
	}
	shape := got.Graph.Initializers[2]
	if int64(binary.LittleEndian.Uint64(shape.Raw)) != -1 || binary.LittleEndian.Uint64(shape.Raw[8:]) != 2 {
		t.Errorf("shape raw = %v", shape.Raw)
	}
	if u8 := got.Graph.Initializers[3]; u8.Type != Uint8 || !bytes.Equal(u8.Raw, []byte{1, 2, 255}) {
		t.Errorf("u8 = %+v", u8)
	}

	// Marshalling is deterministic.
	b2, err := m.Marshal()
	if err != nil || !bytes.Equal(b, b2) {
		t.Errorf("second Marshal differs (err %v)", err)
	}
}

// field returns the payloads of every occurrence of field num in msg,
// decoded independently of this package's reader.
func field(t *testing.T, msg []byte, num protowire.Number) (varints []uint64, payloads [][]byte) {
	t.Helper()
	for len(msg) > 0 {
		n, typ, l := protowire.ConsumeTag(msg)
		if l < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(l))
		}
		msg = msg[l:]
		switch typ {
		case protowire.VarintType:
			v, l2 := protowire.ConsumeVarint(msg)
			if n == num {
				varints = append(varints, v)
			}
			l = l2
		case protowire.BytesType:
			v, l2 := protowire.ConsumeBytes(msg)
			if n == num {
				payloads = append(payloads, v)
			}
			l = l2
		default:
			l = protowire.ConsumeFieldValue(n, typ, msg)
		}
		if l < 0 {
			t.Fatalf("bad field %d: %v", n, protowire.ParseError(l))
		}
		msg = msg[l:]
	}
	return varints, payloads
}

// TestFieldNumbers checks the wire layout against onnx.proto directly.
func TestFieldNumbers(t *testing.T) {
	b, err := sampleModel().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	ir, _ := field(t, b, 1) // ModelProto.ir_version
	if !reflect.DeepEqual(ir, []uint64{8}) {
		t.Errorf("ir_version = %v", ir)
	}
	_, opsets := field(t, b, 8) // ModelProto.opset_import
	if len(opsets) != 2 {
		t.Fatalf("%d opset imports", len(opsets))
	}
	if v, _ := field(t, opsets[0], 2); !reflect.DeepEqual(v, []uint64{17}) { // OperatorSetIdProto.version
		t.Errorf("opset version = %v", v)
	}
	if _, d := field(t, opsets[1], 1); len(d) != 1 || string(d[0]) != "com.microsoft" { // .domain
		t.Errorf("opset domain = %q", d)
	}
	_, graphs := field(t, b, 7) // ModelProto.graph
	if len(graphs) != 1 {
		t.Fatalf("%d graphs", len(graphs))
	}
	g := graphs[0]
	_, nodes := field(t, g, 1)   // GraphProto.node
	_, inits := field(t, g, 5)   // GraphProto.initializer
	_, inputs := field(t, g, 11) // GraphProto.input
	_, outs := field(t, g, 12)   // GraphProto.output
	if len(nodes) != 4 || len(inits) != 4 || len(inputs) != 1 || len(outs) != 2 {
		t.Fatalf("graph has %d nodes, %d initializers, %d inputs, %d outputs", len(nodes), len(inits), len(inputs), len(outs))
	}
	if _, op := field(t, nodes[0], 4); string(op[0]) != "Conv" { // NodeProto.op_type
		t.Errorf("op_type = %q", op)
	}
	if _, dom := field(t, nodes[3], 7); string(dom[0]) != "com.microsoft" { // NodeProto.domain
		t.Errorf("node domain = %q", dom)
	}
	_, attrs := field(t, nodes[0], 5)                                           // NodeProto.attribute
	if typ, _ := field(t, attrs[0], 20); !reflect.DeepEqual(typ, []uint64{7}) { // AttributeProto.type = INTS
		t.Errorf("kernel_shape type = %v", typ)
	}
	if _, ints := field(t, attrs[0], 8); len(ints) != 1 || !bytes.Equal(ints[0], []byte{3, 3}) { // packed ints
		t.Errorf("kernel_shape ints = %v", ints)
	}
	if _, s := field(t, attrs[3], 4); string(s[0]) != "NOTSET" { // AttributeProto.s
		t.Errorf("auto_pad = %q", s)
	}
	// Initializer "w": dims (1, packed), data_type (2), name (8), raw_data (9).
	if _, dims := field(t, inits[0], 1); !bytes.Equal(dims[0], []byte{2, 3, 3, 3}) {
		t.Errorf("dims = %v", dims)
	}
	if dt, _ := field(t, inits[0], 2); !reflect.DeepEqual(dt, []uint64{1}) {
		t.Errorf("data_type = %v", dt)
	}
	if _, raw := field(t, inits[0], 9); len(raw[0]) != 216 {
		t.Errorf("raw_data %d bytes", len(raw[0]))
	}
	// Input "x": ValueInfoProto.type(2) -> TypeProto.tensor_type(1) ->
	// shape(2) -> dim(1) -> dim_param(2) / dim_value(1).
	_, typ := field(t, inputs[0], 2)
	_, tt := field(t, typ[0], 1)
	if et, _ := field(t, tt[0], 1); !reflect.DeepEqual(et, []uint64{1}) {
		t.Errorf("elem_type = %v", et)
	}
	_, shape := field(t, tt[0], 2)
	_, dims := field(t, shape[0], 1)
	if len(dims) != 4 {
		t.Fatalf("%d dims", len(dims))
	}
	if _, p := field(t, dims[0], 2); string(p[0]) != "batch" {
		t.Errorf("dim_param = %q", p)
	}
	if v, _ := field(t, dims[1], 1); !reflect.DeepEqual(v, []uint64{3}) {
		t.Errorf("dim_value = %v", v)
	}
	// Scalar output: a shape message with no dims.
	_, typ = field(t, outs[1], 2)
	_, tt = field(t, typ[0], 1)
	if _, shape := field(t, tt[0], 2); len(shape) != 1 || len(shape[0]) != 0 {
		t.Errorf("scalar shape = %v", shape)
	}
}

func TestFillWritesInPlace(t *testing.T) {
	m := NewModel("g")
	calls := 0
	var seen int
	m.Graph.Initializers = []*Tensor{{Name: "big", Type: Float, Dims: []int64{1000, 250}, Fill: func(dst []byte) {
		calls++
		seen = len(dst)
		for i := range dst {
			dst[i] = byte(i)
		}
	}}}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if seen != 1_000_000 || calls != 1 {
		t.Fatalf("Fill called %d times with %d bytes", calls, seen)
	}
	if cap(b) != len(b) {
		t.Errorf("buffer capacity %d for %d bytes: size precomputation is off", cap(b), len(b))
	}
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if raw := got.Graph.Initializers[0].Raw; len(raw) != 1_000_000 || raw[999_999] != byte(999_999%256) {
		t.Errorf("raw data not written in place")
	}
}

func TestValidateErrors(t *testing.T) {
	tests := []struct {
		name   string
		modify func(m *Model)
		want   string
	}{
		{"no opset", func(m *Model) { m.Opsets = nil }, "no opset import"},
		{"unnamed initializer", func(m *Model) { m.Graph.Initializers[1].Name = "" }, "has no name"},
		{"short floats", func(m *Model) { m.Graph.Initializers[1].Floats = []float32{1} }, `initializer "b": 1 float32 values`},
		{"raw size", func(m *Model) { m.Graph.Initializers[3].Raw = []byte{1} }, "raw data has 1 bytes"},
		{"no data", func(m *Model) { m.Graph.Initializers[1].Floats = nil }, "no data"},
		{"negative dim", func(m *Model) { m.Graph.Initializers[0].Dims = []int64{-1} }, "negative dimension"},
		{"huge", func(m *Model) { m.Graph.Initializers[0].Dims = []int64{1 << 40, 1 << 40} }, "2 GiB"},
		{"string tensor", func(m *Model) { m.Graph.Initializers[0].Type = String }, "no fixed size"},
		{"no op type", func(m *Model) { m.Graph.Nodes[1].OpType = "" }, "has no op type"},
		{"nil tensor attr", func(m *Model) { m.Graph.Nodes[2].Attrs[0].Tensor = nil }, "tensor is nil"},
		{"bad attr type", func(m *Model) { m.Graph.Nodes[0].Attrs[0].Type = 99 }, "unsupported type 99"},
		{"unnamed input", func(m *Model) { m.Graph.Inputs[0].Name = "" }, "has no name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sampleModel()
			tt.modify(m)
			_, err := m.Marshal()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Marshal error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestUnmarshalGarbage(t *testing.T) {
	good, err := sampleModel().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	inputs := [][]byte{
		{0xff},             // truncated tag
		{0x3a, 0x10, 0x0a}, // graph field longer than the data
		[]byte("not an onnx file"),
		good[:len(good)-3], // truncated model
	}
	for i, in := range inputs {
		if _, err := Unmarshal(in); err == nil || !strings.Contains(err.Error(), "not a valid ONNX file") {
			t.Errorf("input %d: err = %v", i, err)
		}
	}
	// Every prefix must be handled without a panic.
	for n := range good {
		_, _ = Unmarshal(good[:n])
	}
}

func TestDataTypeNames(t *testing.T) {
	if Float.String() != "float32" || Int64.String() != "int64" || DataType(99).String() != "DataType(99)" {
		t.Errorf("names: %v %v %v", Float, Int64, DataType(99))
	}
	if Float.Size() != 4 || Float16.Size() != 2 || Int64.Size() != 8 || String.Size() != 0 {
		t.Errorf("sizes wrong")
	}
}
