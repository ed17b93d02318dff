package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Unmarshal decodes the subset of a serialized ModelProto that this package
// writes. Fields it does not know are skipped. Tensor raw data is returned
// as a sub-slice of b (not copied); float_data and int64_data are decoded
// into Floats and Int64s.
func Unmarshal(b []byte) (*Model, error) {
	m := &Model{}
	err := walk(b, func(num protowire.Number, typ protowire.Type, v uint64, data []byte) error {
		switch num {
		case fModelIRVersion:
			m.IRVersion = int64(v)
		case fModelProducerName:
			m.ProducerName = string(data)
		case fModelProducerVersion:
			m.ProducerVersion = string(data)
		case fModelDocString:
			m.DocString = string(data)
		case fModelOpsetImport:
			var o OpsetID
			err := walk(data, func(num protowire.Number, _ protowire.Type, v uint64, data []byte) error {
				switch num {
				case fOpsetDomain:
					o.Domain = string(data)
				case fOpsetVersion:
					o.Version = int64(v)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("opset_import: %w", err)
			}
			m.Opsets = append(m.Opsets, o)
		case fModelGraph:
			if err := decodeGraph(data, &m.Graph); err != nil {
				return fmt.Errorf("graph: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("decode onnx model: %w; the data is not a valid ONNX file", err)
	}
	return m, nil
}

// walk calls f for each field of the message in b. For varint and fixed
// fields v holds the value; for length-delimited fields data holds the bytes.
func walk(b []byte, f func(num protowire.Number, typ protowire.Type, v uint64, data []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var (
			v    uint64
			data []byte
		)
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var x uint32
			x, n = protowire.ConsumeFixed32(b)
			v = uint64(x)
		case protowire.Fixed64Type:
			v, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			data, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := f(num, typ, v, data); err != nil {
			return err
		}
	}
	return nil
}

// repeatedVarints decodes a repeated varint field given in packed or
// unpacked form.
func repeatedVarints(dst []int64, typ protowire.Type, v uint64, data []byte) ([]int64, error) {
	if typ == protowire.VarintType {
		return append(dst, int64(v)), nil
	}
	if typ != protowire.BytesType {
		return dst, errors.New("wrong wire type for repeated integer")
	}
	for len(data) > 0 {
		x, n := protowire.ConsumeVarint(data)
		if n < 0 {
			return dst, protowire.ParseError(n)
		}
		dst = append(dst, int64(x))
		data = data[n:]
	}
	return dst, nil
}

// repeatedFloats decodes a repeated float field given in packed or unpacked form.
func repeatedFloats(dst []float32, typ protowire.Type, v uint64, data []byte) ([]float32, error) {
	if typ == protowire.Fixed32Type {
		return append(dst, math.Float32frombits(uint32(v))), nil
	}
	if typ != protowire.BytesType || len(data)%4 != 0 {
		return dst, errors.New("malformed repeated float")
	}
	for i := 0; i < len(data); i += 4 {
		dst = append(dst, math.Float32frombits(binary.LittleEndian.Uint32(data[i:])))
	}
	return dst, nil
}

func decodeGraph(b []byte, g *Graph) error {
	return walk(b, func(num protowire.Number, _ protowire.Type, _ uint64, data []byte) error {
		switch num {
		case fGraphNode:
			var n Node
			if err := decodeNode(data, &n); err != nil {
				return fmt.Errorf("node %d: %w", len(g.Nodes), err)
			}
			g.Nodes = append(g.Nodes, n)
		case fGraphName:
			g.Name = string(data)
		case fGraphInitializer:
			t := &Tensor{}
			if err := decodeTensor(data, t); err != nil {
				return fmt.Errorf("initializer %d: %w", len(g.Initializers), err)
			}
			g.Initializers = append(g.Initializers, t)
		case fGraphInput, fGraphOutput:
			var v ValueInfo
			if err := decodeValueInfo(data, &v); err != nil {
				return fmt.Errorf("input/output %q: %w", v.Name, err)
			}
			if num == fGraphInput {
				g.Inputs = append(g.Inputs, v)
			} else {
				g.Outputs = append(g.Outputs, v)
			}
		}
		return nil
	})
}

func decodeNode(b []byte, n *Node) error {
	return walk(b, func(num protowire.Number, _ protowire.Type, _ uint64, data []byte) error {
		switch num {
		case fNodeInput:
			n.Inputs = append(n.Inputs, string(data))
		case fNodeOutput:
			n.Outputs = append(n.Outputs, string(data))
		case fNodeName:
			n.Name = string(data)
		case fNodeOpType:
			n.OpType = string(data)
		case fNodeDomain:
			n.Domain = string(data)
		case fNodeAttribute:
			var a Attribute
			if err := decodeAttribute(data, &a); err != nil {
				return fmt.Errorf("attribute: %w", err)
			}
			n.Attrs = append(n.Attrs, a)
		}
		return nil
	})
}

func decodeAttribute(b []byte, a *Attribute) error {
	return walk(b, func(num protowire.Number, typ protowire.Type, v uint64, data []byte) error {
		var err error
		switch num {
		case fAttrName:
			a.Name = string(data)
		case fAttrType:
			a.Type = AttrType(v)
		case fAttrF:
			a.Float = math.Float32frombits(uint32(v))
		case fAttrI:
			a.Int = int64(v)
		case fAttrS:
			a.String = string(data)
		case fAttrT:
			a.Tensor = &Tensor{}
			err = decodeTensor(data, a.Tensor)
		case fAttrFloats:
			a.Floats, err = repeatedFloats(a.Floats, typ, v, data)
		case fAttrInts:
			a.Ints, err = repeatedVarints(a.Ints, typ, v, data)
		}
		return err
	})
}

func decodeValueInfo(b []byte, vi *ValueInfo) error {
	return walk(b, func(num protowire.Number, _ protowire.Type, _ uint64, data []byte) error {
		switch num {
		case fValueName:
			vi.Name = string(data)
		case fValueType:
			return walk(data, func(num protowire.Number, _ protowire.Type, _ uint64, data []byte) error {
				if num != fTypeTensor {
					return nil // sequence, map, ... types are not described here
				}
				return walk(data, func(num protowire.Number, _ protowire.Type, v uint64, data []byte) error {
					switch num {
					case fTensorTypeElem:
						vi.Type = DataType(v)
					case fTensorTypeShape:
						vi.Shape = []Dim{}
						return walk(data, func(num protowire.Number, _ protowire.Type, _ uint64, data []byte) error {
							if num != fShapeDim {
								return nil
							}
							var d Dim
							err := walk(data, func(num protowire.Number, _ protowire.Type, v uint64, data []byte) error {
								switch num {
								case fDimValue:
									d.Value = int64(v)
								case fDimParam:
									d.Param = string(data)
								}
								return nil
							})
							vi.Shape = append(vi.Shape, d)
							return err
						})
					}
					return nil
				})
			})
		}
		return nil
	})
}

func decodeTensor(b []byte, t *Tensor) error {
	return walk(b, func(num protowire.Number, typ protowire.Type, v uint64, data []byte) error {
		var err error
		switch num {
		case fTensorDims:
			t.Dims, err = repeatedVarints(t.Dims, typ, v, data)
		case fTensorDataType:
			t.Type = DataType(v)
		case fTensorName:
			t.Name = string(data)
		case fTensorRawData:
			t.Raw = data
		case fTensorFloatData:
			t.Floats, err = repeatedFloats(t.Floats, typ, v, data)
		case fTensorInt64Data:
			t.Int64s, err = repeatedVarints(t.Int64s, typ, v, data)
		}
		return err
	})
}
