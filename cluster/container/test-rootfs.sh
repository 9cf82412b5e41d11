#!/usr/bin/env bash
# Checks the runtime image's contents without an image registry (run as root): builds the
# runtime stage's root filesystem from the Debian packages with debootstrap (the same package
# list and user as cluster/container/Dockerfile), copies in the statically linked cohort binary
# and the entrypoint, checks every shared library resolves inside the root, and runs a small TLS
# federation under chroot as the non-root user: a coordinator through cohort-entrypoint and
# three sites on 127.0.0.1, then a restart of the finished coordinator's entrypoint with more
# rounds, which must resume from the journal.
#   cluster/container/test-rootfs.sh [COHORT_BIN]   (default .build/release/cohort, built with
#       swift build -c release --product cohort --static-swift-stdlib, as the Dockerfile does)
# ROOTFS=DIR reuses (or creates) a debootstrap root there; KEEP=1 keeps the temporary one.
# Prints "N passed, N failed".
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$(realpath "${1:-$REPO/.build/release/cohort}")
[ -x "$BIN" ] || { echo "test-rootfs: no cohort binary at $BIN" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "test-rootfs: run as root (debootstrap, chroot)" >&2; exit 2; }
PACKAGES=libssl3,zlib1g,libpng16-16,libjpeg62-turbo,libstdc++6,ca-certificates
PASS=0 FAIL=0
check() { local what=$1; shift; if "$@"; then PASS=$((PASS + 1)); echo "ok: $what"; else FAIL=$((FAIL + 1)); echo "FAILED: $what"; fi; }

command -v debootstrap >/dev/null || { apt-get update -q >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null; }
ROOT=${ROOTFS:-$(mktemp -d /tmp/cohort-rootfs.XXXXXX)}
chmod 755 "$ROOT"   # the image's / is world-traversable; mktemp's 0700 would lock uid 10001 out
if [ ! -f "$ROOT/.cohort-rootfs" ]; then
  MIRROR=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  echo "test-rootfs: debootstrap bookworm minbase + $PACKAGES into $ROOT"
  debootstrap --variant=minbase --include="$PACKAGES" bookworm "$ROOT" "${MIRROR:-http://deb.debian.org/debian}" > "$ROOT.debootstrap.log" 2>&1 \
    || { tail -20 "$ROOT.debootstrap.log" >&2; exit 1; }
  # The runtime stage's user, as in the Dockerfile.
  chroot "$ROOT" groupadd --system --gid 10001 cohort
  chroot "$ROOT" useradd --system --uid 10001 --gid cohort --home-dir /var/lib/cohort --no-create-home --shell /usr/sbin/nologin cohort
  install -d -o 10001 -g 10001 -m 0700 "$ROOT/var/lib/cohort"
  touch "$ROOT/.cohort-rootfs"
fi
install -m 0755 "$BIN" "$ROOT/usr/local/bin/cohort"
install -m 0755 "$REPO/cluster/container/cohort-entrypoint" "$ROOT/usr/local/bin/cohort-entrypoint"
mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
W=/var/lib/cohort/test
cleanup() {
  set +e
  [ -n "${COORD:-}" ] && kill "$COORD" 2>/dev/null
  for p in ${NODES:-}; do kill "$p" 2>/dev/null; done
  umount "$ROOT/proc"
  rm -rf "$ROOT$W"
  if [ -z "${ROOTFS:-}" ] && [ "${KEEP:-0}" != 1 ]; then rm -rf "$ROOT" "$ROOT.debootstrap.log"; fi
}
trap cleanup EXIT

echo "test-rootfs: root filesystem $(du -sh --exclude=proc "$ROOT" | cut -f1), cohort binary $(du -h "$BIN" | cut -f1)"
LDD=$(chroot "$ROOT" ldd /usr/local/bin/cohort)
echo "$LDD" | sed 's/^/    /'
check "every shared library resolves inside the root" bash -c "! grep -q 'not found' <<<\"\$0\"" "$LDD"
check "the Swift runtime is linked statically (no libswift*/libFoundation* loaded)" bash -c "! grep -q 'libswift\|libFoundation\|libdispatch' <<<\"\$0\"" "$LDD"
check "cohort --version runs as uid 10001 in the root" chroot --userspec=10001:10001 "$ROOT" /usr/local/bin/cohort --version

