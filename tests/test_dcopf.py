"""DC-OPF envs: contract, oracle feasibility, PGLib DC baselines, PYPOWER agreement (phase shifters, shunts), bad input."""
from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

import feasgym  # noqa: F401
from feasgym.envs.core.family import values_from_solution
from feasgym.envs.grids.case import pglib_name
from feasgym.envs.grids.dcopf import DCOPFFamily, dc_state
from feasgym.envs.grids import GRID_CASES
from feasgym.envs.registry import ENV_IDS

from .helpers import oracle_scores, pglib_baselines
from .test_acopf import BAD_INPUTS

DC_IDS = [f"feasgym/DCOPF-{c}-v0" for c in GRID_CASES]
ORACLE_SEEDS = {"case5": 20, "case14": 20, "case30": 20, "case57": 10, "case118": 4}


def make(case="case14", **kwargs):
    return gym.make(f"feasgym/DCOPF-{case}-v0", **kwargs)


def test_every_grid_case_is_registered():
    assert set(DC_IDS) <= set(ENV_IDS)


@pytest.mark.parametrize("case", list(ORACLE_SEEDS))
def test_oracle_answer_is_feasible_and_optimal(case):
    for s in oracle_scores(make(case), range(ORACLE_SEEDS[case]), case):
        assert abs(s["optimality"]["gap"]) < 1e-5
        assert s["reward"] == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("case", list(GRID_CASES))
def test_unperturbed_cost_matches_pglib_dc_baseline(case):
    """PGLib's DC column comes from PowerModels' DC model (r-aware susceptance, no taps/shifts):
    our "powermodels" model reproduces it within 0.1% on every case; MATPOWER's makeBdc model
    (the default) does too except on case30, whose high r/x lines move the cost by 0.42%."""
    baseline = pglib_baselines()[pglib_name(case)][0]
    costs = {}
    for model in ("powermodels", "matpower"):
        family = DCOPFFamily(case, dc_model=model)
        costs[model] = family.solve(family.nominal())["objective"]
    assert costs["powermodels"] == pytest.approx(baseline, rel=1e-3)
    if case == "case30":
        assert 3e-3 < (costs["matpower"] - baseline) / baseline < 6e-3
    else:
        assert costs["matpower"] == pytest.approx(baseline, rel=1e-3)


def test_matpower_model_matches_pypower_rundcopf_with_phase_shifter_and_shunts():
    """case300 has a phase shifter and 17 shunt conductances: cost, dispatch and flows agree with
    PYPOWER's own DC-OPF, and leaving out the shift injections would move flows by tens of MW."""
    from pypower.ppoption import ppoption
    from pypower.rundcopf import rundcopf

    from pypower.idx_brch import PF
    from pypower.idx_gen import PG

    from feasgym.envs.grids.case import load_ppc

    family = DCOPFFamily("case300")
    inst = family.nominal()
    ours = family.solve(inst)
    result = rundcopf(load_ppc("case300"), ppoption(VERBOSE=0, OUT_ALL=0))
    assert result["success"]
    assert ours["objective"] == pytest.approx(result["f"], rel=1e-6)
    pg = result["gen"][:, PG]
    mismatch, _, flows = dc_state(inst, inst.net, pg)
    assert abs(mismatch) < 1e-6
    np.testing.assert_allclose(flows, result["branch"][:, PF], atol=1e-6)
    without_shift = flows - inst.net.Pfinj * inst.model.base_mva
    assert np.max(np.abs(without_shift - result["branch"][:, PF])) > 10.0
    report, _ = family.check(inst, {"generators": {"p_mw": pg}})
    assert report.result()["feasible"]


def test_dc_models_differ_in_the_prompt():
    prompts = {m: make("case14", dc_model=m).reset(seed=0)[0] for m in ("matpower", "powermodels")}
    assert "x_pu * tap" in prompts["matpower"] and "MATPOWER" in prompts["matpower"]
    assert "r_pu^2 + x_pu^2" in prompts["powermodels"] and "PowerModels" in prompts["powermodels"]
    with pytest.raises(ValueError):
        make("case14", dc_model="acpf")


