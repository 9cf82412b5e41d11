#!/usr/bin/env python3
"""End-to-end check of `cohort coordinator --metrics-listen` with a real Prometheus parser
(prometheus_client.parser). Run by scripts/test-metrics.sh, which makes the venv.

A coordinator (central DP on, so ε is exported) and three nodes on 127.0.0.1, 4 rounds, quorum 1.
/readyz must answer 503 or 200 and /healthz 200 from the start. Two deterministic windows:
  A. after round 2 is journaled, site2 is stopped (SIGSTOP): round 3 waits for it, and the
     scrape must show 2 rounds, 6 accepted updates, 3 connected nodes, ε = the journal's;
  B. after round 3 is journaled (site2 timed out and was dropped), site1 is stopped: the scrape
     must show 3 rounds, 8 accepted, 1 rejected for timeout, 2 connected nodes.
Every scrape is parsed by prometheus_client; each family must have the expected type.
Then `cohort status --journal` must agree with the journal. Prints "N passed, N failed".
"""
import json, os, signal, subprocess, sys, tempfile, time, urllib.request, urllib.error
from prometheus_client.parser import text_string_to_metric_families

BIN = os.path.abspath(sys.argv[1])
PASS = FAIL = 0
def check(ok, what, detail=""):
    global PASS, FAIL
    PASS, FAIL = PASS + bool(ok), FAIL + (not ok)
    print(("ok: " if ok else "FAILED: ") + what + ("" if ok or not detail else f"\n    {detail}"))

def wait_for(predicate, seconds, what):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    print(f"timed out waiting for {what}")
    return False

