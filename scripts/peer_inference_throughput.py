#!/usr/bin/env python3
"""PyTorch (CPU) eval-mode inference throughput on the peer harness's models.

The models, batches and input sizes are exactly those of
shared/bench/peers/train_throughput.py (imported from --peers); this measures only
`model.eval()` forward passes under `torch.no_grad()`. Output has the same shape as the
training harness (`by_threads.<n>.cases.<case>.samples_per_s.median`), so
`cohort bench train --inference --peer FILE` compares against it.

Usage: python peer_inference_throughput.py [--peers DIR] [--cases resnet18,vit-tiny]
       [--threads 2] [--seconds 3] [--repeats 5] [--out FILE]
"""
import argparse
import json
import os
import statistics
import sys
import time


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peers", default=os.path.join(here, "..", "..", "shared", "bench", "peers"))
    ap.add_argument("--cases", default="resnet18,vit-tiny")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    sys.path.insert(0, os.path.abspath(args.peers))
    import torch
    import train_throughput as T

    torch.set_num_threads(args.threads)
    cases = {}
    for case in args.cases.split(","):
        torch.manual_seed(0)
        model, xs, _, batch, n_params = T.build(case)
        model.eval()
        with torch.no_grad():
            for x in xs[:2]:
                model(x)  # warm-up
            rates = []
            for _ in range(args.repeats):
                steps, t0 = 0, time.perf_counter()
                while True:
                    model(xs[steps % len(xs)])
                    steps += 1
                    elapsed = time.perf_counter() - t0
                    if elapsed >= args.seconds and steps >= 3:
                        break
                rates.append(steps * batch / elapsed)
        cases[case] = {"batch": batch, "params": n_params,
                       "samples_per_s": {"median": statistics.median(rates), "min": min(rates), "max": max(rates)}}
        print(f"[peer_inference] {case}: {statistics.median(rates):.1f} samples/s", file=sys.stderr)
    out = {"bench": "inference_throughput", "torch": torch.__version__,
           "by_threads": {str(args.threads): {"torch_num_threads": torch.get_num_threads(), "cases": cases}}}
    text = json.dumps(out)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
