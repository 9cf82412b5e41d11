#!/usr/bin/env python3
"""Validate cluster/kubernetes/ (run by scripts/validate-k8s.sh, which makes the venv).

1. Every manifest file, and every kustomization rendered by `kubectl kustomize` (the coordinator
   and each overlay under overlays/), is validated against the Kubernetes schemas of
   --k8s-version with kubernetes-validate (strict: unknown fields are errors).
2. Every container running the cohort image has its command line checked against the real
   binary: the command words must name a cohort command, and every --flag must be one that
   `cohort WORDS --help` lists, with a value exactly when the help shows one. For the image's
   entrypoint the resumed form (--model dropped, --resume added) is checked too.
Prints one line per check and "N passed, N failed"; exits 1 on any failure.
"""
import argparse, glob, os, re, subprocess, sys
import yaml
import kubernetes_validate

PASS = FAIL = 0

def report(ok, what, detail=""):
    global PASS, FAIL
    if ok:
        PASS += 1
        print(f"ok: {what}")
    else:
        FAIL += 1
        print(f"FAILED: {what}" + (f"\n    {detail}" if detail else ""))

def validate(doc, where, version):
    name = f"{where}: {doc.get('kind')} {doc.get('metadata', {}).get('name')}"
    try:
        kubernetes_validate.validate(doc, version, strict=True)
        report(True, f"schema {version}: {name}")
    except kubernetes_validate.ValidationError as e:
        report(False, f"schema {version}: {name}", f"{'.'.join(str(p) for p in e.path)}: {e.message}")
    except Exception as e:  # unknown kind/version and the like
        report(False, f"schema {version}: {name}", repr(e))

HELP_CACHE = {}

def options_of(binary, words):
    """The options `cohort WORDS --help` lists: name -> takes a value."""
    key = tuple(words)
    if key not in HELP_CACHE:
        run = subprocess.run([binary, *words, "--help"], capture_output=True, text=True, timeout=30)
        if run.returncode != 0:
            HELP_CACHE[key] = None
        else:
            opts = {}
            for line in run.stdout.splitlines():
                m = re.match(r"^  (--[a-z0-9][a-z0-9-]*)(?: <[^>]+>)?", line)
                if m:
                    opts[m.group(1)] = "<" in line.split(None, 2)[1] if len(line.split()) > 1 else False
            HELP_CACHE[key] = opts
    return HELP_CACHE[key]

COMMAND_WORDS = [["coordinator"], ["node"], ["status"]]

def check_argv(binary, argv, where):
    words = next((w for w in COMMAND_WORDS if argv[:len(w)] == w), None)
    if words is None:
        report(False, f"flags: {where}", f"unknown cohort command in {argv[:2]}")
        return
    opts = options_of(binary, words)
    if opts is None:
        report(False, f"flags: {where}", f"`cohort {' '.join(words)} --help` failed")
        return
    problems, rest, i = [], argv[len(words):], 0
    while i < len(rest):
        a = rest[i]
        if not a.startswith("--"):
            problems.append(f"stray argument '{a}'")
            i += 1
            continue
        name, _, inline = a.partition("=")
        if name not in opts:
            problems.append(f"unknown flag {name}")
            i += 1
            continue
        if opts[name]:
            if not inline:
                if i + 1 >= len(rest) or rest[i + 1].startswith("--"):
                    problems.append(f"{name} needs a value")
                i += 1
        elif inline:
            problems.append(f"{name} takes no value")
        i += 1
    report(not problems, f"flags: {where}: cohort {' '.join(argv)}", "; ".join(problems))

def resumed(argv):
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--model":
            skip = True
            continue
        if a.startswith("--model="):
            continue
        out.append(a)
    return out + ["--resume"]

def containers(doc):
    spec = doc.get("spec", {})
    pod = spec.get("template", {}).get("spec") or (spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec"))
    if doc.get("kind") == "Pod":
        pod = spec
    return (pod or {}).get("containers", []) + (pod or {}).get("initContainers", [])

def check_commands(binary, doc, where):
    for c in containers(doc):
        if not str(c.get("image", "")).startswith("cohort"):
            continue
        cmd = list(c.get("command", [])) + [str(a) for a in c.get("args", [])]
        label = f"{where}: {doc['kind']} {doc['metadata']['name']} container {c['name']}"
        if not cmd:
            report(False, f"flags: {label}", "no command: the image's entrypoint must be named")
            continue
        exe = os.path.basename(cmd[0])
        if exe not in ("cohort", "cohort-entrypoint"):
            report(False, f"flags: {label}", f"command {cmd[0]} is neither cohort nor cohort-entrypoint")
            continue
        check_argv(binary, cmd[1:], label)
        if exe == "cohort-entrypoint" and cmd[1:2] == ["coordinator"]:
            check_argv(binary, resumed(cmd[1:]), label + " (resumed)")

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--k8s-version", default="1.30.0")
    ap.add_argument("--kubectl", default="")
    a = ap.parse_args()
    files = sorted(f for f in glob.glob(os.path.join(a.root, "**", "*.yaml"), recursive=True)
                   if os.path.basename(f) != "kustomization.yaml")
    rendered = []
    for f in files:
        with open(f) as fh:
            for doc in yaml.safe_load_all(fh):
                if doc:
                    rendered.append((os.path.relpath(f, a.root), doc))
    kustomizations = sorted(os.path.dirname(k) for k in glob.glob(os.path.join(a.root, "**", "kustomization.yaml"), recursive=True))
    if a.kubectl:
        for k in kustomizations:
            where = os.path.relpath(k, a.root)
            run = subprocess.run([a.kubectl, "kustomize", k], capture_output=True, text=True, timeout=60)
            report(run.returncode == 0, f"kustomize build {where}", run.stderr.strip())
            if run.returncode == 0:
                rendered += [(f"kustomize {where}", d) for d in yaml.safe_load_all(run.stdout) if d]
    else:
        print(f"note: no kubectl; the {len(kustomizations)} kustomizations were not rendered (files checked one by one)")
    for where, doc in rendered:
        validate(doc, where, a.k8s_version)
        check_commands(a.binary, doc, where)
    print(f"{PASS} passed, {FAIL} failed")
    sys.exit(1 if FAIL else 0)

if __name__ == "__main__":
    main()
