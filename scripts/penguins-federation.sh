#!/usr/bin/env bash
# The Palmer penguins federated across their three islands, from the raw file, with every step
# done by Cohort (issue 14): schema inference, one file per island with held-out test rows,
# a federated statistics round and FedAvg over three `cohort node` processes, and beside it
# local-only (each island alone) and pooled (all islands' training rows) models. Every model is
# evaluated on every island's held-out test rows; the table of accuracy per island is printed
# and written to OUT/table.json.
#
#   scripts/penguins-federation.sh                      # OUT=/tmp/penguins-federation
#   OUT=runs/penguins ROUNDS=20 scripts/penguins-federation.sh
#
# Arms: every plan file in ARMS (default scripts/penguins-arms/*.json) is one federated column,
# named after the file (fedavg.json -> "fedavg"). Add a plan file to add an arm; each site's
# final model (node --save-model, with the preprocessing it applied) is what gets evaluated, so
# personalised arms are scored as the site would use them.
# Env: COHORT (binary, default .build/debug/cohort), PENGUINS (the CSV), OUT, ROUNDS (default 15),
# EPOCHS (local-only and pooled pretraining, default 60), HIDDEN (default 16), SEED (split, default 0),
# TEST_FRACTION (default 0.3).
set -euo pipefail
umask 077   # secrets and keys must be 0600: the coordinator and nodes refuse wider modes
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
COHORT="${COHORT:-$root/.build/debug/cohort}"
[[ -x "$COHORT" ]] || { echo "no cohort binary at $COHORT (swiftb build --product cohort, or set COHORT)" >&2; exit 1; }
PENGUINS="${PENGUINS:-}"
if [[ -z "$PENGUINS" ]]; then
  for p in "$root/../shared/datasets/palmer-penguins/penguins.csv" /work/shared/datasets/palmer-penguins/penguins.csv; do
    [[ -f "$p" ]] && { PENGUINS="$p"; break; }
  done
fi
[[ -f "$PENGUINS" ]] || { echo "penguins.csv not found (set PENGUINS)" >&2; exit 1; }
OUT="${OUT:-/tmp/penguins-federation}"
ROUNDS="${ROUNDS:-15}"; EPOCHS="${EPOCHS:-60}"; HIDDEN="${HIDDEN:-16}"; SEED="${SEED:-0}"; TEST_FRACTION="${TEST_FRACTION:-0.3}"
ARMS="${ARMS:-$root/scripts/penguins-arms}"
islands=(Biscoe Dream Torgersen)
rm -rf "$OUT"; mkdir -p "$OUT"
log() { echo "== $*" >&2; }

log "schema from the raw file"
"$COHORT" schema infer "$PENGUINS" --label species --out "$OUT/schema.json" >&2

log "one file per island, ${TEST_FRACTION} of each held out (stratified by species)"
"$COHORT" data split "$PENGUINS" --by island --test-fraction "$TEST_FRACTION" --stratify species --seed "$SEED" --out "$OUT/split" >&2

# The model: one hidden layer over the schema's encoded width (read from the schema, not the data).
width=$(python3 -c 'import json,sys
s=json.load(open(sys.argv[1]))
print(sum((len(f["categories"]) if f["type"]=="categorical" else 1)+(1 if f.get("indicator") else 0) for f in s["features"]))' "$OUT/schema.json")
classes=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["label"]["classes"]))' "$OUT/schema.json")
cat > "$OUT/arch.json" <<JSON
{"inputShape": [$width], "layers": [
  {"kind": "dense", "name": "hidden", "units": $HIDDEN}, {"kind": "relu", "name": "act"},
  {"kind": "dense", "name": "head", "units": $classes}]}
JSON
"$COHORT" model init --arch "$OUT/arch.json" --seed 1 --out "$OUT/init.ckpt" >&2

evaluate() {  # CKPT TESTFILE -> accuracy
  "$COHORT" evaluate "$1" --data "$2" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["accuracy"])'
}

