#!/usr/bin/env bash
# Real network boundaries on one machine (run as root): the coordinator and three sites each in
# their own network namespace, joined by veth pairs to a bridge that lives in a fifth namespace,
# with addresses from TEST-NET-1 (192.0.2.0/24) that exist only inside these namespaces (no
# route to the host or anywhere else). Runs a 3-round TLS federation with a certificate naming
# the coordinator's address and checks:
#   - the run completes over TLS and every site is accepted in every round and scored;
#   - outbound only: no site namespace has a listening socket; every TCP connection in a site
#     namespace goes from an ephemeral local port to the coordinator's 192.0.2.1:7070;
#   - a site cannot reach another site (no listener there); the coordinator's metrics endpoint
#     answers /readyz on its address before any site connects;
#   - the certificate is checked: a site given a CA that did not sign it is refused.
#   cluster/netns/test-netns.sh [COHORT_BIN]      (default .build/release/cohort)
# Prints "N passed, N failed"; removes its namespaces on exit.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$(realpath "${1:-$REPO/.build/release/cohort}")
[ -x "$BIN" ] || { echo "test-netns: no cohort binary at $BIN" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "test-netns: run as root (ip netns)" >&2; exit 2; }
PASS=0 FAIL=0
check() { local what=$1; shift; if "$@"; then PASS=$((PASS + 1)); echo "ok: $what"; else FAIL=$((FAIL + 1)); echo "FAILED: $what"; fi; }
TAG=ch$$
NS_BR=$TAG-br NS_C=$TAG-c
SITES=(0 1 2)
T=$(mktemp -d /tmp/cohort-netns.XXXXXX)
PIDS=()
cleanup() {
  set +e
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  sleep 0.5
  for ns in "$NS_C" "${SITES[@]/#/$TAG-s}" "$NS_BR"; do ip netns del "$ns" 2>/dev/null; done
  [ "${KEEP:-0}" = 1 ] && echo "test-netns: kept $T" || rm -rf "$T"
}
trap cleanup EXIT

# Namespaces, a bridge in its own namespace, one veth pair per host namespace.
ip netns add "$NS_BR"
ip -n "$NS_BR" link add br0 type bridge
ip -n "$NS_BR" link set br0 up
ip -n "$NS_BR" link set lo up
join() { # join NS ADDRESS IFNAME
  ip netns add "$1"
  ip link add "$3" netns "$1" type veth peer name "$3-p" netns "$NS_BR"
  ip -n "$NS_BR" link set "$3-p" master br0 up
  ip -n "$1" addr add "$2/24" dev "$3"
  ip -n "$1" link set "$3" up
  ip -n "$1" link set lo up
}
join "$NS_C" 192.0.2.1 c0
for s in "${SITES[@]}"; do join "$TAG-s$s" "192.0.2.$((10 + s))" "s$s"; done
check "no route out of a site namespace (only 192.0.2.0/24)" bash -c "! ip -n $TAG-s0 route get 198.51.100.1 >/dev/null 2>&1"

# Data, secrets, certificates.
python3 - "$T" <<'PY'
import random, sys
out = sys.argv[1]; rng = random.Random(11); secrets = []
for s in range(3):
    with open(f"{out}/site{s}.csv", "w") as f:
        f.write("x0,x1,x2,x3,x4,x5,target\n")
        for i in range(200):
            y = i % 2
            f.write(",".join(f"{rng.gauss(0, 1) + (1 if y else -1) * (1 if j < 3 else 0.2) + 0.3 * s:.4f}" for j in range(6)) + f",{y}\n")
    key = "%064x" % rng.getrandbits(256)
    open(f"{out}/site{s}.key", "w").write(key + "\n"); secrets.append(f"site{s} {key}")
