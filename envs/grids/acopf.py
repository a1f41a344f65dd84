"""AC optimal power flow on PGLib grids: the family and its env class.

Answer modes:
- ``"full"`` (default, the paper's setting): the answer is the whole state, generator
  P/Q and bus voltage magnitude/angle; every AC constraint is checked on it directly.
- ``"setpoints"``: the answer is generator P and voltage setpoints only; the env solves
  the AC power flow (slack bus takes the balance, PV buses their Q) and checks the
  resulting state. The slack generator's answered P is replaced by the power flow's.

Out-of-distribution variants: ``ood="load" | "n-1" | "relabel"`` changes the instances of
split "ood" only (see :mod:`feasgym.envs.grids.instance`); splits "train" and "test" keep
the base distribution. Streams of different splits never share a draw.
"""
from __future__ import annotations

import dataclasses

from dataclasses import dataclass, field

import numpy as np

from ..core.constraints import ConstraintReport, RowBlock
from ..core.family import solution_record
from ..core.schema import AnswerSchema, Field, Section, Values
from . import render
from .case import DEFAULT_DECIMALS, GridModel
from .checks import (ACTolerances, LimitRows, add_balance_rows, add_limit_rows, add_ref_angle_row, balance_mismatch,
                     balance_rule, balance_values, bus_injections, complex_powers)
from .family import GridFamily, angle_bounds
from .instance import GridInstance, LoadPerturbation
from .opf_solver import check_reference_solver, solve_reference
from .newton import newton_power_flow

ANSWER_MODES = ("full", "setpoints")
ANGLE_RANGE_DEG = 60.0  # range for random/numeric angles; PGLib optima stay well inside

P_FIELD = Field("p_mw", 3, "MW", "generator active power output.")
Q_FIELD = Field("q_mvar", 3, "MVAr", "generator reactive power output.")
VM_FIELD = Field("vm_pu", DEFAULT_DECIMALS.vm_pu, "p.u.", "bus voltage magnitude.")
VA_FIELD = Field("va_deg", DEFAULT_DECIMALS.va_deg, "deg", "bus voltage angle (reference bus = 0).")
VSET_FIELD = Field("vm_pu", 5, "p.u.", "voltage magnitude setpoint at the generator's bus.")


def state_fields(m: GridModel) -> tuple[Field, Field]:
    """The bus voltage fields at the case's decimals (large cases ask more: :class:`.case.AnswerDecimals`)."""
    return (dataclasses.replace(VM_FIELD, decimals=m.decimals.vm_pu),
            dataclasses.replace(VA_FIELD, decimals=m.decimals.va_deg))



@dataclass
class ACOPFInstance(GridInstance):
    """An AC-OPF instance and what its checker keeps (set in :meth:`ACOPFFamily.prepare`)."""

    limit_rows: LimitRows = field(init=False, repr=False, compare=False)
    shared_gens: np.ndarray = field(init=False, repr=False, compare=False)  # generators sharing a bus (setpoints)

