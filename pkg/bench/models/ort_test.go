package models

import (
	"fmt"
	"math"
	"os"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/immich-accel/immich-accel/internal/testenv"
)

// ortLibEnv names the ONNX Runtime shared library used by these tests.
const ortLibEnv = testenv.ORTLibEnv

var ortInitErr error // set once by TestMain, read-only afterwards

func TestMain(m *testing.M) {
	if path := os.Getenv(ortLibEnv); path != "" {
		ort.SetSharedLibraryPath(path)
		if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
			ortInitErr = fmt.Errorf("initialize ONNX Runtime from %s=%s: %w", ortLibEnv, path, err)
		}
	}
	code := m.Run()
	if ort.IsInitialized() {
		_ = ort.DestroyEnvironment()
	}
	os.Exit(code)
}

// requireORT skips (or, under CI, fails) tests that need ONNX Runtime when
// no library is configured.
func requireORT(t testing.TB) {
	t.Helper()
	if ortInitErr != nil {
		t.Fatal(ortInitErr)
	}
	testenv.RequireORT(t)
}

// session is a CPU ONNX Runtime session for a built model with its input
// and output tensors allocated once.
type session struct {
	sess    *ort.DynamicAdvancedSession
	inputs  []ort.Value
	outputs []ort.Value
}

// newSession creates a CPU session from data with the given intra-op thread
// count and fills the model's inputs deterministically.
func newSession(t testing.TB, m Model, data []byte, threads int) *session {
	t.Helper()
	opts, err := ort.NewSessionOptions()
	if err != nil {
		t.Fatal(err)
	}
	defer opts.Destroy()
	if err := opts.SetIntraOpNumThreads(threads); err != nil {
		t.Fatal(err)
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		t.Fatal(err)
	}
	var inNames, outNames []string
	for _, in := range m.Inputs {
		inNames = append(inNames, in.Name)
	}
	for _, out := range m.Outputs {
		outNames = append(outNames, out.Name)
	}
	s := &session{}
	t.Cleanup(s.destroy)
	s.sess, err = ort.NewDynamicAdvancedSessionWithONNXData(data, inNames, outNames, opts)
	if err != nil {
		t.Fatalf("ONNX Runtime rejected model %s: %v", m.Name, err)
	}
	inData, err := m.InputData(1)
	if err != nil {
		t.Fatal(err)
	}
	for i, in := range m.Inputs {
		v, err := ort.NewTensor(ort.NewShape(in.Shape...), inData[i])
		if err != nil {
			t.Fatal(err)
		}
		s.inputs = append(s.inputs, v)
	}
	for _, out := range m.Outputs {
		v, err := ort.NewEmptyTensor[float32](ort.NewShape(out.Shape...))
		if err != nil {
			t.Fatal(err)
		}
		s.outputs = append(s.outputs, v)
	}
	return s
}

func (s *session) destroy() {
	for _, v := range append(s.inputs, s.outputs...) {
		v.Destroy()
	}
	s.inputs, s.outputs = nil, nil
	if s.sess != nil {
		s.sess.Destroy()
		s.sess = nil
	}
}

// run runs the session once and returns copies of the outputs' values.
func (s *session) run(t testing.TB) [][]float32 {
	t.Helper()
	if err := s.sess.Run(s.inputs, s.outputs); err != nil {
		t.Fatalf("run: %v", err)
	}
	var values [][]float32
	for _, o := range s.outputs {
		values = append(values, append([]float32(nil), o.(*ort.Tensor[float32]).GetData()...))
	}
	return values
}