# A three-site TLS federation inside the root, as the non-root user.
rm -rf "$ROOT$W"; install -d -o 10001 -g 10001 -m 0700 "$ROOT$W"
python3 - "$ROOT$W" <<'PY'
import random, sys
out = sys.argv[1]; rng = random.Random(3); secrets = []
for s, shift in enumerate((0.0, 0.4, -0.4)):
    with open(f"{out}/site{s}.csv", "w") as f:
        f.write("x0,x1,x2,x3,x4,x5,target\n")
        for i in range(200):
            y = i % 2
            f.write(",".join(f"{rng.gauss(0, 1) + (1 if y else -1) * (1 if j < 3 else 0.2) + shift:.4f}" for j in range(6)) + f",{y}\n")
    key = "%064x" % rng.getrandbits(256)
    open(f"{out}/site{s}.key", "w").write(key + "\n")
    secrets.append(f"site{s} {key}")
open(f"{out}/secrets.txt", "w").write("\n".join(secrets) + "\n")
open(f"{out}/arch.json", "w").write('{"inputShape":[6],"layers":[{"kind":"dense","name":"features.0","units":16},{"kind":"relu","name":"features.1"},{"kind":"dense","name":"head","units":2}]}')
PY
"$REPO/scripts/make-certs.sh" "$ROOT$W/tls" 127.0.0.1 >/dev/null
chown -R 10001:10001 "$ROOT$W"; chmod 600 "$ROOT$W"/*.key "$ROOT$W/secrets.txt"
in_root() { chroot --userspec=10001:10001 "$ROOT" env -i HOME=/var/lib/cohort PATH=/usr/local/bin:/usr/bin:/bin "$@"; }
in_root cohort model init --arch $W/arch.json --out $W/init.ckpt --seed 1 2>/dev/null
coordinator() { # coordinator ROUNDS: through the entrypoint, as the image runs it
  rm -f "$ROOT$W/port"
  in_root cohort-entrypoint coordinator --model $W/init.ckpt --secrets $W/secrets.txt --listen 127.0.0.1:0 --port-file $W/port \
    --rounds "$1" --min-nodes 3 --round-timeout 60 --wait 60 --out $W/out --tls-cert $W/tls/coordinator.pem --tls-key $W/tls/coordinator.key \
    >> "$ROOT$W/coordinator.log" 2>&1 &
  COORD=$!
  for _ in $(seq 1 300); do [ -s "$ROOT$W/port" ] && break; sleep 0.1; done
  PORT=$(cat "$ROOT$W/port")
  NODES=""
  for s in 0 1 2; do
    in_root cohort node --coordinator 127.0.0.1:"$PORT" --name site$s --secret-file $W/site$s.key --data $W/site$s.csv --test $W/site$s.csv \
      --tls-ca $W/tls/ca.pem >> "$ROOT$W/site$s.log" 2>&1 &
    NODES="$NODES $!"
  done
  local rc=0 p
  timeout 120 tail --pid="$COORD" -f /dev/null || rc=1
  wait "$COORD" || rc=1
  for p in $NODES; do wait "$p" || rc=1; done
  COORD="" NODES=""
  return $rc
}
check "3-site TLS federation, 2 rounds, in the root as uid 10001" coordinator 2
check "journal: 2 rounds, all three sites accepted" python3 -c "
import json,sys; r=[json.loads(l) for l in open('$ROOT$W/out/rounds.jsonl')]
sys.exit(0 if len(r)==2 and all(sorted(x['accepted'])==['site0','site1','site2'] for x in r) else 1)"
check "restarted entrypoint resumes from the journal and runs rounds 3-4" coordinator 4
check "entrypoint said it resumed; coordinator resumed after round 2" bash -c "grep -q 'cohort-entrypoint: journal found' '$ROOT$W/coordinator.log' && grep -q 'resuming from .* after round 2' '$ROOT$W/coordinator.log'"
check "journal: 4 rounds; evaluation.json has all three sites" python3 -c "
import json,sys; r=open('$ROOT$W/out/rounds.jsonl').read().splitlines(); e=json.load(open('$ROOT$W/out/evaluation.json'))
print('    final test accuracy:', {k: round(v['test_accuracy'], 3) for k, v in sorted(e['nodes'].items())})
sys.exit(0 if len(r)==4 and sorted(e['nodes'])==['site0','site1','site2'] else 1)"
check "journal files belong to uid 10001" test "$(stat -c %u "$ROOT$W/out/rounds.jsonl")" = 10001
echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
