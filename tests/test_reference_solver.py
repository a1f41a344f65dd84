"""The compiled CasADi + Ipopt reference AC-OPF against PYPOWER (the cross-check), on every registered case.

Both solvers answer the same instances; their costs agree within 1e-6 relative and both
states, written at the prompt's decimals as the env's reference answer, are feasible in
feasgym's checker and in pandapower's. Expected costs come from PYPOWER and PGLib's
BASELINE.md, not from the code under test.
"""
from __future__ import annotations

import contextlib
import io
import json
import pickle

import numpy as np
import pytest

import feasgym  # noqa: F401
import gymnasium as gym
from feasgym.envs.grids.acopf_ipopt import compiled_acopf
from feasgym.envs.grids.case import base_loads, pglib_name
from feasgym.envs.grids.opf_solver import solve_reference
from feasgym.envs.grids.pandapower_check import PandapowerChecker
from feasgym.envs.grids import GRID_CASES

from .helpers import pglib_baselines

def make(case: str, **kwargs):
    return gym.make(f"feasgym/ACOPF-{case}-v0", **kwargs).unwrapped


INSTANCES = {"case5": 3, "case14": 3, "case30": 3, "case57": 2, "case118": 2, "case300": 1}


def answered_values(env) -> dict:
    """The reference answer as the prompt's JSON, read back: the rounded state a model would write."""
    data = json.loads(env.reference_answer())
    inst = env.instance
    gens, buses = data["generators"], data["buses"]
    return {"generators": {f: np.array([gens[g][f] for g in inst.gen_ids]) for f in ("p_mw", "q_mvar")},
            "buses": {f: np.array([buses[b][f] for b in inst.bus_ids]) for f in ("vm_pu", "va_deg")}}


def pandapower_violations(env) -> dict:
    v = answered_values(env)
    found = PandapowerChecker(env.instance).violations(v["generators"]["p_mw"], v["generators"]["q_mvar"],
                                                      v["buses"]["vm_pu"], v["buses"]["va_deg"])
    return {kind: elements for kind, elements in found.items() if elements}


def pypower_power_flow_gap(env) -> tuple[float, float]:
    """Largest |Vm| and angle gap between the answer and PYPOWER's own power flow from its setpoints
    (generator P, generator-bus Vm, reference angle 0): the independent check where pandapower's
    conversion of the case differs (case300, see below)."""
    from pypower.ppoption import ppoption
    from pypower.runpf import runpf

    from feasgym.envs.grids.case import GEN_BUS, PG, VA, VG, VM, instance_ppc

    inst, v = env.instance, answered_values(env)
    m = inst.model
    ppc = instance_ppc(inst.case, inst.pd_mw, inst.qd_mvar, inst.outage)
    ppc["gen"][:, PG] = v["generators"]["p_mw"]
    ppc["gen"][:, VG] = v["buses"]["vm_pu"][m.gen_bus]
    ppc["bus"][:, VM], ppc["bus"][:, VA] = v["buses"]["vm_pu"], 0.0
    with contextlib.redirect_stdout(io.StringIO()):
        result, ok = runpf(ppc, ppoption(VERBOSE=0, OUT_ALL=0, PF_TOL=1e-10))
    assert ok
    index = {int(n): i for i, n in enumerate(result["bus"][:, 0])}
    rows = [index[int(n)] for n in m.bus_numbers]
    assert np.all(result["gen"][:, GEN_BUS] == ppc["gen"][:, GEN_BUS])
    return (float(np.abs(result["bus"][rows, VM] - v["buses"]["vm_pu"]).max()),
            float(np.abs(result["bus"][rows, VA] - v["buses"]["va_deg"]).max()))


def test_every_registered_case_has_an_instance_count():
    assert set(GRID_CASES) <= set(INSTANCES)


