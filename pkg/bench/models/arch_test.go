package models

import (
	"math"
	"testing"
)

// The expected sizes below are computed from the published architectures,
// independently of the graph builder.

func clipParams() int64 {
	const w, layers, mlp, patch, tokens, embed int64 = 768, 12, 3072, 32, 50, 512
	block := 2*w + // ln_1
		3*(w*w+w) + // q, k, v projections with bias
		(w*w + w) + // out_proj
		2*w + // ln_2
		(w*mlp + mlp) + (mlp*w + w) // c_fc, c_proj
	return 3*patch*patch*w + // conv1, no bias
		w + tokens*w + // class and positional embedding
		2*w + // ln_pre
		layers*block +
		2*w + // ln_post
		w*embed // proj
}

func clipMACs() int64 {
	const w, layers, mlp, tokens, heads, headDim int64 = 768, 12, 3072, 50, 12, 64
	block := tokens*w*3*w + // q, k, v
		2*heads*tokens*tokens*headDim + // scores and context
		tokens*w*w + // out_proj
		2*tokens*w*mlp // mlp
	return 49*w*3*32*32 + layers*block + w*512
}

func TestArchitectureSizes(t *testing.T) {
	within := func(name string, got, want int64, tol float64) {
		t.Helper()
		if r := float64(got) / float64(want); math.Abs(r-1) > tol {
			t.Errorf("%s = %d, want %d within %.0f%%", name, got, want, tol*100)
		}
	}
	clip, _ := ByName("clip-vit-b32-visual")
	if clip.Params != clipParams() {
		t.Errorf("CLIP params = %d, the ViT-B/32 visual tower has %d", clip.Params, clipParams())
	}
	within("CLIP params vs the published 88 M", clip.Params, 88_000_000, 0.03)
	if clip.FLOPs != 2*clipMACs() {
		t.Errorf("CLIP FLOPs = %d, want 2 x %d multiply-adds", clip.FLOPs, clipMACs())
	}
	within("CLIP multiply-adds vs the published 4.4 G", clip.FLOPs/2, 4_400_000_000, 0.03)

	// w600k_r50 (IResNet-50): 43.6 M parameters, 6.3 G multiply-adds.
	rec, _ := ByName("face-recognize")
	within("recognizer params", rec.Params, 43_600_000, 0.03)
	within("recognizer multiply-adds", rec.FLOPs/2, 6_300_000_000, 0.05)

	// det_10g (SCRFD-10G): about 4.2 M parameters and 10 G multiply-adds at
	// 640x480, 13 G at the 640x640 Immich uses; this detector is in between.
	det, _ := ByName("face-detect")
	within("detector params", det.Params, 4_200_000, 0.15)
	if macs := det.FLOPs / 2; macs < 9_000_000_000 || macs > 14_000_000_000 {
		t.Errorf("detector multiply-adds = %d, want 9 G to 14 G", macs)
	}

	tiny, _ := ByName("tiny")
	if tiny.FLOPs > 10_000_000 || tiny.Params > 10_000 {
		t.Errorf("tiny is not tiny: %d params, %d FLOPs", tiny.Params, tiny.FLOPs)
	}
	// tiny by hand: conv1 3->8 3x3 on 32x32, conv2 8->16 3x3 stride 2 to 16x16, fc 16x16.
	if want := int64(8*27 + 8 + 16*72 + 16 + 16*16 + 16); tiny.Params != want {
		t.Errorf("tiny params = %d, want %d", tiny.Params, want)
	}
	if want := int64(2 * (32*32*8*27 + 16*16*16*72 + 16*16)); tiny.FLOPs != want {
		t.Errorf("tiny FLOPs = %d, want %d", tiny.FLOPs, want)
	}
}
