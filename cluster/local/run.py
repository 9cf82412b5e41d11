#!/usr/bin/env python3
"""Start a Cohort federation on this machine from a cluster file: the coordinator and every
node as separate processes. Waits for the run to finish, then stops everything cleanly
(Ctrl-C stops it early). Logs go to <out>/logs/.

    cluster/local/run.py cluster/local/example.json

The cluster file (JSON):
  "cohort":      path to the cohort binary (default .build/release/cohort)
  "coordinator": {"listen": "127.0.0.1:7070", "model": CKPT, "plan": PLAN.json (optional),
                  "rounds": N, "min_nodes": N (default: every node), "round_timeout": S,
                  "out": DIR, "tls_cert": PEM, "tls_key": PEM  -- or "insecure": true}
  "nodes":       [{"name": NAME, "data": FILE, "test": FILE (optional),
                   "secret_file": FILE (created with a random secret if missing),
                   "tls_ca": PEM -- or "insecure": true}]
Relative paths are relative to the directory you run the script from.
"""
import json, os, secrets, signal, subprocess, sys, time

def fail(message):
    print(f"run.py: {message}", file=sys.stderr)
    sys.exit(1)

def load(path):
    try:
        with open(path) as f:
            cluster = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        fail(f"cannot read cluster file {path}: {e}")
    for key in ("coordinator", "nodes"):
        if key not in cluster:
            fail(f"{path}: missing '{key}'")
    if not cluster["nodes"]:
        fail(f"{path}: 'nodes' is empty")
    for field in ("model", "out"):
        if field not in cluster["coordinator"]:
            fail(f"{path}: coordinator needs '{field}'")
    for i, node in enumerate(cluster["nodes"]):
        for field in ("name", "data", "secret_file"):
            if field not in node:
                fail(f"{path}: node {i} needs '{field}'")
    return cluster

def secret_for(node):
    path = node["secret_file"]
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
        print(f"run.py: created a secret for {node['name']} in {path}")
    with open(path) as f:
        return f.read().strip()

def main():
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if len(sys.argv) == 2 else 2)
    cluster = load(sys.argv[1])
    cohort = cluster.get("cohort", ".build/release/cohort")
    if not os.access(cohort, os.X_OK):
        fail(f"no cohort binary at {cohort}: run `swift build -c release` first or set \"cohort\"")
    co = cluster["coordinator"]
    nodes = cluster["nodes"]
    out = co["out"]
    logs = os.path.join(out, "logs")
    os.makedirs(logs, exist_ok=True)
    secrets_path = os.path.join(out, "secrets.txt")
    fd = os.open(secrets_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        for node in nodes:
            f.write(f"{node['name']} {secret_for(node)}\n")
    port_file = os.path.join(out, "port")
    if os.path.exists(port_file):
        os.remove(port_file)
    args = [cohort, "coordinator", "--model", co["model"], "--secrets", secrets_path,
            "--listen", co.get("listen", "127.0.0.1:7070"), "--port-file", port_file,
            "--rounds", str(co.get("rounds", 3)), "--min-nodes", str(co.get("min_nodes", len(nodes))),
            "--round-timeout", str(co.get("round_timeout", 300)), "--out", out]
    if "plan" in co:
        args += ["--plan", co["plan"]]
    args += ["--tls-cert", co["tls_cert"], "--tls-key", co["tls_key"]] if "tls_cert" in co else ["--insecure"]
    children = []
    def stop_all(*_):
        for name, p in children:
            if p.poll() is None:
                p.terminate()
        deadline = time.time() + 5
        for name, p in children:
            try:
                p.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
    def interrupted(signum, _frame):
        print("run.py: stopping the cohort", file=sys.stderr)
        stop_all()
        sys.exit(130)
    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    def start(name, argv):
        log = open(os.path.join(logs, f"{name}.log"), "w")
        children.append((name, subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)))
        return children[-1][1]
    coordinator = start("coordinator", args)
    deadline = time.time() + 30
    while not os.path.exists(port_file):
        if coordinator.poll() is not None or time.time() > deadline:
            stop_all()
            fail(f"the coordinator did not start listening; see {logs}/coordinator.log")
        time.sleep(0.05)
    with open(port_file) as f:
        port = f.read().strip()
    host = co.get("listen", "127.0.0.1:7070").rsplit(":", 1)[0].strip("[]")
    connect = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    print(f"run.py: coordinator listening on {connect}; starting {len(nodes)} node(s); logs in {logs}")
    for node in nodes:
        argv = [cohort, "node", "--coordinator", connect, "--name", node["name"],
                "--secret-file", node["secret_file"], "--data", node["data"]]
        if "test" in node:
            argv += ["--test", node["test"]]
        argv += ["--tls-ca", node["tls_ca"]] if "tls_ca" in node else ["--insecure"]
        start(node["name"], argv)
    status = coordinator.wait()
    for name, p in children[1:]:
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            print(f"run.py: node {name} still running after the coordinator finished; stopping it", file=sys.stderr)
    stop_all()
    failed = [name for name, p in children if p.returncode not in (0, None)]
    if status != 0:
        fail(f"the coordinator exited with status {status}; see {logs}/coordinator.log")
    print(f"run.py: done. Journal: {out}/rounds.jsonl, final model: {out}/global.ckpt, per-site metrics: {out}/evaluation.json")
    if failed:
        print(f"run.py: these processes exited with an error: {', '.join(failed)} (see their logs)", file=sys.stderr)
        sys.exit(1)

if __name__ == "__main__":
    main()