class ACOPFFamily(GridFamily):
    name = "ACOPF"
    instance_type = ACOPFInstance

    def __init__(self, case: str = "case14", *, perturbation=LoadPerturbation(), n_minus_1: bool = False,
                 answer_mode: str = "full", tolerances: ACTolerances | None = None, ood: str | None = None,
                 reference_solver: str = "casadi"):
        if answer_mode not in ANSWER_MODES:
            raise ValueError(f"answer_mode must be one of {ANSWER_MODES}, got {answer_mode!r}")
        self.answer_mode = answer_mode
        self.reference_solver = check_reference_solver(reference_solver)
        super().__init__(case, perturbation=perturbation, n_minus_1=n_minus_1, ood=ood,
                         tolerances=tolerances or ACTolerances())

    def config_key(self) -> str:
        # the stored reference values differ per answer mode and (in their last digits) per solver
        return f"mode={self.answer_mode}|solver={self.reference_solver}"

    def prepare(self, inst: GridInstance, rng: np.random.Generator | None) -> GridInstance:
        inst = super().prepare(inst, rng)
        assert isinstance(inst, ACOPFInstance)
        m, tol, labels = inst.model, self.tolerances, inst.labels
        inst.rows = block = RowBlock()
        if self.answer_mode == "full":
            add_balance_rows(block, inst, tol, labels)
            inst.limit_rows = add_limit_rows(block, inst, tol, labels)
            add_ref_angle_row(block, inst, tol, labels)
            return inst
        inst.shared_gens = multi = np.flatnonzero(np.bincount(m.gen_bus, minlength=m.n_bus)[m.gen_bus] > 1)
        if multi.size:
            block.residual("vm_setpoint_agreement", size=multi.size, tolerance=tol.vm_pu, unit="p.u.",
                           labels=[labels.gen[g] for g in multi],
                           description="generators at one bus share its voltage setpoint")
        block.residual("pf_converged", size=1, tolerance=0.0, unit="", labels=("power flow",),
                       description="the AC power flow from the setpoints converges")
        inst.limit_rows = add_limit_rows(block, inst, tol, labels, derived_p=np.flatnonzero(m.gen_bus == m.ref))
        return inst

    def solve(self, inst: ACOPFInstance) -> dict | None:
        state = solve_reference(self.case, inst.pd_mw, inst.qd_mvar, inst.outage, self.reference_solver)
        if state is None:
            return None
        va = state["va_deg"] - state["va_deg"][inst.model.ref]
        if self.answer_mode == "full":
            values = {"generators": {"p_mw": state["p_mw"], "q_mvar": state["q_mvar"]},
                      "buses": {"vm_pu": state["vm_pu"], "va_deg": va}}
        else:
            values = {"generators": {"p_mw": state["p_mw"], "vm_pu": state["vm_pu"][inst.model.gen_bus]}}
        return solution_record(values, state["objective"])

    # ---- schema and prompt ---------------------------------------------------------
    def schema(self, inst: ACOPFInstance) -> AnswerSchema:
        if self.answer_mode == "full":
            return AnswerSchema((Section("generators", inst.gen_ids, (P_FIELD, Q_FIELD)),
                                 Section("buses", inst.bus_ids, state_fields(inst.model))))
        return AnswerSchema((Section("generators", inst.gen_ids, (P_FIELD, VSET_FIELD)),))

    def render(self, inst: ACOPFInstance) -> str:
        m = inst.model
        schema = self.schema(inst)
        tol = self.tolerances
        base = m.base_mva
        if self.answer_mode == "full":
            task = ("Task: solve the AC optimal power flow (AC-OPF) for the grid below. Give every generator's "
                    "active and reactive power output and every bus's voltage magnitude and angle so that all "
                    "constraints hold, at minimum total generation cost.")
            rules = [
                balance_rule(tol, base),
                f"- Bus voltage magnitude within [vmin_pu, vmax_pu] (tolerance {tol.vm_pu:g} p.u.).",
                f"- Generator output within its P and Q limits (tolerance {tol.gen_pu * base:g} MW / MVAr).",
                f"- Apparent power flow at both ends of each branch at most rate_a_mva (tolerance {tol.flow_pu * base:g} MVA).",
                f"- Angle difference va(from) - va(to) of each branch within [angmin_deg, angmax_deg] "
                f"(tolerance {tol.angle_deg:g} deg).",
                f"- Reference bus {inst.bus_ids[m.ref]} has angle 0.",
            ]
        else:
            task = ("Task: choose AC optimal power flow (AC-OPF) setpoints for the grid below: every generator's "
                    "active power output and voltage setpoint. The AC power flow is then solved from your "
                    f"setpoints: the reference bus {inst.bus_ids[m.ref]} generator(s) take up the active power balance, "
                    "generators hold their bus voltage and supply the reactive power needed; the answered p_mw of "
                    "reference-bus generators is ignored. Minimize total generation cost.")
            rules = [
                "- The power flow must converge.",
                f"- Resulting bus voltage magnitudes within [vmin_pu, vmax_pu] (tolerance {tol.vm_pu:g} p.u.).",
                f"- Generator P and resulting Q within limits (tolerance {tol.gen_pu * base:g} MW / MVAr).",
                f"- Resulting apparent power flow at both ends of each branch at most rate_a_mva (tolerance {tol.flow_pu * base:g} MVA).",
                "- Resulting angle difference of each branch within [angmin_deg, angmax_deg].",
                "- Generators at the same bus must give the same vm_pu.",
            ]
        parts = [
            task,
            f"Base power: {base:g} MVA. Power in MW / MVAr, voltages in p.u., angles in degrees.",
            "Cost of each generator: c2*P^2 + c1*P + c0 $/h with P in MW.",
            render.BRANCH_MODEL,
            "Constraints:\n" + "\n".join(rules),
            render.bus_table(inst),
            render.gen_table(inst),
            render.branch_table(inst),
            schema.instructions(),
        ]
        return "\n\n".join(parts) + "\n"

    # ---- checker -------------------------------------------------------------------
    def check(self, inst: ACOPFInstance, values: Values) -> tuple[ConstraintReport, float | None]:
        """Every row of ``inst.rows`` (declared in :meth:`prepare`), measured on the answer's state."""
        report = ConstraintReport()
        if self.answer_mode == "full":
            rows, pg = self._full_state_rows(inst, values)
        else:
            rows, pg = self._setpoint_rows(inst, values)
        report.add_block(inst.rows, rows)
        return report, inst.model.gen_cost(pg) if np.isfinite(pg).all() else None

    def _full_state_rows(self, inst: ACOPFInstance, values: Values) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Row values of a full-state answer by type, and its generator P."""
        pg, qg = values["generators"]["p_mw"], values["generators"]["q_mvar"]
        vm, va = values["buses"]["vm_pu"], values["buses"]["va_deg"]
        m = inst.model
        S = complex_powers(m, vm * np.exp(1j * np.deg2rad(va)))
        mismatch = balance_mismatch(inst, S[:m.n_bus], pg, qg)
        limits = inst.limit_rows.values(inst, S[m.n_bus:], vm, va, pg, qg)
        return {**balance_values(mismatch), **limits, "ref_angle": va[m.ref:m.ref + 1]}, pg

    def _setpoint_rows(self, inst: ACOPFInstance, values: Values) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Row values of a setpoint answer by type (on the state its power flow reaches), and the resulting
        generator P."""
        m = inst.model
        pg_answer = values["generators"]["p_mw"]
        vset = values["generators"]["vm_pu"]
        bus_vset, agreement = _bus_setpoints(m, vset)
        rows = {"vm_setpoint_agreement": agreement[inst.shared_gens]} if inst.shared_gens.size else {}
        at_ref = m.gen_bus == m.ref
        usable = np.all(np.isfinite(pg_answer[~at_ref])) and np.all(np.isfinite(vset))
        V = None
        if usable:
            V, converged = setpoint_power_flow(inst, pg_answer, bus_vset)
            if not converged:
                V = None
        rows["pf_converged"] = np.array([0.0 if V is not None else np.nan])
        if V is None:
            nan_b, nan_g = np.full(m.n_bus, np.nan), np.full(m.n_gen, np.nan)
            V, vm, va, pg, qg = nan_b.astype(complex), nan_b, nan_b, nan_g, nan_g
        else:
            vm, va = np.abs(V), np.rad2deg(np.angle(V))
            pg, qg = generator_outputs(inst, V, pg_answer)
        return {**rows, **inst.limit_rows.values(inst, complex_powers(m, V)[m.n_bus:], vm, va, pg, qg)}, pg

    def features(self, inst: ACOPFInstance) -> np.ndarray:
        """Loads in p.u. (P then Q per bus), plus a one-hot of the outaged branch when outages can occur."""
        m = inst.model
        return np.concatenate([inst.pd_mw / m.base_mva, inst.qd_mvar / m.base_mva] + self.outage_features(inst))

    def value_bounds(self, inst: ACOPFInstance) -> dict:
        m = inst.model
        gens = {"p_mw": (m.pmin, m.pmax)}
        if self.answer_mode == "setpoints":
            gens["vm_pu"] = (m.vmin[m.gen_bus], m.vmax[m.gen_bus])
            return {"generators": gens}
        gens["q_mvar"] = (m.qmin, m.qmax)
        return {"generators": gens, "buses": {"vm_pu": (m.vmin, m.vmax), "va_deg": angle_bounds(m, ANGLE_RANGE_DEG)}}

    def objective_info(self) -> dict:
        return {"unit": "$/h", "sense": "min"}


