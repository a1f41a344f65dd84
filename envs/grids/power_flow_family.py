"""AC power flow on PGLib grids: given loads and generator setpoints, answer the solved state.

The Newton-Raphson diagnostic: there is nothing to optimize, one physical answer exists,
and a model that recalls a template of the case instead of computing the physics fails
the power-balance rows. Each instance draws perturbed loads (as the other grid families)
and generator setpoints: active power around an equal-loading dispatch of the drawn load
(per-generator factor U[0.85, 1.15]), voltage setpoints U[1.00, 1.05] p.u. at generator
buses. The reference bus takes up the active balance (losses); generator buses supply
the reactive power that holds their voltage. No limits are enforced: it is a power flow.

Reference: the AC power flow from those setpoints (lightsim2grid / PYPOWER Newton-Raphson,
shared with AC-OPF's setpoint mode; a test checks it against PYPOWER ``runpf``).
Feasibility: P and Q balance at every bus within the AC-OPF tolerances (same decimals),
voltage and active-power setpoints held, reference angle 0. ``info['optimality']['errors']``
gives the largest error per quantity against the true power-flow solution.
"""
from __future__ import annotations

import math

from dataclasses import dataclass, field

import numpy as np

from ..core.constraints import ConstraintReport, RowBlock
from ..core.family import solution_record, values_from_solution
from ..core.schema import AnswerSchema, Section, Values
from . import render
from .acopf import ANGLE_RANGE_DEG, P_FIELD, Q_FIELD, generator_outputs, setpoint_power_flow, state_fields
from .checks import (ACTolerances, add_balance_rows, add_ref_angle_row, balance_mismatch, balance_rule,
                     balance_values, bus_powers, pick)
from .family import GridFamily, angle_bounds
from .instance import GridInstance, LoadPerturbation

DISPATCH_SPREAD = 0.15  # per-generator factor U[1 - s, 1 + s] on the equal-loading dispatch
VSET_RANGE = (1.0, 1.05)  # generator-bus voltage setpoints, p.u.
VSET_NOMINAL = 1.02
SANE_VM = (0.7, 1.3)  # a solution outside this band is a low-voltage/divergent branch: redraw



@dataclass
class PowerFlowInstance(GridInstance):
    """A power-flow instance: its drawn setpoints and what its checker keeps (set in ``prepare``)."""

    p_set: np.ndarray = field(init=False, repr=False, compare=False)  # MW per generator, NaN at the reference bus
    v_bus: np.ndarray = field(init=False, repr=False, compare=False)  # p.u. per bus, NaN without a generator
    gen_buses: np.ndarray = field(init=False, repr=False, compare=False)
    fixed_p: np.ndarray = field(init=False, repr=False, compare=False)  # generators off the reference bus
    truth: tuple | None = field(default=None, init=False, repr=False, compare=False)  # reference arrays, cached

