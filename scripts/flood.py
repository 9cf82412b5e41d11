#!/usr/bin/env python3
"""Bounded loopback connection flood against a real `cohort coordinator` (issue 16, point 1).

Starts a coordinator under `ulimit -n COORDINATOR_FDS`, holds CONNECTIONS unauthenticated
connections to it (idle, or half-open: a partial frame header; with --tls the coordinator
and nodes use TLS with the test certificates, and half-open is half a ClientHello, `hello` a
whole ClientHello, each then silent), replaces each one the
coordinator closes (at most MAX_ATTEMPTS connections in all), and meanwhile runs NODES real
nodes through ROUNDS rounds. Samples the coordinator's threads (/proc/PID/status), descriptors
(/proc/PID/fd) and RSS every 0.2 s. Prints one JSON object.

Loopback only, bounded in count (--max-attempts) and time (--seconds). The flood's own
descriptor limit is raised to its hard limit; it needs CONNECTIONS + a few.

    scripts/flood.py --cohort .build/debug/cohort --connections 10000 --nodes 10 --rounds 3
    scripts/flood.py --cohort .build/debug/cohort --tls --mode hello --connections 10000
"""
import argparse, errno, json, math, os, random, resource, select, shutil, socket, ssl, subprocess, sys, tempfile, time


def write_sites(d, nodes):
    rng = random.Random(42)
    secrets = []
    for s in range(nodes):
        shift = (s % 5 - 2) * 0.25
        rows = ["x0,x1,x2,x3,x4,x5,target"]
        for i in range(120):
            y = i % 2
            xs = [rng.gauss(0, 1) + (1 if y else -1) * (1 if j < 3 else 0.2) + shift for j in range(6)]
            rows.append(",".join("%.4f" % x for x in xs) + ",%d" % y)
        open(os.path.join(d, "site%d.csv" % s), "w").write("\n".join(rows) + "\n")
        key = "%032x" % (0x1234_5678_9abc_def0 + s)
        secrets.append("site%d %s" % (s, key))
        path = os.path.join(d, "site%d.key" % s)
        open(path, "w").write(key + "\n")
        os.chmod(path, 0o600)
    path = os.path.join(d, "secrets.txt")
    open(path, "w").write("\n".join(secrets) + "\n")
    os.chmod(path, 0o600)
    open(os.path.join(d, "arch.json"), "w").write(
        '{"inputShape":[6],"layers":[{"kind":"dense","name":"features.0","units":16},'
        '{"kind":"relu","name":"features.1"},{"kind":"dense","name":"head","units":2}]}')
    open(os.path.join(d, "plan.json"), "w").write('{"batchSize":16,"learningRate":0.05}')


