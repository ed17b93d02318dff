package models

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/immich-accel/immich-accel/internal/onnx"
)

// perturbSalt separates the perturbation noise stream from the weight stream.
const perturbSalt = 0x9e3779b97f4a7c15

// builder assembles an ONNX graph while tracking every tensor's shape, the
// number of float parameters and the multiply-adds of Conv, MatMul and Gemm.
// Weights are not generated here: each initializer gets a Fill function that
// onnx.Model.Marshal calls with the final buffer.
type builder struct {
	g       onnx.Graph
	shapes  map[string][]int64
	params  int64
	macs    int64
	seed    uint64
	perturb float64
	names   map[string]int
}

// buildError is panicked by builder methods on an inconsistent graph (a bug
// in a model definition) and recovered into an error by buildGraph.
type buildError struct{ err error }

func newBuilder(name string, seed uint64, perturb float64) *builder {
	return &builder{
		g:       onnx.Graph{Name: name},
		shapes:  map[string][]int64{},
		seed:    seed,
		perturb: perturb,
		names:   map[string]int{},
	}
}

func (b *builder) fail(format string, args ...any) {
	panic(buildError{fmt.Errorf(format, args...)})
}

// fresh returns a unique tensor name derived from base.
func (b *builder) fresh(base string) string {
	n := b.names[base]
	b.names[base] = n + 1
	if n == 0 {
		if _, taken := b.shapes[base]; !taken {
			return base
		}
	}
	return fmt.Sprintf("%s_%d", base, n)
}

func (b *builder) shape(name string) []int64 {
	s, ok := b.shapes[name]
	if !ok {
		b.fail("tensor %q is not defined", name)
	}
	return s
}

func numel(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

// input declares a float32 graph input.
func (b *builder) input(name string, shape ...int64) string {
	b.shapes[name] = shape
	b.names[name]++
	b.g.Inputs = append(b.g.Inputs, onnx.ValueInfo{Name: name, Type: onnx.Float, Shape: onnx.Dims(shape...)})
	return name
}

// output renames x to name (through Identity) and declares it a graph output.
func (b *builder) output(x, name string) {
	y := b.node("Identity", name, []string{x}, b.shape(x))
	if y != name {
		b.fail("output name %q is already used", name)
	}
	b.g.Outputs = append(b.g.Outputs, onnx.ValueInfo{Name: y, Type: onnx.Float, Shape: onnx.Dims(b.shape(y)...)})
}

// node adds a node with one output of the given shape and returns its name.
func (b *builder) node(op, name string, inputs []string, shape []int64, attrs ...onnx.Attribute) string {
	for _, in := range inputs {
		if in != "" {
			b.shape(in)
		}
	}
	out := b.fresh(name)
	b.shapes[out] = slices.Clone(shape)
	b.g.Nodes = append(b.g.Nodes, onnx.Node{Name: out, OpType: op, Inputs: inputs, Outputs: []string{out}, Attrs: attrs})
	return out
}

// param adds a float32 initializer whose values are uniform with the given
// mean and standard deviation, drawn from a PCG stream keyed by the seed and
// the tensor's name. With a perturbation scale s, noise with standard
// deviation s*std from an independent stream is added.
func (b *builder) param(name string, mean, std float64, dims ...int64) string {
	name = b.fresh(name)
	n := numel(dims)
	b.shapes[name] = dims
	b.params += n
	h := fnv.New64a()
	h.Write([]byte(name))
	key := h.Sum64()
	seed, perturb := b.seed, b.perturb
	half := float32(std * math.Sqrt(3)) // uniform on [-half, half) has the given std
	m := float32(mean)
	b.g.Initializers = append(b.g.Initializers, &onnx.Tensor{Name: name, Type: onnx.Float, Dims: dims,
		Fill: func(dst []byte) { fillUniform(dst, seed, key, m, half, float32(perturb)*half) }})
	return name
}

// weight adds a parameter with zero mean and the given standard deviation.
func (b *builder) weight(name string, std float64, dims ...int64) string {
	return b.param(name, 0, std, dims...)
}

// fillUniform writes len(dst)/4 little-endian float32 values
// mean + half*u (+ phalf*u' when phalf > 0), u and u' uniform on [-1, 1).
func fillUniform(dst []byte, seed, key uint64, mean, half, phalf float32) {
	r := rand.NewPCG(seed, key)
	var p *rand.PCG
	if phalf > 0 {
		p = rand.NewPCG(seed^perturbSalt, key)
	}
	n := len(dst) / 4
	for i := 0; i < n; i += 2 {
		x := r.Uint64()
		v0, v1 := mean+half*unit(uint32(x)), mean+half*unit(uint32(x>>32))
		if p != nil {
			y := p.Uint64()
			v0 += phalf * unit(uint32(y))
			v1 += phalf * unit(uint32(y>>32))
		}
		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v0))
		if i+1 < n {
			binary.LittleEndian.PutUint32(dst[4*i+4:], math.Float32bits(v1))
		}
	}
}

