#!/usr/bin/env bash
# Real backbones (resnet18, vit-tiny) side by side with PyTorch in one sitting, 2 threads:
# training and eval-mode inference throughput, and each process's peak resident memory measured
# the same way for both (GNU time's maximum resident set size of one process per case).
# Usage: scripts/bench-backbones.sh [OUT_DIR]   (needs ../shared/bench/setup-peers.sh first and
# a release build: swift build -c release --product cohort). Prints one JSON summary. PEERS=DIR
# overrides the peer harness folder (a git worktree has no ../shared).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/cohort-bench-backbones}
mkdir -p "$out"
PY=${PEER_VENV:-$HOME/.cache/cohort-peer-venv}/bin/python
peers=${PEERS:-../shared/bench/peers}
cohort=.build/release/cohort
seconds=${SECONDS_PER_REPEAT:-3}
repeats=${REPEATS:-5}
rss() { grep "Maximum resident set size" "$1" | awk '{print $NF * 1024}'; }
for case in resnet18 vit-tiny; do
  /usr/bin/time -v "$PY" "$peers/train_throughput.py" --cases "$case" --threads 2 --seconds "$seconds" --repeats "$repeats" \
    --out "$out/torch-train-$case.json" >/dev/null 2>"$out/torch-train-$case.time"
  /usr/bin/time -v "$cohort" bench train --cases "$case" --threads 2 --seconds "$seconds" --repeats "$repeats" --json \
    --peer "$out/torch-train-$case.json" --out "$out/cohort-train-$case.json" >/dev/null 2>"$out/cohort-train-$case.time"
  /usr/bin/time -v "$PY" scripts/peer_inference_throughput.py --peers "$peers" --cases "$case" --threads 2 --seconds "$seconds" \
    --repeats "$repeats" --out "$out/torch-infer-$case.json" >/dev/null 2>"$out/torch-infer-$case.time"
  /usr/bin/time -v "$cohort" bench train --inference --cases "$case" --threads 2 --seconds "$seconds" --repeats "$repeats" --json \
    --peer "$out/torch-infer-$case.json" --out "$out/cohort-infer-$case.json" >/dev/null 2>"$out/cohort-infer-$case.time"
  for f in torch-train cohort-train torch-infer cohort-infer; do rss "$out/$f-$case.time" > "$out/$f-$case.rss"; done
done
"$PY" - "$out" <<'PYEOF'
import json, sys, os
out = sys.argv[1]
summary = {"bench": "backbones", "threads": 2, "cases": {}}
for case in ["resnet18", "vit-tiny"]:
    row = {}
    for mode in ["train", "infer"]:
        c = json.load(open(f"{out}/cohort-{mode}-{case}.json"))
        t = json.load(open(f"{out}/torch-{mode}-{case}.json"))
        ours = c["byThreads"]["2"]["cases"][case]["samplesPerSecond"]["median"]
        theirs = t["by_threads"]["2"]["cases"][case]["samples_per_s"]["median"]
        rss_c = int(open(f"{out}/cohort-{mode}-{case}.rss").read())
        rss_t = int(open(f"{out}/torch-{mode}-{case}.rss").read())
        row[mode] = {"cohort_samples_per_s": round(ours, 1), "torch_samples_per_s": round(theirs, 1),
                     "ratio": round(ours / theirs, 3), "cohort_peak_rss_bytes": rss_c, "torch_peak_rss_bytes": rss_t}
    summary["cases"][case] = row
print(json.dumps(summary, indent=1))
json.dump(summary, open(f"{out}/summary.json", "w"), indent=1)
PYEOF
