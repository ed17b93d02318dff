package models

import (
	"fmt"
	"math"

	"github.com/immich-accel/immich-accel/internal/onnx"
)

// defineCLIP builds the visual tower of OpenAI CLIP ViT-B/32 as Immich's
// ViT-B-32__openai visual model has it: a 32x32 patch convolution (no
// bias), class token and positional embedding, pre-LayerNorm, 12
// transformer blocks of width 768 with 12 heads and a 3072-wide QuickGELU
// MLP, a final LayerNorm on the class token and a 768x512 projection.
// 87,849,216 parameters, 4.41 G multiply-adds.
func defineCLIP(b *builder) {
	const (
		res, patch      = 224, 32
		width, layers   = 768, 12
		heads, embedDim = 12, 512
		grid            = res / patch
		tokens          = grid*grid + 1
		headDim         = width / heads
	)
	x := b.input("image", 1, 3, res, res)
	fanIn := int64(3 * patch * patch)
	w := b.weight("conv1.weight", 1/math.Sqrt(float64(fanIn)), width, 3, patch, patch)
	b.macs += width * grid * grid * fanIn
	x = b.node("Conv", "conv1", []string{x, w}, []int64{1, width, grid, grid},
		onnx.AttrIs("kernel_shape", patch, patch), onnx.AttrIs("strides", patch, patch))
	x = b.transpose("patches", b.reshape("conv1.flat", x, 1, width, grid*grid), 0, 2, 1)
	x = b.concat("tokens", 1, b.weight("class_embedding", 1, 1, 1, width), x)
	x = b.add("tokens.pos", x, b.weight("positional_embedding", 0.5, tokens, width))
	x = b.layerNorm("ln_pre", x)

	scale := b.floats("attn.scale", float32(1/math.Sqrt(headDim)))
	gelu := b.floats("quick_gelu.alpha", 1.702)
	for i := range layers {
		p := fmt.Sprintf("blocks.%d.", i)
		h := b.layerNorm(p+"ln_1", x)
		heads := func(name string, perm ...int64) string {
			y := b.linear(p+"attn."+name, h, width, true, 1)
			return b.transpose(p+"attn."+name+".heads", b.reshape(p+"attn."+name+".split", y, 1, tokens, heads, headDim), perm...)
		}
		q := heads("q", 0, 2, 1, 3) // [1, heads, tokens, headDim]
		k := heads("k", 0, 2, 3, 1) // [1, heads, headDim, tokens]
		v := heads("v", 0, 2, 1, 3)
		s := b.mul(p+"attn.scaled", b.matmul(p+"attn.scores", q, k), scale)
		a := b.unary("Softmax", p+"attn.softmax", s, onnx.AttrI("axis", -1))
		o := b.transpose(p+"attn.context.t", b.matmul(p+"attn.context", a, v), 0, 2, 1, 3)
		o = b.linear(p+"attn.out_proj", b.reshape(p+"attn.merge", o, 1, tokens, width), width, true, 1)
		x = b.add(p+"attn.residual", x, o)

		h = b.layerNorm(p+"ln_2", x)
		h = b.linear(p+"mlp.c_fc", h, 4*width, true, 1)
		h = b.mul(p+"mlp.gelu", h, b.unary("Sigmoid", p+"mlp.gelu.sigmoid", b.mul(p+"mlp.gelu.scaled", h, gelu)))
		h = b.linear(p+"mlp.c_proj", h, width, true, 1)
		x = b.add(p+"mlp.residual", x, h)
	}
	cls := b.node("Gather", "class_token", []string{x, b.scalarInt("class_token.index", 0)}, []int64{1, width},
		onnx.AttrI("axis", 1))
	x = b.linear("proj", b.layerNorm("ln_post", cls), embedDim, false, 1)
	b.output(x, "embedding")
}