class PowerFlowFamily(GridFamily):
    name = "PowerFlow"
    instance_type = PowerFlowInstance

    def __init__(self, case: str = "case14", *, perturbation=LoadPerturbation(), n_minus_1: bool = False,
                 tolerances: ACTolerances | None = None, ood: str | None = None):
        super().__init__(case, perturbation=perturbation, n_minus_1=n_minus_1, ood=ood,
                         tolerances=tolerances or ACTolerances())

    def config_key(self) -> str:
        return f"spread={DISPATCH_SPREAD}|{VSET_RANGE}"

    def prepare(self, inst: GridInstance, rng: np.random.Generator | None) -> GridInstance:
        inst = super().prepare(inst, rng)
        assert isinstance(inst, PowerFlowInstance)
        m = inst.model
        inst.p_set, inst.v_bus = _setpoints(inst, rng)
        # p_set is NaN for generators at the reference bus (they take the balance); v_bus NaN without a generator
        inst.gen_buses = gb = np.unique(m.gen_bus)
        inst.fixed_p = fixed = np.flatnonzero(m.gen_bus != m.ref)
        tol, labels = self.tolerances, inst.labels
        inst.rows = block = RowBlock()
        add_balance_rows(block, inst, tol, labels)
        block.residual("vm_setpoint", size=gb.size, target=inst.v_bus[gb], tolerance=tol.vm_pu, unit="p.u.",
                       labels=pick(labels.bus, gb), description="generator buses hold their voltage setpoint")
        block.residual("p_setpoint", size=fixed.size, target=inst.p_set[fixed], tolerance=tol.gen_pu * m.base_mva,
                       unit="MW", labels=pick(labels.gen, fixed),
                       description="generators outside the reference bus produce their active power setpoint")
        add_ref_angle_row(block, inst, tol, labels)
        return inst

    def solve(self, inst: PowerFlowInstance) -> dict | None:
        m = inst.model
        pg_known = np.where(np.isnan(inst.p_set), 0.0, inst.p_set)
        V, converged = setpoint_power_flow(inst, pg_known, inst.v_bus)
        vm = np.abs(V)
        if not converged or vm.min() < SANE_VM[0] or vm.max() > SANE_VM[1]:
            return None
        pg, qg = generator_outputs(inst, V, pg_known)
        va = np.rad2deg(np.angle(V))
        va = va - va[m.ref]
        values = {"generators": {"p_mw": pg, "q_mvar": qg}, "buses": {"vm_pu": vm, "va_deg": va}}
        return solution_record(values, pg.sum())

    # ---- schema and prompt ---------------------------------------------------------
    def schema(self, inst: PowerFlowInstance) -> AnswerSchema:
        return AnswerSchema((Section("generators", inst.gen_ids, (P_FIELD, Q_FIELD)),
                             Section("buses", inst.bus_ids, state_fields(inst.model))))

    def render(self, inst: PowerFlowInstance) -> str:
        m, tol = inst.model, self.tolerances
        base = m.base_mva
        ref = inst.bus_ids[m.ref]
        schema = self.schema(inst)
        rules = [
            balance_rule(tol, base),
            f"- Every generator bus holds its voltage setpoint v_set_pu (tolerance {tol.vm_pu:g} p.u.).",
            f"- Every generator not at the reference bus produces its p_set_mw (tolerance {tol.gen_pu * base:g} MW).",
            f"- Reference bus {ref} has angle 0; its generators supply the remaining active power (losses included).",
            "- Generators sharing a bus may split its reactive power in any way: only the bus total is checked.",
            "- No limits are enforced (generator limits are listed for information only).",
        ]
        setpoints = {"p_set_mw": inst.p_set, "v_set_pu": inst.v_bus[m.gen_bus]}
        parts = [
            "Task: solve the AC power flow for the grid below. Loads and generator setpoints are given; "
            "find the resulting steady state: every bus's voltage magnitude and angle, and every generator's "
            "active and reactive power output.",
            f"Base power: {base:g} MVA. Power in MW / MVAr, voltages in p.u., angles in degrees.",
            render.BRANCH_MODEL,
            "Conditions:\n" + "\n".join(rules),
            render.bus_table(inst, limits=False),
            render.gen_table(inst, costs=False, extra=setpoints),
            render.branch_table(inst),
            schema.instructions(),
        ]
        return "\n\n".join(parts) + "\n"

    # ---- checker -------------------------------------------------------------------
    def check(self, inst: PowerFlowInstance, values: Values) -> tuple[ConstraintReport, float | None]:
        """Every row of ``inst.rows`` (declared in :meth:`prepare`), measured on the answered state."""
        m = inst.model
        pg, qg = values["generators"]["p_mw"], values["generators"]["q_mvar"]
        vm, va = values["buses"]["vm_pu"], values["buses"]["va_deg"]
        mismatch = balance_mismatch(inst, bus_powers(m, vm * np.exp(1j * np.deg2rad(va))), pg, qg)
        report = ConstraintReport()
        report.add_block(inst.rows, {**balance_values(mismatch), "vm_setpoint": vm[inst.gen_buses],
                                     "p_setpoint": pg[inst.fixed_p], "ref_angle": va[m.ref:m.ref + 1]})
        return report, float(pg.sum()) if np.isfinite(pg).all() else None

    def answer_errors(self, inst: PowerFlowInstance, values: Values, solution: dict) -> dict:
        """Largest absolute error per quantity against the true power flow (None where values are missing).

        Generator P and Q are compared as bus totals, since any split at a shared bus is right.
        """
        m = inst.model

        def per_bus(col):
            return np.bincount(m.gen_bus, weights=col, minlength=m.n_bus)[inst.gen_buses]

        cached = getattr(inst, "truth", None)
        if cached is None or cached[0] is not solution:  # arrays of the reference, built once per instance
            true = values_from_solution(solution)
            inst.truth = cached = (solution, true["buses"]["vm_pu"], true["buses"]["va_deg"],
                                   per_bus(true["generators"]["p_mw"]), per_bus(true["generators"]["q_mvar"]))
        _, vm, va, p_bus, q_bus = cached

        def worst(answer, reference):
            diff = float(np.abs(answer - reference).max())  # NaN when any value is missing
            return None if math.isnan(diff) else diff

        return {
            "vm_pu": worst(values["buses"]["vm_pu"], vm),
            "va_deg": worst(values["buses"]["va_deg"], va),
            "p_mw": worst(per_bus(values["generators"]["p_mw"]), p_bus),
            "q_mvar": worst(per_bus(values["generators"]["q_mvar"]), q_bus),
            "description": "max |answer - true power flow| per quantity; generator P/Q as bus totals",
        }

    def features(self, inst: PowerFlowInstance) -> np.ndarray:
        """Loads (P, Q per bus) and setpoints (P per generator, 0 at the reference; V per generator), p.u.;
        plus a one-hot of the outaged branch when outages can occur."""
        m = inst.model
        parts = [inst.pd_mw / m.base_mva, inst.qd_mvar / m.base_mva,
                 np.nan_to_num(inst.p_set) / m.base_mva, inst.v_bus[m.gen_bus]]
        return np.concatenate(parts + self.outage_features(inst))

    def value_bounds(self, inst: PowerFlowInstance) -> dict:
        """A power flow enforces no limits, so reactive outputs may leave [qmin, qmax]: their range
        also spans +- the total load (MVA); the reference generator's P spans up to the total load."""
        m = inst.model
        load = float(np.hypot(inst.pd_mw.sum(), inst.qd_mvar.sum()))
        q_range = (np.minimum(m.qmin, -load), np.maximum(m.qmax, load))
        at_ref = m.gen_bus == m.ref
        p_range = (np.where(at_ref, np.minimum(m.pmin, 0.0), m.pmin), np.where(at_ref, np.maximum(m.pmax, load), m.pmax))
        return {"generators": {"p_mw": p_range, "q_mvar": q_range},
                "buses": {"vm_pu": (m.vmin, m.vmax), "va_deg": angle_bounds(m, ANGLE_RANGE_DEG)}}

    def objective_info(self) -> dict:
        return {"unit": "MW", "sense": "min",
                "description": "total generator active power (load + losses); a power flow has one right value"}