@pytest.mark.parametrize("case", list(GRID_CASES))
def test_both_solvers_agree_and_both_states_are_feasible(case):
    envs = {name: make(case, reference_solver=name, cache_dir=False) for name in ("casadi", "pypower")}
    for k in range(INSTANCES[case]):
        infos = {name: env.reset(seed=5, options={"instance": k})[1] for name, env in envs.items()}
        assert infos["casadi"]["skipped_draws"] == infos["pypower"]["skipped_draws"]  # same draws fail
        assert infos["casadi"]["prompt_hash"] == infos["pypower"]["prompt_hash"]
        costs = {name: env._solution["objective"] for name, env in envs.items()}
        assert costs["casadi"] == pytest.approx(costs["pypower"], rel=1e-6), (case, k)
        for name, env in envs.items():
            s = env.score(env.reference_answer())
            assert s["format"]["score"] == 1.0
            assert s["feasibility"]["feasible"], (case, k, name, s["feasibility"]["violations"][:3])
            if case == "case300":
                # pandapower's from_ppc model of case300 (13 transformers between equal voltage levels)
                # puts its power flow 0.105 p.u. / 1.9 deg away from the same setpoints' PYPOWER flow.
                dvm, dva = pypower_power_flow_gap(env)
                assert dvm < 1e-5 and dva < 1e-3, (case, k, name, dvm, dva)
            else:
                assert pandapower_violations(env) == {}, (case, k, name)


@pytest.mark.parametrize("case", list(GRID_CASES))
def test_unperturbed_costs_match_pglib_baseline(case):
    baseline = pglib_baselines()[pglib_name(case)][1]
    pd, qd = base_loads(case)
    for solver in ("casadi", "pypower"):
        if solver == "pypower" and case == "case300":
            continue  # 2 s; the agreement test above already compares PYPOWER on case300
        state = solve_reference(case, pd, qd, None, solver)
        assert state["objective"] == pytest.approx(baseline, rel=1e-3), solver


def test_outages_are_parameters_of_one_built_solver():
    """N-1 instances reuse the case's solver (branch status as a parameter) and match PYPOWER on the reduced grid."""
    solver = compiled_acopf("case14")
    env = make("case14", n_minus_1=True, cache_dir=False)
    pypower = make("case14", n_minus_1=True, reference_solver="pypower", cache_dir=False)
    outages = set()
    for k in range(4):
        env.reset(seed=3, options={"instance": k})
        pypower.reset(seed=3, options={"instance": k})
        outages.add(env.instance.outage)
        assert env._solution["objective"] == pytest.approx(pypower._solution["objective"], rel=1e-6)
        assert env.score(env.reference_answer())["feasibility"]["feasible"]
    assert len(outages) > 1 and compiled_acopf("case14") is solver


def test_failed_draws_are_detected_and_agree_with_pypower():
    pd, qd = base_loads("case30")
    solver = compiled_acopf("case30")
    over = pd * solver.total_pmax / pd.sum() * 1.01  # more load than all generators together can supply
    assert solve_reference("case30", over, qd, None, "casadi") is None
    assert solver.last_stats["return_status"] == "load_above_capacity"
    assert solve_reference("case30", over, qd, None, "pypower") is None
    heavy = 1.15  # within capacity, but no AC-feasible operating point (voltage/reactive limits)
    assert pd.sum() * heavy < solver.total_pmax
    assert solve_reference("case30", pd * heavy, qd * heavy, None, "casadi") is None
    assert solver.last_stats["return_status"] == "Infeasible_Problem_Detected"  # Ipopt's verdict, no cold retry
    assert solve_reference("case30", pd * heavy, qd * heavy, None, "pypower") is None


def test_env_with_either_solver_pickles_and_caches_separately(tmp_path):
    fast = make("case5", cache_dir=tmp_path)
    slow = make("case5", reference_solver="pypower", cache_dir=tmp_path)
    assert fast.family.cache_key() != slow.family.cache_key()
    fast.reset(seed=0)
    clone = pickle.loads(pickle.dumps(fast))
    clone.reset(seed=0)
    assert clone.reference_answer() == fast.reference_answer()
    with pytest.raises(ValueError, match="reference_solver"):
        make("case5", reference_solver="gurobi")