open(f"{out}/secrets.txt", "w").write("\n".join(secrets) + "\n")
open(f"{out}/plan.json", "w").write('{"localEpochs": 300, "batchSize": 8}')  # about a second a round, so connections can be watched
open(f"{out}/arch.json", "w").write('{"inputShape":[6],"layers":[{"kind":"dense","name":"features.0","units":16},{"kind":"relu","name":"features.1"},{"kind":"dense","name":"head","units":2}]}')
PY
chmod 600 "$T"/*.key "$T/secrets.txt"
"$REPO/scripts/make-certs.sh" "$T/tls" 192.0.2.1 >/dev/null
"$REPO/scripts/make-certs.sh" "$T/other" 192.0.2.1 >/dev/null      # a CA that did not sign the coordinator's cert
"$BIN" model init --arch "$T/arch.json" --out "$T/init.ckpt" --seed 2 2>/dev/null

ip netns exec "$NS_C" "$BIN" coordinator --model "$T/init.ckpt" --plan "$T/plan.json" --secrets "$T/secrets.txt" --listen 192.0.2.1:7070 \
  --metrics-listen 192.0.2.1:9090 --rounds 3 --min-nodes 3 --round-timeout 60 --wait 60 --out "$T/out" \
  --tls-cert "$T/tls/coordinator.pem" --tls-key "$T/tls/coordinator.key" 2> "$T/coordinator.log" &
COORD=$!; PIDS+=("$COORD")
for _ in $(seq 1 100); do ip netns exec "$NS_C" ss -ltnH | grep -q '192.0.2.1:7070' && break; sleep 0.1; done
STATUS=$(ip netns exec "$NS_C" timeout 5 bash -c 'exec 3<>/dev/tcp/192.0.2.1/9090; printf "GET /readyz HTTP/1.0\r\n\r\n" >&3; head -1 <&3' 2>&1 || true)
check "metrics endpoint answers /readyz at 192.0.2.1:9090 in the coordinator's namespace (${STATUS%$'\r'})" grep -q ' 200 ' <<<"$STATUS"

# A site trusting the wrong CA is refused before it sends anything.
set +e
timeout 30 ip netns exec "$TAG-s0" "$BIN" node --coordinator 192.0.2.1:7070 --name site0 --secret-file "$T/site0.key" \
  --data "$T/site0.csv" --tls-ca "$T/other/ca.pem" 2> "$T/wrong-ca.log"
WRONG=$?
set -e
check "a site with a CA that did not sign the certificate fails (exit $WRONG)" test "$WRONG" -ne 0
grep -i -m1 'certificate\|tls\|verify' "$T/wrong-ca.log" | sed 's/^/    /' || true

for s in "${SITES[@]}"; do
  ip netns exec "$TAG-s$s" "$BIN" node --coordinator 192.0.2.1:7070 --name "site$s" --secret-file "$T/site$s.key" \
    --data "$T/site$s.csv" --test "$T/site$s.csv" --tls-ca "$T/tls/ca.pem" 2> "$T/site$s.log" &
  PIDS+=("$!")
done
# Sample the connection tables while the run is on.
LISTEN_SITES="" OUTBOUND_OK=1 SEEN=0
for _ in $(seq 1 200); do
  for s in "${SITES[@]}"; do
    L=$(ip netns exec "$TAG-s$s" ss -ltnH | wc -l); [ "$L" = 0 ] || LISTEN_SITES="$LISTEN_SITES site$s"
    while read -r _ _ local peer _; do
      [ -n "${peer:-}" ] || continue
      SEEN=$((SEEN + 1))
      [ "$peer" = 192.0.2.1:7070 ] || { OUTBOUND_OK=0; echo "    unexpected connection in site$s: $local -> $peer"; }
      [ "${local##*:}" -ge 32768 ] || { OUTBOUND_OK=0; echo "    site$s local port ${local##*:} is not ephemeral"; }
    done < <(ip netns exec "$TAG-s$s" ss -tnH state established)
  done
  ip netns exec "$NS_C" ss -tnH state established '( sport = :7070 )' | awk '{print $4}' >> "$T/coordinator-peers"
  [ "$SEEN" -ge 3 ] && break
  SEEN=0
  sleep 0.05
done
check "no site namespace listens on any TCP port" test -z "$LISTEN_SITES"
check "site connections are outbound to 192.0.2.1:7070 from ephemeral ports ($SEEN seen)" test "$OUTBOUND_OK" = 1 -a "$SEEN" -ge 3
PEERS=$(cut -d: -f1 "$T/coordinator-peers" 2>/dev/null | sort -u | tr '\n' ' ')
check "the coordinator's peers are exactly the three sites' addresses ($PEERS)" test "$PEERS" = "192.0.2.10 192.0.2.11 192.0.2.12 "
check "site0 cannot open a connection to site1 (nothing listens there)" bash -c "! ip netns exec $TAG-s0 timeout 3 bash -c 'exec 3<>/dev/tcp/192.0.2.11/7070' 2>/dev/null"
set +e
timeout 120 tail --pid="$COORD" -f /dev/null
wait "$COORD"; RC=$?
set -e
check "the coordinator finished 3 rounds over TLS (exit $RC)" test "$RC" = 0
check "no plain-TCP warning in the coordinator log (TLS in use)" bash -c "! grep -q 'plain TCP' $T/coordinator.log"
check "every site accepted in every round; every site scored" python3 -c "
import json, sys
r = [json.loads(l) for l in open('$T/out/rounds.jsonl')]
e = json.load(open('$T/out/evaluation.json'))['nodes']
print('    rounds', len(r), 'accepted', [x['accepted'] for x in r][-1], 'final test accuracy', {k: round(v['test_accuracy'], 3) for k, v in sorted(e.items())})
sys.exit(0 if len(r) == 3 and all(sorted(x['accepted']) == ['site0', 'site1', 'site2'] for x in r) and sorted(e) == ['site0', 'site1', 'site2'] else 1)"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