def http(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()

TYPES = {"cohort_rounds_completed": "gauge", "cohort_rounds_planned": "gauge", "cohort_round_duration_seconds": "histogram",
         "cohort_connected_nodes": "gauge", "cohort_updates_accepted": "counter", "cohort_updates_rejected": "counter",
         "cohort_bytes_up": "counter", "cohort_bytes_down": "counter", "cohort_privacy_epsilon_spent": "gauge",
         "cohort_last_journal_write_timestamp_seconds": "gauge"}

def scrape(port):
    status, ctype, text = http(port, "/metrics")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    values = {}
    for f in families.values():
        for s in f.samples:
            key = s.name + ("{" + ",".join(f"{k}={v}" for k, v in sorted(s.labels.items())) + "}" if s.labels else "")
            values[key] = s.value
    return status, ctype, families, values

def rounds(out):
    path = os.path.join(out, "rounds.jsonl")
    return [json.loads(l) for l in open(path)] if os.path.exists(path) else []

def main():
    os.umask(0o077)  # secrets and keys must be 0600: the coordinator and nodes refuse wider modes
    d = tempfile.mkdtemp(prefix="cohort-metrics-")
    p = lambda n: os.path.join(d, n)
    import random
    rng, secrets = random.Random(5), []
    for s in range(3):
        with open(p(f"site{s}.csv"), "w") as f:
            f.write("x0,x1,x2,x3,x4,x5,target\n")
            for i in range(150):
                y = i % 2
                f.write(",".join(f"{rng.gauss(0, 1) + (1 if y else -1) * (1 if j < 3 else 0.2):.4f}" for j in range(6)) + f",{y}\n")
        key = "%064x" % rng.getrandbits(256)
        open(p(f"site{s}.key"), "w").write(key + "\n")
        secrets.append(f"site{s} {key}")
    open(p("secrets.txt"), "w").write("\n".join(secrets) + "\n")
    open(p("arch.json"), "w").write('{"inputShape":[6],"layers":[{"kind":"dense","name":"features.0","units":16},{"kind":"relu","name":"features.1"},{"kind":"dense","name":"head","units":2}]}')
    # Many local epochs make each round take about a second, so a stopped node holds the round open.
    open(p("plan.json"), "w").write('{"localEpochs": %d, "batchSize": 8}' % int(os.environ.get("LOCAL_EPOCHS", "300")))
    subprocess.run([BIN, "model", "init", "--arch", p("arch.json"), "--out", p("init.ckpt")], check=True, capture_output=True, timeout=60)
    procs = []
    try:
        coord = subprocess.Popen([BIN, "coordinator", "--model", p("init.ckpt"), "--secrets", p("secrets.txt"), "--listen", "127.0.0.1:0",
                                  "--port-file", p("port"), "--metrics-listen", "127.0.0.1:0", "--metrics-port-file", p("metrics-port"),
                                  "--rounds", "4", "--min-nodes", "3", "--quorum", "1", "--round-timeout", "4", "--wait", "60",
                                  "--out", p("out"), "--plan", p("plan.json"), "--insecure", "--dp-noise", "1.0", "--dp-clip", "1.0"],
                                 stderr=open(p("coordinator.log"), "w"), stdin=subprocess.DEVNULL)
        procs.append(coord)
        if not wait_for(lambda: os.path.exists(p("metrics-port")) and os.path.exists(p("port")), 30, "the port files"):
            check(False, "coordinator started", open(p("coordinator.log")).read())
            return
        mport, port = int(open(p("metrics-port")).read()), int(open(p("port")).read())
        check(http(mport, "/healthz")[0] == 200, "/healthz answers 200")
        check(http(mport, "/readyz")[0] == 200, "/readyz answers 200 once the coordinator listens")
        check(http(mport, "/nope")[0] == 404, "an unknown path answers 404")
        status, ctype, families, values = scrape(mport)
        check(status == 200 and ctype == "text/plain; version=0.0.4; charset=utf-8", f"/metrics 200 with the exposition content type ({ctype})")
        check(values.get("cohort_rounds_completed") == 0 and values.get("cohort_connected_nodes") == 0 and values.get("cohort_rounds_planned") == 4,
              "before any node: 0 rounds, 0 nodes, 4 planned", str(values))
        nodes = []
        for s in range(3):
            nodes.append(subprocess.Popen([BIN, "node", "--coordinator", f"127.0.0.1:{port}", "--name", f"site{s}", "--secret-file", p(f"site{s}.key"),
                                           "--data", p(f"site{s}.csv"), "--insecure"], stderr=open(p(f"site{s}.log"), "w"), stdin=subprocess.DEVNULL))
        procs += nodes
        # Window A
        if not wait_for(lambda: len(rounds(p("out"))) >= 2, 60, "round 2"):
            check(False, "round 2 journaled", open(p("coordinator.log")).read()[-2000:])
            return
        nodes[2].send_signal(signal.SIGSTOP)
        time.sleep(0.3)
        status, _, families, v = scrape(mport)
        journal = rounds(p("out"))
        check(len(journal) == 2, "window A: the journal holds 2 rounds (site2 stopped before round 3 could finish)", f"{len(journal)} rounds")
        missing = [n for n, t in TYPES.items() if n not in families or families[n].type != t]
        check(not missing, "every family present with its type (parsed by prometheus_client)", f"missing or mistyped: {missing}")
        check(v.get("cohort_rounds_completed") == 2, "A: cohort_rounds_completed 2", str(v.get("cohort_rounds_completed")))
        check(v.get("cohort_updates_accepted_total") == 6, "A: cohort_updates_accepted_total 6", str(v.get("cohort_updates_accepted_total")))
        check(v.get("cohort_connected_nodes") == 3, "A: cohort_connected_nodes 3", str(v.get("cohort_connected_nodes")))
        check(v.get("cohort_round_duration_seconds_count") == 2 and v.get("cohort_round_duration_seconds_bucket{le=+Inf}") == 2,
              "A: round duration histogram counts 2 rounds")
        check(abs(v.get("cohort_round_duration_seconds_sum", -1) - sum(r["seconds"] for r in journal)) < 1e-6, "A: histogram sum = the journal's round seconds")
        check(v.get("cohort_bytes_up_total") == sum(r["bytesUp"] for r in journal) and v.get("cohort_bytes_down_total") == sum(r["bytesDown"] for r in journal),
              "A: bytes up/down = the journal's sums", f"{v.get('cohort_bytes_up_total')} {v.get('cohort_bytes_down_total')}")
        check(abs(v.get("cohort_privacy_epsilon_spent", -1) - journal[-1]["epsilon"]) < 1e-9, "A: ε spent = the journal's", f"{v.get('cohort_privacy_epsilon_spent')} vs {journal[-1]['epsilon']}")
        check(abs(v.get("cohort_last_journal_write_timestamp_seconds", 0) - journal[-1]["finishedAt"]) < 5, "A: last journal write ≈ the last round's finish")
        check(all(v.get(f"cohort_updates_rejected_total{{reason={r}}}") == 0 for r in ("invalid", "late", "timeout", "not_connected")),
              "A: every rejection reason exported at 0")
        # Window B
        if not wait_for(lambda: len(rounds(p("out"))) >= 3, 30, "round 3"):
            check(False, "round 3 journaled after site2's timeout")
            return
        nodes[1].send_signal(signal.SIGSTOP)
        time.sleep(0.3)
        _, _, _, v = scrape(mport)
        journal = rounds(p("out"))
        check(len(journal) == 3 and journal[-1]["accepted"] == ["site0", "site1"], "window B: round 3 accepted site0 and site1", str(journal[-1]["accepted"]))
        check(v.get("cohort_rounds_completed") == 3 and v.get("cohort_updates_accepted_total") == 8, "B: 3 rounds, 8 updates accepted",
              f"{v.get('cohort_rounds_completed')} {v.get('cohort_updates_accepted_total')}")
        check(v.get("cohort_updates_rejected_total{reason=timeout}") == 1, "B: 1 update rejected for timeout", str(v))
        check(v.get("cohort_connected_nodes") == 2, "B: site2's connection dropped: 2 connected", str(v.get("cohort_connected_nodes")))
        for n in nodes[1:]:
            n.send_signal(signal.SIGCONT)
        try:
            coord.wait(60)
        except subprocess.TimeoutExpired:
            pass
        check(coord.returncode == 0, "the coordinator finished its 4 rounds", open(p("coordinator.log")).read()[-1500:])
        st = subprocess.run([BIN, "status", "--journal", p("out"), "--rounds", "4", "--json"], capture_output=True, text=True, timeout=30)
        journal = rounds(p("out"))
        ok = st.returncode == 0
        s = json.loads(st.stdout) if ok else {}
        check(ok and s["roundsCompleted"] == len(journal) == 4 and s["updatesAccepted"] == sum(len(r["accepted"]) for r in journal)
              and s["bytesUp"] == sum(r["bytesUp"] for r in journal) and abs(s["epsilon"] - journal[-1]["epsilon"]) < 1e-12,
              "cohort status --journal agrees with rounds.jsonl", st.stdout + st.stderr)
    finally:
        for pr in procs:
            if pr.poll() is None:
                pr.send_signal(signal.SIGCONT)
                pr.kill()
                pr.wait(10)
        if os.environ.get("KEEP") != "1":
            subprocess.run(["rm", "-rf", d])
        else:
            print("kept", d)

if __name__ == "__main__":
    main()
    print(f"{PASS} passed, {FAIL} failed")
    sys.exit(1 if FAIL else 0)
