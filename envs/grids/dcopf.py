"""DC optimal power flow on PGLib grids: linearized dispatch, the family and its env class.

Answer modes (``answer_mode=``):

- ``"dispatch"`` (default): every generator's active power. Bus angles and branch flows
  follow from the dispatch by the DC power flow with the reference bus as slack, so an
  answer cannot claim flows its dispatch does not produce. Balance is one system row.
- ``"angles"``: generator active power and every bus angle. Power balance is then checked
  at every bus (B-matrix rows), flows and angle differences come from the answered angles,
  and the reference angle must be 0.

Checks in both: generator limits, branch flow limits (rateA, one row per branch since DC
flows are the same at both ends), angle-difference limits. Objective: the case's
polynomial generation cost.

Two DC branch models (``dc_model=``):

- ``"matpower"`` (default): PYPOWER ``makeBdc``, susceptance 1/(x * tap) with phase-shifter
  injections (``Pfinj``/``Pbusinj``); without them case300 flows are off by 49 MW.
- ``"powermodels"``: susceptance x/(r^2 + x^2), taps and shifts ignored: the model behind
  the DC column of PGLib's BASELINE.md (matches it to 1e-5 on case5..case300). The two
  agree within 0.1% of cost on case5/14/57/118/300 but not on case30 (0.42%), whose lines
  have large r/x.

Shunt conductance ``gs_mw`` is a load at 1 p.u. voltage in both. Reference solutions come
from HiGHS (convex QP, ``highspy``) on the B-theta formulation.
"""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import scipy.sparse as sp

from ..core.constraints import ConstraintReport
from ..core.family import solution_record
from ..core.qp import solve_qp
from ..core.schema import AnswerSchema, Field, Section, Values
from . import render
from .acopf import P_FIELD
from .case import build_model, pglib_name
from .checks import pick
from .family import GridFamily, angle_bounds
from .instance import GridInstance, LoadPerturbation

DC_MODELS = ("matpower", "powermodels")
ANSWER_MODES = ("dispatch", "angles")
DC_ANGLE_FIELD = Field("va_deg", 5, "deg", "bus voltage angle of the DC power flow (reference bus = 0).")
DC_ANGLE_RANGE_DEG = 90.0  # range for random angles in "angles" mode


@dataclass(frozen=True)
class DCTolerances:
    """Default tolerances and why (answers give P in MW with 3 decimals).

    - ``balance_pu`` 1e-3 (0.1 MW on 100 MVA): rounding every generator to 1e-3 MW moves the
      total by at most n_gen * 5e-4 MW (0.027 MW on case118).
    - ``flow_pu`` 1e-3: a flow is a weighted sum of the same roundings with weights <= 1.
    - ``gen_pu`` 1e-4: dispatch is written to 1e-3 MW; HiGHS holds bounds to ~1e-7.
    - ``angle_deg`` 1e-3: angle differences inherit the rounding through the B matrix
      (answered angles, in "angles" mode, are written to 1e-5 degrees).
    - In "angles" mode the per-bus balance rows use ``balance_pu`` too: angles written to
      1e-5 degrees move a bus injection by at most max_i sum_j |B_ij| * 8.7e-8 rad, i.e.
      0.0068 MW on case118 (0.0034 MW measured on the oracle); at 1e-4 degrees it would be
      0.068 MW, too close to the tolerance. The sum of the bus mismatches has its own row
      (same tolerance), so a dispatch cannot claim n_bus x 0.1 MW of phantom injection.
    """

    balance_pu: float = 1e-3
    flow_pu: float = 1e-3
    gen_pu: float = 1e-4
    angle_deg: float = 1e-3


@dataclass(frozen=True)
class DCNetwork:
    """DC power-flow matrices of one topology, p.u. on the case base, angles in radians."""

    Bbus: sp.csr_matrix  # P_bus = Bbus @ theta + Pbusinj
    Bf: sp.csr_matrix  # P_from = Bf @ theta + Pfinj
    Pbusinj: np.ndarray
    Pfinj: np.ndarray
    nonref: np.ndarray  # bus indices other than the reference
    angle_map: np.ndarray  # dense inverse of Bbus[nonref, nonref]: theta[nonref] from injections
    flow_map: np.ndarray  # Bf[:, nonref] @ angle_map: branch flows from injections (PTDF)


def dc_network(case: str, outage: int | None, dc_model: str) -> DCNetwork:
    """The DC matrices of ``case`` minus branch row ``outage`` (cached per topology and model)."""
    if dc_model not in DC_MODELS:
        raise ValueError(f"dc_model must be one of {DC_MODELS}, got {dc_model!r}")
    return _dc_network_cached(pglib_name(case), outage, dc_model)


