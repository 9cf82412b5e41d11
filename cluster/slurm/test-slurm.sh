#!/usr/bin/env bash
# Real Slurm test on this one machine (run as root): installs Slurm and MUNGE from the Debian
# packages if missing, starts munged, slurmctld and slurmd with a throwaway configuration (all
# state under one temporary directory, Slurm traffic on 127.0.0.1 only), then
#   1. submits cluster/slurm/cohort.sbatch for a 50-site TLS federation (5 tasks x 10 virtual
#      sites, 40 rounds), waits for the first journaled round and `scancel`s the job: every cohort process
#      must be gone and the journal must hold the completed rounds;
#   2. submits the same script again: the coordinator resumes from the journal and finishes;
#      every site must exit 0, be in the last round's accepted list and in evaluation.json;
# and tears everything down (daemons stopped by PID). Bounded: each wait has a deadline.
#
#   cluster/slurm/test-slurm.sh [COHORT_BIN]     (default .build/release/cohort)
# KEEP=1 keeps the temporary directory. Prints "N passed, N failed" at the end.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$(realpath "${1:-$REPO/.build/release/cohort}")
SITES=${SITES:-50} TASKS=${TASKS:-5} ROUNDS=${ROUNDS:-40}
[ -x "$BIN" ] || { echo "test-slurm: no cohort binary at $BIN (swiftb build -c release --product cohort)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "test-slurm: run as root (starts munged, slurmctld, slurmd)" >&2; exit 2; }

PASS=0 FAIL=0
check() { # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then PASS=$((PASS + 1)); echo "ok: $what"; else FAIL=$((FAIL + 1)); echo "FAILED: $what"; fi
}

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  echo "test-slurm: installing slurm-wlm and munge from Debian"
  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >/dev/null
fi
echo "test-slurm: $(slurmctld -V)"

T=$(mktemp -d /tmp/cohort-slurm.XXXXXX)
chmod 755 "$T"
NODE=$(hostname -s)
export SLURM_CONF="$T/etc/slurm.conf"
mkdir -p "$T/etc" "$T/munge" "$T/state" "$T/spool" "$T/log" "$T/run"

cleanup() {
  set +e
  if [ -f "$SLURM_CONF" ]; then
    for j in $(squeue -h -o %i 2>/dev/null); do scancel "$j"; done
    sleep 1
  fi
  for pidfile in "$T/slurmd.pid" "$T/slurmctld.pid" "$T/munge/munged.pid"; do
    [ -s "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
  done
  sleep 1
  if [ "${KEEP:-0}" = 1 ]; then echo "test-slurm: kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

# MUNGE: a fresh key (owner munge, 0400) and our own socket, so no system munged is touched.
dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 status=none
chown -R munge:munge "$T/munge"; chmod 700 "$T/munge"; chmod 400 "$T/munge/munge.key"
SOCKET="$T/munge/munge.socket"
munged --force --key-file="$T/munge/munge.key" --socket="$SOCKET" --pid-file="$T/munge/munged.pid" \
  --log-file="$T/munge/munged.log" --seed-file="$T/munge/munged.seed" 2>"$T/log/munged.stderr" \
  || { cat "$T/log/munged.stderr" >&2; exit 1; }
munge -S "$SOCKET" -n | unmunge -S "$SOCKET" >/dev/null || { echo "test-slurm: munge round trip failed" >&2; exit 1; }

cat > "$SLURM_CONF" <<EOF
ClusterName=cohorttest
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
AuthInfo=socket=$SOCKET
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
MinJobAge=600
KillWait=5
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=20000 State=UNKNOWN
PartitionName=cohort Nodes=$NODE Default=YES MaxTime=60 State=UP OverSubscribe=FORCE:64
EOF
slurmctld -f "$SLURM_CONF" || { tail -20 "$T/log/slurmctld.log" >&2; exit 1; }
slurmd -f "$SLURM_CONF" || { tail -20 "$T/log/slurmd.log" >&2; exit 1; }
for _ in $(seq 1 100); do sinfo -h -o %T 2>/dev/null | grep -q idle && break; sleep 0.2; done
check "slurmctld and slurmd up, node idle" bash -c 'sinfo -h -o %T | grep -q idle'
sinfo

# The data: SITES CSV files (two Gaussian classes in 6 features, shifted per site), a small MLP.
DATA="$T/run/data"; mkdir -p "$DATA"
python3 - "$DATA" "$SITES" <<'EOF'
import random, sys
out, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
with open(f"{out}/../sites.txt", "w") as sites:
    for s in range(n):
        shift = (s % 7 - 3) * 0.15
        for part, rows in (("train", 400), ("test", 40)):
            with open(f"{out}/site{s:02d}.{part}.csv", "w") as f:
                f.write("x0,x1,x2,x3,x4,x5,target\n")
                for i in range(rows):
                    y = i % 2
                    xs = [rng.gauss(0, 1) + (1 if y else -1) * (1 if j < 3 else 0.2) + shift for j in range(6)]
                    f.write(",".join(f"{x:.4f}" for x in xs) + f",{y}\n")
        sites.write(f"site{s:02d} {out}/site{s:02d}.train.csv {out}/site{s:02d}.test.csv\n")
EOF
echo '{"inputShape":[6],"layers":[{"kind":"dense","name":"features.0","units":16},{"kind":"relu","name":"features.1"},{"kind":"dense","name":"head","units":2}]}' > "$T/arch.json"
echo '{"batchSize":16,"learningRate":0.05}' > "$T/plan.json"
"$BIN" model init --arch "$T/arch.json" --out "$T/init.ckpt" --seed 1 2>/dev/null

RUN="$T/run"
submit() {
  (cd "$REPO" && sbatch --parsable --ntasks="$TASKS" --overcommit --time=15 --output="$T/log/job-%j.out" \
    --export=ALL,COHORT_RUN="$RUN",COHORT_BIN="$BIN",COHORT_MODEL="$T/init.ckpt",COHORT_PLAN="$T/plan.json",COHORT_ROUNDS="$ROUNDS",COHORT_ROUND_TIMEOUT=120,COHORT_WAIT=120,COHORT_LISTEN=127.0.0.1,COHORT_HOST="$NODE" \
    cluster/slurm/cohort.sbatch)
}
job_gone() { ! squeue -h -j "$1" 2>/dev/null | grep -q .; }
wait_gone() { for _ in $(seq 1 "$2"); do job_gone "$1" && return 0; sleep 1; done; return 1; }
cohort_procs() { # processes running our binary (to check, never to kill)
  local n=0 p
  for p in /proc/[0-9]*; do [ "$(readlink "$p/exe" 2>/dev/null)" = "$BIN" ] && n=$((n + 1)); done
  echo "$n"
}
rounds() { [ -f "$RUN/out/rounds.jsonl" ] && wc -l < "$RUN/out/rounds.jsonl" || echo 0; }

# 1. Start, let one round complete, cancel.
JOB1=$(submit)
echo "test-slurm: job $JOB1 submitted ($SITES sites, $TASKS tasks, $ROUNDS rounds)"
for _ in $(seq 1 1500); do [ "$(rounds)" -ge 1 ] && break; job_gone "$JOB1" && break; sleep 0.1; done
RUNNING=$(cohort_procs)
echo "test-slurm: $(rounds) round(s) journaled; cohort processes running: $RUNNING"
check "all $SITES sites and the coordinator running as job steps" test "$RUNNING" -ge $((SITES + 1))
scancel "$JOB1"
check "scancel: job $JOB1 leaves the queue within 60 s" wait_gone "$JOB1" 60
sleep 2
check "scancel: no cohort process left" test "$(cohort_procs)" = 0
CANCELLED_AT=$(rounds)
echo "test-slurm: cancelled after $CANCELLED_AT journaled round(s)"
check "the journal kept 1..$((ROUNDS - 1)) rounds" test "$CANCELLED_AT" -ge 1 -a "$CANCELLED_AT" -lt "$ROUNDS"

# 2. Submit again: resume and finish.
JOB2=$(submit)
echo "test-slurm: job $JOB2 submitted (resume)"
check "job $JOB2 finishes within 600 s" wait_gone "$JOB2" 600
scontrol show job "$JOB2" | grep -o 'JobState=[A-Z_]*\|ExitCode=[0-9:]*' | tr '\n' ' '; echo
tail -3 "$T/log/job-$JOB2.out"
check "job $JOB2 state COMPLETED" bash -c "scontrol show job $JOB2 | grep -q 'JobState=COMPLETED'"
check "the coordinator resumed after round $CANCELLED_AT" grep -q "resuming from .* after round $CANCELLED_AT" "$RUN/logs/coordinator.log"
check "the journal holds $ROUNDS rounds" test "$(rounds)" = "$ROUNDS"
python3 - "$RUN" "$SITES" <<'EOF' && PASS=$((PASS + 1)) || FAIL=$((FAIL + 1))
import json, os, sys
run, n = sys.argv[1], int(sys.argv[2])
names = [f"site{s:02d}" for s in range(n)]
problems = []
last = json.loads(open(f"{run}/out/rounds.jsonl").read().splitlines()[-1])
if sorted(last.get("accepted", [])) != names:
    problems.append(f"last round accepted {len(last.get('accepted', []))} of {n}")
ev = json.load(open(f"{run}/out/evaluation.json"))["nodes"]
accs = []
for name in names:
    status = open(f"{run}/results/{name}.status").read().strip() if os.path.exists(f"{run}/results/{name}.status") else "missing"
    if status != "0":
        problems.append(f"{name}: exit status {status}")
    m = ev.get(name)
    if m is None or m.get("test_samples") != 40 or m.get("test_accuracy", 0) < 0.7:
        problems.append(f"{name}: evaluation {m}")
    else:
        accs.append(m["test_accuracy"])
if problems:
    print("FAILED: every site's result:", *problems[:10], sep="\n  ")
    sys.exit(1)
print(f"ok: every site's result: {n} sites exited 0, all in round {last['round']}'s accepted list, "
      f"final test accuracy min {min(accs):.3f} mean {sum(accs)/len(accs):.3f} max {max(accs):.3f}")
EOF
check "secrets and TLS key are mode 0600" bash -c "test \"\$(stat -c %a $RUN/secrets/secrets.txt $RUN/secrets/site00.key $RUN/tls/coordinator.key | sort -u)\" = 600"
check "no cohort process left after the run" test "$(cohort_procs)" = 0
echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
