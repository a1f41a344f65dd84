"""Statistics for paired comparisons: percentile bootstrap CIs, exact McNemar, paired bootstrap.

All resampling draws from a ``numpy.random.Generator`` built from a fixed seed, so a
summary is reproducible bit for bit.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.stats import binomtest

BOOTSTRAP_SEED = 20_240_601
N_BOOTSTRAP = 4000
CONFIDENCE = 0.95


def bootstrap_rng(seed: int = BOOTSTRAP_SEED) -> np.random.Generator:
    return np.random.default_rng(seed)


def _bootstrap_means(values: np.ndarray, rng: np.random.Generator, n_boot: int) -> np.ndarray:
    idx = rng.integers(0, values.size, size=(n_boot, values.size))
    return values[idx].mean(axis=1)


def mean_ci(values: Sequence[float], *, rng: np.random.Generator | None = None, n_boot: int = N_BOOTSTRAP,
            confidence: float = CONFIDENCE) -> dict | None:
    """Mean with a percentile bootstrap CI: ``{"mean", "ci_low", "ci_high", "n"}``; None for no values."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return None
    if not np.all(np.isfinite(x)):
        raise ValueError("bootstrap values must be finite")
    mean = float(x.mean())
    if x.size == 1 or np.all(x == x[0]):
        return {"mean": mean, "ci_low": mean, "ci_high": mean, "n": int(x.size)}
    means = _bootstrap_means(x, rng if rng is not None else bootstrap_rng(), n_boot)
    alpha = (1.0 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return {"mean": mean, "ci_low": float(low), "ci_high": float(high), "n": int(x.size)}


def paired_diff_ci(a: Sequence[float], b: Sequence[float], *, rng: np.random.Generator | None = None,
                   n_boot: int = N_BOOTSTRAP, confidence: float = CONFIDENCE) -> dict | None:
    """Mean of ``a - b`` over pairs with a paired bootstrap CI (pairs resampled together)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in length: {a.size} vs {b.size}")
    return mean_ci(a - b, rng=rng, n_boot=n_boot, confidence=confidence)


def mcnemar_exact(a: Sequence[bool], b: Sequence[bool]) -> dict:
    """Exact McNemar test on paired binary outcomes: a two-sided binomial test on discordant pairs."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in length: {a.size} vs {b.size}")
    a_only, b_only = int(np.sum(a & ~b)), int(np.sum(~a & b))
    n = a_only + b_only
    p = 1.0 if n == 0 else float(binomtest(a_only, n, 0.5, alternative="two-sided").pvalue)
    return {"p_value": p, "a_only": a_only, "b_only": b_only}
