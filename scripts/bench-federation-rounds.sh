#!/usr/bin/env bash
# Federation round overhead, side by side with Flower (shared/bench/peers/flower_round_overhead.py):
# 10 clients, 20 rounds, logistic regression 13 -> 2, 50 samples per client, 1 local epoch of
# SGD (batch 10, lr 0.1), FedAvg. Cohort runs a real coordinator and 10 node processes on
# loopback (plain TCP, uncompressed float32 updates); Flower runs its Ray simulation in-process.
#   scripts/bench-federation-rounds.sh [OUT_DIR]      (default runs/bench-federation)
# Prints one JSON line per side and a comparison. Run on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/bench-federation}
SHARED=${COHORT_SHARED:-../shared}
PY=${PEER_VENV:-$HOME/.cache/cohort-peer-venv}/bin/python
CLIENTS=${CLIENTS:-10}
ROUNDS=${ROUNDS:-20}
rm -rf "$OUT"; mkdir -p "$OUT"
swift build -c release --product cohort >&2
C=.build/release/cohort
python3 - "$OUT" "$CLIENTS" <<'PYEOF'
import json, random, sys
out, clients = sys.argv[1], int(sys.argv[2])
with open(f"{out}/secrets.txt", "w") as s:
    for c in range(clients):
        rng = random.Random(c)
        with open(f"{out}/site{c}.csv", "w") as f:
            f.write(",".join(f"x{j}" for j in range(13)) + ",target\n")
            for i in range(50):
                f.write(",".join(f"{rng.gauss(0, 1):.5f}" for _ in range(13)) + f",{rng.randrange(2)}\n")
        key = f"{c + 1:032x}"
        s.write(f"site{c} {key}\n")
        open(f"{out}/site{c}.key", "w").write(key + "\n")
json.dump({"inputShape": [13], "layers": [{"kind": "dense", "name": "head", "units": 2}]}, open(f"{out}/arch.json", "w"))
json.dump({"batchSize": 10, "learningRate": 0.1, "momentum": 0, "localEpochs": 1}, open(f"{out}/plan.json", "w"))
PYEOF
$C model init --arch "$OUT/arch.json" --out "$OUT/init.ckpt" 2>/dev/null
PORT=$((20000 + RANDOM % 20000))
START=$(python3 -c 'import time; print(time.time())')
$C coordinator --model "$OUT/init.ckpt" --plan "$OUT/plan.json" --secrets "$OUT/secrets.txt" --listen 127.0.0.1:$PORT \
  --rounds "$ROUNDS" --min-nodes "$CLIENTS" --out "$OUT/journal" --insecure 2> "$OUT/coordinator.log" &
COORD=$!
for c in $(seq 0 $((CLIENTS - 1))); do
  $C node --coordinator 127.0.0.1:$PORT --name site$c --secret-file "$OUT/site$c.key" --data "$OUT/site$c.csv" \
    --val-fraction 0.2 --insecure 2> "$OUT/node$c.log" &
done
wait $COORD
END=$(python3 -c 'import time; print(time.time())')
wait
python3 - "$OUT" "$START" "$END" <<'PYEOF'
import json, statistics, sys
out, start, end = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
rows = [json.loads(l) for l in open(f"{out}/journal/rounds.jsonl")]
steady = [r["seconds"] for r in rows[1:]]
res = {"bench": "cohort_round_overhead", "clients": len(rows[0]["participants"]), "rounds": len(rows),
       "launch_to_round1_done_s": rows[0]["finishedAt"] - start, "first_round_s": rows[0]["seconds"],
       "steady_round_median_s": statistics.median(steady), "steady_round_min_s": min(steady), "steady_round_max_s": max(steady),
       "total_wall_s": end - start, "bytes_up_per_round": rows[-1]["bytesUp"], "bytes_down_per_round": rows[-1]["bytesDown"],
       "note": "includes per-round federated evaluation of the global model at every node"}
json.dump(res, open(f"{out}/cohort.json", "w"))
print(json.dumps(res))
PYEOF
if [ -x "$PY" ]; then
  "$PY" "$SHARED/bench/peers/flower_round_overhead.py" --clients "$CLIENTS" --rounds "$ROUNDS" --out "$OUT/flower.json" > /dev/null 2> "$OUT/flower.log"
  python3 - "$OUT" <<'PYEOF'
import json, sys
out = sys.argv[1]
c = json.load(open(f"{out}/cohort.json"))
raw = open(f"{out}/flower.json").read().strip().splitlines()[-1]
variants = json.loads(raw)["variants"]
table = {"cohort (10 node processes, TCP, eval each round)": {
    "launch_to_round1_done_s": round(c["launch_to_round1_done_s"], 3), "steady_round_median_s": round(c["steady_round_median_s"], 4)}}
for name, v in variants.items():
    table[f"flower {name}"] = {"first_round_s": round(v["first_round_s"], 3), "total_wall_s": round(v["total_wall_s"], 3),
                               "steady_round_median_s": round(v["steady_rounds_2_to_n_s"]["median"], 4)}
print(json.dumps(table))
PYEOF
else
  echo "no peer venv at $PY: Flower side skipped (run $SHARED/bench/setup-peers.sh)" >&2
fi