def _setpoints(inst: GridInstance, rng: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray]:
    """Generator P setpoints (NaN at the reference bus) and bus voltage setpoints (NaN without a generator).

    Equal loading of every generator's range for the drawn load, times a per-generator factor
    (none for the nominal instance); values rounded to what the prompt shows (0.1 MW, 1e-3 p.u.).
    """
    m = inst.model
    span = m.pmax - m.pmin
    demand = inst.pd_mw.sum() + m.gs_mw.sum()
    loading = float(np.clip((demand - m.pmin.sum()) / max(span.sum(), 1e-9), 0.0, 1.0))
    factor = np.ones(m.n_gen) if rng is None else rng.uniform(1 - DISPATCH_SPREAD, 1 + DISPATCH_SPREAD, m.n_gen)
    p_set = np.round(m.pmin + span * np.clip(loading * factor, 0.0, 1.0), 1)
    p_set[m.gen_bus == m.ref] = np.nan
    v = np.full(m.n_bus, VSET_NOMINAL) if rng is None else rng.uniform(*VSET_RANGE, m.n_bus)
    v = np.round(np.clip(v, m.vmin, m.vmax), 3)
    v_bus = np.full(m.n_bus, np.nan)
    gen_buses = np.unique(m.gen_bus)
    v_bus[gen_buses] = v[gen_buses]
    return p_set, v_bus
