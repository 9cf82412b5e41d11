#!/usr/bin/env python3
"""Reference value for Tests/CohortAdaptTests/LogMETests: the LogME algorithm as published
(You et al. 2021, evidence maximisation per one-vs-rest class target), transcribed with numpy,
on deterministic features. Prints the score the Swift test expects (14.822266392529967)."""
import numpy as np


def each_evidence(y_, f, fh, v, s, vh, N, D):
    alpha = 1.0
    beta = 1.0
    lam = alpha / beta
    tmp = vh @ (f @ y_)
    for _ in range(11):
        gamma = (s / (s + lam)).sum()
        m = v @ (tmp * beta / (alpha + beta * s))
        alpha_de = (m * m).sum()
        alpha = gamma / alpha_de
        beta_de = ((y_ - fh @ m) ** 2).sum()
        beta = (N - gamma) / beta_de
        new_lam = alpha / beta
        if np.abs(new_lam - lam) / lam < 0.01:
            break
        lam = new_lam
    evidence = (D / 2.0 * np.log(alpha) + N / 2.0 * np.log(beta) - 0.5 * np.sum(np.log(alpha + beta * s))
                - beta / 2.0 * beta_de - alpha / 2.0 * alpha_de - N / 2.0 * np.log(2 * np.pi))
    return evidence / N


def logme(features, labels, classes):
    fh = features.astype(np.float64)
    f = fh.T
    D, N = f.shape
    v, s, vh = np.linalg.svd(f @ fh, full_matrices=True)
    return np.mean([each_evidence((labels == k).astype(np.float64), f, fh, v, s, vh, N, D) for k in range(classes)])


N, D, C = 60, 5, 3
i = np.arange(N)
y = i % 3
f = np.stack([np.sin(0.7 * i + j) + (y == (j % 3)) * 1.5 + 0.1 * j for j in range(D)], axis=1).astype(np.float32)
print(repr(float(logme(f, y, C))))
