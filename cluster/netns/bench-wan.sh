#!/usr/bin/env bash
# WAN between hospitals: round time and bytes for a ResNet-18 (11 M parameters, 32x32x1 input,
# the largest preset that trains in reasonable time on 2 cores) when every site reaches the
# coordinator over its own emulated link of RTT_MS round trip and MBIT per direction
# (cluster/netns/wan-relay.py; the kernel here has no netem). Runs inside a private network
# namespace (its own loopback; nothing leaves it), three sites from `cohort datagen --quick`,
# ROUNDS rounds for each codec:
#   float32        the plan's default codec (whole float32 deltas)
#   topk-int8-zlib top-k 10% + int8 blocks + zlib level 1
# once float32 without the relays (no WAN) for reference, and float32 over the WAN with
# --update-buffer 160 (the default 4 MB buffer folds updates in name order, so over a slow link
# the sites' uploads wait for each other; a buffer that holds them all lets them overlap). Prints a Markdown table with the
# bytes Flower would send for the same model (np.save per tensor, raw float32: what
# flwr.common.ndarrays_to_parameters carries, per shared/bench/peers/serialization.py).
#   cluster/netns/bench-wan.sh [COHORT_BIN]     RTT_MS=50 MBIT=20 ROUNDS=2 OUT=FILE.md
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$(realpath "${1:-$REPO/.build/release/cohort}")
RTT_MS=${RTT_MS:-50} MBIT=${MBIT:-20} ROUNDS=${ROUNDS:-2}
[ -x "$BIN" ] || { echo "bench-wan: no cohort binary at $BIN" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench-wan: run as root (ip netns)" >&2; exit 2; }
NS=cohort-wan-$$
T=$(mktemp -d /tmp/cohort-wan.XXXXXX)
PIDS=()
cleanup() {
  set +e
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  sleep 0.5
  ip netns del "$NS" 2>/dev/null
  [ "${KEEP:-0}" = 1 ] && echo "bench-wan: kept $T" || rm -rf "$T"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
inns() { ip netns exec "$NS" "$@"; }

"$BIN" datagen --out "$T/data" --kind imaging --sites 3 --quick --seed 3 > /dev/null 2>&1
"$BIN" model init --preset resnet18 --classes 3 --input 32x32x1 --out "$T/init.ckpt" --seed 1 2> "$T/init.log"
cat "$T/init.log"
"$REPO/scripts/make-certs.sh" "$T/tls" 127.0.0.1 >/dev/null
: > "$T/secrets.txt"
for s in 1 2 3; do
  od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > "$T/hospital-$s.key"; echo >> "$T/hospital-$s.key"
  echo "hospital-$s $(cat "$T/hospital-$s.key")" >> "$T/secrets.txt"
done
chmod 600 "$T"/*.key "$T/secrets.txt"
echo '{"localEpochs":1,"batchSize":32,"learningRate":0.02,"momentum":0.9}' > "$T/float32.json"
echo '{"localEpochs":1,"batchSize":32,"learningRate":0.02,"momentum":0.9,"codec":{"topKFraction":0.1,"quantization":{"int8":{"blockSize":64}},"zlibLevel":1}}' > "$T/topk-int8-zlib.json"

RUN_INDEX=0
run() { # run NAME PLAN WAN(0|1) [coordinator flags...]
  local name=$1 plan=$2 wan=$3 out="$T/run-$1" port relays=()
  shift 3
  RUN_INDEX=$((RUN_INDEX + 1))
  mkdir -p "$out"
  inns "$BIN" coordinator --model "$T/init.ckpt" --plan "$plan" --secrets "$T/secrets.txt" --listen 127.0.0.1:7070 \
    --rounds "$ROUNDS" --min-nodes 3 --round-timeout 1800 --wait 60 --out "$out/out" --no-final-evaluation "$@" \
    --tls-cert "$T/tls/coordinator.pem" --tls-key "$T/tls/coordinator.key" 2> "$out/coordinator.log" &
  local coord=$!; PIDS+=("$coord")
  for _ in $(seq 1 100); do inns ss -ltnH | grep -q ':7070 ' && break; sleep 0.1; done
  for s in 1 2 3; do
    port=7070
    if [ "$wan" = 1 ]; then
      port=$((7100 + 10 * RUN_INDEX + s))   # fresh ports per run
      inns python3 "$REPO/cluster/netns/wan-relay.py" --listen 127.0.0.1:$port --target 127.0.0.1:7070 \
        --rtt-ms "$RTT_MS" --mbit "$MBIT" --seconds 3600 --stats "$out/relay-$s.json" &
      relays+=("$!"); PIDS+=("$!")
      for _ in $(seq 1 50); do inns ss -ltnH | grep -q ":$port " && break; sleep 0.1; done
    fi
    inns "$BIN" node --coordinator 127.0.0.1:$port --name "hospital-$s" --secret-file "$T/hospital-$s.key" \
      --data "$T/data/hospital-$s/train.ctf" --tls-ca "$T/tls/ca.pem" 2> "$out/hospital-$s.log" &
    PIDS+=("$!")
  done
  local start=$SECONDS
  wait "$coord" || { echo "bench-wan: $name: coordinator failed" >&2; tail -5 "$out/coordinator.log" >&2; return 1; }
  for r in "${relays[@]}"; do kill -TERM "$r" 2>/dev/null; done
  for r in "${relays[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$r" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$r" 2>/dev/null || true; wait "$r" 2>/dev/null || true
  done
  echo "bench-wan: $name done in $((SECONDS - start)) s"
}
run float32-lan "$T/float32.json" 0
run float32 "$T/float32.json" 1
run float32-buffer "$T/float32.json" 1 --update-buffer 160
run topk-int8-zlib "$T/topk-int8-zlib.json" 1

"$BIN" model summary --preset resnet18 --classes 3 --input 32x32x1 --json > "$T/params.json" 2>/dev/null
python3 - "$T" "$RTT_MS" "$MBIT" "$ROUNDS" <<'PY' | tee "${OUT:-/dev/null}"
import io, json, sys
import numpy as np
T, rtt, mbit, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
params = json.load(open(f"{T}/params.json"))
count = sum(int(np.prod(p["shape"])) for p in params)
def npsave(shape):
    b = io.BytesIO(); np.save(b, np.zeros(shape, dtype=np.float32)); return len(b.getvalue())
flower = sum(npsave(p["shape"]) for p in params)   # one model (or one update) as Flower's Parameters
def mb(x): return f"{x / 1e6:.1f}"
rows = []
for name, label in (("float32-lan", "float32 deltas, no WAN (loopback)"), ("float32", f"float32 deltas, {rtt} ms RTT, {mbit} Mbit/s"),
                    ("float32-buffer", f"float32 deltas, {rtt} ms RTT, {mbit} Mbit/s, `--update-buffer 160`"),
                    ("topk-int8-zlib", f"top-k 10% + int8 + zlib, {rtt} ms RTT, {mbit} Mbit/s")):
    recs = [json.loads(l) for l in open(f"{T}/run-{name}/out/rounds.jsonl")]
    secs = [r["seconds"] for r in recs]
    up = [r["bytesUp"] / len(r["accepted"]) for r in recs]
    down = [r["bytesDown"] / len(r["participants"]) for r in recs]
    rows.append(f"| {label} | {' / '.join(f'{x:.1f}' for x in secs)} | {mb(sum(up) / len(up))} | {mb(sum(down) / len(down))} | {len(recs[-1]['accepted'])} |")
print(f"ResNet-18 ({count / 1e6:.2f} M parameters, 32x32x1 input, 3 classes), 3 sites from `cohort datagen --quick`, "
      f"TLS, {rounds} rounds, each site on its own emulated link (cluster/netns/wan-relay.py).\n")
print("| run | round seconds (each round) | MB up per site per round | MB down per site per round | sites accepted |")
print("|---|---|---|---|---|")
print("\n".join(rows))
print(f"| Flower, same model (np.save per tensor, raw float32; computed, not run) | — | {mb(flower)} | {mb(flower)} | — |")
print(f"\nAt {mbit} Mbit/s one float32 copy of this model ({mb(count * 4)} MB) takes {count * 4 * 8 / (float(mbit) * 1e6):.1f} s per direction.")
PY