def test_looks_right_answer_is_infeasible():
    env = make("case14").unwrapped
    for seed in range(5):
        env.reset(seed=seed)
        s = env.score(env.nominal_answer())
        assert s["format"]["score"] == 1.0 and not s["feasibility"]["feasible"]
        assert s["feasibility"]["by_type"]["p_balance"]["violated"] == 1
        assert s["reward"] < 0.4


def test_wrong_dispatch_is_infeasible_and_named():
    env = make("case30").unwrapped
    env.reset(seed=0)
    m = env.instance.model
    base = values_from_solution(env._solution)

    def score_with(change):
        values = {"generators": {"p_mw": base["generators"]["p_mw"].copy()}}
        change(values["generators"]["p_mw"])
        return env.score(env._schema.write(values))

    s = score_with(lambda p: p.__setitem__(0, p[0] + 1.0))
    assert [v["type"] for v in s["feasibility"]["violations"]][:1] == ["p_balance"]
    g = int(np.argmax(m.pmax))
    s = score_with(lambda p: p.__setitem__(g, m.pmax[g] + 5.0))
    assert s["feasibility"]["by_type"]["gen_p"]["violated"] == 1
    # Move every MW to the reference-bus generator's far side: a balanced dispatch that overloads lines.
    order = np.argsort(m.gen_bus)

    def lopsided(p):
        total = p.sum()
        p[:] = 0.0
        for k in order:
            p[k] = min(m.pmax[k], total - p.sum())
    s = score_with(lopsided)
    assert s["feasibility"]["by_type"]["p_balance"]["violated"] == 0
    assert s["feasibility"]["by_type"]["branch_flow"]["violated"] >= 1
    assert not s["feasibility"]["feasible"] and s["optimality"]["gap"] is None


def test_bad_inputs_never_raise_and_never_look_feasible():
    env = make("case14").unwrapped
    env.reset(seed=0)
    for text in BAD_INPUTS + [None, b"\xff\xfe", 3.5]:
        s = env.score(text)
        assert 0.0 <= s["format"]["score"] < 1.0 and not s["feasibility"]["feasible"]
        assert s["optimality"]["gap"] is None and 0.0 <= s["feasibility"]["score"] < 1.0


def test_missing_generator_is_not_feasible():
    env = make("case14").unwrapped
    env.reset(seed=0)
    answer = json.loads(env.reference_answer())
    del answer["generators"]["G1"]
    s = env.score(json.dumps(answer))
    assert not s["feasibility"]["feasible"] and s["feasibility"]["by_type"]["gen_p"]["missing"] == 1


@pytest.mark.parametrize("case, seeds", [("case14", 10), ("case118", 2)])
def test_angles_mode_oracle_is_feasible_with_the_same_cost(case, seeds):
    angles = make(case, answer_mode="angles").unwrapped
    dispatch = make(case).unwrapped
    for seed in range(seeds):
        prompt, _ = angles.reset(seed=seed)
        dispatch.reset(seed=seed)
        assert "every bus's voltage angle" in prompt and "exactly 5 decimal places" in prompt
        s = angles.score(angles.reference_answer())
        assert s["format"]["score"] == 1.0 and s["feasibility"]["feasible"], s["feasibility"]["violations"][:3]
        assert s["feasibility"]["by_type"]["p_balance"]["total"] == angles.instance.model.n_bus
        assert s["optimality"]["reference_objective"] == pytest.approx(dispatch._solution["objective"], rel=1e-9)


def test_angles_mode_checks_the_answered_angles():
    env = make("case14", answer_mode="angles").unwrapped
    env.reset(seed=0)
    values = values_from_solution(env._solution)
    values["buses"]["va_deg"][8] += 0.5  # bus 9's angle no longer matches its injections
    s = env.score(env._schema.write(values))
    bad = {v["element"] for v in s["feasibility"]["violations"] if v["type"] == "p_balance"}
    assert "bus 9" in bad and not s["feasibility"]["feasible"]
    values = values_from_solution(env._solution)
    values["buses"]["va_deg"] += 1.0  # a uniform shift keeps flows but moves the reference angle
    s = env.score(env._schema.write(values))
    assert [v["type"] for v in s["feasibility"]["violations"]] == ["ref_angle"]
    with pytest.raises(ValueError):
        make("case14", answer_mode="flows")
