package models_test

import (
	"fmt"

	"github.com/immich-accel/immich-accel/pkg/bench/models"
)

// The built-in catalogue with each model's size and compute.
func ExampleBuiltin() {
	for _, m := range models.Builtin() {
		fmt.Printf("%-20s %11d params %6.2f GFLOPs  %v -> %d outputs\n",
			m.Name, m.Params, float64(m.FLOPs)/1e9, m.Inputs[0].Shape, len(m.Outputs))
	}
	// Output:
	// tiny                        1664 params   0.00 GFLOPs  [1 3 32 32] -> 1 outputs
	// clip-vit-b32-visual     87849216 params   8.82 GFLOPs  [1 3 224 224] -> 1 outputs
	// face-detect              4169374 params  20.29 GFLOPs  [1 3 640 640] -> 9 outputs
	// face-recognize          43590976 params  12.62 GFLOPs  [1 3 112 112] -> 1 outputs
}

// Building a model gives ONNX bytes that ONNX Runtime loads from memory.
func ExampleModel_Build() {
	m, ok := models.ByName("tiny")
	if !ok {
		return
	}
	original, err := m.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	perturbed, err := m.Build(models.WithPerturbation(models.DefaultPerturbation))
	if err != nil {
		fmt.Println(err)
		return
	}
	inputs, _ := m.InputData(1)
	fmt.Println(len(original) == len(perturbed), len(inputs[0]))
	// Output: true 3072
}
