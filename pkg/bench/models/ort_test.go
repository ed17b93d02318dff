package models

import (
	"fmt"
	"math"
	"os"
	"testing"

	ort "github.com/yalue/onnxruntime_go"
)

// ortLibEnv names the ONNX Runtime shared library used by these tests.
const ortLibEnv = "IMMICH_ACCEL_ORT_LIB"

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
	if os.Getenv(ortLibEnv) == "" {
		msg := "ONNX Runtime tests NOT RUN: " + ortLibEnv + " is not set. Run `make test`, which installs the pinned ONNX Runtime and sets it."
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("\n\n*** " + msg + " ***\n")
	}
}

// runOnce creates a CPU session from data, feeds the model's deterministic
// inputs and returns each output's shape and values.
func runOnce(t testing.TB, m Model, data []byte, threads int) (shapes [][]int64, values [][]float32) {
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
	sess, err := ort.NewDynamicAdvancedSessionWithONNXData(data, inNames, outNames, opts)
	if err != nil {
		t.Fatalf("ONNX Runtime rejected model %s: %v", m.Name, err)
	}
	defer sess.Destroy()
	inData, err := m.InputData(1)
	if err != nil {
		t.Fatal(err)
	}
	inputs := make([]ort.Value, len(m.Inputs))
	for i, in := range m.Inputs {
		v, err := ort.NewTensor(ort.NewShape(in.Shape...), inData[i])
		if err != nil {
			t.Fatal(err)
		}
		defer v.Destroy()
		inputs[i] = v
	}
	outputs := make([]ort.Value, len(m.Outputs))
	if err := sess.Run(inputs, outputs); err != nil {
		t.Fatalf("run %s: %v", m.Name, err)
	}
	for _, o := range outputs {
		defer o.Destroy()
		ft, ok := o.(*ort.Tensor[float32])
		if !ok {
			t.Fatalf("output is %T, want *Tensor[float32]", o)
		}
		shapes = append(shapes, []int64(ft.GetShape()))
		values = append(values, append([]float32(nil), ft.GetData()...))
	}
	return shapes, values
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
			shapes, outs := runOnce(t, m, data, 2)
			for i, o := range m.Outputs {
				if fmt.Sprint(shapes[i]) != fmt.Sprint(o.Shape) {
					t.Errorf("output %s has shape %v, declared %v", o.Name, shapes[i], o.Shape)
				}
				finite, mean, std := stats(outs[i])
				if !finite {
					t.Fatalf("output %s has NaN or Inf values", o.Name)
				}
				if std < 1e-3 || std > 1e3 || math.Abs(mean) > 1e3 {
					t.Errorf("output %s: mean %.4g, std %.4g; activations are degenerate", o.Name, mean, std)
				}
				t.Logf("output %s %v: mean %.4g std %.4g", o.Name, shapes[i], mean, std)
			}

			pdata, err := m.Build(WithPerturbation(DefaultPerturbation))
			if err != nil {
				t.Fatal(err)
			}
			_, pouts := runOnce(t, m, pdata, 2)
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