// runOnce creates a session, runs it once with outputs allocated by ONNX
// Runtime and checks that their shapes are the declared ones.
func runOnce(t testing.TB, m Model, data []byte, threads int) [][]float32 {
	t.Helper()
	s := newSession(t, m, data, threads)
	defer s.destroy()
	outputs := make([]ort.Value, len(m.Outputs))
	if err := s.sess.Run(s.inputs, outputs); err != nil {
		t.Fatalf("run: %v", err)
	}
	var values [][]float32
	for i, o := range outputs {
		defer o.Destroy()
		ft, ok := o.(*ort.Tensor[float32])
		if !ok {
			t.Fatalf("output %s is %T, want float32 tensor", m.Outputs[i].Name, o)
		}
		if got := []int64(ft.GetShape()); fmt.Sprint(got) != fmt.Sprint(m.Outputs[i].Shape) {
			t.Errorf("output %s has shape %v, declared %v", m.Outputs[i].Name, got, m.Outputs[i].Shape)
		}
		values = append(values, append([]float32(nil), ft.GetData()...))
	}
	return values
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

func stats(v []float32) (finite bool, mean, std float64) {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false, 0, 0
		}
		mean += float64(x)
	}
	mean /= float64(len(v))
	for _, x := range v {
		std += (float64(x) - mean) * (float64(x) - mean)
	}
	return true, mean, math.Sqrt(std / float64(len(v)))
}

// TestRunOnONNXRuntime builds every built-in model, runs it and a perturbed
// copy once each on the CPU provider, and checks the outputs: declared
// shapes, finite non-degenerate values, and a measurable difference for the
// perturbed copy.
func TestRunOnONNXRuntime(t *testing.T) {
	requireORT(t)
	for _, m := range Builtin() {
		t.Run(m.Name, func(t *testing.T) {
			data, err := m.Build()
			if err != nil {
				t.Fatal(err)
			}
			ins, outInfo, err := ort.GetInputOutputInfoWithONNXData(data)
			if err != nil {
				t.Fatal(err)
			}
			checkInfo(t, "input", ins, m.Inputs)
			checkInfo(t, "output", outInfo, m.Outputs)
			outs := runOnce(t, m, data, 2)
			for i, o := range m.Outputs {
				finite, mean, std := stats(outs[i])
				if !finite {
					t.Fatalf("output %s has NaN or Inf values", o.Name)
				}
				if std < 1e-3 || std > 1e3 || math.Abs(mean) > 1e3 {
					t.Errorf("output %s: mean %.4g, std %.4g; activations are degenerate", o.Name, mean, std)
				}
				t.Logf("output %s %v: mean %.4g std %.4g", o.Name, o.Shape, mean, std)
			}

			pdata, err := m.Build(WithPerturbation(DefaultPerturbation))
			if err != nil {
				t.Fatal(err)
			}
			pouts := runOnce(t, m, pdata, 2)
			for i, o := range m.Outputs {
				c := cosine(outs[i], pouts[i])
				t.Logf("output %s: cosine(original, perturbed) = %.6f", o.Name, c)
				if !(c < 0.999) {
					t.Errorf("output %s: perturbed model agrees with the original (cosine %.6f); the perturbation is too weak", o.Name, c)
				}
				if finite, _, _ := stats(pouts[i]); !finite {
					t.Errorf("perturbed output %s has NaN or Inf values", o.Name)
				}
			}
		})
	}
}

// checkInfo compares ONNX Runtime's view of a model's inputs or outputs with
// the declared TensorInfo.
func checkInfo(t *testing.T, kind string, got []ort.InputOutputInfo, want []TensorInfo) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("ONNX Runtime sees %d %ss, declared %d", len(got), kind, len(want))
	}
	for i, g := range got {
		w := want[i]
		if g.Name != w.Name || fmt.Sprint([]int64(g.Dimensions)) != fmt.Sprint(w.Shape) ||
			g.DataType != ort.TensorElementDataTypeFloat || w.Type != "float32" {
			t.Errorf("%s %d: ONNX Runtime sees %s %v %v, declared %s %v %s", kind, i, g.Name, g.Dimensions, g.DataType, w.Name, w.Shape, w.Type)
		}
	}
}

// TestThreadCountsAgree runs the tiny model with 1 and 2 intra-op threads.
func TestThreadCountsAgree(t *testing.T) {
	requireORT(t)
	m, _ := ByName("tiny")
	data, err := m.Build()
	if err != nil {
		t.Fatal(err)
	}
	a, b := runOnce(t, m, data, 1), runOnce(t, m, data, 2)
	for i := range a[0] {
		if d := math.Abs(float64(a[0][i] - b[0][i])); d > 1e-5 {
			t.Fatalf("element %d: %v with 1 thread, %v with 2", i, a[0][i], b[0][i])
		}
	}
}
