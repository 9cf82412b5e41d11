#!/usr/bin/env bash
# Side-by-side training throughput, PyTorch peer harness vs `cohort bench train`, interleaved:
# for each (threads, case) the two run back to back, so drift in machine speed during the
# sitting (this is a shared VM) hits both sides alike. Run on an otherwise idle machine.
#   scripts/bench-train-vs-torch.sh [OUT_DIR]        (default runs/bench)
# Needs the peer venv: ../shared/bench/setup-peers.sh (PEER_VENV overrides its location).
# Writes OUT_DIR/torch-<t>-<case>.json, OUT_DIR/cohort-<t>-<case>.json and OUT_DIR/summary.json.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/bench}
SHARED=${COHORT_SHARED:-../shared}
PY=${PEER_VENV:-$HOME/.cache/cohort-peer-venv}/bin/python
THREADS=${THREADS:-"2 1"}
CASES=${CASES:-"mlp cnn tabular"}
if [ ! -x "$PY" ]; then
  echo "no peer venv at $PY: run $SHARED/bench/setup-peers.sh first" >&2
  exit 1
fi
mkdir -p "$OUT"
swift build -c release --product cohort >&2
for t in $THREADS; do
  for c in $CASES; do
    echo "== threads=$t case=$c: PyTorch, then Cohort ==" >&2
    "$PY" "$SHARED/bench/peers/train_throughput.py" --threads "$t" --cases "$c" --out "$OUT/torch-$t-$c.json" >/dev/null
    .build/release/cohort bench train --threads "$t" --cases "$c" --peer "$OUT/torch-$t-$c.json" \
      --out "$OUT/cohort-$t-$c.json" --json >/dev/null
  done
done
"$PY" - "$OUT" $THREADS -- $CASES <<'PYEOF'
import json, sys
out = sys.argv[1]; sep = sys.argv.index("--")
threads, cases = sys.argv[2:sep], sys.argv[sep + 1:]
rows = []
for t in threads:
    for c in cases:
        d = json.load(open(f"{out}/cohort-{t}-{c}.json"))
        ours = d["byThreads"][t]["cases"][c]["samplesPerSecond"]
        torch = d["peer"]["torchSamplesPerSecond"][t][c]
        rows.append({"threads": int(t), "case": c, "cohort_median": ours["median"], "cohort_min": ours["min"],
                     "cohort_max": ours["max"], "torch_median": torch, "ratio": ours["median"] / torch})
json.dump({"bench": "train_throughput_side_by_side", "rows": rows}, open(f"{out}/summary.json", "w"), indent=1)
print("case      threads  cohort samples/s  torch samples/s  ratio")
for r in rows:
    print(f"{r['case']:<10}{r['threads']:<9}{r['cohort_median']:>16.0f}  {r['torch_median']:>15.0f}  {r['ratio']:5.2f}x")
PYEOF
