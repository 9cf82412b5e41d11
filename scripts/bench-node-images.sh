#!/usr/bin/env bash
# Peak resident memory of one `cohort node` training on an ImageFolder of COUNT small PNGs
# (default 50,000 grey 28×28, 10 classes, written here once) through a coordinator on loopback:
# one round of one local epoch of a small MLP, the training images streamed from disk in batches
# of 64, the 20% validation part prepared in memory. The node's peak is GNU time's maximum
# resident set size; issue 14 asks for under 300 MB.
# Usage: scripts/bench-node-images.sh [OUT_DIR] [COUNT] [COHORT_BINARY]   (default binary: the
# debug build, .build/debug/cohort). Prints one JSON line.
set -euo pipefail
umask 077   # secrets and keys must be 0600: the coordinator and nodes refuse wider modes
cd "$(dirname "$0")/.."
out=${1:-/tmp/cohort-bench-node-images}
count=${2:-50000}
cohort=${3:-.build/debug/cohort}
mkdir -p "$out"
if [ ! -f "$out/site/.complete-$count" ]; then
  rm -rf "$out/site"
  python3 - "$out/site" "$count" <<'PY'
import os, struct, sys, zlib
import numpy
root, count = sys.argv[1], int(sys.argv[2])
side = 28
def png(rows):
    raw = b"".join(b"\x00" + r.tobytes() for r in rows)
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))
rng = numpy.random.default_rng(0)
coordinate = numpy.arange(side)
for label in range(10):
    os.makedirs(f"{root}/class{label}", exist_ok=True)
for i in range(count):
    label = i % 10
    vertical, position = label % 2 == 0, (label // 2) * side // 5 + side // 10
    along = numpy.broadcast_to(coordinate[None, :] if vertical else coordinate[:, None], (side, side))
    rows = numpy.clip(numpy.where(abs(along - position) <= 2, 220, 30) + rng.integers(-20, 21, (side, side)), 0, 255).astype(numpy.uint8)
    with open(f"{root}/class{label}/{i}.png", "wb") as f:
        f.write(png(rows))
open(f"{root}/.complete-{count}", "w").close()
PY
fi
cat > "$out/schema.json" <<'JSON'
{"version":1,"image":{"height":28,"width":28,"channels":"grey","mean":[0.5],"std":[0.25]}}
JSON
cat > "$out/arch.json" <<'JSON'
{"inputShape":[28,28,1],"layers":[{"kind":"flatten","name":"flatten"},{"kind":"dense","name":"fc1","units":64},{"kind":"relu","name":"relu1"},{"kind":"dense","name":"head","units":10}]}
JSON
echo '{"batchSize":64,"learningRate":0.05,"localEpochs":1}' > "$out/plan.json"
key=00112233445566778899aabbccddeeff
echo "site0 $key" > "$out/secrets.txt"
echo "$key" > "$out/site0.key"
"$cohort" model init --arch "$out/arch.json" --out "$out/init.ckpt" --seed 1 2>/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
rm -rf "$out/run"
"$cohort" coordinator --model "$out/init.ckpt" --plan "$out/plan.json" --secrets "$out/secrets.txt" --listen "127.0.0.1:$port" \
  --rounds 1 --min-nodes 1 --round-timeout 1800 --wait 60 --out "$out/run" --insecure 2>"$out/coordinator.log" &
coordinator=$!
start=$(date +%s.%N)
/usr/bin/time -v "$cohort" node --coordinator "127.0.0.1:$port" --name site0 --secret-file "$out/site0.key" \
  --data "$out/site" --schema "$out/schema.json" --insecure 2>"$out/node.log"
end=$(date +%s.%N)
wait "$coordinator"
rss=$(grep "Maximum resident set size" "$out/node.log" | awk '{print $NF * 1024}')
acc=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["nodes"]["site0"].get("val_accuracy"))' "$out/run/evaluation.json")
echo "{\"bench\":\"node-images\",\"images\":$count,\"side\":28,\"binary\":\"$cohort\",\"nodePeakResidentBytes\":$rss,\"nodePeakResidentMiB\":$(python3 -c "print(round($rss/1048576,1))"),\"floorMiB\":300,\"nodeSeconds\":$(python3 -c "print(round($end-$start,1))"),\"finalValidationAccuracy\":$acc}"
