"""The study's three questions, answered over training seeds.

Each question compares two models per training seed on the same instances: SFT of seed s
against the shared base (format; feasibility), RL of seed s against SFT of seed s. The
effect matrix ``d[seed, instance]`` goes to the seed x instance bootstrap
(:mod:`feasgym.study.stats`), which gives the verdict; per seed, the paired difference with
its own bootstrap CI and p-value (exact McNemar for the binary fully-feasible outcome,
Wilcoxon signed-rank for format and constraint-satisfaction) is detail, not the verdict.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .layout import agent_name
from .stats import experiment_effect, power_note, verdict

# (question, model a, model b, metric); a/b are "base", "sft" or "rl" (per seed except base)
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


def _agent(kind: str, seed: int) -> str:
    return agent_name("base") if kind == "base" else agent_name(kind, seed)


def effect_matrix(records: dict[str, list[dict]], a: str, b: str, metric: str, seeds: Sequence[int]) -> np.ndarray:
    """``d[seed, instance]`` = metric(a of seed) - metric(b of seed) on the instances every agent answered."""
    names = {_agent(k, s) for s in seeds for k in (a, b)}
    common = set.intersection(*({r["instance"] for r in records.get(n, [])} for n in names)) if names else set()
    instances = sorted(common)
    if not instances:
        return np.zeros((len(seeds), 0))
    value = {n: {r["instance"]: float(r[metric]) for r in records[n]} for n in names}
    return np.array([[value[_agent(a, s)][i] - value[_agent(b, s)][i] for i in instances] for s in seeds])


def answer_questions(records: dict[str, list[dict]], seeds: Sequence[int]) -> list[dict]:
    """The three questions on one env section (``records``: arena agent name -> episode records)."""
    out = []
    for question, a, b, metric in QUESTIONS:
        d = effect_matrix(records, a, b, metric, seeds)
        if d.shape[1] == 0:
            out.append({"question": question, "a": a, "b": b, "metric": metric, "effect": None, "verdict": "no data"})
            continue
        effect = experiment_effect(d)
        csr = experiment_effect(effect_matrix(records, a, b, "constraint_rate", seeds)) if metric == "feasible" else None
        per_seed = []
        for s in seeds:
            row = {"seed": s, "diff": paired_difference(records[_agent(a, s)], records[_agent(b, s)], metric)}
            if metric == "feasible":
                row["constraint_rate_diff"] = paired_difference(records[_agent(a, s)], records[_agent(b, s)],
                                                                "constraint_rate")
            per_seed.append(row)
        out.append({"question": question, "a": a, "b": b, "metric": metric, "effect": effect,
                    "constraint_rate_effect": csr, "verdict": verdict(effect), "power": power_note(effect),
                    "per_seed": per_seed})
    return out
