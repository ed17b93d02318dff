package verify

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
)

// clipImage is a generated 640×480 JPEG (a colour gradient, so the encoder
// has something to encode); any image exercises CLIP (ml-protocol.md §4).
func clipImage() ([]byte, int, int) {
	const w, h = 640, 480
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x + y) % 256), 255})
		}
	}
	return encodeJPEG(img), w, h
}

// faceImage is a black 1000×1000 JPEG: with minScore 0.034 the detector
// finds about one face in it, Immich's locustfile.py method
// (ml-protocol.md §4).
func faceImage() ([]byte, int, int) {
	const w, h = 1000, 1000
	img := image.NewGray(image.Rect(0, 0, w, h))
	return encodeJPEG(img), w, h
}

func encodeJPEG(img image.Image) []byte {
	var buf bytes.Buffer
	// Encoding an in-memory image into a buffer cannot fail.
	_ = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80})
	return buf.Bytes()
}