// unit maps 24 random bits to a float32 uniform on [-1, 1).
func unit(u uint32) float32 {
	return float32(int32(u>>8)-1<<23) * (1.0 / (1 << 23))
}

// ints adds an int64 constant (shapes, axes); it is not a parameter.
func (b *builder) ints(name string, vals ...int64) string {
	name = b.fresh(name)
	b.shapes[name] = []int64{int64(len(vals))}
	b.g.Initializers = append(b.g.Initializers, &onnx.Tensor{Name: name, Type: onnx.Int64, Dims: []int64{int64(len(vals))}, Int64s: vals})
	return name
}

// scalarInt adds an int64 scalar constant (e.g. a Gather index).
func (b *builder) scalarInt(name string, v int64) string {
	name = b.fresh(name)
	b.shapes[name] = []int64{}
	b.g.Initializers = append(b.g.Initializers, &onnx.Tensor{Name: name, Type: onnx.Int64, Dims: []int64{}, Int64s: []int64{v}})
	return name
}

// floats adds a float32 constant that is not a parameter (e.g. Resize
// scales); its name starts with "const.".
func (b *builder) floats(name string, vals ...float32) string {
	name = b.fresh("const." + name)
	b.shapes[name] = []int64{int64(len(vals))}
	b.g.Initializers = append(b.g.Initializers, &onnx.Tensor{Name: name, Type: onnx.Float, Dims: []int64{int64(len(vals))}, Floats: vals})
	return name
}

// broadcast returns the numpy-style broadcast of two shapes.
func (b *builder) broadcast(x, y []int64) []int64 {
	if len(x) < len(y) {
		x, y = y, x
	}
	out := slices.Clone(x)
	off := len(x) - len(y)
	for i, d := range y {
		switch {
		case out[off+i] == d || d == 1:
		case out[off+i] == 1:
			out[off+i] = d
		default:
			b.fail("shapes %v and %v do not broadcast", x, y)
		}
	}
	return out
}

func (b *builder) binary(op, name, x, y string) string {
	return b.node(op, name, []string{x, y}, b.broadcast(b.shape(x), b.shape(y)))
}

func (b *builder) add(name, x, y string) string { return b.binary("Add", name, x, y) }
func (b *builder) mul(name, x, y string) string { return b.binary("Mul", name, x, y) }

func (b *builder) unary(op, name, x string, attrs ...onnx.Attribute) string {
	return b.node(op, name, []string{x}, b.shape(x), attrs...)
}

func (b *builder) relu(x string) string { return b.unary("Relu", x+".relu", x) }

// conv adds a Conv with bias (batch norm folded in, as exported detectors
// and recognizers have it) and He-style initialisation scaled by gain.
func (b *builder) conv(name, x string, cout, k, stride, pad int64, gain float64) string {
	s := b.shape(x)
	if len(s) != 4 {
		b.fail("conv %s: input %q has shape %v, want NCHW", name, x, s)
	}
	n, cin, h, w := s[0], s[1], s[2], s[3]
	ho, wo := (h+2*pad-k)/stride+1, (w+2*pad-k)/stride+1
	fanIn := cin * k * k
	wt := b.weight(name+".weight", gain*math.Sqrt(2/float64(fanIn)), cout, cin, k, k)
	bias := b.weight(name+".bias", 0.01, cout)
	b.macs += n * cout * ho * wo * fanIn
	return b.node("Conv", name, []string{x, wt, bias}, []int64{n, cout, ho, wo},
		onnx.AttrIs("kernel_shape", k, k), onnx.AttrIs("strides", stride, stride),
		onnx.AttrIs("pads", pad, pad, pad, pad), onnx.AttrI("group", 1), onnx.AttrS("auto_pad", "NOTSET"))
}

