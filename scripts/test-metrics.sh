#!/usr/bin/env bash
# The coordinator's Prometheus endpoint checked with prometheus_client's parser (PyPI, in a venv).
#   scripts/test-metrics.sh [COHORT_BIN]     (default .build/release/cohort)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$REPO/.build/release/cohort}
[ -x "$BIN" ] || { echo "test-metrics: no cohort binary at $BIN" >&2; exit 2; }
VENV=${VENV:-$REPO/.build/metrics-venv}
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import prometheus_client' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q prometheus_client
fi
"$VENV/bin/python" -c 'import importlib.metadata as m; print("test-metrics: prometheus_client", m.version("prometheus_client"))'
exec timeout 300 "$VENV/bin/python" "$REPO/scripts/test-metrics.py" "$BIN"
