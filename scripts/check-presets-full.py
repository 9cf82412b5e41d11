#!/usr/bin/env python3
"""Full-size logit-equality check of Cohort's presets against PyTorch (issue 13, point 3; run by
hand, outside CI). The same PyTorch definitions as the committed reduced fixtures
(scripts/preset_models.py, whose state_dict names, shapes and logits make-preset-fixtures.py
checks against torchvision / timm), at the presets' default knobs.

Step 1, write the PyTorch side (needs torch, safetensors, numpy; ~1 minute, ~230 MB on disk):

  ~/.cache/cohort-peer-venv/bin/python scripts/check-presets-full.py [--out DIR] [--cohort BIN]
      [--presets resnet18,resnet50,densenet121,mobilenet_v2,vit-tiny] [--batch 2]

  For each preset at default size (224x224x3 input, 1000 classes; vit-tiny patch 16, D 192,
  depth 12, heads 3, timm attention layout) DIR (default /tmp/cohort-presets-full) gets
    <preset>.safetensors         random-init state_dict (float32; num_batches_tracked int64)
    <preset>.input.npy           float32 [batch, 3, 224, 224], NCHW, N(0, 1)
    <preset>.torch-logits.npy    float32 [batch, 1000], eval mode, computed in float64 from the
                                 stored float32 weights and input and rounded once
    manifest.json                per preset: files, logit statistics, PyTorch's own float32-vs-
                                 float64 difference, and the exact Cohort commands
    commands.sh                  the same commands as a script
  Initialisation as the fixtures: preset_models.randomize (BatchNorm statistics calibrated on 4
  random 224x224 images then perturbed, affine and LayerNorm parameters random; see there).

Step 2, run Cohort (the commands in manifest.json / commands.sh):

  cohort import --safetensors DIR/P.safetensors --preset P --classes 1000 --input 224x224x3 --out DIR/P.ckpt
  cohort predict DIR/P.ckpt --data DIR/P.input.npy --layout nchw --out DIR/P.cohort-logits.npy

Step 3, compare:

  ~/.cache/cohort-peer-venv/bin/python scripts/check-presets-full.py --compare DIR

  prints JSON: per preset max |cohort - torch|, that divided by max |torch| (the 1e-4 relative
  criterion of the reduced tests), whether the arg-max classes agree, and pass/fail/missing.
  Exit status 1 when a compared preset fails the tolerance or has the wrong shape.
"""
import argparse
import json
import os
import shlex
import sys
import time

import numpy as np
import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import preset_models as pm  # noqa: E402

TOLERANCE = 1e-4
INPUT_SHAPE = [224, 224, 3]
CLASSES = 1000
SEEDS = {"resnet18": 11, "resnet50": 12, "densenet121": 13, "mobilenet_v2": 14, "vit-tiny": 15}


