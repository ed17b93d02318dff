package models

import (
	"fmt"
	"math"

	"github.com/immich-accel/immich-accel/internal/onnx"
)

// basicBlock is a ResNet basic block with batch norm folded into the convs:
// relu(conv3x3(relu(conv3x3(x, stride))) + shortcut(x)). The second conv
// starts small (gain 0.3) so that activations stay in range without
// normalisation layers.
func basicBlock(b *builder, p, x string, ch, stride int64) string {
	h := b.relu(b.conv(p+"conv1", x, ch, 3, stride, 1, 1))
	h = b.conv(p+"conv2", h, ch, 3, 1, 1, 0.3)
	short := x
	if stride != 1 || b.shape(x)[1] != ch {
		short = b.conv(p+"downsample", x, ch, 1, stride, 0, math.Sqrt(0.5))
	}
	return b.relu(b.add(p+"add", short, h))
}

// defineFaceDetect builds an SCRFD-style detector for a 640x640 image: a
// ResNet backbone with a deep stem (stage widths 56, 88, 88, 224, as in
// SCRFD-10G), a path-aggregation FPN with 56 channels, and per-stride heads
// of three 80-channel 3x3 convs predicting, for 2 anchors per location,
// a face score, 4 box distances and 5 keypoints. Outputs are laid out like
// buffalo_l's det_10g.onnx: score_S [N,1], bbox_S [N,4], kps_S [N,10] for
// strides S = 8, 16, 32, with N = 2*(640/S)^2.
func defineFaceDetect(b *builder) {
	const (
		size    = 640
		neck    = 56
		headCh  = 80
		anchors = 2
	)
	x := b.input("input", 1, 3, size, size)
	x = b.relu(b.conv("stem.0", x, 28, 3, 2, 1, 1))
	x = b.relu(b.conv("stem.1", x, 28, 3, 1, 1, 1))
	x = b.relu(b.conv("stem.2", x, 56, 3, 2, 1, 1)) // stride 4
	stages := []struct{ ch, blocks, stride int64 }{{56, 2, 1}, {88, 3, 2}, {88, 3, 2}, {224, 3, 2}}
	var feats []string // strides 8, 16, 32
	for si, st := range stages {
		for bi := range st.blocks {
			stride := int64(1)
			if bi == 0 {
				stride = st.stride
			}
			x = basicBlock(b, fmt.Sprintf("layer%d.%d.", si+1, bi), x, st.ch, stride)
		}
		if si > 0 {
			feats = append(feats, x)
		}
	}

	// FPN: lateral 1x1 convs, top-down nearest upsampling, 3x3 output convs.
	up := b.floats("upsample.scales", 1, 1, 2, 2)
	lat := make([]string, 3)
	for i, f := range feats {
		lat[i] = b.conv(fmt.Sprintf("fpn.lateral%d", i), f, neck, 1, 1, 0, 1)
	}
	for i := 1; i >= 0; i-- {
		s := b.shape(lat[i+1])
		u := b.node("Resize", fmt.Sprintf("fpn.up%d", i), []string{lat[i+1], "", up},
			[]int64{s[0], s[1], 2 * s[2], 2 * s[3]},
			onnx.AttrS("mode", "nearest"), onnx.AttrS("coordinate_transformation_mode", "asymmetric"),
			onnx.AttrS("nearest_mode", "floor"))
		lat[i] = b.add(fmt.Sprintf("fpn.td%d", i), lat[i], u)
	}
	outs := make([]string, 3)
	for i := range lat {
		outs[i] = b.conv(fmt.Sprintf("fpn.out%d", i), lat[i], neck, 3, 1, 1, 1)
	}
	// Path aggregation: bottom-up stride-2 convs.
	for i := 1; i < 3; i++ {
		d := b.conv(fmt.Sprintf("pafpn.down%d", i), outs[i-1], neck, 3, 2, 1, 1)
		outs[i] = b.conv(fmt.Sprintf("pafpn.out%d", i), b.add(fmt.Sprintf("pafpn.add%d", i), outs[i], d), neck, 3, 1, 1, 1)
	}

	// Heads.
	var scores, boxes, kps []string
	for i, f := range outs {
		stride := 8 << i
		p := fmt.Sprintf("head.s%d.", stride)
		h := f
		for j := range 3 {
			h = b.relu(b.conv(fmt.Sprintf("%sconv%d", p, j), h, headCh, 3, 1, 1, 1))
		}
		n := anchors * numel(b.shape(h)[2:])
		flat := func(name, x string, per int64) string {
			return b.reshape(p+name+".flat", b.transpose(p+name+".nhwc", x, 0, 2, 3, 1), n, per)
		}
		s := b.conv(p+"cls", h, anchors, 3, 1, 1, 0.5)
		scores = append(scores, b.unary("Sigmoid", p+"score", flat("cls", s, 1)))
		boxes = append(boxes, flat("reg", b.conv(p+"reg", h, anchors*4, 3, 1, 1, 0.5), 4))
		kps = append(kps, flat("kps", b.conv(p+"kps", h, anchors*10, 3, 1, 1, 0.5), 10))
	}
	for i := range outs {
		b.output(scores[i], fmt.Sprintf("score_%d", 8<<i))
	}
	for i := range outs {
		b.output(boxes[i], fmt.Sprintf("bbox_%d", 8<<i))
	}
	for i := range outs {
		b.output(kps[i], fmt.Sprintf("kps_%d", 8<<i))
	}
}

// defineFaceRecognize builds ArcFace's IResNet-50 as in buffalo_l's
// w600k_r50: a 3x3 stem with PReLU, four stages of [3, 4, 14, 3]
// pre-activation blocks (BN, conv3x3, PReLU, conv3x3 with stride 2 in the
// first block of each stage) of widths 64, 128, 256, 512, then BN, a fully
// connected layer from 512x7x7 to 512 and a final BN. Batch norms that
// follow a conv are folded into its bias, as in the exported model.
func defineFaceRecognize(b *builder) {
	x := b.input("input", 1, 3, 112, 112)
	x = b.prelu("prelu", b.conv("conv1", x, 64, 3, 1, 1, 1))
	stages := []struct{ ch, blocks int64 }{{64, 3}, {128, 4}, {256, 14}, {512, 3}}
	for si, st := range stages {
		for bi := range st.blocks {
			p := fmt.Sprintf("layer%d.%d.", si+1, bi)
			stride := int64(1)
			if bi == 0 {
				stride = 2
			}
			h := b.batchNorm(p+"bn1", x)
			h = b.prelu(p+"prelu", b.conv(p+"conv1", h, st.ch, 3, 1, 1, 1))
			h = b.conv(p+"conv2", h, st.ch, 3, stride, 1, 0.2)
			short := x
			if bi == 0 {
				short = b.conv(p+"downsample", x, st.ch, 1, stride, 0, math.Sqrt(0.5))
			}
			x = b.add(p+"add", short, h)
		}
	}
	x = b.batchNorm("bn2", x)
	s := b.shape(x)
	in := numel(s[1:])
	x = b.reshape("flatten", x, 1, in)
	w := b.weight("fc.weight", 1/math.Sqrt(float64(in)), 512, in)
	bias := b.weight("fc.bias", 0.02, 512)
	b.macs += 512 * in
	x = b.node("Gemm", "fc", []string{x, w, bias}, []int64{1, 512}, onnx.AttrI("transB", 1))
	b.output(b.batchNorm("features", x), "embedding")
}
