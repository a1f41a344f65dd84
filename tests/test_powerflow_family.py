"""Power-flow envs: contract, oracle feasibility, agreement with PYPOWER runpf, errors vs truth, bad input."""
from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

import feasgym  # noqa: F401
from feasgym.envs.core.family import values_from_solution
from feasgym.envs.grids import GRID_CASES
from feasgym.envs.registry import ENV_IDS

from .helpers import oracle_scores
from .test_acopf import BAD_INPUTS

PF_IDS = [f"feasgym/PowerFlow-{c}-v0" for c in GRID_CASES]
ORACLE_SEEDS = {"case5": 20, "case14": 20, "case30": 20, "case57": 10, "case118": 4}


def make(case="case14", **kwargs):
    return gym.make(f"feasgym/PowerFlow-{case}-v0", **kwargs)


def test_every_grid_case_is_registered():
    assert set(PF_IDS) <= set(ENV_IDS)


@pytest.mark.parametrize("case", list(ORACLE_SEEDS))
def test_oracle_answer_is_feasible_with_zero_error(case):
    for s in oracle_scores(make(case), range(ORACLE_SEEDS[case]), case):
        errors = s["optimality"]["errors"]
        # only the prompt's rounding separates the written oracle from the true state
        assert errors["vm_pu"] <= 5e-6 + 1e-12 and errors["va_deg"] <= 5e-5 + 1e-12
        assert errors["p_mw"] <= 5e-4 * 3 and errors["q_mvar"] <= 5e-4 * 3
        assert s["reward"] == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("case", ["case14", "case118"])
def test_reference_matches_pypower_runpf(case):
    from pypower.ppoption import ppoption
    from pypower.runpf import runpf

    from feasgym.envs.grids.case import BUS_TYPE, GEN_BUS, PG, VG, VM, VA, instance_ppc

    env = make(case).unwrapped
    env.reset(seed=3)
    inst = env.instance
    m = inst.model
    ppc = instance_ppc(case, inst.pd_mw, inst.qd_mvar, inst.outage)
    ppc["gen"][:, PG] = np.nan_to_num(inst.p_set)
    ppc["gen"][:, VG] = inst.v_bus[m.gen_bus]
    ppc["bus"][:, BUS_TYPE] = 1
    ppc["bus"][m.gen_bus, BUS_TYPE] = 2
    ppc["bus"][m.ref, BUS_TYPE] = 3
    assert np.all(ppc["gen"][:, GEN_BUS] == m.bus_numbers[m.gen_bus])
    result, ok = runpf(ppc, ppoption(VERBOSE=0, OUT_ALL=0, PF_TOL=1e-10))
    assert ok
    truth = values_from_solution(env._solution)
    np.testing.assert_allclose(truth["buses"]["vm_pu"], result["bus"][:, VM], atol=1e-7)
    va = result["bus"][:, VA] - result["bus"][m.ref, VA]
    np.testing.assert_allclose(truth["buses"]["va_deg"], va, atol=1e-5)
    # the reference bus generation (load + losses) agrees
    ref_gens = m.gen_bus == m.ref
    assert truth["generators"]["p_mw"][ref_gens].sum() == pytest.approx(result["gen"][ref_gens, PG].sum(), abs=1e-4)


def test_looks_right_answer_is_infeasible_and_its_errors_are_reported():
    env = make("case14").unwrapped
    for seed in range(5):
        env.reset(seed=seed)
        s = env.score(env.nominal_answer())
        assert s["format"]["score"] == 1.0 and not s["feasibility"]["feasible"]
        assert s["optimality"]["errors"]["va_deg"] > 0.1 and s["optimality"]["errors"]["vm_pu"] > 1e-3
        assert s["reward"] < 0.4


@pytest.mark.parametrize("where, expected_type", [
    (("buses", "vm_pu", 13, +0.01), "q_balance"),
    (("buses", "va_deg", 8, +0.5), "p_balance"),
    (("generators", "p_mw", 1, +0.5), "p_setpoint"),
    (("buses", "vm_pu", 1, +0.001), "vm_setpoint"),
    (("buses", "va_deg", 0, +1.0), "ref_angle"),
    (("generators", "q_mvar", 2, +5.0), "q_balance"),
])
def test_wrong_physics_is_infeasible_and_named(where, expected_type):
    env = make("case14").unwrapped
    env.reset(seed=0)
    values = values_from_solution(env._solution)
    section, field, index, delta = where
    values[section][field][index] += delta
    s = env.score(env._schema.write(values))
    assert s["format"]["score"] == 1.0 and not s["feasibility"]["feasible"]
    assert any(v["type"] == expected_type for v in s["feasibility"]["violations"])
    assert s["optimality"]["gap"] is None


def test_any_q_split_at_a_shared_bus_passes():
    env = make("case5").unwrapped  # case5 has two generators at one bus
    env.reset(seed=0)
    m = env.instance.model
    shared = np.flatnonzero(np.bincount(m.gen_bus)[m.gen_bus] > 1)
    assert len(shared) == 2
    values = values_from_solution(env._solution)
    values["generators"]["q_mvar"][shared] += np.array([7.0, -7.0])
    s = env.score(env._schema.write(values))
    assert s["feasibility"]["feasible"] and s["optimality"]["errors"]["q_mvar"] < 2e-3


def test_prompt_states_setpoints_and_rules():
    env = make("case14").unwrapped
    prompt, _ = env.reset(seed=0)
    inst = env.instance
    for needle in ("AC power flow", "p_set_mw", "v_set_pu", "Reference bus 1", "No limits are enforced",
                   "exactly 7 decimal places", "exactly 5 decimal places", "exactly 3 decimal places"):
        assert needle in prompt, needle
    g = 1  # a PV generator: its row shows its setpoints
    row = next(line for line in prompt.splitlines() if line.startswith(f"{inst.gen_ids[g]},"))
    assert row.endswith(f"{inst.p_set[g]:g},{inst.v_bus[inst.model.gen_bus[g]]:g}")


def test_bad_inputs_never_raise_and_never_look_feasible():
    env = make("case14").unwrapped
    env.reset(seed=0)
    for text in BAD_INPUTS + [None, b"\xff\xfe", 3.5]:
        s = env.score(text)
        assert 0.0 <= s["format"]["score"] < 1.0 and not s["feasibility"]["feasible"]
        assert s["optimality"]["gap"] is None
        json.dumps(s["optimality"])  # errors stay JSON-serializable (None where missing)


def test_missing_values_give_missing_errors_not_crashes():
    env = make("case14").unwrapped
    env.reset(seed=0)
    answer = json.loads(env.reference_answer())
    del answer["buses"]["14"]
    s = env.score(json.dumps(answer))
    assert not s["feasibility"]["feasible"] and s["optimality"]["errors"]["vm_pu"] is None


@pytest.mark.parametrize("case", ["case5", "case14"])
def test_oracle_lies_inside_the_numeric_value_bounds(case):
    """A numeric (SB3) policy scaled to value_bounds must be able to write the right answer."""
    env = gym.make(f"feasgym/PowerFlow-{case}-v0")
    for seed in range(5):
        env.reset(seed=seed)
        u = env.unwrapped
        values = values_from_solution(u._solution)
        for section, fields in u.family.value_bounds(u.instance).items():
            for name, (lo, hi) in fields.items():
                v = values[section][name]
                assert np.all(v >= lo - 1e-9) and np.all(v <= hi + 1e-9), (case, seed, section, name)
