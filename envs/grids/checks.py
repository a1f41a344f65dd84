"""AC constraint rows shared by the grid families: balance, limits, flows, angles.

Every quantity is computed from the model's Ybus/Yf/Yt and the state in p.u., then
reported in engineering units (MW, MVAr, MVA, p.u., degrees) for readable violations.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.constraints import ConstraintReport
from .instance import GridInstance


@dataclass(frozen=True)
class ACTolerances:
    """Default tolerances and why (measured on PGLib optima written at the prompt's decimals:
    Vm 5 dp, angle 4 dp in degrees, P/Q 3 dp in MW/MVAr; see README "Tolerances").

    - ``balance_pu`` 1e-2: rounding an exact optimum to the prompt's decimals leaves power
      mismatches up to ~2e-3 p.u. on case118 (large admittances amplify 5e-6 p.u. voltage
      rounding); 1e-2 p.u. (1 MW on a 100 MVA base) keeps >= 4x headroom. Tighter would fail
      the oracle itself, looser would pass clearly wrong physics.
    - ``flow_pu`` 1e-2: branch flows inherit the same rounding error as the balance rows.
    - ``vm_pu`` 1e-4: voltages are written to 1e-5; the interior-point solver itself may
      sit ~5e-6 beyond a bound.
    - ``gen_pu`` 1e-4 (0.01 MW on 100 MVA): dispatch is written to 1e-3 MW.
    - ``angle_deg`` 1e-3: angles are written to 1e-4 degrees.
    - ``derived_gen_pu`` 1e-2 (setpoint answers only): generator outputs the power flow
      computes (reference-bus P, every Q) move by up to ~3e-4 p.u. when voltage setpoints
      are rounded to 1e-5 (large bus susceptances amplify them); they get the same 1e-2 p.u.
      allowance as power balance has in full-state answers.
    """

    balance_pu: float = 1e-2
    flow_pu: float = 1e-2
    vm_pu: float = 1e-4
    gen_pu: float = 1e-4
    angle_deg: float = 1e-3
    derived_gen_pu: float = 1e-2


class Labels:
    """Element names for violated rows, built once per instance."""

    def __init__(self, inst: GridInstance):
        self.bus = tuple(f"bus {b}" for b in inst.bus_ids)
        self.gen = tuple(f"generator {g}" for g in inst.gen_ids)
        self.branch = tuple(f"branch {l}" for l in inst.branch_ids)
        self.branch_ends = tuple(f"branch {l} (from end)" for l in inst.branch_ids) + tuple(
            f"branch {l} (to end)" for l in inst.branch_ids)


def limited_branches(inst: GridInstance) -> tuple[np.ndarray, np.ndarray]:
    """Indices of branches with a flow limit and with a real angle-difference limit."""
    m = inst.model
    flow = np.flatnonzero(np.isfinite(m.rate_mva))
    angle = np.flatnonzero((m.angmin_deg > -360) | (m.angmax_deg < 360))
    return flow, angle


def bus_injections(inst: GridInstance, pg: np.ndarray, qg: np.ndarray) -> np.ndarray:
    """Net complex injection per bus in p.u.: generation minus load."""
    m = inst.model
    p = np.bincount(m.gen_bus, weights=pg, minlength=m.n_bus) - inst.pd_mw
    q = np.bincount(m.gen_bus, weights=qg, minlength=m.n_bus) - inst.qd_mvar
    return (p + 1j * q) / m.base_mva


def add_balance_rows(report: ConstraintReport, inst: GridInstance, V: np.ndarray, pg, qg,
                     tol: ACTolerances, labels: Labels) -> None:
    m = inst.model
    mismatch = (V * np.conj(m.Ybus @ V) - bus_injections(inst, pg, qg)) * m.base_mva
    report.residual("p_balance", mismatch.real, tolerance=tol.balance_pu * m.base_mva, unit="MW",
                    labels=labels.bus, description="active power balance at each bus (AC power-flow equation)")
    report.residual("q_balance", mismatch.imag, tolerance=tol.balance_pu * m.base_mva, unit="MVAr",
                    labels=labels.bus, description="reactive power balance at each bus (AC power-flow equation)")


def add_limit_rows(report: ConstraintReport, inst: GridInstance, V: np.ndarray, vm, va_deg, pg, qg,
                   tol: ACTolerances, labels: Labels, limits: tuple[np.ndarray, np.ndarray],
                   derived_p: np.ndarray | None = None) -> None:
    """Voltage, generator, branch-flow and angle-difference limits of one AC state.

    ``derived_p`` (setpoint answers) lists generators whose P the power flow computed;
    their P rows and every Q row are then checked with ``tol.derived_gen_pu``.
    """
    m = inst.model
    base = m.base_mva
    report.bounds("bus_vm", vm, m.vmin, m.vmax, tolerance=tol.vm_pu, unit="p.u.", labels=labels.bus,
                  description="bus voltage magnitude limits")
    if derived_p is None:
        report.bounds("gen_p", pg, m.pmin, m.pmax, tolerance=tol.gen_pu * base, unit="MW", labels=labels.gen,
                      description="generator active power limits")
        report.bounds("gen_q", qg, m.qmin, m.qmax, tolerance=tol.gen_pu * base, unit="MVAr", labels=labels.gen,
                      description="generator reactive power limits")
    else:
        answered = np.setdiff1d(np.arange(m.n_gen), derived_p)
        report.bounds("gen_p", pg[answered], m.pmin[answered], m.pmax[answered], tolerance=tol.gen_pu * base,
                      unit="MW", labels=Pick(labels.gen, answered), description="generator active power limits")
        report.bounds("slack_p", pg[derived_p], m.pmin[derived_p], m.pmax[derived_p],
                      tolerance=tol.derived_gen_pu * base, unit="MW", labels=Pick(labels.gen, derived_p),
                      description="active power limits of reference-bus generators (set by the power flow)")
        report.bounds("gen_q", qg, m.qmin, m.qmax, tolerance=tol.derived_gen_pu * base, unit="MVAr",
                      labels=labels.gen, description="generator reactive power limits (set by the power flow)")
    flow_idx, angle_idx = limits
    s_from = np.abs(V[m.f] * np.conj(m.Yf @ V)) * base
    s_to = np.abs(V[m.t] * np.conj(m.Yt @ V)) * base
    flows = np.concatenate([s_from[flow_idx], s_to[flow_idx]])
    rates = np.concatenate([m.rate_mva[flow_idx], m.rate_mva[flow_idx]])
    nl = m.n_branch
    flow_labels = Pick(labels.branch_ends, np.concatenate([flow_idx, flow_idx + nl]))
    report.bounds("branch_flow", flows, -np.inf, rates, tolerance=tol.flow_pu * base, unit="MVA",
                  labels=flow_labels, description="apparent power limit (rateA) at both ends of each branch")
    diff = va_deg[m.f[angle_idx]] - va_deg[m.t[angle_idx]]
    report.bounds("angle_diff", diff, m.angmin_deg[angle_idx], m.angmax_deg[angle_idx], tolerance=tol.angle_deg,
                  unit="deg", labels=Pick(labels.branch, angle_idx),
                  description="voltage angle difference limits across each branch")


class Pick:
    """Index a label tuple through a selection, lazily (only violated rows are named)."""

    def __init__(self, labels, idx):
        self.labels, self.idx = labels, idx

    def __getitem__(self, i):
        return self.labels[self.idx[i]]
