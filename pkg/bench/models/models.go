// Package models generates the built-in ONNX models that `immich-accel bench`
// runs when no model is given.
//
// The models are shaped like Immich's defaults (CLIP ViT-B/32 visual
// encoder, a buffalo_l-sized face detector and recognizer) so that latency
// and throughput numbers mean something, but their weights are
// pseudo-random: they are generated in-process from a seeded PCG generator,
// with no files and no downloads. The same seed always gives byte-identical
// model bytes.
//
// FLOPs convention: Model.FLOPs counts two floating-point operations per
// multiply-add of the Conv, MatMul and Gemm nodes (FLOPs = 2 x MACs).
// Normalisation, activation, softmax and other element-wise nodes are not
// counted; they are well under 2% of the total for every built-in model.
// Papers that quote "GFLOPs" for SCRFD, IResNet and ViT usually mean MACs,
// i.e. half of the number reported here.
//
// Params counts the float32 elements of all weight initializers (not the
// int64 shape constants).
package models

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/immich-accel/immich-accel/internal/onnx"
	"github.com/immich-accel/immich-accel/internal/units"
)

// DefaultSeed is the seed used when Build is called without WithSeed.
const DefaultSeed uint64 = 0x1a3c_2024_0b5e_6d71

// DefaultPerturbation is a perturbation scale that changes every built-in
// model's outputs well beyond fp32 tolerance (cosine similarity to the
// original output below 0.999) while keeping them finite.
const DefaultPerturbation = 0.1

// TensorInfo describes a model input or output.
type TensorInfo struct {
	Name  string
	Shape []int64
	Type  string // "float32", "int32", "int64", ...
}

// Model is a built-in model. Params and FLOPs are computed from the graph
// that Build serialises (see the package documentation for the FLOPs
// convention).
type Model struct {
	Name        string
	Description string
	Params      int64
	FLOPs       int64
	Inputs      []TensorInfo
	Outputs     []TensorInfo

	define func(b *builder)
}

type buildConfig struct {
	seed    uint64
	perturb float64
}

// Option changes how Build generates a model.
type Option func(*buildConfig)

// WithSeed selects the weight generator's seed (DefaultSeed otherwise).
func WithSeed(seed uint64) Option { return func(c *buildConfig) { c.seed = seed } }

// WithPerturbation builds a deliberately perturbed copy: the same graph,
// with independent uniform noise of standard deviation scale times each
// weight tensor's own spread added to every weight. Scale 0 (the default)
// builds the original; DefaultPerturbation is large enough for outputs to
// differ measurably.
func WithPerturbation(scale float64) Option {
	return func(c *buildConfig) { c.perturb = scale }
}

type definition struct {
	name, about string
	define      func(b *builder)
}

var definitions = []definition{
	{"tiny", "Tiny CNN (2 convs, pooling, linear) for quick runs and tests", defineTiny},
	{"clip-vit-b32-visual", "CLIP ViT-B/32 visual encoder shape (12 layers, width 768, 12 heads, QuickGELU), 224x224 image to 512-d embedding; like Immich's default ViT-B-32__openai", defineCLIP},
	{"face-detect", "SCRFD-style face detector at 640x640 (ResNet backbone, FPN, score/box/keypoint heads at strides 8, 16, 32), compute of the order of buffalo_l's det_10g", defineFaceDetect},
	{"face-recognize", "ArcFace IResNet-50 recognizer, 112x112 face to 512-d embedding; like buffalo_l's w600k_r50", defineFaceRecognize},
}

// Builtin returns the built-in models, smallest first: tiny,
// clip-vit-b32-visual, face-detect, face-recognize.
func Builtin() []Model {
	out := make([]Model, 0, len(definitions))
	for _, d := range definitions {
		m, err := describe(d)
		if err != nil {
			// The definitions are fixed; a failure here is a bug caught by tests.
			panic(err)
		}
		out = append(out, m)
	}
	return out
}

// Names returns the names of the built-in models in Builtin order.
func Names() []string {
	names := make([]string, len(definitions))
	for i, d := range definitions {
		names[i] = d.name
	}
	return names
}

