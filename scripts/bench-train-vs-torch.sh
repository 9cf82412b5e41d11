#!/usr/bin/env bash
# Side-by-side training throughput: the PyTorch peer harness, then `cohort bench train`, in one
# sitting. Run on an idle machine (no build or other benchmark at the same time).
#   scripts/bench-train-vs-torch.sh [OUT_DIR]        (default runs/bench)
# Needs the peer venv: ../shared/bench/setup-peers.sh (PEER_VENV overrides its location).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/bench}
SHARED=${COHORT_SHARED:-../shared}
PY=${PEER_VENV:-$HOME/.cache/cohort-peer-venv}/bin/python
if [ ! -x "$PY" ]; then
  echo "no peer venv at $PY: run $SHARED/bench/setup-peers.sh first" >&2
  exit 1
fi
mkdir -p "$OUT"
swift build -c release --product cohort
echo "== PyTorch (train_throughput.py, threads 2,1) ==" >&2
"$PY" "$SHARED/bench/peers/train_throughput.py" --threads 2,1 --out "$OUT/torch-train.json" >/dev/null
echo "== Cohort (cohort bench train, threads 2,1) ==" >&2
.build/release/cohort bench train --threads 2,1 --peer "$OUT/torch-train.json" --out "$OUT/cohort-train.json"
