"""The study's three questions as paired differences on the arena's per-instance records.

Each answer is ``mean(a - b)`` over the instances both agents answered, with the arena's
paired bootstrap 95% CI (same seed, so the numbers match the arena's pair table) and a
p-value: exact McNemar for the fully-feasible rate (binary), Wilcoxon signed-rank for
format and constraint-satisfaction scores (continuous, often tied at 0 or 1).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

QUESTIONS = (
    ("Did SFT raise format?", "sft", "base", "format"),
    ("Did SFT raise feasibility?", "sft", "base", "feasible"),
    ("Did RL raise feasibility beyond SFT?", "rl", "sft", "feasible"),
)


def signed_rank_p(diffs: Sequence[float]) -> float:
    """Two-sided Wilcoxon signed-rank p-value; 1.0 when every difference is zero."""
    from scipy.stats import wilcoxon

    d = np.asarray(diffs, dtype=float)
    if d.size == 0 or np.all(d == 0):
        return 1.0
    return float(wilcoxon(d, zero_method="zsplit", alternative="two-sided").pvalue)


def paired_difference(a_records: Sequence[dict], b_records: Sequence[dict], metric: str) -> dict:
    """``metric`` of a minus b over shared instances: mean, 95% CI, p-value, test name, n."""
    from feasgym.agents.arena.stats import mcnemar_exact, paired_diff_ci

    b_by = {r["instance"]: r for r in b_records}
    pairs = [(r, b_by[r["instance"]]) for r in a_records if r["instance"] in b_by]
    if not pairs:
        return {"mean": None, "ci_low": None, "ci_high": None, "p": None, "test": None, "n": 0}
    a = np.array([float(x[metric]) for x, _ in pairs])
    b = np.array([float(y[metric]) for _, y in pairs])
    ci = paired_diff_ci(a, b)
    if metric == "feasible":
        test = mcnemar_exact(a.astype(bool), b.astype(bool))
        p, name = test["p_value"], f"exact McNemar ({test['a_only']} vs {test['b_only']} discordant)"
    else:
        p, name = signed_rank_p(a - b), "Wilcoxon signed-rank"
    return {"mean": ci["mean"], "ci_low": ci["ci_low"], "ci_high": ci["ci_high"], "p": p, "test": name,
            "n": len(pairs)}


def verdict(diff: dict, alpha: float = 0.05) -> str:
    """``yes`` / ``no, it lowered it`` / ``no clear change`` from the CI and p-value."""
    if diff["n"] == 0:
        return "no data"
    if diff["p"] < alpha and diff["ci_low"] > 0:
        return "yes"
    if diff["p"] < alpha and diff["ci_high"] < 0:
        return "no, it lowered it"
    return "no clear change"


def answer_questions(records: dict[str, list[dict]]) -> list[dict]:
    """The three questions on one env section (``records``: agent name -> episode records)."""
    out = []
    for question, a, b, metric in QUESTIONS:
        diff = paired_difference(records.get(a, []), records.get(b, []), metric)
        extra = None
        if metric == "feasible":
            extra = paired_difference(records.get(a, []), records.get(b, []), "constraint_rate")
        out.append({"question": question, "a": a, "b": b, "metric": metric, "diff": diff,
                    "constraint_rate_diff": extra, "verdict": verdict(diff)})
    return out