def _bus_setpoints(m, vset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Voltage setpoint per bus (mean of its generators') and each generator's deviation from it."""
    counts = np.bincount(m.gen_bus, minlength=m.n_bus)
    sums = np.bincount(m.gen_bus, weights=vset, minlength=m.n_bus)
    with np.errstate(invalid="ignore", divide="ignore"):
        bus_v = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return bus_v, vset - bus_v[m.gen_bus]


def setpoint_power_flow(inst: GridInstance, pg: np.ndarray, bus_vset: np.ndarray) -> tuple[np.ndarray, bool]:
    m = inst.model
    gen_buses = np.unique(m.gen_bus)
    pv = gen_buses[gen_buses != m.ref]
    pq = np.setdiff1d(np.arange(m.n_bus), gen_buses)
    pg_known = np.where(m.gen_bus == m.ref, 0.0, pg)
    Sbus = bus_injections(inst, pg_known, np.zeros(m.n_gen))
    V0 = np.ones(m.n_bus, dtype=complex)
    V0[gen_buses] = bus_vset[gen_buses]
    return newton_power_flow(m.Ybus, Sbus, V0, m.ref, pv, pq)


def generator_outputs(inst: GridInstance, V: np.ndarray, pg_answer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Generator P (slack from the flow) and Q (split by Q range at shared buses, as PYPOWER's pfsoln)."""
    m = inst.model
    S = V * np.conj(m.Ybus @ V) * m.base_mva
    gen_p_bus = S.real + inst.pd_mw
    gen_q_bus = S.imag + inst.qd_mvar
    pg = pg_answer.copy()
    at_ref = np.flatnonzero(m.gen_bus == m.ref)
    pg[at_ref] = gen_p_bus[m.ref] / len(at_ref)
    span = np.maximum(m.qmax - m.qmin, 1e-9)
    share = span / np.bincount(m.gen_bus, weights=span, minlength=m.n_bus)[m.gen_bus]
    qg = gen_q_bus[m.gen_bus] * share
    return pg, qg
