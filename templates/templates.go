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

// HwaccelTranscoding is Immich's hwaccel.transcoding.yml (docker/ in
// github.com/immich-app/immich, v2.0.1, still current at v3.1.0): one
// Compose service per transcoding method (cpu, nvenc, quicksync, rkmpp,
// vaapi, vaapi-wsl), to be used with `extends:` from the server service or
// inlined into it.
//
//go:embed hwaccel.transcoding.yml
var HwaccelTranscoding []byte

// HwaccelTranscodingName is the file name Immich's docker-compose.yml
// refers to from immich-server (immich-microservices before v1.106).
const HwaccelTranscodingName = "hwaccel.transcoding.yml"
