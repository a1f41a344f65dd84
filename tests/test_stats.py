"""Arena statistics against values computed by hand on tiny fixed tables."""
import numpy as np
import pytest

from feasgym.agents.arena.stats import mcnemar_exact, mean_ci, paired_diff_ci
from feasgym.agents.arena.summary import agent_summary, env_summary

A_FEASIBLE = [1, 1, 1, 0, 0, 1, 1, 0]
B_FEASIBLE = [0, 1, 0, 0, 1, 0, 1, 0]


def test_mcnemar_exact_on_discordant_pairs():
    # discordant: a only at 0, 2, 5; b only at 4 -> two-sided binomial, n=4, k=3:
    # P(X<=1) + P(X>=3) = (1 + 4 + 4 + 1) / 16
    out = mcnemar_exact(np.array(A_FEASIBLE, bool), np.array(B_FEASIBLE, bool))
    assert (out["a_only"], out["b_only"]) == (3, 1)
    assert out["p_value"] == pytest.approx(10 / 16)
    # 6 discordant pairs all one way: 2 * (1/2)^6
    assert mcnemar_exact([True] * 6 + [False], [False] * 7)["p_value"] == pytest.approx(2 / 64)
    # no discordant pairs: no evidence either way
    assert mcnemar_exact([True, False], [True, False]) == {"p_value": 1.0, "a_only": 0, "b_only": 0}


def test_bootstrap_ci_matches_the_exact_bootstrap_distribution():
    # Resampling [0,0,0,1] gives means 0, .25, .5, .75, 1 with cumulative probabilities
    # .316, .738, .949, .996, 1: the 2.5% quantile is 0 and the 97.5% quantile is 0.75.
    ci = mean_ci([0, 0, 0, 1])
    assert ci == {"mean": 0.25, "ci_low": 0.0, "ci_high": 0.75, "n": 4}
    assert mean_ci([0, 0, 0, 1]) == ci  # fixed seed: reproducible
    assert mean_ci([0.5, 0.5]) == {"mean": 0.5, "ci_low": 0.5, "ci_high": 0.5, "n": 2}
    assert mean_ci([]) is None
    with pytest.raises(ValueError):
        mean_ci([1.0, float("nan")])


def test_paired_bootstrap_resamples_pairs_together():
    # differences are [0, 0, 0, 0.25]: the same distribution as above, scaled by 0.25
    ci = paired_diff_ci([0.9, 0.8, 1.0, 0.5], [0.9, 0.8, 1.0, 0.25])
    assert ci["mean"] == pytest.approx(0.0625)
    assert ci["ci_low"] == pytest.approx(0.0) and ci["ci_high"] == pytest.approx(0.1875)
    with pytest.raises(ValueError):
        paired_diff_ci([1, 2], [1])


def _record(instance, feasible, fmt, csr, gap=None, error=None, p_bad=0):
    return {"instance": instance, "feasible": bool(feasible), "format": fmt, "constraint_rate": csr,
            "answer_found": fmt > 0, "gap": gap, "error": error, "truncated_prompt": False,
            "prompt_tokens": None, "completion_tokens": 10, "latency_s": 0.5,
            "violations_by_type": {"p_balance": {"violated": p_bad, "total": 5, "max_violation": 0.0},
                                   "bus_vm": {"violated": 0, "total": 5, "max_violation": 0.0}}}


def test_summary_on_a_fixed_table():
    a = [_record(i, f, 1.0, 1.0 if f else 0.8, gap=0.01 * i if f else None, p_bad=0 if f else 1)
         for i, f in enumerate(A_FEASIBLE)]
    b = [_record(i, f, 0.5, 1.0 if f else 0.6, gap=0.02 if f else None, error="HTTP 500" if i == 3 else None,
                 p_bad=0 if f else 2) for i, f in enumerate(B_FEASIBLE)]
    s = agent_summary(a)
    assert s["n"] == 8 and s["errors"] == 0
    assert s["feasible"]["mean"] == pytest.approx(5 / 8)
    assert s["constraint_rate"]["mean"] == pytest.approx((5 * 1.0 + 3 * 0.8) / 8)
    # gap only over feasible answers: instances 0, 1, 2, 5, 6 -> 0, .01, .02, .05, .06
    assert s["gap_feasible"]["mean"] == pytest.approx(0.028)
    assert s["form_feasibility_gap"]["mean"] == pytest.approx(3 * 0.2 / 8)
    assert s["form_full_feasibility_gap"]["mean"] == pytest.approx(3 / 8)
    assert s["violations_by_type"]["p_balance"] == {"violated": 3, "total": 40, "episodes_violated": 3,
                                                   "rate": 3 / 40, "episodes_rate": 3 / 8}
    assert s["violations_by_type"]["bus_vm"]["rate"] == 0.0
    assert s["mean_latency_s"] == 0.5 and s["mean_prompt_tokens"] is None
    assert agent_summary(b)["errors"] == 1

    section = env_summary({"a": a, "b": b, "c": a}, "feasgym/X-v0")
    assert [(p["a"], p["b"]) for p in section["pairs"]] == [("a", "b"), ("a", "c"), ("b", "c")]
    ab = section["pairs"][0]
    assert ab["n_pairs"] == 8
    assert ab["feasible_diff"] == pytest.approx(5 / 8 - 3 / 8)
    assert ab["n_discordant"] == {"a_only": 3, "b_only": 1}
    assert ab["mcnemar_p"] == pytest.approx(10 / 16)
    # csr differences per instance: a-b = 0 (both feasible), .2 (both infeasible), 1-.6 = .4 (a only),
    # .8-1 = -.2 (b only): instances 0..7 -> .4, 0, .4, .2, -.2, .4, 0, .2
    assert ab["constraint_rate_diff"]["mean"] == pytest.approx(1.4 / 8)
    assert ab["format_diff"] == {"mean": 0.5, "ci_low": 0.5, "ci_high": 0.5, "n": 8}
    ac = section["pairs"][1]
    assert ac["mcnemar_p"] == 1.0 and ac["feasible_diff"] == 0.0


def test_pairs_use_only_shared_instances():
    a = [_record(i, 1, 1.0, 1.0) for i in range(4)]
    b = [_record(i, 0, 1.0, 0.5) for i in (1, 3)]
    pair = env_summary({"a": a, "b": b}, "x")["pairs"][0]
    assert pair["n_pairs"] == 2 and pair["n_discordant"] == {"a_only": 2, "b_only": 0}