@lru_cache(maxsize=64)
def _dc_network_cached(name: str, outage: int | None, dc_model: str) -> DCNetwork:
    m = build_model(name, outage)
    nb, nl = m.n_bus, m.n_branch
    if dc_model == "matpower":
        from pypower.makeBdc import makeBdc

        bus = np.zeros((nb, 13))
        bus[:, 0] = np.arange(nb)
        branch = np.zeros((nl, 13))
        branch[:, 0], branch[:, 1], branch[:, 3] = m.f, m.t, m.x
        branch[:, 8], branch[:, 9], branch[:, 10] = m.tap, m.shift_deg, 1.0
        with contextlib.redirect_stderr(io.StringIO()):
            Bbus, Bf, Pbusinj, Pfinj = makeBdc(m.base_mva, bus, branch)
    else:
        b = m.x / (m.r ** 2 + m.x ** 2)
        Cft = m.incidence
        Bf = sp.diags(b) @ Cft
        Bbus = Cft.T @ Bf
        Pbusinj, Pfinj = np.zeros(nb), np.zeros(nl)
    Bbus, Bf = sp.csr_matrix(Bbus), sp.csr_matrix(Bf)
    nonref = np.flatnonzero(np.arange(nb) != m.ref)
    angle_map = np.linalg.inv(Bbus[nonref][:, nonref].toarray())
    flow_map = Bf[:, nonref] @ angle_map
    return DCNetwork(Bbus, Bf, np.asarray(Pbusinj, dtype=float).ravel(), np.asarray(Pfinj, dtype=float).ravel(),
                     nonref, angle_map, np.asarray(flow_map))


