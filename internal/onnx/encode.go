package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers from onnx/onnx.proto.
const (
	// ModelProto
	fModelIRVersion       protowire.Number = 1
	fModelProducerName    protowire.Number = 2
	fModelProducerVersion protowire.Number = 3
	fModelDocString       protowire.Number = 6
	fModelGraph           protowire.Number = 7
	fModelOpsetImport     protowire.Number = 8

	// OperatorSetIdProto
	fOpsetDomain  protowire.Number = 1
	fOpsetVersion protowire.Number = 2

	// GraphProto
	fGraphNode        protowire.Number = 1
	fGraphName        protowire.Number = 2
	fGraphInitializer protowire.Number = 5
	fGraphInput       protowire.Number = 11
	fGraphOutput      protowire.Number = 12

	// NodeProto
	fNodeInput     protowire.Number = 1
	fNodeOutput    protowire.Number = 2
	fNodeName      protowire.Number = 3
	fNodeOpType    protowire.Number = 4
	fNodeAttribute protowire.Number = 5
	fNodeDomain    protowire.Number = 7

	// AttributeProto
	fAttrName   protowire.Number = 1
	fAttrF      protowire.Number = 2
	fAttrI      protowire.Number = 3
	fAttrS      protowire.Number = 4
	fAttrT      protowire.Number = 5
	fAttrFloats protowire.Number = 7
	fAttrInts   protowire.Number = 8
	fAttrType   protowire.Number = 20

	// ValueInfoProto
	fValueName protowire.Number = 1
	fValueType protowire.Number = 2

	// TypeProto / TypeProto.Tensor / TensorShapeProto / Dimension
	fTypeTensor      protowire.Number = 1
	fTensorTypeElem  protowire.Number = 1
	fTensorTypeShape protowire.Number = 2
	fShapeDim        protowire.Number = 1
	fDimValue        protowire.Number = 1
	fDimParam        protowire.Number = 2

	// TensorProto
	fTensorDims      protowire.Number = 1
	fTensorDataType  protowire.Number = 2
	fTensorFloatData protowire.Number = 4
	fTensorInt64Data protowire.Number = 7
	fTensorName      protowire.Number = 8
	fTensorRawData   protowire.Number = 9
)

// maxMarshalSize is protobuf's hard limit on a serialized message (2 GiB).
const maxMarshalSize = math.MaxInt32

// encoder runs an encoding function twice: once counting bytes, once
// appending into a buffer allocated with the exact size.
type encoder struct {
	counting bool
	n        int
	buf      []byte
}

func (e *encoder) tag(num protowire.Number, typ protowire.Type) {
	if e.counting {
		e.n += protowire.SizeTag(num)
		return
	}
	e.buf = protowire.AppendTag(e.buf, num, typ)
}

func (e *encoder) varint(num protowire.Number, v uint64) {
	e.tag(num, protowire.VarintType)
	if e.counting {
		e.n += protowire.SizeVarint(v)
		return
	}
	e.buf = protowire.AppendVarint(e.buf, v)
}

func (e *encoder) fixed32(num protowire.Number, v uint32) {
	e.tag(num, protowire.Fixed32Type)
	if e.counting {
		e.n += 4
		return
	}
	e.buf = protowire.AppendFixed32(e.buf, v)
}

func (e *encoder) str(num protowire.Number, s string) {
	e.tag(num, protowire.BytesType)
	if e.counting {
		e.n += protowire.SizeBytes(len(s))
		return
	}
	e.buf = protowire.AppendString(e.buf, s)
}

// strOpt writes s unless it is empty (proto3-style default omission).
func (e *encoder) strOpt(num protowire.Number, s string) {
	if s != "" {
		e.str(num, s)
	}
}

// bytesFn writes a length-delimited field of n bytes produced by fill.
func (e *encoder) bytesFn(num protowire.Number, n int, fill func(dst []byte)) {
	e.tag(num, protowire.BytesType)
	if e.counting {
		e.n += protowire.SizeBytes(n)
		return
	}
	e.buf = protowire.AppendVarint(e.buf, uint64(n))
	start := len(e.buf)
	e.buf = e.buf[:start+n]
	fill(e.buf[start : start+n])
}

func (e *encoder) packedInt64s(num protowire.Number, vs []int64) {
	if len(vs) == 0 {
		return
	}
	size := 0
	for _, v := range vs {
		size += protowire.SizeVarint(uint64(v))
	}
	e.tag(num, protowire.BytesType)
	if e.counting {
		e.n += protowire.SizeBytes(size)
		return
	}
	e.buf = protowire.AppendVarint(e.buf, uint64(size))
	for _, v := range vs {
		e.buf = protowire.AppendVarint(e.buf, uint64(v))
	}
}