def sample(pid):
    try:
        status = open("/proc/%d/status" % pid).read()
        threads = int(status.split("Threads:")[1].split()[0])
        rss = int(status.split("VmRSS:")[1].split()[0]) / 1024.0
        fds = len(os.listdir("/proc/%d/fd" % pid))
        return threads, fds, rss
    except (OSError, IndexError, ValueError):
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cohort", required=True)
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--max-attempts", type=int, default=0,
                    help="connections opened in all (default --connections + --rate x --seconds, at most 1,000,000)")
    ap.add_argument("--rate", type=float, default=2000, help="at most this many connections opened per second")
    ap.add_argument("--mode", choices=["idle", "half", "hello"], default="idle",
                    help="idle: send nothing; half: send 6 bytes of a frame header (with --tls: half a ClientHello) "
                         "and stall; hello (--tls only): send a whole ClientHello and stall")
    ap.add_argument("--tls", action="store_true",
                    help="coordinator and nodes over TLS (Tests/CohortTransportTests/Fixtures certificates)")
    ap.add_argument("--sources", type=int, default=1, help="spread the flood over 127.0.0.1 .. 127.0.0.N")
    ap.add_argument("--nodes", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--coordinator-fds", type=int, default=1024)
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    a = ap.parse_args()
    a.connections = max(1, min(a.connections, 60000))
    a.seconds = min(a.seconds, 1800)
    a.max_attempts = min(a.max_attempts or int(a.connections + a.rate * a.seconds), 1_000_000)
    if a.mode == "hello" and not a.tls:
        ap.error("--mode hello needs --tls")

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, a.connections + 256)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    if want < a.connections + 64:
        print("flood: descriptor hard limit %d is too low for %d connections" % (hard, a.connections), file=sys.stderr)
        return 2

    d = tempfile.mkdtemp(prefix="cohort-flood-")
    p = lambda n: os.path.join(d, n)
    write_sites(d, a.nodes)
    coord_security, node_security = ["--insecure"], ["--insecure"]
    half = b"CHRT\x01\x00"
    if a.tls:
        fixtures = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "CohortTransportTests", "Fixtures")
        shutil.copy(os.path.join(fixtures, "coordinator.key"), p("tls.key"))
        os.chmod(p("tls.key"), 0o600)
        coord_security = ["--tls-cert", os.path.join(fixtures, "coordinator.pem"), "--tls-key", p("tls.key")]
        node_security = ["--tls-ca", os.path.join(fixtures, "ca.pem")]
        # One real ClientHello (TLS 1.3 offered), sent as is on every flood connection.
        ctx = ssl.create_default_context(cafile=os.path.join(fixtures, "ca.pem"))
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls_obj = ctx.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
        try:
            tls_obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        client_hello = outgoing.read()
        half = client_hello if a.mode == "hello" else client_hello[:len(client_hello) // 2]
    subprocess.run([a.cohort, "model", "init", "--arch", p("arch.json"), "--out", p("init.ckpt"), "--seed", "1"],
                   check=True, stderr=open(p("init.log"), "w"))
    coord_cmd = " ".join([a.cohort, "coordinator", "--model", p("init.ckpt"), "--plan", p("plan.json"), "--secrets", p("secrets.txt"),
                          "--listen", "127.0.0.1:0", "--port-file", p("port"), "--rounds", str(a.rounds),
                          "--min-nodes", str(a.nodes), "--round-timeout", "60", "--wait", str(int(a.seconds)),
                          "--out", p("out")] + coord_security)
    coordinator = subprocess.Popen(["/bin/sh", "-c", "ulimit -n %d && exec %s" % (a.coordinator_fds, coord_cmd)],
                                   stdout=subprocess.DEVNULL, stderr=open(p("coordinator.log"), "w"))
    start = time.time()
    while not os.path.exists(p("port")) and coordinator.poll() is None and time.time() - start < 30:
        time.sleep(0.05)
    port = int(open(p("port")).read())

    ep = select.epoll()
    socks = {}            # fd -> (socket, connected?)
    attempted = established = closed_by_coordinator = connect_failures = 0
    peak_held = 0

    def open_one():
        nonlocal attempted, connect_failures
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            if a.sources > 1:
                s.bind(("127.0.0.%d" % (1 + attempted % a.sources), 0))
            r = s.connect_ex(("127.0.0.1", port))
        except OSError:
            s.close(); connect_failures += 1; attempted += 1; return
        attempted += 1
        if r not in (0, errno.EINPROGRESS):
            s.close(); connect_failures += 1; return
        socks[s.fileno()] = [s, False]
        ep.register(s.fileno(), select.EPOLLOUT | select.EPOLLIN | select.EPOLLRDHUP)

    def close_one(fd):
        s = socks.pop(fd)[0]
        ep.unregister(fd)
        s.close()

    peaks = {"threads": 0, "fds": 0, "rss": 0.0}
    first = None
    last_sample = 0
    nodes = []
    deadline = start + a.seconds
    while coordinator.poll() is None and time.time() < deadline:
        allowed = min(a.max_attempts, int((time.time() - start) * a.rate) + 1)
        while len(socks) < a.connections and attempted < allowed:
            open_one()
            if len(socks) % 500 == 0:
                break     # let events in between
        if not nodes and (established >= a.connections or attempted >= a.max_attempts or time.time() - start > 10):
            # The flood is up: now the real nodes start.
            for s in range(a.nodes):
                nodes.append(subprocess.Popen([a.cohort, "node", "--coordinator", "127.0.0.1:%d" % port, "--name", "site%d" % s,
                                               "--secret-file", p("site%d.key" % s), "--data", p("site%d.csv" % s)] + node_security,
                                              stdout=subprocess.DEVNULL, stderr=open(p("site%d.log" % s), "w")))
        for fd, ev in ep.poll(0.05):
            entry = socks.get(fd)
            if entry is None:
                continue
            s = entry[0]
            if ev & select.EPOLLOUT and not entry[1]:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    connect_failures += 1; close_one(fd); continue
                entry[1] = True
                established += 1
                ep.modify(fd, select.EPOLLIN | select.EPOLLRDHUP)
                if a.mode in ("half", "hello"):
                    try: s.send(half)
                    except OSError: pass
                continue
            if ev & (select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR):
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    closed_by_coordinator += 1
                    close_one(fd)
        held = sum(1 for e in socks.values() if e[1])
        peak_held = max(peak_held, held)
        now = time.time()
        if now - last_sample >= 0.2:
            last_sample = now
            m = sample(coordinator.pid)
            if m:
                if first is None: first = m
                peaks["threads"] = max(peaks["threads"], m[0]); peaks["fds"] = max(peaks["fds"], m[1]); peaks["rss"] = max(peaks["rss"], m[2])
    timed_out = coordinator.poll() is None
    if timed_out:
        coordinator.kill()
    coordinator.wait()
    node_status = []
    for n in nodes:
        try: node_status.append(n.wait(timeout=30))
        except subprocess.TimeoutExpired: n.kill(); node_status.append(None)
    for fd in list(socks): close_one(fd)
    rounds_done = 0
    if os.path.exists(p("out/rounds.jsonl")):
        rounds_done = sum(1 for line in open(p("out/rounds.jsonl")) if line.strip())
    log = open(p("coordinator.log")).read()
    result = {
        "mode": a.mode, "tls": a.tls, "sources": a.sources,
        "connectionsTarget": a.connections, "connectionsAttempted": attempted, "connectionsEstablished": established,
        "peakConnectionsHeld": peak_held, "closedByCoordinator": closed_by_coordinator, "connectFailures": connect_failures,
        "coordinatorDescriptorLimit": a.coordinator_fds,
        "roundsPlanned": a.rounds, "roundsCompleted": rounds_done, "nodes": a.nodes,
        "nodesExitedZero": sum(1 for s in node_status if s == 0),
        "coordinatorExit": None if timed_out else coordinator.returncode, "timedOut": timed_out,
        "coordinatorThreadsAtStart": first[0] if first else None,
        "peakCoordinatorThreads": peaks["threads"], "peakCoordinatorDescriptors": peaks["fds"],
        "peakCoordinatorRSSMiB": round(peaks["rss"], 1), "seconds": round(time.time() - start, 1),
        "gateLogLines": [l for l in log.splitlines() if "unauthenticated connections" in l][-3:],
        "workFolder": d if a.keep else None,
    }
    if not a.keep:
        shutil.rmtree(d, ignore_errors=True)
    else:
        result["coordinatorLogTail"] = log.splitlines()[-5:]
    print(json.dumps(result, indent=1))
    return 0 if rounds_done == a.rounds and not timed_out and coordinator.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
