#!/usr/bin/env bash
# Validate cluster/kubernetes/: every manifest (and every kustomization rendered with
# `kubectl kustomize` when kubectl is installed) against the Kubernetes schemas, using
# kubernetes-validate from PyPI in a venv, and every cohort container command line against the
# real binary's --help. See scripts/validate-k8s.py.
#   scripts/validate-k8s.sh [COHORT_BIN]      (default .build/release/cohort)
# K8S_VERSION (default 1.30.0) picks the schemas; VENV (default .build/k8s-venv) the venv.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$REPO/.build/release/cohort}
[ -x "$BIN" ] || { echo "validate-k8s: no cohort binary at $BIN" >&2; exit 2; }
VENV=${VENV:-$REPO/.build/k8s-venv}
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import kubernetes_validate, yaml' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q kubernetes-validate pyyaml
fi
"$VENV/bin/python" -c 'import importlib.metadata as m; print("validate-k8s: kubernetes-validate", m.version("kubernetes-validate"))'
exec "$VENV/bin/python" "$REPO/scripts/validate-k8s.py" --binary "$BIN" --root "$REPO/cluster/kubernetes" \
  --k8s-version "${K8S_VERSION:-1.30.0}" --kubectl "$(command -v kubectl || true)"
