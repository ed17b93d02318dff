package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	ort "github.com/yalue/onnxruntime_go"
)

// Model is one ONNX model to benchmark: serialized bytes (Data), a file
// (Path), or bytes made on demand (Load, for generated models: they are
// built just before they run and dropped after).
type Model struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Params and FLOPs per inference, when known (built-in models).
	Params int64                  `json:"params,omitempty"`
	FLOPs  int64                  `json:"flops,omitempty"`
	Path   string                 `json:"path,omitempty"`
	Data   []byte                 `json:"-"`
	Load   func() ([]byte, error) `json:"-"`
	// Shapes fixes dynamic input dimensions, by input name.
	Shapes map[string][]int64 `json:"shapes,omitempty"`
	// DefaultDim fills dynamic dimensions other than the first (batch)
	// one when Shapes does not give them; 0 means they must be given.
	DefaultDim int64 `json:"-"`
}

// ErrShape is wrapped by errors about input shapes that cannot be filled.
var ErrShape = errors.New("cannot fill input")

// ParseShapes parses --shape values of the form name=1x3x224x224.
func ParseShapes(specs []string) (map[string][]int64, error) {
	out := map[string][]int64{}
	for _, s := range specs {
		name, dims, ok := strings.Cut(s, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" || dims == "" {
			return nil, fmt.Errorf("--shape %q: want NAME=DIMxDIMx..., for example input=1x3x224x224", s)
		}
		var shape []int64
		for _, d := range strings.Split(strings.ToLower(dims), "x") {
			n, err := strconv.ParseInt(strings.TrimSpace(d), 10, 64)
			if err != nil || n <= 0 || n > 1<<20 {
				return nil, fmt.Errorf("--shape %q: dimension %q is not a positive integer", s, d)
			}
			shape = append(shape, n)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("--shape %q: input %s given twice", s, name)
		}
		out[name] = shape
	}
	return out, nil
}

// TensorSpec is a model input or output as declared, and as filled.
type TensorSpec struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Declared shape; -1 marks a dynamic dimension.
	Declared []int64 `json:"declared"`
	// Shape used for the benchmark.
	Shape []int64 `json:"shape,omitempty"`

	elem ort.TensorElementDataType
}

func (m *Model) ioInfo() ([]ort.InputOutputInfo, []ort.InputOutputInfo, error) {
	var ins, outs []ort.InputOutputInfo
	var err error
	if m.Data != nil {
		ins, outs, err = ort.GetInputOutputInfoWithONNXData(m.Data)
	} else {
		if _, serr := os.Stat(m.Path); serr != nil {
			return nil, nil, fmt.Errorf("model %s: %w", m.Name, serr)
		}
		ins, outs, err = ort.GetInputOutputInfo(m.Path)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("model %s: ONNX Runtime cannot read it: %s: check that it is a complete .onnx file", m.Name, shorten(err.Error(), 300))
	}
	return ins, outs, nil
}

