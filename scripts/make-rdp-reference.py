#!/usr/bin/env python3
"""Reference (epsilon, delta) values from Opacus's RDP accountant, for RDPAccountantTests.

Run once with Opacus from PyPI in the peer venv and commit the output:
    ~/.cache/cohort-peer-venv/bin/pip install opacus
    ~/.cache/cohort-peer-venv/bin/python scripts/make-rdp-reference.py \
        > Tests/CohortFederationTests/Fixtures/rdp-reference.json

Grid: q in {0.01, 0.1, 0.5, 1.0}, sigma in {0.5, 0.8, 1.0, 2.0, 5.0}, steps in {1, 10, 100, 1000},
delta in {1e-5, 1e-6}. Epsilon is RDPAccountant.get_epsilon with Opacus's default orders (the
sampled Gaussian mechanism's RDP, converted with Balle et al. 2020, Theorem 21). A few
get_noise_multiplier answers are included too (Opacus's bisection, tolerance 0.01 in epsilon).
"""
import json
import sys
import warnings

import opacus
from opacus.accountants import RDPAccountant
from opacus.accountants.utils import get_noise_multiplier

warnings.simplefilter("ignore")  # "optimal order is the largest alpha" for the extreme entries

entries = []
for q in (0.01, 0.1, 0.5, 1.0):
    for sigma in (0.5, 0.8, 1.0, 2.0, 5.0):
        for steps in (1, 10, 100, 1000):
            for delta in (1e-5, 1e-6):
                acc = RDPAccountant()
                acc.history = [(sigma, q, steps)]
                eps, alpha = acc.get_privacy_spent(delta=delta)
                entries.append({"q": q, "sigma": sigma, "steps": steps, "delta": delta,
                                "epsilon": float(eps), "order": float(alpha)})

noise = []
for eps_target, delta, q, steps in ((1.0, 1e-5, 0.01, 1000), (3.0, 1e-5, 0.1, 100), (8.0, 1e-6, 0.5, 50),
                                    (2.0, 1e-5, 1.0, 10), (0.5, 1e-6, 0.01, 100)):
    sigma = get_noise_multiplier(target_epsilon=eps_target, target_delta=delta, sample_rate=q,
                                 steps=steps, accountant="rdp")
    noise.append({"epsilon": eps_target, "delta": delta, "q": q, "steps": steps, "sigma": float(sigma)})

json.dump({"generator": "scripts/make-rdp-reference.py", "opacus": opacus.__version__,
           "orders": RDPAccountant.DEFAULT_ALPHAS, "entries": entries, "noiseMultiplier": noise},
          sys.stdout, indent=1)
sys.stdout.write("\n")