def dc_state(inst: GridInstance, net: DCNetwork, pg: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Power mismatch (MW), bus angles (rad) and from-end flows (MW) of a dispatch; reference bus as slack."""
    m = inst.model
    inj = (np.bincount(m.gen_bus, weights=pg, minlength=m.n_bus) - inst.pd_mw - m.gs_mw) / m.base_mva
    theta = np.zeros(m.n_bus)
    theta[net.nonref] = net.angle_map @ (inj - net.Pbusinj)[net.nonref]
    flows = (net.flow_map @ (inj - net.Pbusinj)[net.nonref] + net.Pfinj) * m.base_mva
    return float(inj.sum() * m.base_mva), theta, flows


def _answered_state(inst: GridInstance, net: DCNetwork, pg: np.ndarray, va_deg: np.ndarray,
                    report: ConstraintReport, tol: DCTolerances) -> tuple[np.ndarray, np.ndarray]:
    """Per-bus balance and reference-angle rows of answered angles; returns (angles rad, from-end flows MW)."""
    m = inst.model
    theta = np.deg2rad(va_deg)
    injection = np.bincount(m.gen_bus, weights=pg, minlength=m.n_bus) - inst.pd_mw - m.gs_mw
    mismatch = injection - (net.Bbus @ theta + net.Pbusinj) * m.base_mva
    report.residual("p_balance", mismatch, tolerance=tol.balance_pu * m.base_mva, unit="MW", labels=inst.labels.bus,
                    description="DC power balance at each bus: generation - load - shunt = flows out")
    report.residual("total_p_balance", [mismatch.sum()], tolerance=tol.balance_pu * m.base_mva, unit="MW",
                    labels=("system",), description="sum of the bus mismatches: the per-bus tolerances cannot "
                    "be spent everywhere at once (total generation = total load + shunt)")
    report.residual("ref_angle", va_deg[m.ref:m.ref + 1], tolerance=tol.angle_deg, unit="deg",
                    labels=(inst.labels.bus[m.ref],), description="reference bus angle is 0")
    return theta, (net.Bf @ theta + net.Pfinj) * m.base_mva


def solve_dcopf(inst: GridInstance, net: DCNetwork) -> tuple[np.ndarray, np.ndarray, float] | None:
    """Optimal dispatch (MW), bus angles (rad) and cost ($/h) by HiGHS on the B-theta QP; None when not optimal."""
    m = inst.model
    base, ng, nb, nl = m.base_mva, m.n_gen, m.n_bus, m.n_branch
    Cg = sp.csr_matrix((np.ones(ng), (m.gen_bus, np.arange(ng))), shape=(nb, ng))
    Cft = m.incidence
    limited = m.flow_limited
    A = sp.vstack([
        sp.hstack([Cg, -base * net.Bbus]),  # generation - base * (Bbus theta) = load + gs + base * Pbusinj
        sp.hstack([sp.csr_matrix((len(limited), ng)), base * net.Bf[limited]]),
        sp.hstack([sp.csr_matrix((nl, ng)), Cft]),
    ])
    balance = inst.pd_mw + m.gs_mw + base * net.Pbusinj
    flow_shift = base * net.Pfinj[limited]
    row_lo = np.r_[balance, -m.rate_mva[limited] - flow_shift, np.deg2rad(m.angmin_deg)]
    row_hi = np.r_[balance, m.rate_mva[limited] - flow_shift, np.deg2rad(m.angmax_deg)]
    col_lo = np.r_[m.pmin, np.full(nb, -np.inf)]
    col_hi = np.r_[m.pmax, np.full(nb, np.inf)]
    col_lo[ng + m.ref] = col_hi[ng + m.ref] = 0.0
    Q = sp.diags(np.r_[2 * m.cost[:, 0], np.zeros(nb)])
    x = solve_qp(np.r_[m.cost[:, 1], np.zeros(nb)], A, row_lo, row_hi, col_lo, col_hi, Q, float(m.cost[:, 2].sum()))
    if x is None:
        return None
    pg = np.clip(x[:ng], m.pmin, m.pmax)
    return pg, x[ng:], m.gen_cost(pg)



@dataclass
class DCOPFInstance(GridInstance):
    """A DC-OPF instance and what its checker keeps (set in :meth:`DCOPFFamily.prepare`)."""

    net: DCNetwork = field(init=False, repr=False, compare=False)
    flow_idx: np.ndarray = field(init=False, repr=False, compare=False)
    angle_idx: np.ndarray = field(init=False, repr=False, compare=False)
    flow_labels: tuple = field(init=False, repr=False, compare=False)
    angle_labels: tuple = field(init=False, repr=False, compare=False)

class DCOPFFamily(GridFamily):
    name = "DCOPF"
    instance_type = DCOPFInstance

    def __init__(self, case: str = "case14", *, perturbation=LoadPerturbation(), n_minus_1: bool = False,
                 dc_model: str = "matpower", answer_mode: str = "dispatch", tolerances: DCTolerances | None = None,
                 ood: str | None = None):
        if answer_mode not in ANSWER_MODES:
            raise ValueError(f"answer_mode must be one of {ANSWER_MODES}, got {answer_mode!r}")
        self.answer_mode = answer_mode
        self.dc_model = dc_model
        super().__init__(case, perturbation=perturbation, n_minus_1=n_minus_1, ood=ood,
                         tolerances=tolerances or DCTolerances())
        dc_network(self.case, None, dc_model)  # fail fast on an unknown DC model

    def config_key(self) -> str:
        return f"{self.dc_model}|{self.answer_mode}"

    def prepare(self, inst: GridInstance, rng: np.random.Generator | None) -> GridInstance:
        inst = super().prepare(inst, rng)
        assert isinstance(inst, DCOPFInstance)
        m = inst.model
        inst.net = dc_network(self.case, inst.outage, self.dc_model)
        inst.flow_idx, inst.angle_idx = m.flow_limited, m.angle_limited
        inst.flow_labels = pick(inst.labels.branch, inst.flow_idx)
        inst.angle_labels = pick(inst.labels.branch, inst.angle_idx)
        return inst

    def solve(self, inst: DCOPFInstance) -> dict | None:
        result = solve_dcopf(inst, inst.net)
        if result is None:
            return None
        pg, theta, cost = result
        values = {"generators": {"p_mw": pg}}
        if self.answer_mode == "angles":
            values["buses"] = {"va_deg": np.rad2deg(theta - theta[inst.model.ref])}
        return solution_record(values, cost)

    # ---- schema and prompt ---------------------------------------------------------
    def schema(self, inst: DCOPFInstance) -> AnswerSchema:
        gens = Section("generators", inst.gen_ids, (P_FIELD,))
        if self.answer_mode == "angles":
            return AnswerSchema((gens, Section("buses", inst.bus_ids, (DC_ANGLE_FIELD,))))
        return AnswerSchema((gens,))

    def render(self, inst: DCOPFInstance) -> str:
        m, tol = inst.model, self.tolerances
        base = m.base_mva
        ref = inst.bus_ids[m.ref]
        if self.dc_model == "matpower":
            flow = ("flow(from -> to) = base_mva * (va_from - va_to - shift_deg) / (x_pu * tap), with the angles and "
                    "shift_deg converted to radians, tap 0 read as 1 (MATPOWER's DC model: r_pu and b_pu are ignored)")
        else:
            flow = ("flow(from -> to) = base_mva * (va_from - va_to) * x_pu / (r_pu^2 + x_pu^2), with the angles "
                    "converted to radians (PowerModels' DC model: tap, shift_deg and b_pu are ignored)")
        if self.answer_mode == "angles":
            balance = (f"- Power balance at every bus: generation - pd_mw - gs_mw = sum of flows leaving the bus, "
                       f"flows from your angles (tolerance {tol.balance_pu * base:g} MW); the sum of the mismatches "
                       f"over all buses also within {tol.balance_pu * base:g} MW.")
            task = "every generator's active power output and every bus's voltage angle"
            state = (f"Flows and angle differences are computed from your bus angles; reference bus {ref} has "
                     f"angle 0 (tolerance {tol.angle_deg:g} deg).")
        else:
            balance = (f"- Power balance: total generation = total load pd_mw + total shunt gs_mw "
                       f"(tolerance {tol.balance_pu * base:g} MW).")
            task = "every generator's active power output"
            state = (f"Bus angles and flows are those of the DC power flow of your dispatch, with reference bus "
                     f"{ref} at angle 0 taking up any imbalance.")
        rules = [
            balance,
            f"- Generator output within [pmin_mw, pmax_mw] (tolerance {tol.gen_pu * base:g} MW).",
            f"- |flow| at most rate_a_mva on every branch (tolerance {tol.flow_pu * base:g} MW; 'none' = no limit).",
            f"- Angle difference va(from) - va(to) within [angmin_deg, angmax_deg] (tolerance {tol.angle_deg:g} deg).",
        ]
        schema = self.schema(inst)
        parts = [
            f"Task: solve the DC optimal power flow (DC-OPF) for the grid below: give {task} so that all "
            "constraints hold, at minimum total generation cost.",
            f"DC model: lossless, voltage magnitudes 1 p.u., reactive power ignored. Base power {base:g} MVA. "
            f"Branch {flow}. Each bus: generation - pd_mw - gs_mw = sum of flows leaving the bus. {state}",
            "Cost of each generator: c2*P^2 + c1*P + c0 $/h with P in MW.",
            "Constraints:\n" + "\n".join(rules),
            render.bus_table(inst, limits=False),
            render.gen_table(inst),
            render.branch_table(inst),
            schema.instructions(),
        ]
        return "\n\n".join(parts) + "\n"

    # ---- checker -------------------------------------------------------------------
    def check(self, inst: DCOPFInstance, values: Values) -> tuple[ConstraintReport, float | None]:
        m, tol, labels = inst.model, self.tolerances, inst.labels
        base = m.base_mva
        pg = values["generators"]["p_mw"]
        report = ConstraintReport()
        if self.answer_mode == "angles":
            va = values["buses"]["va_deg"]
            theta, flows = _answered_state(inst, inst.net, pg, va, report, tol)
        else:
            mismatch, theta, flows = dc_state(inst, inst.net, pg)
            report.residual("p_balance", [mismatch], tolerance=tol.balance_pu * base, unit="MW", labels=("system",),
                            description="total generation = total load + shunt (lossless DC)")
        report.bounds("gen_p", pg, m.pmin, m.pmax, tolerance=tol.gen_pu * base, unit="MW", labels=labels.gen,
                      description="generator active power limits")
        fi, ai = inst.flow_idx, inst.angle_idx
        report.bounds("branch_flow", np.abs(flows[fi]), -np.inf, m.rate_mva[fi], tolerance=tol.flow_pu * base,
                      unit="MW", labels=inst.flow_labels, description="DC branch flow limit (rateA)")
        diff = np.rad2deg(theta[m.f[ai]] - theta[m.t[ai]])
        report.bounds("angle_diff", diff, m.angmin_deg[ai], m.angmax_deg[ai], tolerance=tol.angle_deg, unit="deg",
                      labels=inst.angle_labels, description="voltage angle difference limits across each branch")
        return report, m.gen_cost(pg) if np.all(np.isfinite(pg)) else None

    def features(self, inst: DCOPFInstance) -> np.ndarray:
        """Active loads in p.u. per bus, plus a one-hot of the outaged branch when outages can occur."""
        return np.concatenate([inst.pd_mw / inst.model.base_mva] + self.outage_features(inst))

    def value_bounds(self, inst: DCOPFInstance) -> dict:
        m = inst.model
        bounds = {"generators": {"p_mw": (m.pmin, m.pmax)}}
        if self.answer_mode == "angles":
            bounds["buses"] = {"va_deg": angle_bounds(m, DC_ANGLE_RANGE_DEG)}
        return bounds

    def objective_info(self) -> dict:
        return {"unit": "$/h", "sense": "min"}
