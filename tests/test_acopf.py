"""AC-OPF envs: contract, determinism, oracle feasibility, PGLib baselines, bad input, scoring."""
from __future__ import annotations

import json
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

import feasgym  # noqa: F401
from feasgym.envs.grids.case import pglib_name
from feasgym.envs.grids import GRID_CASES
from feasgym.envs.registry import ENV_IDS

from .helpers import oracle_scores, pglib_baselines

ACOPF_IDS = [i for i in ENV_IDS if i.startswith("feasgym/ACOPF-") and i.endswith(tuple(f"-{c}-v0" for c in GRID_CASES))]
ORACLE_SEEDS = {"case5": 50, "case14": 50, "case30": 50, "case57": 50, "case118": 12}


def make(case="case14", **kwargs):
    return gym.make(f"feasgym/ACOPF-{case}-v0", **kwargs)


def test_every_grid_case_is_registered():
    assert sorted(ACOPF_IDS) == sorted(f"feasgym/ACOPF-{c}-v0" for c in GRID_CASES)


@pytest.mark.parametrize("case", list(ORACLE_SEEDS))
def test_oracle_answer_is_feasible_and_well_formatted(case):
    for s in oracle_scores(make(case), range(ORACLE_SEEDS[case]), case):
        assert abs(s["optimality"]["gap"]) < 1e-4
        assert s["reward"] == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("case", list(GRID_CASES))
def test_unperturbed_reference_cost_matches_pglib_baseline(case):
    env = make(case, perturbation=None)
    env.reset(seed=0)
    cost = env.unwrapped.score(env.unwrapped.reference_answer())["optimality"]["reference_objective"]
    baseline = pglib_baselines()[pglib_name(case)][1]
    assert cost == pytest.approx(baseline, rel=1e-3)