// ByName returns the built-in model with the given name.
func ByName(name string) (Model, bool) {
	for _, d := range definitions {
		if d.name == name {
			m, err := describe(d)
			return m, err == nil
		}
	}
	return Model{}, false
}

// describe builds d's graph without generating weights and fills in the
// model's metadata from it.
func describe(d definition) (Model, error) {
	b, err := buildGraph(d.name, d.define, buildConfig{seed: DefaultSeed})
	if err != nil {
		return Model{}, err
	}
	m := Model{
		Name:   d.name,
		Params: b.params,
		FLOPs:  2 * b.macs,
		define: d.define,
	}
	m.Description = fmt.Sprintf("%s; %s parameters, %sFLOPs per inference (2 x multiply-adds)",
		d.about, strings.TrimSpace(units.Count(m.Params)), units.Count(m.FLOPs))
	for _, v := range b.g.Inputs {
		m.Inputs = append(m.Inputs, tensorInfo(v))
	}
	for _, v := range b.g.Outputs {
		m.Outputs = append(m.Outputs, tensorInfo(v))
	}
	return m, nil
}

func tensorInfo(v onnx.ValueInfo) TensorInfo {
	shape := make([]int64, len(v.Shape))
	for i, d := range v.Shape {
		shape[i] = d.Value
	}
	return TensorInfo{Name: v.Name, Shape: shape, Type: v.Type.String()}
}

func buildGraph(name string, define func(*builder), cfg buildConfig) (b *builder, err error) {
	b = newBuilder(name, cfg.seed, cfg.perturb)
	defer func() {
		if r := recover(); r != nil {
			be, ok := r.(buildError)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("build model %s: %w (this is a bug in the model definition)", name, be.err)
		}
	}()
	define(b)
	return b, nil
}

// Build generates the model and returns its serialized ONNX bytes. The
// weights are written straight into the returned buffer (for CLIP about
// 352 MB, its only large allocation).
func (m Model) Build(opts ...Option) ([]byte, error) {
	if m.define == nil {
		return nil, fmt.Errorf("build model %q: not a built-in model; get one from Builtin or ByName", m.Name)
	}
	cfg := buildConfig{seed: DefaultSeed}
	for _, o := range opts {
		o(&cfg)
	}
	if math.IsNaN(cfg.perturb) || math.IsInf(cfg.perturb, 0) || cfg.perturb < 0 || cfg.perturb > 10 {
		return nil, fmt.Errorf("build model %s: perturbation scale %v is out of range; use a value between 0 and 10, e.g. %v",
			m.Name, cfg.perturb, DefaultPerturbation)
	}
	b, err := buildGraph(m.Name, m.define, cfg)
	if err != nil {
		return nil, err
	}
	model := b.model()
	model.DocString = m.Description
	data, err := model.Marshal()
	if err != nil {
		return nil, fmt.Errorf("build model %s: %w", m.Name, err)
	}
	return data, nil
}

// InputData returns deterministic input values for each of m's inputs (in
// the order of m.Inputs), uniform on [-1, 1), generated from seed. All
// built-in inputs are float32.
func (m Model) InputData(seed uint64) ([][]float32, error) {
	out := make([][]float32, len(m.Inputs))
	for i, in := range m.Inputs {
		if in.Type != "float32" {
			return nil, fmt.Errorf("input %q of model %s has type %s; only float32 inputs can be generated", in.Name, m.Name, in.Type)
		}
		n := int64(1)
		for _, d := range in.Shape {
			if d <= 0 {
				return nil, errors.New("input " + in.Name + " has a non-positive dimension")
			}
			n *= d
		}
		out[i] = make([]float32, n)
		FillFloat32(out[i], seed+uint64(i))
	}
	return out, nil
}

// FillFloat32 fills dst with deterministic values uniform on [-1, 1)
// generated from seed.
func FillFloat32(dst []float32, seed uint64) {
	r := rand.NewPCG(seed, 0x696e707574) // "input"
	for i := 0; i < len(dst); i += 2 {
		x := r.Uint64()
		dst[i] = unit(uint32(x))
		if i+1 < len(dst) {
			dst[i+1] = unit(uint32(x >> 32))
		}
	}
}
