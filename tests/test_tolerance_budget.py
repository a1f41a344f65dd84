"""The balance tolerances cannot be borrowed: phantom injection, prompt = instance, below_reference.

The attacks are solved by PYPOWER (an independent solver with locational prices), written at the
prompt's decimals and scored by the env; expected bounds come from the issue's targets, and each
attack is also run against the old tolerances to show it is real (the test can fail).
"""
from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

import feasgym  # noqa: F401
from feasgym.envs.core.weighting import objective_gap, optimality_credit
from feasgym.envs.grids.attacks import acopf_attacks, best_gain, limit_attacks, powerflow_attacks
from feasgym.envs.grids.checks import ACTolerances

OLD = ACTolerances(balance_pu=1e-2, system_balance_pu=math.inf, flow_pu=1e-2)
PF_ACCURACY = {"vm_pu": 1e-4, "va_deg": 1e-2, "p_mw": 0.1, "q_mvar": 0.1}  # README "Tolerances"


@pytest.mark.parametrize("case", ["case5", "case14", "case30"])
def test_phantom_injection_gains_at_most_a_tenth_of_a_percent(case):
    env = gym.make(f"feasgym/ACOPF-{case}-v0")
    env.reset(seed=3, options={"instance": 0})
    results = acopf_attacks(env, fractions=(0.9, 0.99))
    assert results, "the attack solves must succeed"
    assert best_gain(results) <= 1e-3
    # every feasible attack answer that beats the reference by more than solver noise is flagged
    for r in results:
        s = env.unwrapped.score(r.answer)
        if r.feasible and r.gain > 1e-4:
            assert s["optimality"]["below_reference"]
            assert s["reward_components"]["optimality"] == 1.0  # capped: no credit beyond the reference


@pytest.mark.parametrize("case,mode", [("case14", "full"), ("case14", "setpoints"), ("case30", "setpoints")])
def test_limit_tolerances_spent_at_once_gain_at_most_a_tenth_of_a_percent(case, mode):
    """Every limit widened by just under its tolerance (voltages, generator P/Q, flows, angles; in setpoint
    mode the power flow's outputs by their larger allowance), solved by PYPOWER, scored for the real limits.
    Measured (4 instances, fractions 0.5/0.9/0.99): best gains 0.005-0.047% full state, 0.012-0.059%
    setpoints over case5-case118."""
    env = gym.make(f"feasgym/ACOPF-{case}-v0", answer_mode=mode)
    env.reset(seed=0, options={"instance": 0})
    results = limit_attacks(env, fractions=(0.9, 0.99))
    assert any(r.feasible for r in results), "the relaxed optimum must score feasible: the attack is live"
    assert 0 < best_gain(results) <= 1e-3  # it buys something (the limits bind), but at most 0.1%
    # a 10x larger allowance would let the same attack buy more: the bound above is what the tolerance decides
    wide = ACTolerances(vm_pu=1e-3, gen_pu=1e-3, derived_gen_pu=1e-1, flow_pu=2e-3, angle_deg=1e-2)
    env_wide = gym.make(f"feasgym/ACOPF-{case}-v0", answer_mode=mode, tolerances=wide)
    env_wide.reset(seed=0, options={"instance": 0})
    assert best_gain(limit_attacks(env_wide, fractions=(0.9, 0.99))) > best_gain(results)


def test_phantom_injection_is_real_under_the_old_tolerances():
    env = gym.make("feasgym/ACOPF-case14-v0", tolerances=OLD)
    env.reset(seed=3, options={"instance": 0})
    results = acopf_attacks(env, variants=("all",), fractions=(0.9,))
    assert best_gain(results) > 0.02  # the issue measured 4.9% on case14
    s = env.unwrapped.score(results[0].answer)
    assert s["feasibility"]["feasible"] and s["optimality"]["below_reference"]
    assert s["optimality"]["gap"] < -0.02


@pytest.mark.parametrize("case", ["case14", "case118"])
def test_powerflow_answers_marked_feasible_are_close_to_the_true_flow(case):
    env = gym.make(f"feasgym/PowerFlow-{case}-v0")
    env.reset(seed=0, options={"instance": 0})
    results = powerflow_attacks(env, fractions=(0.5, 0.9, 0.99))
    assert any(r["feasible"] for r in results)
    for r in results:
        if r["feasible"]:
            for key, bound in PF_ACCURACY.items():
                assert r["errors"][key] <= bound, (r["variant"], r["fraction"], key, r["errors"][key])