func (e *encoder) packedFloats(num protowire.Number, vs []float32) {
	if len(vs) == 0 {
		return
	}
	e.tag(num, protowire.BytesType)
	if e.counting {
		e.n += protowire.SizeBytes(4 * len(vs))
		return
	}
	e.buf = protowire.AppendVarint(e.buf, uint64(4*len(vs)))
	for _, v := range vs {
		e.buf = protowire.AppendFixed32(e.buf, math.Float32bits(v))
	}
}

// message writes a nested message field; f encodes its body.
func (e *encoder) message(num protowire.Number, f func(*encoder)) {
	c := encoder{counting: true}
	f(&c)
	e.tag(num, protowire.BytesType)
	if e.counting {
		e.n += protowire.SizeBytes(c.n)
		return
	}
	e.buf = protowire.AppendVarint(e.buf, uint64(c.n))
	f(e)
}

// Marshal validates m and returns its serialized ModelProto. Initializers
// with a Fill function are generated directly into the returned buffer.
func (m *Model) Marshal() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	c := encoder{counting: true}
	m.encode(&c)
	if c.n > maxMarshalSize {
		return nil, fmt.Errorf("encode onnx model: %d bytes exceeds the 2 GiB protobuf limit; store weights externally or use a smaller model", c.n)
	}
	e := encoder{buf: make([]byte, 0, c.n)}
	m.encode(&e)
	if len(e.buf) != c.n {
		return nil, fmt.Errorf("encode onnx model: wrote %d bytes, expected %d (internal error)", len(e.buf), c.n)
	}
	return e.buf, nil
}

func (m *Model) encode(e *encoder) {
	e.varint(fModelIRVersion, uint64(m.IRVersion))
	e.strOpt(fModelProducerName, m.ProducerName)
	e.strOpt(fModelProducerVersion, m.ProducerVersion)
	e.strOpt(fModelDocString, m.DocString)
	for _, o := range m.Opsets {
		e.message(fModelOpsetImport, func(e *encoder) {
			e.strOpt(fOpsetDomain, o.Domain)
			e.varint(fOpsetVersion, uint64(o.Version))
		})
	}
	e.message(fModelGraph, m.Graph.encode)
}

func (g *Graph) encode(e *encoder) {
	for i := range g.Nodes {
		e.message(fGraphNode, g.Nodes[i].encode)
	}
	e.strOpt(fGraphName, g.Name)
	for _, t := range g.Initializers {
		e.message(fGraphInitializer, t.encode)
	}
	for i := range g.Inputs {
		e.message(fGraphInput, g.Inputs[i].encode)
	}
	for i := range g.Outputs {
		e.message(fGraphOutput, g.Outputs[i].encode)
	}
}

func (n *Node) encode(e *encoder) {
	for _, in := range n.Inputs {
		e.str(fNodeInput, in) // empty names mark omitted optional inputs
	}
	for _, out := range n.Outputs {
		e.str(fNodeOutput, out)
	}
	e.strOpt(fNodeName, n.Name)
	e.str(fNodeOpType, n.OpType)
	for i := range n.Attrs {
		e.message(fNodeAttribute, n.Attrs[i].encode)
	}
	e.strOpt(fNodeDomain, n.Domain)
}

func (a *Attribute) encode(e *encoder) {
	e.str(fAttrName, a.Name)
	switch a.Type {
	case AttrFloat:
		e.fixed32(fAttrF, math.Float32bits(a.Float))
	case AttrInt:
		e.varint(fAttrI, uint64(a.Int))
	case AttrString:
		e.str(fAttrS, a.String)
	case AttrTensor:
		e.message(fAttrT, a.Tensor.encode)
	case AttrFloats:
		e.packedFloats(fAttrFloats, a.Floats)
	case AttrInts:
		e.packedInt64s(fAttrInts, a.Ints)
	}
	e.varint(fAttrType, uint64(a.Type))
}

func (v *ValueInfo) encode(e *encoder) {
	e.str(fValueName, v.Name)
	e.message(fValueType, func(e *encoder) {
		e.message(fTypeTensor, func(e *encoder) {
			e.varint(fTensorTypeElem, uint64(v.Type))
			if v.Shape != nil {
				e.message(fTensorTypeShape, func(e *encoder) {
					for _, d := range v.Shape {
						e.message(fShapeDim, func(e *encoder) {
							if d.Param != "" {
								e.str(fDimParam, d.Param)
							} else {
								e.varint(fDimValue, uint64(d.Value))
							}
						})
					}
				})
			}
		})
	})
}

