// Package templates holds the files immich-accel writes for users, embedded
// in the binary.
package templates

import _ "embed"

// HwaccelML is Immich's hwaccel.ml.yml: one Compose service per
// machine-learning backend (armnn, rknn, cpu, cuda, rocm, openvino,
// openvino-wsl), to be used with `extends:` or inlined into the
// immich-machine-learning service.
//
//go:embed hwaccel.ml.yml
var HwaccelML []byte

// HwaccelMLName is the file name Immich's docker-compose.yml refers to.
const HwaccelMLName = "hwaccel.ml.yml"
