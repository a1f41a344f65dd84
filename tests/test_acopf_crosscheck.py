"""Independent cross-check of the AC-OPF checker against pandapower's own model and power flow.

A solver state is feasible in both; states perturbed in voltage, angle or dispatch, a
line overloaded, or a voltage setpoint pushed over its limit are flagged by both, with
matching violation types (our P/Q balance rows <-> pandapower's "state is not the power
flow solution of its setpoints"). pandapower reads limits off its own re-solved state, so
for a perturbed dispatch it may also flag generators that sat at a limit at the optimum.
"""
from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest

import feasgym  # noqa: F401
from feasgym.envs.core.family import values_from_solution
from feasgym.envs.grids.pandapower_check import BALANCE, PandapowerChecker

BALANCE_TYPES = {"p_balance", "q_balance", "total_p_balance", "total_q_balance"}


def our_types(family, inst, values) -> set[str]:
    feas = family.check(inst, values)[0].result()
    return {BALANCE if t in BALANCE_TYPES else t for t, row in feas["by_type"].items() if row["violated"]}


def pp_types(checker, values) -> set[str]:
    g, b = values["generators"], values["buses"]
    found = checker.violations(g["p_mw"], g["q_mvar"], b["vm_pu"], b["va_deg"])
    return {t for t, elements in found.items() if elements}


@pytest.fixture(scope="module", params=["case14", "case118"])
def solved(request):
    env = gym.make(f"feasgym/ACOPF-{request.param}-v0")
    env.reset(seed=2)
    u = env.unwrapped
    return u.family, u.instance, values_from_solution(u._solution), PandapowerChecker(u.instance)


def copy_values(values):
    return {s: {f: c.copy() for f, c in fs.items()} for s, fs in values.items()}


def test_solver_state_is_feasible_in_both(solved):
    family, inst, values, checker = solved
    assert our_types(family, inst, values) == set()
    assert pp_types(checker, values) == set()


def _pq_bus_with_margin(inst, values):
    m = inst.model
    vm = values["buses"]["vm_pu"]
    pq = np.setdiff1d(np.arange(m.n_bus), m.gen_bus)
    return int(pq[np.argmax(np.minimum(vm[pq] - m.vmin[pq], m.vmax[pq] - vm[pq]))])


def test_voltage_perturbation_flagged_as_balance_by_both(solved):
    family, inst, values, checker = solved
    bad = copy_values(values)
    bad["buses"]["vm_pu"][_pq_bus_with_margin(inst, values)] += 0.02
    assert our_types(family, inst, bad) == pp_types(checker, bad) == {BALANCE}


def test_angle_perturbation_flagged_as_balance_by_both(solved):
    family, inst, values, checker = solved
    bad = copy_values(values)
    bad["buses"]["va_deg"][_pq_bus_with_margin(inst, values)] += 1.0
    assert our_types(family, inst, bad) == pp_types(checker, bad) == {BALANCE}


def test_dispatch_perturbation_flagged_as_balance_by_both(solved):
    family, inst, values, checker = solved
    m = inst.model
    pg = values["generators"]["p_mw"]
    room = np.where(m.gen_bus != m.ref, m.pmax - pg, -np.inf)
    g = int(np.argmax(room))
    assert room[g] > 5.0
    bad = copy_values(values)
    bad["generators"]["p_mw"][g] += 5.0
    theirs = pp_types(checker, bad)
    assert our_types(family, inst, bad) == {BALANCE} and BALANCE in theirs
    # pandapower checks limits on its re-solved state, where the slack and the generators
    # already at a Q limit at the optimum absorb the change: it may flag those too.
    assert theirs - {BALANCE} <= {"gen_p", "gen_q"}


def test_overloaded_branch_flagged_by_both(solved):
    family, inst, values, _ = solved
    m = inst.model
    V = values["buses"]["vm_pu"] * np.exp(1j * np.deg2rad(values["buses"]["va_deg"]))
    flow = np.maximum(np.abs(V[m.f] * np.conj(m.Yf @ V)), np.abs(V[m.t] * np.conj(m.Yt @ V))) * m.base_mva
    k = int(np.argmax(np.where(np.isfinite(m.rate_mva), flow, -np.inf)))
    rate = m.rate_mva.copy()
    rate[k] = 0.8 * flow[k]
    tight = family.prepare(dataclasses.replace(inst, model=dataclasses.replace(m, rate_mva=rate)), None)
    checker = PandapowerChecker(inst, rate_mva=rate)
    assert our_types(family, tight, values) == pp_types(checker, values) == {"branch_flow"}
    g, b = values["generators"], values["buses"]
    assert checker.violations(g["p_mw"], g["q_mvar"], b["vm_pu"], b["va_deg"])["branch_flow"] == {k}


def test_power_flow_state_over_voltage_limit_flagged_by_both(solved):
    """A true power-flow state (balance holds) whose generator voltage setpoint exceeds vmax."""
    family, inst, values, checker = solved
    m = inst.model
    g = int(np.flatnonzero(m.gen_bus != m.ref)[0])
    bus = m.gen_bus[g]
    raised = copy_values(values)
    raised["buses"]["vm_pu"][bus] = m.vmax[bus] + 0.02
    gv = raised["generators"]
    assert checker.run(gv["p_mw"], gv["q_mvar"], raised["buses"]["vm_pu"], raised["buses"]["va_deg"])
    net = checker.net
    state = copy_values(values)
    state["buses"]["vm_pu"] = net.res_bus.loc[m.bus_numbers, "vm_pu"].to_numpy()
    state["buses"]["va_deg"] = net.res_bus.loc[m.bus_numbers, "va_degree"].to_numpy()
    pg, qg = checker.generator_outputs(gv["p_mw"], gv["q_mvar"])
    state["generators"]["p_mw"], state["generators"]["q_mvar"] = pg, qg
    ours, theirs = our_types(family, inst, state), pp_types(checker, state)
    assert "bus_vm" in ours and BALANCE not in ours
    assert ours == theirs


def test_direct_csr_product_is_the_operators():
    """complex_powers calls scipy's CSR kernel directly: bit for bit what ``Y @ V`` gives, NaN and inf included."""
    from feasgym.envs.grids.case import build_model
    from feasgym.envs.grids.checks import csr_times_vector

    Y = build_model("case14").Y_all
    rng = np.random.default_rng(0)
    for _ in range(50):
        V = rng.normal(size=Y.shape[1]) + 1j * rng.normal(size=Y.shape[1])
        V[rng.random(V.size) < 0.1] = rng.choice([np.nan, np.inf, -np.inf, 1e308])
        with np.errstate(all="ignore"):
            direct, operator = csr_times_vector(Y, V), Y @ V
        np.testing.assert_array_equal(direct.view(float), operator.view(float))
    real = rng.normal(size=Y.shape[1])  # another dtype takes the operator
    np.testing.assert_array_equal(csr_times_vector(Y, real), Y @ real)


def test_bus_powers_are_the_bus_part_of_complex_powers():
    """The power-flow checker's bus-only product gives exactly the first rows of the stacked one."""
    from feasgym.envs.grids.case import build_model
    from feasgym.envs.grids.checks import bus_powers, complex_powers

    rng = np.random.default_rng(1)
    for case in ("case14", "case118"):
        m = build_model(case)
        for _ in range(20):
            V = (1 + 0.1 * rng.normal(size=m.n_bus)) * np.exp(1j * rng.normal(size=m.n_bus))
            np.testing.assert_array_equal(bus_powers(m, V).view(float), complex_powers(m, V)[:m.n_bus].view(float))
