"""Statistics over the experiment, with training seeds as the unit of replication.

Every model of a study is evaluated on the same instances, so a paired effect is a
matrix ``d[seed, instance]`` (e.g. RL minus SFT of the same seed). A per-checkpoint test
treats 24 instances as the whole story and ignores that another seed gives another model;
here the two-way (seed x instance) bootstrap resamples seeds and instances independently
(crossed design) and takes the mean of the resampled block, so the CI widens with the
seed-to-seed spread. "yes" only when that CI excludes 0.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

N_BOOT = 4000
BOOT_SEED = 20_261_201
# z(0.975) + z(0.80): an effect this many standard errors away from 0 is detected with ~80% power
DETECTABLE_SE = 2.8


def seed_instance_bootstrap(d: np.ndarray, n_boot: int = N_BOOT, rng: np.random.Generator | None = None) -> np.ndarray:
    """Bootstrap means of ``d`` (seeds x instances): seeds and instances resampled with replacement."""
    d = np.asarray(d, dtype=float)
    if d.ndim != 2 or d.size == 0:
        raise ValueError(f"need a non-empty seeds x instances matrix, got shape {d.shape}")
    rng = rng if rng is not None else np.random.default_rng(BOOT_SEED)
    n_seeds, n_inst = d.shape
    seeds = rng.integers(0, n_seeds, size=(n_boot, n_seeds))
    inst = rng.integers(0, n_inst, size=(n_boot, n_inst))
    return d[seeds[:, :, None], inst[:, None, :]].mean(axis=(1, 2))


def experiment_effect(d: np.ndarray, n_boot: int = N_BOOT, confidence: float = 0.95) -> dict:
    """Mean effect, seed x instance bootstrap CI, its SE and the smallest effect the design detects."""
    d = np.asarray(d, dtype=float)
    means = seed_instance_bootstrap(d, n_boot)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    se = float(means.std(ddof=1))
    per_seed = d.mean(axis=1)
    return {"mean": float(d.mean()), "ci_low": float(low), "ci_high": float(high), "se": se,
            "detectable": DETECTABLE_SE * se, "n_seeds": int(d.shape[0]), "n_instances": int(d.shape[1]),
            "per_seed": [float(x) for x in per_seed],
            "seed_sd": float(per_seed.std(ddof=1)) if d.shape[0] > 1 else None}


def verdict(effect: dict) -> str:
    if effect["ci_low"] > 0:
        return "yes"
    if effect["ci_high"] < 0:
        return "no, it lowered it"
    return "no clear change"


def power_note(effect: dict) -> str:
    """What the design could have seen: an honest sentence for the report."""
    s, n = effect["n_seeds"], effect["n_instances"]
    if effect["se"] == 0:
        return (f"every paired difference is {effect['mean']:+.3f} on all {s} seeds x {n} instances, so there is "
                "no spread to test against; the CI is a point")
    detect = effect["detectable"]
    text = f"with {s} seeds x {n} instances the design detects (80% power, 5% two-sided) effects of about +/-{detect:.3f}"
    if abs(effect["mean"]) < detect:
        text += f"; the observed {effect['mean']:+.3f} is smaller, so an effect of this size can go undetected"
    if s <= 3:
        text += (f"; with {s} seeds the seed resampling often repeats one seed ({s}x the same seed has probability "
                 f"{s * (1 / s) ** s:.2f}), so the CI's ends sit near the weakest and strongest seeds' effects")
    return text


def linear_trend(x: Sequence[float], y: Sequence[float], confidence: float = 0.95) -> dict | None:
    """OLS slope of ``y`` on ``x`` with a t-based CI (``None`` with fewer than 3 points)."""
    from scipy import stats

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size < 3 or np.ptp(x) == 0:
        return None
    fit = stats.linregress(x, y)
    t = stats.t.ppf(0.5 + confidence / 2, x.size - 2)
    se = float(fit.stderr) if np.isfinite(fit.stderr) else 0.0
    return {"slope": float(fit.slope), "ci_low": float(fit.slope - t * se), "ci_high": float(fit.slope + t * se),
            "intercept": float(fit.intercept), "n": int(x.size)}


def within_instance_trend(trace: Sequence[Sequence], n_boot: int = 2000, confidence: float = 0.95) -> dict | None:
    """Slope of the sampled reward per generation batch after removing each instance's mean.

    ``trace``: ``[batch, env_id, instance, reward]`` rows. Instance difficulty dominates a
    per-step mean when each step sees one or two prompts; demeaning by instance leaves the
    change over training. CI: bootstrap over instances (each instance's rows kept together).
    """
    rows = [(int(b), f"{e}#{i}", float(r)) for b, e, i, r in trace]
    if len(rows) < 3:
        return None
    groups: dict[str, list[tuple[int, float]]] = {}
    for b, key, r in rows:
        groups.setdefault(key, []).append((b, r))
    keys = sorted(groups)
    xs = [np.array([b for b, _ in groups[k]], float) for k in keys]
    ys = [np.array([r for _, r in groups[k]], float) for k in keys]

    def slope(idx) -> float:
        x = np.concatenate([xs[i] - xs[i].mean() for i in idx])
        y = np.concatenate([ys[i] - ys[i].mean() for i in idx])
        sxx = float(x @ x)
        return float(x @ y / sxx) if sxx > 0 else 0.0

    point = slope(range(len(keys)))
    rng = np.random.default_rng(BOOT_SEED)
    boots = [slope(rng.integers(0, len(keys), len(keys))) for _ in range(n_boot)]
    alpha = (1 - confidence) / 2
    low, high = np.quantile(boots, [alpha, 1 - alpha])
    batches = sorted({b for b, _, _ in rows})
    return {"slope": point, "ci_low": float(low), "ci_high": float(high), "instances": len(keys),
            "samples": len(rows), "batches": len(batches),
            "visits_per_instance": float(np.mean([len({b for b, _ in groups[k]}) for k in keys]))}