def test_same_seed_same_prompt_in_another_process():
    env = make("case5")
    prompt, info = env.reset(seed=1234, options={"instance": 3})
    code = ("import gymnasium as gym, feasgym, json;"
            "e=gym.make('feasgym/ACOPF-case5-v0'); p,i=e.reset(seed=1234, options={'instance': 3});"
            "print(json.dumps(i))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1])["prompt_hash"] == info["prompt_hash"]


def test_instance_addressing_and_stream_advance():
    env = make("case5")
    p0, i0 = env.reset(seed=7)
    p1, i1 = env.reset()
    assert (i0["instance"], i1["instance"]) == (0, 1) and p0 != p1
    p1_again, _ = env.reset(seed=7, options={"instance": 1})
    assert p1_again == p1
    p_other_seed, _ = env.reset(seed=8, options={"instance": 1})
    assert p_other_seed != p1


def test_splits_draw_different_instances():
    prompts = {split: make("case5", split=split).reset(seed=0)[0] for split in ("train", "test", "ood")}
    assert len(set(prompts.values())) == 3


def test_unperturbed_option_gives_the_pglib_loads():
    from feasgym.envs.grids.case import base_loads

    env = make("case14", perturbation=None)
    env.reset(seed=3)
    np.testing.assert_array_equal(env.unwrapped.instance.pd_mw, base_loads("case14")[0])


def test_perturbation_within_documented_bounds():
    from feasgym.envs.grids.case import base_loads

    pd0 = base_loads("case30")[0]
    env = make("case30", perturbation={"scale": [0.9, 1.0], "noise": 0.05})
    loaded = pd0 > 0
    for k in range(5):
        env.reset(seed=0, options={"instance": k})
        ratio = env.unwrapped.instance.pd_mw[loaded] / pd0[loaded]
        assert ratio.min() >= 0.9 * 0.95 - 1e-12 and ratio.max() <= 1.0 * 1.05 + 1e-12


def test_n_minus_1_removes_one_branch_and_oracle_passes():
    env = make("case14", n_minus_1=True)
    outages = set()
    for k in range(4):
        prompt, _ = env.reset(seed=0, options={"instance": k})
        inst = env.unwrapped.instance
        assert inst.model.n_branch == 19 and inst.outage is not None
        assert f"L{inst.outage + 1} is out of service" in prompt
        outages.add(inst.outage)
        assert env.unwrapped.score(env.unwrapped.reference_answer())["feasibility"]["feasible"]
    assert len(outages) > 1


def test_failed_solves_are_skipped_deterministically_and_counted():
    # With the default perturbation ~20% of case30 draws have no feasible OPF (measured);
    # instance 1 of seed 0 is one that needs a redraw.
    infos = [make("case30", cache_dir=False).reset(seed=0, options={"instance": 1})[1] for _ in range(2)]
    assert infos[0] == infos[1]
    assert infos[0]["skipped_draws"] > 0


def test_prompt_is_self_contained():
    env = make("case14")
    prompt, _ = env.reset(seed=0)
    for needle in ("Base power: 100 MVA", "Buses (14)", "Generators (5)", "Branches (20)", "rate_a_mva", "tap",
                   "shift_deg", "angmin_deg", "c2*P^2", '"generators"', '"buses"', "exactly 5 decimal places",
                   "exactly 3 decimal places", "exactly 7 decimal places", "Reference bus 1"):
        assert needle in prompt, needle


def test_looks_right_answer_is_well_formatted_but_infeasible():
    env = make("case14")
    feasible = 0
    for seed in range(10):
        env.reset(seed=seed)
        s = env.unwrapped.score(env.unwrapped.nominal_answer())
        assert s["format"]["score"] == 1.0
        feasible += s["feasibility"]["feasible"]
        assert s["reward"] < 0.4  # any infeasible answer scores below any feasible one
    assert feasible == 0


@pytest.mark.parametrize("where, expected_type", [
    (("buses", "vm_pu", 5, +0.01), "p_balance"),
    (("buses", "va_deg", 8, +0.5), "p_balance"),
    (("generators", "p_mw", 1, +5.0), "p_balance"),
    (("generators", "q_mvar", 2, +5.0), "q_balance"),
    (("buses", "va_deg", 0, +1.0), "ref_angle"),
    (("generators", "p_mw", 0, +1000.0), "gen_p"),
])
def test_wrong_physics_is_infeasible_and_named(where, expected_type):
    from feasgym.envs.core.family import values_from_solution

    env = make("case14")
    env.reset(seed=0)
    u = env.unwrapped
    values = values_from_solution(u._solution)
    section, field, index, delta = where
    values[section][field][index] += delta
    s = u.score(u._schema.write(values))
    assert s["format"]["score"] == 1.0 and not s["feasibility"]["feasible"]
    assert s["feasibility"]["by_type"][expected_type]["violated"] >= 1
    assert any(v["type"] == expected_type for v in s["feasibility"]["violations"])
    assert s["optimality"]["gap"] is None


BAD_INPUTS = [
    "", "  \n", "no json here", '{"generators": {"G1": {"p_mw": 1.0', "{}", "[1, 2, 3]", "\x00\xff\x01" * 100,
    '{"generators": {"G1": {"p_mw": NaN, "q_mvar": Infinity}}, "buses": {"1": {"vm_pu": 1e999, "va_deg": -Infinity}}}',
    '{"generators": {"G1": {"p_mw": "1.000", "q_mvar": "x"}}, "buses": {}}',
    '{"generators": {"G1": {"p_mw": 1.000, "p_mw": 2.000}}, "buses": {"99": {"vm_pu": 1.00000}}}',
    '{"generators": ' + "[" * 50_000 + "]" * 50_000 + "}",
    "x" * 10_000_000,
    '{"generators": {"G1": {"p_mw": 1e308, "q_mvar": -1e308}}, "buses": {"1": {"vm_pu": 1e308, "va_deg": 1e308}}}',
    '{"generators": null, "buses": true}', '{"a": {"b": {"c": {}}}}',
]


@pytest.mark.parametrize("mode", ["full", "setpoints"])
def test_bad_inputs_never_raise_and_never_look_feasible(mode):
    env = make("case14", answer_mode=mode)
    env.reset(seed=0)
    for text in BAD_INPUTS + [None, b"\xff\xfe", 3.5]:
        s = env.unwrapped.score(text)
        assert 0.0 <= s["format"]["score"] < 1.0
        assert not s["feasibility"]["feasible"] and s["optimality"]["gap"] is None
        assert 0.0 <= s["feasibility"]["score"] < 1.0
        assert any(not c["passed"] and c["message"] for c in s["format"]["checks"])
        obs, reward, terminated, truncated, info = env.step(text)
        assert terminated and not truncated and reward < 0.4


def test_missing_one_bus_is_not_feasible():
    env = make("case14")
    env.reset(seed=0)
    answer = json.loads(env.unwrapped.reference_answer())
    del answer["buses"]["14"]
    s = env.unwrapped.score(json.dumps(answer))
    assert not s["feasibility"]["feasible"] and s["feasibility"]["by_type"]["bus_vm"]["missing"] == 1


def test_step_info_matches_score_and_reward_is_configurable():
    env = make("case5", reward_weights={"format": 1.0, "constraint_rate": 0.0, "feasible": 0.0, "optimality": 0.0})
    env.reset(seed=0)
    looks_right = env.unwrapped.nominal_answer()
    s = env.unwrapped.score(looks_right)
    _, reward, terminated, _, info = env.step(looks_right)
    assert reward == pytest.approx(1.0) == s["reward"]
    assert info["feasibility"] == s["feasibility"] and info["format"] == s["format"] and terminated
    with pytest.raises(ValueError):
        make("case5", reward_weights={"physics": 1.0})


@pytest.mark.parametrize("case, seeds", [("case5", 15), ("case14", 15), ("case30", 8), ("case57", 5), ("case118", 3)])
def test_setpoint_mode_oracle_is_feasible(case, seeds):
    env = make(case, answer_mode="setpoints")
    for seed in range(seeds):
        prompt, _ = env.reset(seed=seed)
        assert '"vm_pu"' in prompt and '"q_mvar"' not in prompt
        s = env.unwrapped.score(env.unwrapped.reference_answer())
        assert s["format"]["score"] == 1.0
        assert s["feasibility"]["feasible"], (case, seed, s["feasibility"]["violations"][:3])
        assert abs(s["optimality"]["gap"]) < 1e-3


def test_setpoint_mode_flags_bad_setpoints():
    env = make("case14", answer_mode="setpoints")
    env.reset(seed=0)
    answer = json.loads(env.unwrapped.reference_answer())
    answer["generators"]["G2"]["vm_pu"] = 1.2
    s = env.unwrapped.score(json.dumps(answer, indent=1).replace("1.2,", "1.20000,"))
    assert not s["feasibility"]["feasible"]
    assert s["feasibility"]["by_type"]["bus_vm"]["violated"] >= 1
    answer["generators"]["G2"]["vm_pu"] = 25.0  # power flow cannot converge sensibly
    s = env.unwrapped.score(json.dumps(answer))
    assert not s["feasibility"]["feasible"]


def test_lightsim_and_pypower_power_flows_agree():
    from feasgym.envs.grids.acopf import setpoint_power_flow
    from feasgym.envs.grids.checks import bus_injections
    from feasgym.envs.grids.newton import newton_power_flow

    env = make("case118", answer_mode="setpoints")
    env.reset(seed=0)
    inst = env.unwrapped.instance
    m = inst.model
    answer = json.loads(env.unwrapped.reference_answer())["generators"]
    pg = np.array([answer[g]["p_mw"] for g in inst.gen_ids])
    vset = np.array([answer[g]["vm_pu"] for g in inst.gen_ids])
    V_fast, ok = setpoint_power_flow(inst, pg, np.bincount(m.gen_bus, vset, m.n_bus) / np.maximum(np.bincount(m.gen_bus, minlength=m.n_bus), 1))
    gen_buses = np.unique(m.gen_bus)
    Sbus = bus_injections(inst, np.where(m.gen_bus == m.ref, 0.0, pg), np.zeros(m.n_gen))
    V0 = np.ones(m.n_bus, dtype=complex)
    V0[gen_buses] = V_fast[gen_buses].__abs__()
    V_ref, ok_ref = newton_power_flow(m.Ybus, Sbus, V0, m.ref, gen_buses[gen_buses != m.ref],
                                      np.setdiff1d(np.arange(m.n_bus), gen_buses), engine="pypower")
    assert ok and ok_ref
    np.testing.assert_allclose(V_fast, V_ref, atol=1e-7)
