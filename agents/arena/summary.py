"""The arena summary: per-agent rates with bootstrap CIs and paired comparisons, from records only.

Metrics per agent (each a mean with a 95% percentile-bootstrap CI over episodes):
``answer_found`` (the env's ``answer_found`` format check), ``format`` (format score),
``constraint_rate`` (constraint-satisfaction rate, the env's feasibility score),
``feasible`` (all constraints satisfied), ``gap_feasible`` (relative optimality gap over
feasible answers only; None without any), ``form_feasibility_gap`` (format score minus
constraint-satisfaction rate, per episode) and ``form_full_feasibility_gap`` (format score
minus the 0/1 feasible indicator). ``violations_by_type[t]["rate"]`` is the share of
type-t constraint rows violated, summed over episodes.

Agents that played tool-using episodes also get ``tools``: tool calls per episode (mean with
CI), calls per tool, malformed calls, and ``feasible_per_tool_call`` (fully feasible episodes
divided by tool calls made). A pair of the same agent without and with tools gets
``feasible_gain_per_tool_call``: its feasible-rate difference divided by the tool side's mean calls.
"""
from __future__ import annotations

from itertools import combinations
from typing import Sequence

import numpy as np

from .stats import mcnemar_exact, mean_ci, paired_diff_ci


def _column(records: Sequence[dict], name: str) -> np.ndarray:
    return np.array([float(r[name]) for r in records], dtype=float)


def agent_summary(records: Sequence[dict]) -> dict:
    """Rates with CIs, violations by type, errors, tokens and latency for one agent on one env."""
    fmt = _column(records, "format")
    csr = _column(records, "constraint_rate")
    feasible = _column(records, "feasible")
    gaps = [float(r["gap"]) for r in records if r["feasible"] and r["gap"] is not None]
    by_type: dict[str, dict] = {}
    for r in records:
        for t, e in r["violations_by_type"].items():
            entry = by_type.setdefault(t, {"violated": 0, "total": 0, "episodes_violated": 0})
            entry["violated"] += e["violated"]
            entry["total"] += e["total"]
            entry["episodes_violated"] += int(e["violated"] > 0)
    for entry in by_type.values():
        entry["rate"] = entry["violated"] / entry["total"] if entry["total"] else 0.0
        entry["episodes_rate"] = entry["episodes_violated"] / len(records) if records else 0.0
    return {
        "n": len(records),
        "answer_found": mean_ci(_column(records, "answer_found")),
        "format": mean_ci(fmt),
        "constraint_rate": mean_ci(csr),
        "feasible": mean_ci(feasible),
        "gap_feasible": mean_ci(gaps),
        "form_feasibility_gap": mean_ci(fmt - csr),
        "form_full_feasibility_gap": mean_ci(fmt - feasible),
        "violations_by_type": by_type,
        "errors": sum(r["error"] is not None for r in records),
        "truncated_prompts": sum(bool(r["truncated_prompt"]) for r in records),
        "mean_prompt_tokens": _mean_known(records, "prompt_tokens"),
        "mean_completion_tokens": _mean_known(records, "completion_tokens"),
        "mean_latency_s": _mean_known(records, "latency_s"),
        "tools": tool_summary(records),
    }


def tool_summary(records: Sequence[dict]) -> dict | None:
    """Tool use of one agent's tool-using episodes (None when it played none)."""
    if not records or not any(r.get("tools") for r in records):
        return None
    calls = _column(records, "tool_calls")
    by_tool: dict[str, int] = {}
    for r in records:
        for name, n in (r.get("tool_calls_by_tool") or {}).items():
            by_tool[name] = by_tool.get(name, 0) + int(n)
    total = int(calls.sum())
    feasible = int(_column(records, "feasible").sum())
    return {"calls_per_episode": mean_ci(calls), "calls_total": total, "by_tool": by_tool,
            "malformed": int(sum(r.get("tool_malformed", 0) for r in records)),
            "cost_mean": float(np.mean([r.get("tool_cost", 0.0) for r in records])),
            "turns_mean": float(np.mean([r.get("turns", 1) for r in records])),
            "feasible_per_tool_call": feasible / total if total else None}


def _mean_known(records: Sequence[dict], name: str) -> float | None:
    known = [r[name] for r in records if r.get(name) is not None]
    return float(np.mean(known)) if known else None


def pair_summary(a_name: str, a: Sequence[dict], b_name: str, b: Sequence[dict]) -> dict:
    """Paired comparison of two agents on the instances both answered (a minus b)."""
    b_by_instance = {r["instance"]: r for r in b}
    pairs = [(r, b_by_instance[r["instance"]]) for r in a if r["instance"] in b_by_instance]
    ra = [p[0] for p in pairs]
    rb = [p[1] for p in pairs]
    feas_a, feas_b = _column(ra, "feasible"), _column(rb, "feasible")
    test = mcnemar_exact(feas_a.astype(bool), feas_b.astype(bool))
    gain = tools_diff = None
    uses = [bool(ra and ra[0].get("tools")), bool(rb and rb[0].get("tools"))]
    if pairs and uses[0] != uses[1]:  # one side with tools, one without: what each call bought
        tool_side = ra if uses[0] else rb
        mean_calls = float(_column(tool_side, "tool_calls").mean())
        tools_diff = float((feas_a.mean() - feas_b.mean()) * (1 if uses[0] else -1))
        gain = tools_diff / mean_calls if mean_calls > 0 else None
    return {
        "a": a_name,
        "b": b_name,
        "n_pairs": len(pairs),
        "feasible_diff_tools_minus_plain": tools_diff,
        "feasible_gain_per_tool_call": gain,
        "feasible_diff": float(feas_a.mean() - feas_b.mean()) if pairs else 0.0,
        "mcnemar_p": test["p_value"],
        "n_discordant": {"a_only": test["a_only"], "b_only": test["b_only"]},
        "constraint_rate_diff": paired_diff_ci(_column(ra, "constraint_rate"), _column(rb, "constraint_rate")),
        "format_diff": paired_diff_ci(_column(ra, "format"), _column(rb, "format")),
    }


def env_summary(records_by_agent: dict[str, list[dict]], env_id: str) -> dict:
    """One env section: every agent, then every unordered pair once in the agents' order."""
    names = list(records_by_agent)
    return {
        "env_id": env_id,
        "agents": {name: agent_summary(records_by_agent[name]) for name in names},
        "pairs": [pair_summary(a, records_by_agent[a], b, records_by_agent[b]) for a, b in combinations(names, 2)],
    }