func (t *Tensor) encode(e *encoder) {
	e.packedInt64s(fTensorDims, t.Dims)
	e.varint(fTensorDataType, uint64(t.Type))
	e.strOpt(fTensorName, t.Name)
	switch {
	case t.Fill != nil:
		e.bytesFn(fTensorRawData, int(t.NumElements())*t.Type.Size(), t.Fill)
	case t.Raw != nil:
		e.bytesFn(fTensorRawData, len(t.Raw), func(dst []byte) { copy(dst, t.Raw) })
	case t.Floats != nil:
		e.bytesFn(fTensorRawData, 4*len(t.Floats), func(dst []byte) {
			for i, v := range t.Floats {
				binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
			}
		})
	case t.Int64s != nil:
		e.bytesFn(fTensorRawData, 8*len(t.Int64s), func(dst []byte) {
			for i, v := range t.Int64s {
				binary.LittleEndian.PutUint64(dst[8*i:], uint64(v))
			}
		})
	}
}

// Validate reports the first structural problem that would make the model
// unusable: missing names, tensors whose data does not match their
// dimensions, or attributes without a value.
func (m *Model) Validate() error {
	if len(m.Opsets) == 0 {
		return errors.New("invalid onnx model: no opset import; add the default domain with a version such as 17")
	}
	g := &m.Graph
	for i, t := range g.Initializers {
		if t == nil {
			return fmt.Errorf("invalid onnx model: initializer %d is nil", i)
		}
		if t.Name == "" {
			return fmt.Errorf("invalid onnx model: initializer %d has no name", i)
		}
		if err := t.validate(); err != nil {
			return fmt.Errorf("invalid onnx model: initializer %q: %w", t.Name, err)
		}
	}
	for i, n := range g.Nodes {
		if n.OpType == "" {
			return fmt.Errorf("invalid onnx model: node %d (%q) has no op type", i, n.Name)
		}
		for _, a := range n.Attrs {
			if a.Name == "" {
				return fmt.Errorf("invalid onnx model: node %q (%s) has an attribute without a name", n.Name, n.OpType)
			}
			switch a.Type {
			case AttrFloat, AttrInt, AttrString, AttrFloats, AttrInts:
			case AttrTensor:
				if a.Tensor == nil {
					return fmt.Errorf("invalid onnx model: node %q attribute %q: tensor is nil", n.Name, a.Name)
				}
				if err := a.Tensor.validate(); err != nil {
					return fmt.Errorf("invalid onnx model: node %q attribute %q: %w", n.Name, a.Name, err)
				}
			default:
				return fmt.Errorf("invalid onnx model: node %q attribute %q has unsupported type %d", n.Name, a.Name, a.Type)
			}
		}
	}
	for _, vs := range [][]ValueInfo{g.Inputs, g.Outputs} {
		for i, v := range vs {
			if v.Name == "" {
				return fmt.Errorf("invalid onnx model: graph input or output %d has no name", i)
			}
		}
	}
	return nil
}

func (t *Tensor) validate() error {
	size := t.Type.Size()
	if size == 0 {
		return fmt.Errorf("element type %v has no fixed size and cannot be stored as raw data", t.Type)
	}
	n := int64(1)
	for _, d := range t.Dims {
		if d < 0 {
			return fmt.Errorf("negative dimension in %v", t.Dims)
		}
		if d != 0 && n > maxMarshalSize/d {
			return fmt.Errorf("dims %v exceed the 2 GiB protobuf limit", t.Dims)
		}
		n *= d
	}
	switch {
	case t.Fill != nil:
		if n*int64(size) > maxMarshalSize {
			return fmt.Errorf("%d elements of %v exceed the 2 GiB protobuf limit", n, t.Type)
		}
	case t.Raw != nil:
		if int64(len(t.Raw)) != n*int64(size) {
			return fmt.Errorf("raw data has %d bytes, dims %v of %v need %d", len(t.Raw), t.Dims, t.Type, n*int64(size))
		}
	case t.Floats != nil:
		if t.Type != Float || int64(len(t.Floats)) != n {
			return fmt.Errorf("%d float32 values for dims %v of %v", len(t.Floats), t.Dims, t.Type)
		}
	case t.Int64s != nil:
		if t.Type != Int64 || int64(len(t.Int64s)) != n {
			return fmt.Errorf("%d int64 values for dims %v of %v", len(t.Int64s), t.Dims, t.Type)
		}
	default:
		return errors.New("no data (set Fill, Raw, Floats or Int64s)")
	}
	return nil
}