log "local-only: each island alone"
for i in "${islands[@]}"; do
  "$COHORT" pretrain --init "$OUT/init.ckpt" --schema "$OUT/schema.json" --data "$OUT/split/$i.train.csv" \
    --epochs "$EPOCHS" --batch-size 16 --lr 0.05 --seed 1 --out "$OUT/local-$i.ckpt" 2>"$OUT/local-$i.log" >/dev/null
done
log "pooled: all islands' training rows"
"$COHORT" pretrain --init "$OUT/init.ckpt" --schema "$OUT/schema.json" \
  $(for i in "${islands[@]}"; do echo --data "$OUT/split/$i.train.csv"; done) \
  --epochs "$EPOCHS" --batch-size 16 --lr 0.05 --seed 1 --out "$OUT/pooled.ckpt" 2>"$OUT/pooled.log" >/dev/null

: > "$OUT/secrets"
for i in "${islands[@]}"; do
  hex=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  echo "$i $hex" >> "$OUT/secrets"; echo "$hex" > "$OUT/$i.secret"
done

arms=()
for plan in "$ARMS"/*.json; do
  arm="$(basename "$plan" .json)"; arms+=("$arm")
  dir="$OUT/arm-$arm"; mkdir -p "$dir"
  log "federated arm '$arm': statistics round + $ROUNDS rounds over three node processes"
  "$COHORT" coordinator --model "$OUT/init.ckpt" --plan "$plan" --secrets "$OUT/secrets" --listen 127.0.0.1:0 \
    --port-file "$dir/port" --rounds "$ROUNDS" --min-nodes 3 --out "$dir/coordinator" --insecure 2>"$dir/coordinator.log" &
  coord=$!
  for _ in $(seq 100); do [[ -s "$dir/port" ]] && break; sleep 0.1; done
  port=$(cat "$dir/port")
  pids=()
  for i in "${islands[@]}"; do
    "$COHORT" node --coordinator "127.0.0.1:$port" --name "$i" --secret-file "$OUT/$i.secret" --insecure \
      --schema "$OUT/schema.json" --data "$OUT/split/$i.train.csv" --test "$OUT/split/$i.test.csv" \
      --save-model "$dir/$i.ckpt" 2>"$dir/node-$i.log" &
    pids+=($!)
  done
  status=0
  for p in "${pids[@]}"; do wait "$p" || status=1; done
  wait "$coord" || status=1
  [[ $status == 0 ]] || { echo "arm '$arm' failed; see $dir/*.log" >&2; exit 1; }
  grep -h "statistics round" "$dir/coordinator.log" >&2 || true
done

log "evaluating every model on every island's test rows"
{
  echo "{"
  echo "  \"data\": \"$(basename "$PENGUINS")\", \"testFraction\": $TEST_FRACTION, \"seed\": $SEED, \"rounds\": $ROUNDS, \"epochs\": $EPOCHS,"
  echo "  \"islands\": {"
  first=1
  for i in "${islands[@]}"; do
    [[ $first == 1 ]] || echo ","
    first=0
    test="$OUT/split/$i.test.csv"
    n=$(($(wc -l < "$test") - 1))
    printf '    "%s": {"testRows": %d, "local-only": %s, "pooled": %s' "$i" "$n" "$(evaluate "$OUT/local-$i.ckpt" "$test")" "$(evaluate "$OUT/pooled.ckpt" "$test")"
    for arm in "${arms[@]}"; do printf ', "%s": %s' "$arm" "$(evaluate "$OUT/arm-$arm/$i.ckpt" "$test")"; done
    printf '}'
  done
  echo ""
  echo "  }"
  echo "}"
} > "$OUT/table.json"

python3 - "$OUT/table.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
cols = [c for c in next(iter(t["islands"].values())) if c != "testRows"]
print("%-10s %5s " % ("island", "test") + " ".join("%16s" % c for c in cols))
for island, row in t["islands"].items():
    print("%-10s %5d " % (island, row["testRows"]) + " ".join("%16.3f" % row[c] for c in cols))
PY
echo "wrote $OUT/table.json" >&2