// resolveInputs works out the concrete shape of each input.
func (m *Model) resolveInputs(infos []ort.InputOutputInfo) ([]TensorSpec, error) {
	declared := map[string]bool{}
	for _, in := range infos {
		declared[in.Name] = true
	}
	var unknown []string
	for name := range m.Shapes {
		if !declared[name] {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		var names []string
		for _, in := range infos {
			names = append(names, in.Name)
		}
		return nil, fmt.Errorf("model %s: --shape names %s, which is not an input: the inputs are %s", m.Name, strings.Join(unknown, ", "), strings.Join(names, ", "))
	}
	var specs []TensorSpec
	for _, in := range infos {
		if in.OrtValueType != ort.ONNXTypeTensor {
			return nil, fmt.Errorf("model %s: input %s is a %s: %w: only tensor inputs can be filled", m.Name, in.Name, in.OrtValueType, ErrShape)
		}
		s := TensorSpec{Name: in.Name, Type: typeName(in.DataType), Declared: append([]int64(nil), in.Dimensions...), elem: in.DataType}
		if !fillable(in.DataType) {
			return nil, fmt.Errorf("model %s: input %s has element type %s: %w: supported are float32, float16, float64, int8/16/32/64, uint8 and bool", m.Name, in.Name, s.Type, ErrShape)
		}
		if given, ok := m.Shapes[in.Name]; ok {
			if len(given) != len(in.Dimensions) {
				return nil, fmt.Errorf("model %s: --shape %s has %d dimensions, the model declares %d (%s): %w", m.Name, in.Name, len(given), len(in.Dimensions), dimString(in.Dimensions), ErrShape)
			}
			for i, d := range in.Dimensions {
				if d > 0 && given[i] != d {
					return nil, fmt.Errorf("model %s: --shape %s=%s contradicts the declared shape %s at dimension %d: %w", m.Name, in.Name, dimString(given), dimString(in.Dimensions), i, ErrShape)
				}
			}
			s.Shape = append([]int64(nil), given...)
		} else {
			s.Shape = make([]int64, len(in.Dimensions))
			for i, d := range in.Dimensions {
				switch {
				case d > 0:
					s.Shape[i] = d
				case i == 0:
					s.Shape[i] = 1 // batch
				case m.DefaultDim > 0:
					s.Shape[i] = m.DefaultDim
				default:
					return nil, fmt.Errorf("model %s: input %s has dynamic dimensions (%s): %w: give them with --shape %s=%s", m.Name, in.Name, dimString(in.Dimensions), ErrShape, in.Name, exampleShape(in.Dimensions))
				}
			}
		}
		if n, ok := elements(s.Shape); !ok || n > MaxInputElements {
			return nil, fmt.Errorf("model %s: input %s of shape %s is too large to fill (more than %d values): %w: give smaller dimensions with --shape", m.Name, in.Name, dimString(s.Shape), MaxInputElements, ErrShape)
		}
		specs = append(specs, s)
	}
	return specs, nil
}

// MaxInputElements bounds the values of one generated input (1 GiB of
// float32): larger inputs are refused rather than exhausting memory.
const MaxInputElements = 1 << 28

// elements is the number of values of shape; ok is false when it does not
// fit in an int64.
func elements(shape []int64) (int64, bool) {
	n := int64(1)
	for _, d := range shape {
		if d <= 0 {
			return 0, false
		}
		if n > math.MaxInt64/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}

func dimString(d []int64) string {
	parts := make([]string, len(d))
	for i, x := range d {
		if x <= 0 {
			parts[i] = "?"
		} else {
			parts[i] = strconv.FormatInt(x, 10)
		}
	}
	return strings.Join(parts, "x")
}

func exampleShape(d []int64) string {
	parts := make([]string, len(d))
	for i, x := range d {
		switch {
		case x > 0:
			parts[i] = strconv.FormatInt(x, 10)
		case i == 0:
			parts[i] = "1"
		default:
			parts[i] = "N"
		}
	}
	return strings.Join(parts, "x")
}

func fillable(t ort.TensorElementDataType) bool {
	switch t {
	case ort.TensorElementDataTypeFloat, ort.TensorElementDataTypeFloat16, ort.TensorElementDataTypeDouble,
		ort.TensorElementDataTypeInt8, ort.TensorElementDataTypeInt16, ort.TensorElementDataTypeInt32,
		ort.TensorElementDataTypeInt64, ort.TensorElementDataTypeUint8, ort.TensorElementDataTypeBool:
		return true
	}
	return false
}

func typeName(t ort.TensorElementDataType) string {
	switch t {
	case ort.TensorElementDataTypeFloat:
		return "float32"
	case ort.TensorElementDataTypeFloat16:
		return "float16"
	case ort.TensorElementDataTypeDouble:
		return "float64"
	case ort.TensorElementDataTypeInt8:
		return "int8"
	case ort.TensorElementDataTypeInt16:
		return "int16"
	case ort.TensorElementDataTypeInt32:
		return "int32"
	case ort.TensorElementDataTypeInt64:
		return "int64"
	case ort.TensorElementDataTypeUint8:
		return "uint8"
	case ort.TensorElementDataTypeUint16:
		return "uint16"
	case ort.TensorElementDataTypeBool:
		return "bool"
	case ort.TensorElementDataTypeString:
		return "string"
	}
	return strings.ToLower(t.String())
}

// rng is a small deterministic generator (PCG-style LCG) for input data.
type rng struct{ s uint64 }

func newRNG(name string) *rng {
	h := fnv.New64a()
	h.Write([]byte(name))
	return &rng{s: h.Sum64() | 1}
}

func (r *rng) next() uint64 {
	r.s = r.s*6364136223846793005 + 1442695040888963407
	x := r.s
	x ^= x >> 33
	return x
}

// unit returns a value in [-1, 1).
func (r *rng) unit() float64 { return float64(r.next()>>11)/float64(1<<53)*2 - 1 }

// CLIP's tokenizer constants: vocabulary size, start and end of text.
const (
	clipVocab = 49408
	clipSOT   = 49406
	clipEOT   = 49407
)

// newInput builds the deterministic value for one input: uniform [-1, 1)
// for floats; for integer inputs shaped like text tokens ([..., 77]) a CLIP
// token sequence (start, 10 words, end, zero padding); small non-negative
// integers otherwise, which are valid indices for most gathers.
func newInput(s TensorSpec) (ort.Value, error) {
	shape := ort.NewShape(s.Shape...)
	n := int(shape.FlattenedSize())
	r := newRNG(s.Name)
	ints := func() []int64 {
		v := make([]int64, n)
		if len(s.Shape) > 0 && s.Shape[len(s.Shape)-1] == 77 {
			for i := range v {
				switch p := i % 77; {
				case p == 0:
					v[i] = clipSOT
				case p <= 10:
					v[i] = int64(r.next() % 40000)
				case p == 11:
					v[i] = clipEOT
				}
			}
			return v
		}
		for i := range v {
			v[i] = int64(r.next() % 4)
		}
		return v
	}
	switch s.elem {
	case ort.TensorElementDataTypeFloat:
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(r.unit())
		}
		return ort.NewTensor(shape, d)
	case ort.TensorElementDataTypeDouble:
		d := make([]float64, n)
		for i := range d {
			d[i] = r.unit()
		}
		return ort.NewTensor(shape, d)
	case ort.TensorElementDataTypeFloat16:
		b := make([]byte, 2*n)
		for i := 0; i < n; i++ {
			binary.LittleEndian.PutUint16(b[2*i:], float32ToHalf(float32(r.unit())))
		}
		return ort.NewCustomDataTensor(shape, b, ort.TensorElementDataTypeFloat16)
	case ort.TensorElementDataTypeInt32:
		return ort.NewTensor(shape, convertInts[int32](ints()))
	case ort.TensorElementDataTypeInt64:
		return ort.NewTensor(shape, ints())
	case ort.TensorElementDataTypeInt16:
		return ort.NewTensor(shape, convertInts[int16](ints()))
	case ort.TensorElementDataTypeInt8:
		return ort.NewTensor(shape, convertInts[int8](ints()))
	case ort.TensorElementDataTypeUint8:
		d := make([]uint8, n)
		for i := range d {
			d[i] = uint8(r.next())
		}
		return ort.NewTensor(shape, d)
	case ort.TensorElementDataTypeBool:
		d := make([]bool, n)
		for i := range d {
			d[i] = r.next()&1 == 1
		}
		return ort.NewTensor(shape, d)
	}
	return nil, fmt.Errorf("input %s: %w: element type %s", s.Name, ErrShape, s.Type)
}

func convertInts[T int8 | int16 | int32](v []int64) []T {
	out := make([]T, len(v))
	for i, x := range v {
		out[i] = T(x)
	}
	return out
}

// float32ToHalf converts to IEEE 754 binary16, rounding to nearest even.
func float32ToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int((b>>23)&0xff) - 127 + 15
	mant := b & 0x7fffff
	switch {
	case exp >= 31:
		return sign | 0x7c00
	case exp <= 0:
		if exp < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint(14 - exp)
		half := uint16(mant >> shift)
		if (mant>>(shift-1))&1 == 1 && (mant&((1<<(shift-1))-1) != 0 || half&1 == 1) {
			half++
		}
		return sign | half
	}
	half := sign | uint16(exp)<<10 | uint16(mant>>13)
	if mant&0x1000 != 0 && (mant&0x1fff != 0x1000 || half&1 == 1) {
		half++
	}
	return half
}

func halfToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0:
		for mant&0x400 == 0 {
			mant <<= 1
			exp--
		}
		exp++
		mant &= 0x3ff
	case exp == 31:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// values converts an output to float64 for comparison; ok is false for
// non-numeric outputs.
func values(v ort.Value) ([]float64, bool) {
	switch t := v.(type) {
	case *ort.Tensor[float32]:
		return conv(t.GetData()), true
	case *ort.Tensor[float64]:
		return append([]float64(nil), t.GetData()...), true
	case *ort.Tensor[int32]:
		return conv(t.GetData()), true
	case *ort.Tensor[int64]:
		return conv(t.GetData()), true
	case *ort.Tensor[int8]:
		return conv(t.GetData()), true
	case *ort.Tensor[uint8]:
		return conv(t.GetData()), true
	case *ort.Tensor[int16]:
		return conv(t.GetData()), true
	case *ort.Tensor[bool]:
		d := t.GetData()
		out := make([]float64, len(d))
		for i, b := range d {
			if b {
				out[i] = 1
			}
		}
		return out, true
	case *ort.CustomDataTensor:
		if t.DataType() != 10 { // float16
			return nil, false
		}
		b := t.GetData()
		n := int(t.GetShape().FlattenedSize())
		if len(b) < 2*n {
			return nil, false
		}
		out := make([]float64, n)
		for i := range out {
			out[i] = float64(halfToFloat32(binary.LittleEndian.Uint16(b[2*i:])))
		}
		return out, true
	}
	return nil, false
}

func conv[T int8 | uint8 | int16 | int32 | int64 | float32](d []T) []float64 {
	out := make([]float64, len(d))
	for i, x := range d {
		out[i] = float64(x)
	}
	return out
}

func shorten(s string, n int) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > n {
		s = s[:n-1] + "…"
	}
	return s
}