def test_powerflow_phantom_moved_the_slack_under_the_old_tolerances():
    env = gym.make("feasgym/PowerFlow-case14-v0", tolerances=OLD)
    env.reset(seed=0, options={"instance": 0})
    worst = max(r["errors"]["p_mw"] for r in powerflow_attacks(env, variants=("all",), fractions=(0.9,))
                if r["feasible"])
    assert worst > 5.0  # the issue measured 14 MW on case14


def _table(prompt: str, title: str) -> dict[str, dict[str, float]]:
    lines = prompt.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    header = lines[start + 1].split(",")
    rows = {}
    for line in lines[start + 2:]:
        if not line or "," not in line:
            break
        cells = dict(zip(header, line.split(",")))
        rows[cells[header[0]]] = cells
    return rows


def _f(text: str) -> float:
    return math.inf if text == "none" else float(text)


@pytest.mark.parametrize("env_id", ["feasgym/ACOPF-case30-v0", "feasgym/ACOPF-case118-ood-relabel-v0",
                                    "feasgym/DCOPF-case57-v0", "feasgym/PowerFlow-case14-v0"])
def test_the_prompt_is_the_instance(env_id):
    """Every number the prompt prints parses back to exactly what the checker and the solver use."""
    split = "ood" if "ood" in env_id else "train"
    env = gym.make(env_id, split=split)
    prompt, _ = env.reset(seed=5)
    inst = env.unwrapped.instance
    m = inst.model
    buses = _table(prompt, "Buses (")
    gens = _table(prompt, "Generators (")
    branches = _table(prompt, "Branches (")
    for i, bus in enumerate(inst.bus_ids):
        row = buses[bus]
        assert float(row["pd_mw"]) == inst.pd_mw[i] and float(row["qd_mvar"]) == inst.qd_mvar[i]
        assert float(row["gs_mw"]) == m.gs_mw[i] and float(row["bs_mvar"]) == m.bs_mvar[i]
        if "vmin_pu" in row:
            assert float(row["vmin_pu"]) == m.vmin[i] and float(row["vmax_pu"]) == m.vmax[i]
    for g, gen in enumerate(inst.gen_ids):
        row = gens[gen]
        assert [float(row[k]) for k in ("pmin_mw", "pmax_mw", "qmin_mvar", "qmax_mvar")] == [
            m.pmin[g], m.pmax[g], m.qmin[g], m.qmax[g]]
        if "c2" in row:
            assert [float(row[k]) for k in ("c2", "c1", "c0")] == m.cost[g].tolist()
        if "p_set_mw" in row and row["p_set_mw"] != "none":
            assert float(row["p_set_mw"]) == inst.p_set[g]
    for k, br in enumerate(inst.branch_ids):
        row = branches[br]
        expected = [m.r[k], m.x[k], m.b[k], m.rate_mva[k], m.tap[k], m.shift_deg[k], m.angmin_deg[k], m.angmax_deg[k]]
        got = [_f(row[c]) for c in ("r_pu", "x_pu", "b_pu", "rate_a_mva", "tap", "shift_deg", "angmin_deg", "angmax_deg")]
        assert got == expected


def test_objective_gap_follows_the_sense():
    assert objective_gap(101.0, 100.0, "min") == pytest.approx(0.01)
    assert objective_gap(99.0, 100.0, "min") == pytest.approx(-0.01)
    assert objective_gap(99.0, 100.0, "max") == pytest.approx(0.01)  # less return = worse
    assert objective_gap(101.0, 100.0, "max") == pytest.approx(-0.01)
    assert objective_gap(None, 100.0) is None and objective_gap(float("nan"), 100.0) is None
    assert optimality_credit(-0.5) == 1.0 and optimality_credit(0.025) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        objective_gap(1.0, 1.0, "maximize")


def test_the_oracle_is_never_below_the_reference():
    for env_id in ("feasgym/ACOPF-case118-v0", "feasgym/DCOPF-case30-v0", "feasgym/Portfolio-n30-v0",
                   "feasgym/PowerFlow-case30-v0"):
        env = gym.make(env_id)
        for k in range(3):
            env.reset(seed=1, options={"instance": k})
            s = env.unwrapped.score(env.unwrapped.reference_answer())
            assert s["feasibility"]["feasible"] and not s["optimality"]["below_reference"], env_id
            assert abs(s["optimality"]["gap"]) < 1e-4
