// Package onnx writes (and, for inspection and tests, reads back) ONNX
// ModelProto bytes without generated protobuf code.
//
// Only the subset of onnx.proto needed to describe inference graphs is
// supported: opset imports, graph inputs and outputs with element types and
// fixed or symbolic dimensions, initializers (raw little-endian data, int64
// or float32 values), and nodes with int, ints, float, floats, string and
// tensor attributes. Field numbers follow onnx/onnx.proto (IR version 8).
//
// Initializers may carry a Fill function instead of data: Marshal then calls
// it with the exact slice of the output buffer that holds the tensor's
// raw_data, so large weights are generated in place and never copied.
package onnx

import "fmt"

// Default versions written by NewModel. IR version 8 and opset 17 match
// ONNX 1.12, which every ONNX Runtime from 1.13 on (and 1.29) supports.
const (
	DefaultIRVersion = 8
	DefaultOpset     = 17
)

// DataType is an ONNX TensorProto.DataType value.
type DataType int32

// TensorProto.DataType values (onnx.proto).
const (
	Undefined DataType = 0
	Float     DataType = 1
	Uint8     DataType = 2
	Int8      DataType = 3
	Uint16    DataType = 4
	Int16     DataType = 5
	Int32     DataType = 6
	Int64     DataType = 7
	String    DataType = 8
	Bool      DataType = 9
	Float16   DataType = 10
	Double    DataType = 11
	Uint32    DataType = 12
	Uint64    DataType = 13
	BFloat16  DataType = 16
)

var dataTypeNames = map[DataType]string{
	Float: "float32", Uint8: "uint8", Int8: "int8", Uint16: "uint16", Int16: "int16",
	Int32: "int32", Int64: "int64", String: "string", Bool: "bool", Float16: "float16",
	Double: "float64", Uint32: "uint32", Uint64: "uint64", BFloat16: "bfloat16",
}

// String returns the Go-style name of the type ("float32", "int64", ...).
func (t DataType) String() string {
	if s, ok := dataTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("DataType(%d)", int32(t))
}

// Size returns the size in bytes of one element, or 0 for types without a
// fixed size (string, undefined).
func (t DataType) Size() int {
	switch t {
	case Uint8, Int8, Bool:
		return 1
	case Uint16, Int16, Float16, BFloat16:
		return 2
	case Float, Int32, Uint32:
		return 4
	case Int64, Uint64, Double:
		return 8
	}
	return 0
}

// OpsetID is an OperatorSetIdProto. An empty Domain is the default ONNX
// domain ("ai.onnx").
type OpsetID struct {
	Domain  string
	Version int64
}

// Dim is one dimension of a tensor shape: either a fixed Value or, when
// Param is not empty, a symbolic dimension such as "batch".
type Dim struct {
	Value int64
	Param string
}

// Dims returns fixed dimensions for the given sizes.
func Dims(sizes ...int64) []Dim {
	d := make([]Dim, len(sizes))
	for i, s := range sizes {
		d[i].Value = s
	}
	return d
}

// ValueInfo is a ValueInfoProto describing a tensor-typed graph input or
// output. A nil Shape leaves the shape unspecified; an empty non-nil Shape
// is a scalar.
type ValueInfo struct {
	Name  string
	Type  DataType
	Shape []Dim
}

// Tensor is a TensorProto. Exactly one source of data is used, in this order:
// Fill (called during Marshal with a slice of len NumElements()*Type.Size()
// to write little-endian raw data into), Raw, Floats, Int64s. Float and
// int64 values are written as raw_data.
type Tensor struct {
	Name   string
	Type   DataType
	Dims   []int64
	Fill   func(dst []byte)
	Raw    []byte
	Floats []float32
	Int64s []int64
}

// NumElements returns the product of the tensor's dimensions (1 for a scalar).
func (t *Tensor) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// AttrType is an AttributeProto.AttributeType value.
type AttrType int32

// AttributeProto.AttributeType values (onnx.proto).
const (
	AttrUndefined AttrType = 0
	AttrFloat     AttrType = 1
	AttrInt       AttrType = 2
	AttrString    AttrType = 3
	AttrTensor    AttrType = 4
	AttrFloats    AttrType = 6
	AttrInts      AttrType = 7
)

// Attribute is a NodeProto attribute. Type selects which field is written.
type Attribute struct {
	Name   string
	Type   AttrType
	Float  float32
	Int    int64
	String string
	Tensor *Tensor
	Floats []float32
	Ints   []int64
}

// AttrI returns an int attribute.
func AttrI(name string, v int64) Attribute { return Attribute{Name: name, Type: AttrInt, Int: v} }

// AttrIs returns an ints attribute.
func AttrIs(name string, v ...int64) Attribute {
	return Attribute{Name: name, Type: AttrInts, Ints: v}
}

// AttrF returns a float attribute.
func AttrF(name string, v float32) Attribute {
	return Attribute{Name: name, Type: AttrFloat, Float: v}
}

// AttrFs returns a floats attribute.
func AttrFs(name string, v ...float32) Attribute {
	return Attribute{Name: name, Type: AttrFloats, Floats: v}
}

// AttrS returns a string attribute.
func AttrS(name, v string) Attribute { return Attribute{Name: name, Type: AttrString, String: v} }

// AttrT returns a tensor attribute.
func AttrT(name string, t *Tensor) Attribute {
	return Attribute{Name: name, Type: AttrTensor, Tensor: t}
}

// Node is a NodeProto.
type Node struct {
	Name    string
	OpType  string
	Domain  string
	Inputs  []string
	Outputs []string
	Attrs   []Attribute
}

// Graph is a GraphProto.
type Graph struct {
	Name         string
	Nodes        []Node
	Initializers []*Tensor
	Inputs       []ValueInfo
	Outputs      []ValueInfo
}

// Model is a ModelProto.
type Model struct {
	IRVersion       int64
	Opsets          []OpsetID
	ProducerName    string
	ProducerVersion string
	DocString       string
	Graph           Graph
}

// NewModel returns a model with DefaultIRVersion and the default domain at
// DefaultOpset.
func NewModel(graphName string) *Model {
	return &Model{
		IRVersion: DefaultIRVersion,
		Opsets:    []OpsetID{{Version: DefaultOpset}},
		Graph:     Graph{Name: graphName},
	}
}
