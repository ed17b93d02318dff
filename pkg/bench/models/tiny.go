package models

import (
	"math"

	"github.com/immich-accel/immich-accel/internal/onnx"
)

// defineTiny: [1,3,32,32] -> conv 3x3 (8) -> relu -> conv 3x3 stride 2 (16)
// -> leaky relu -> global average pool -> flatten -> gemm (16) -> scale
// -> embedding [1,16]. It runs in well under a millisecond.
func defineTiny(b *builder) {
	x := b.input("input", 1, 3, 32, 32)
	x = b.relu(b.conv("conv1", x, 8, 3, 1, 1, 1))
	x = b.conv("conv2", x, 16, 3, 2, 1, 1)
	x = b.unary("LeakyRelu", "conv2.leaky", x, onnx.AttrF("alpha", 0.1))
	x = b.unary("GlobalAveragePool", "pool", x)
	x = b.node("Reshape", "flatten", []string{x, b.ints("flatten.shape", 1, 16)}, []int64{1, 16})
	w := b.weight("fc.weight", 1/math.Sqrt(16), 16, 16)
	bias := b.weight("fc.bias", 0.02, 16)
	b.macs += 16 * 16
	x = b.node("Gemm", "fc", []string{x, w, bias}, []int64{1, 16},
		onnx.AttrF("alpha", 1), onnx.AttrF("beta", 1), onnx.AttrI("transB", 1))
	// A Constant node with a tensor attribute scales the output so that it
	// has roughly unit spread.
	k := b.node("Constant", "scale", nil, []int64{},
		onnx.AttrT("value", &onnx.Tensor{Type: onnx.Float, Dims: []int64{}, Floats: []float32{4}}))
	b.output(b.mul("fc.scaled", x, k), "embedding")
}