def write(args):
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    manifest = {"inputShape": INPUT_SHAPE, "classes": CLASSES, "batch": args.batch, "layout": "nchw",
                "tolerance": TOLERANCE, "generator": "scripts/check-presets-full.py", "presets": []}
    lines = ["#!/bin/sh", "# Cohort side of scripts/check-presets-full.py; then run it with --compare " + shlex.quote(out), "set -e"]
    h, w, c = INPUT_SHAPE
    for preset in args.presets.split(","):
        t0 = time.time()
        seed = SEEDS[preset]
        model = pm.randomize(pm.build(preset, {}, CLASSES, INPUT_SHAPE), seed, INPUT_SHAPE)
        x = torch.randn(args.batch, c, h, w, generator=torch.Generator().manual_seed(seed + 100))
        with torch.no_grad():
            y32 = model.float().eval()(x)
            y64 = model.double().eval()(x.double())
        model.float()
        y = y64.float()
        noise = float((y32.double() - y64).abs().max() / y64.abs().max())

        files = {k: os.path.join(out, f"{preset}.{k}") for k in ("safetensors", "input.npy", "torch-logits.npy", "ckpt", "cohort-logits.npy")}
        state = pm.state_dict(model)
        save_file(state, files["safetensors"], metadata={"source": "scripts/check-presets-full.py"})
        np.save(files["input.npy"], x.numpy().astype(np.float32))
        np.save(files["torch-logits.npy"], y.numpy().astype(np.float32))

        cmd_import = ["cohort", "import", "--safetensors", files["safetensors"], "--preset", preset, "--classes", str(CLASSES),
                      "--input", f"{h}x{w}x{c}", "--out", files["ckpt"]]
        cmd_predict = ["cohort", "predict", files["ckpt"], "--data", files["input.npy"], "--layout", "nchw", "--out", files["cohort-logits.npy"]]
        cmd_import[0] = cmd_predict[0] = args.cohort
        entry = {
            "preset": preset, "options": {}, "seed": seed,
            "parameters": int(sum(v.numel() for v in state.values() if v.dtype == torch.float32)),
            "tensors": len(state),
            "files": {"weights": files["safetensors"], "input": files["input.npy"], "torchLogits": files["torch-logits.npy"],
                      "checkpoint": files["ckpt"], "cohortLogits": files["cohort-logits.npy"]},
            "maxAbsLogit": float(y.abs().max()), "logitStd": float(y.std()),
            "sampleDifference": float((y[0] - y[-1]).abs().max()),
            "torchFloat32VsFloat64Rel": noise,
            "commands": {"import": shlex.join(cmd_import), "predict": shlex.join(cmd_predict)},
        }
        if not (0.3 <= entry["maxAbsLogit"] <= 30 and entry["sampleDifference"] > 0.05 * entry["maxAbsLogit"]):
            print(f"warning: {preset} logits of an unhelpful magnitude for a 1e-4 relative comparison", flush=True)
        manifest["presets"].append(entry)
        lines += [entry["commands"]["import"], entry["commands"]["predict"]]
        print(f"{preset}: {entry['parameters']} parameters, max|logit| {entry['maxAbsLogit']:.3f}, std {entry['logitStd']:.3f}, "
              f"sample difference {entry['sampleDifference']:.3f}, PyTorch float32 vs float64 rel {noise:.1e} "
              f"({time.time() - t0:.1f} s)", flush=True)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    with open(os.path.join(out, "commands.sh"), "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(os.path.join(out, "commands.sh"), 0o755)
    print(f"wrote {out}/manifest.json and {out}/commands.sh; after running the commands: "
          f"{sys.argv[0]} --compare {out}")


def compare(directory):
    with open(os.path.join(directory, "manifest.json")) as f:
        manifest = json.load(f)
    results, failed = [], False
    for entry in manifest["presets"]:
        preset = entry["preset"]
        torch_path = os.path.join(directory, f"{preset}.torch-logits.npy")
        cohort_path = os.path.join(directory, f"{preset}.cohort-logits.npy")
        ref = np.load(torch_path).astype(np.float64)
        if not os.path.exists(cohort_path):
            results.append({"preset": preset, "status": "missing", "cohortLogits": cohort_path})
            continue
        got = np.load(cohort_path)
        if got.shape != ref.shape:
            results.append({"preset": preset, "status": "fail", "reason": f"shape {list(got.shape)} != {list(ref.shape)}"})
            failed = True
            continue
        got = got.astype(np.float64)
        max_abs = float(np.abs(got - ref).max())
        rel = max_abs / float(np.abs(ref).max())
        ok = rel <= manifest.get("tolerance", TOLERANCE)
        failed |= not ok
        results.append({"preset": preset, "status": "pass" if ok else "fail", "maxAbsDiff": max_abs, "relDiff": rel,
                        "maxAbsTorch": float(np.abs(ref).max()),
                        "argmaxAgree": bool((got.argmax(1) == ref.argmax(1)).all()),
                        "torchFloat32VsFloat64Rel": entry.get("torchFloat32VsFloat64Rel")})
    print(json.dumps({"tolerance": manifest.get("tolerance", TOLERANCE), "relDefinition": "max|cohort - torch| / max|torch|",
                      "results": results}, indent=1))
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description="Full-size preset logit check (see the module docstring).")
    ap.add_argument("--out", default="/tmp/cohort-presets-full", help="output directory (default %(default)s)")
    ap.add_argument("--cohort", default="cohort", help="Cohort executable named in the commands (default %(default)s)")
    ap.add_argument("--presets", default=",".join(pm.PRESETS), help="comma-separated presets (default all)")
    ap.add_argument("--batch", type=int, default=2, help="inputs per preset (default %(default)s)")
    ap.add_argument("--compare", metavar="DIR", help="compare DIR/<preset>.cohort-logits.npy with PyTorch's and exit")
    args = ap.parse_args()
    if args.compare:
        sys.exit(compare(args.compare))
    unknown = [p for p in args.presets.split(",") if p not in SEEDS]
    if unknown:
        ap.error(f"unknown presets {unknown}; known: {', '.join(pm.PRESETS)}")
    write(args)


if __name__ == "__main__":
    main()
