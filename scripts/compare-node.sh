#!/usr/bin/env bash
# Compares the median latency of one model through `immich-accel bench` and
# through ONNX Runtime's official Node.js binding (onnxruntime-node), using
# the very same libonnxruntime.so file, model file, thread count and number
# of runs. The two alternate for ROUNDS rounds; the best median of each is
# compared (the machine may be busy with other work).
#
#   scripts/compare-node.sh [MODEL] [THREADS] [RUNS] [ROUNDS]
#
# MODEL is an .onnx file or a built-in model name (default
# clip-vit-b32-visual; the names are in
# `immich-accel bench --help`); THREADS defaults to the number of CPUs.
# Needs Go, Node.js and npm. Writes into .cache/compare-node (ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

model=${1:-clip-vit-b32-visual}
threads=${2:-$(nproc)}
runs=${3:-20}
rounds=${4:-3}
ortver=1.29.0
work=.cache/compare-node
mkdir -p "$work"

if [ ! -f "$work/node_modules/onnxruntime-node/package.json" ]; then
  echo "installing onnxruntime-node@$ortver (no install scripts) into $work" >&2
  (cd "$work" && npm init -y >/dev/null && npm install "onnxruntime-node@$ortver" --ignore-scripts --no-audit --no-fund --silent >/dev/null)
fi
case "$(uname -m)" in x86_64) arch=x64 ;; aarch64|arm64) arch=arm64 ;; *) echo "unsupported arch" >&2; exit 1 ;; esac
lib="$(pwd)/$work/node_modules/onnxruntime-node/bin/napi-v6/linux/$arch/libonnxruntime.so.1"
[ -f "$lib" ] || { echo "no $lib" >&2; exit 1; }

if [ -f "$model" ]; then
  file=$model
else
  file="$work/$model.onnx"
  [ -f "$file" ] || go run ./scripts/export-model "$model" "$file"
fi
go build -o "$work/immich-accel" ./cmd/immich-accel

cat > "$work/run.js" <<'JS'
const ort = require('onnxruntime-node');
const [file, threads, runs, specJSON] = process.argv.slice(2);
const specs = JSON.parse(specJSON);
function tensor(s) {
  const n = s.shape.reduce((a, b) => a * b, 1);
  let seed = 1;
  const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 1073741824 - 1; };
  switch (s.type) {
    case 'float32': { const d = new Float32Array(n); for (let i = 0; i < n; i++) d[i] = rnd(); return new ort.Tensor('float32', d, s.shape); }
    case 'int32': { const d = new Int32Array(n); return new ort.Tensor('int32', d, s.shape); }
    case 'int64': { const d = new BigInt64Array(n); return new ort.Tensor('int64', d, s.shape); }
    default: throw new Error('unsupported input type ' + s.type);
  }
}
(async () => {
  const session = await ort.InferenceSession.create(file, {
    intraOpNumThreads: +threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
  const feeds = {};
  for (const s of specs) feeds[s.name] = tensor(s);
  await session.run(feeds); // first inference, not counted
  const lat = [];
  for (let i = 0; i < +runs; i++) {
    const t = process.hrtime.bigint();
    await session.run(feeds);
    lat.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  lat.sort((a, b) => a - b);
  const m = lat.length % 2 ? lat[(lat.length - 1) / 2] : (lat[lat.length / 2 - 1] + lat[lat.length / 2]) / 2;
  console.log(m.toFixed(4));
})().catch(e => { console.error(e); process.exit(1); });
JS

bench() {
  "$work/immich-accel" bench --ort-lib "$lib" --model "$file" --providers cpu --threads "$threads" \
    --runs "$runs" --no-profile --json
}
jsonget() { node -e "const r=JSON.parse(require('fs').readFileSync(0,'utf8'));console.log($1)"; }

specs=$(bench | jsonget "JSON.stringify(r.models[0].inputs.map(i=>({name:i.name,type:i.type,shape:i.shape})))")
best_b=; best_n=
for r in $(seq "$rounds"); do
  n=$(node "$work/run.js" "$file" "$threads" "$runs" "$specs")
  b=$(bench | jsonget "r.models[0].providers[0].latency.p50Ms.toFixed(4)")
  echo "round $r: median bench ${b} ms, onnxruntime-node ${n} ms" >&2
  best_b=$(node -e "console.log(Math.min(${best_b:-Infinity}, $b))")
  best_n=$(node -e "console.log(Math.min(${best_n:-Infinity}, $n))")
done
ratio=$(node -e "console.log(($best_b/$best_n).toFixed(3))")
echo "model $(basename "$file"), $threads threads, $runs runs x $rounds rounds, library $lib"
echo "best median: bench ${best_b} ms, onnxruntime-node ${best_n} ms, ratio bench/node ${ratio}"