// linear adds x @ W (+ bias), W of shape [in, out] with std 1/sqrt(in)*gain.
func (b *builder) linear(name, x string, out int64, bias bool, gain float64) string {
	s := b.shape(x)
	in := s[len(s)-1]
	wt := b.weight(name+".weight", gain/math.Sqrt(float64(in)), in, out)
	os := slices.Clone(s)
	os[len(os)-1] = out
	b.macs += numel(s[:len(s)-1]) * in * out
	y := b.node("MatMul", name, []string{x, wt}, os)
	if bias {
		y = b.add(name+".add", y, b.weight(name+".bias", 0.02, out))
	}
	return y
}

// matmul multiplies two activations [..., M, K] x [..., K, N].
func (b *builder) matmul(name, x, y string) string {
	xs, ys := b.shape(x), b.shape(y)
	if len(xs) != len(ys) || len(xs) < 2 || xs[len(xs)-1] != ys[len(ys)-2] {
		b.fail("matmul %s: shapes %v and %v", name, xs, ys)
	}
	out := slices.Clone(xs)
	out[len(out)-1] = ys[len(ys)-1]
	b.macs += numel(out) * xs[len(xs)-1]
	return b.node("MatMul", name, []string{x, y}, out)
}

func (b *builder) reshape(name, x string, shape ...int64) string {
	if numel(b.shape(x)) != numel(shape) {
		b.fail("reshape %s: %v to %v", name, b.shape(x), shape)
	}
	return b.node("Reshape", name, []string{x, b.ints(name+".shape", shape...)}, shape)
}

func (b *builder) transpose(name, x string, perm ...int64) string {
	s := b.shape(x)
	out := make([]int64, len(perm))
	for i, p := range perm {
		out[i] = s[p]
	}
	return b.node("Transpose", name, []string{x}, out, onnx.AttrIs("perm", perm...))
}

// layerNorm normalises over the last axis with learned scale and bias.
func (b *builder) layerNorm(name, x string) string {
	s := b.shape(x)
	c := s[len(s)-1]
	g := b.param(name+".weight", 1, 0.05, c)
	beta := b.weight(name+".bias", 0.02, c)
	return b.node("LayerNormalization", name, []string{x, g, beta}, s,
		onnx.AttrI("axis", -1), onnx.AttrF("epsilon", 1e-5))
}

// batchNorm adds an inference-mode BatchNormalization over axis 1.
func (b *builder) batchNorm(name, x string) string {
	s := b.shape(x)
	c := s[1]
	return b.node("BatchNormalization", name, []string{x,
		b.param(name+".weight", 1, 0.05, c), b.weight(name+".bias", 0.02, c),
		b.weight(name+".running_mean", 0.02, c), b.param(name+".running_var", 1, 0.05, c)},
		s, onnx.AttrF("epsilon", 1e-5))
}

// prelu adds a PReLU with one slope per channel (axis 1).
func (b *builder) prelu(name, x string) string {
	c := b.shape(x)[1]
	slope := b.param(name+".slope", 0.25, 0.02, c, 1, 1)
	return b.node("PRelu", name, []string{x, slope}, b.shape(x))
}

func (b *builder) concat(name string, axis int, xs ...string) string {
	out := slices.Clone(b.shape(xs[0]))
	for _, x := range xs[1:] {
		out[axis] += b.shape(x)[axis]
	}
	return b.node("Concat", name, xs, out, onnx.AttrI("axis", int64(axis)))
}

func (b *builder) model() *onnx.Model {
	m := onnx.NewModel(b.g.Name)
	m.ProducerName = "immich-accel"
	m.Graph = b.g
	return m
}
