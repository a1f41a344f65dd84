"""AC constraint rows shared by the grid families: balance, limits, flows, angles.

Every quantity is computed from the model's Ybus/Yf/Yt and the state in p.u., then
reported in engineering units (MW, MVAr, MVA, p.u., degrees) for readable violations.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..core.constraints import RowBlock
from .case import GridModel
from .instance import GridInstance

try:  # scipy's CSR kernel: what ``Y @ x`` runs after its dispatch, which costs more than the product here
    from scipy.sparse._sparsetools import csr_matvec as _csr_matvec
except ImportError:  # pragma: no cover - a scipy without it takes the operator
    _csr_matvec = None


@dataclass(frozen=True)
class ACTolerances:
    """Default tolerances and why (measured on PGLib optima written at the prompt's decimals:
    Vm 7 dp, angle 5 dp in degrees, P/Q 3 dp in MW/MVAr; see README "Tolerances" and
    ``benchmarks/oracle_headroom.py``, ``benchmarks/phantom_injection.py``).

    A tolerance is what an answer may spend without being right, so each is sized against
    both what rounding needs and what spending it could buy:

    - ``balance_pu`` 2e-4 (0.02 MW / MVAr on 100 MVA) per bus: rounding an exact optimum to
      the prompt's decimals leaves mismatches up to 5e-5 p.u. (case118; Vm at 5 dp left 2e-3,
      which is why Vm has 7 decimals). At the old 1e-2 p.u. an answer could lower every load
      by just under 1 MW ("phantom injection") and be "feasible" 2-16% below the optimum.
    - ``system_balance_pu`` 2e-4: the total P and total Q mismatch over all buses, so the
      per-bus allowance cannot be spent everywhere at once; rounding leaves <= 4e-5 p.u.
      (the per-bus residuals largely cancel; generator P/Q rounding adds ~sqrt(n_gen)*3e-6).
    - ``flow_pu`` 2e-4: branch flows inherit the same rounding error as the balance rows.
    - ``vm_pu`` 1e-4: voltages are written to 1e-7; the interior-point solver itself may
      sit ~5e-6 beyond a bound.
    - ``gen_pu`` 1e-4 (0.01 MW on 100 MVA): dispatch is written to 1e-3 MW.
    - ``angle_deg`` 1e-3: angles are written to 1e-5 degrees.
    - ``derived_gen_pu`` 1e-2 (setpoint answers only): generator outputs the power flow
      computes (reference-bus P, every Q) move by up to ~3e-4 p.u. when voltage setpoints
      are rounded to 1e-5 (large bus susceptances amplify them). These are limit rows on a
      solved state (the balance itself is exact there), so the allowance buys no phantom power.
    """

    balance_pu: float = 2e-4
    system_balance_pu: float = 2e-4
    flow_pu: float = 2e-4
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
    return inst.model.flow_limited, inst.model.angle_limited


def bus_injections(inst: GridInstance, pg: np.ndarray, qg: np.ndarray) -> np.ndarray:
    """Net complex injection per bus in p.u.: generation minus load."""
    m = inst.model
    p = np.bincount(m.gen_bus, weights=pg, minlength=m.n_bus) - inst.pd_mw
    q = np.bincount(m.gen_bus, weights=qg, minlength=m.n_bus) - inst.qd_mvar
    return (p + 1j * q) / m.base_mva


def complex_powers(m: GridModel, V: np.ndarray) -> np.ndarray:
    """``V * conj(I)`` in p.u. from one sparse product: injection at every bus (the first ``n_bus``
    entries), then the flow into the from end and the to end of every branch."""
    return V[m.power_buses] * np.conj(csr_times_vector(m.Y_all, V))


def bus_powers(m: GridModel, V: np.ndarray) -> np.ndarray:
    """``V * conj(Ybus @ V)`` in p.u.: the injection at every bus alone (the first ``n_bus`` entries of
    :func:`complex_powers`, for checkers that need no branch flows)."""
    return V * np.conj(csr_times_vector(m.Ybus, V))


def csr_times_vector(Y: sp.csr_matrix, x: np.ndarray) -> np.ndarray:
    """``Y @ x`` for a complex CSR matrix and vector, by the kernel the operator itself calls (same result)."""
    if _csr_matvec is None or x.dtype != Y.dtype or x.ndim != 1 or Y.dtype != np.complex128 or x.size != Y.shape[1]:
        return Y @ x
    out = np.zeros(Y.shape[0], dtype=Y.dtype)
    _csr_matvec(Y.shape[0], Y.shape[1], Y.indptr, Y.indices, Y.data, x, out)
    return out


def balance_mismatch(inst: GridInstance, S_bus: np.ndarray, pg, qg) -> np.ndarray:
    """Complex power mismatch per bus in MW / MVAr: AC power-flow injection ``S_bus`` minus generation plus load."""
    m = inst.model
    return (S_bus - bus_injections(inst, pg, qg)) * m.base_mva


def add_balance_rows(block: RowBlock, inst: GridInstance, tol: ACTolerances, labels: Labels) -> None:
    """P then Q balance rows at every bus, then the system-wide total P and total Q mismatch; their
    values are :func:`balance_values` of :func:`balance_mismatch`."""
    m = inst.model
    block.residual("p_balance", size=m.n_bus, tolerance=tol.balance_pu * m.base_mva, unit="MW", labels=labels.bus,
                   description="active power balance at each bus (AC power-flow equation)")
    block.residual("q_balance", size=m.n_bus, tolerance=tol.balance_pu * m.base_mva, unit="MVAr", labels=labels.bus,
                   description="reactive power balance at each bus (AC power-flow equation)")
    block.residual("total_p_balance", size=1, tolerance=tol.system_balance_pu * m.base_mva, unit="MW",
                   labels=("system",), description="sum of the active power mismatches of all buses "
                   "(per-bus tolerances cannot be spent everywhere at once)")
    block.residual("total_q_balance", size=1, tolerance=tol.system_balance_pu * m.base_mva, unit="MVAr",
                   labels=("system",), description="sum of the reactive power mismatches of all buses")


def balance_values(mismatch: np.ndarray) -> dict[str, np.ndarray]:
    """The values of :func:`add_balance_rows`' rows by type, from the per-bus complex mismatch."""
    total = mismatch.sum()
    return {"p_balance": mismatch.real, "q_balance": mismatch.imag, "total_p_balance": np.array([total.real]),
            "total_q_balance": np.array([total.imag])}


def balance_rule(tol: ACTolerances, base_mva: float) -> str:
    """The prompt's sentence for the balance rows (per bus and system-wide), with their tolerances."""
    return (f"- AC power balance at every bus, P and Q, within {tol.balance_pu * base_mva:g} MW / MVAr "
            f"({tol.balance_pu:g} p.u.): generation - load - shunt = sum of branch flows. The sum of the "
            f"mismatches over all buses must also be within {tol.system_balance_pu * base_mva:g} MW (P) and "
            f"{tol.system_balance_pu * base_mva:g} MVAr (Q).")


def add_ref_angle_row(block: RowBlock, inst: GridInstance, tol: ACTolerances, labels: Labels) -> None:
    """The reference bus angle is 0; its value is the answered angle of that bus."""
    ref = inst.model.ref
    block.residual("ref_angle", size=1, tolerance=tol.angle_deg, unit="deg", labels=(labels.bus[ref],),
                   description="reference bus angle is 0")


@dataclass(frozen=True)
class LimitRows:
    """Where the values of an AC state's limit rows come from (see :func:`add_limit_rows`)."""

    flow_rows: np.ndarray  # rows of the stacked [from ends; to ends] flows that have a rate limit
    angle_from: np.ndarray  # from and to bus of each branch with an angle-difference limit
    angle_to: np.ndarray
    gen_split: tuple[np.ndarray, np.ndarray] | None  # (answered, derived) generators of setpoint answers

    def values(self, inst: GridInstance, S_ends: np.ndarray, vm, va_deg, pg, qg) -> dict[str, np.ndarray]:
        """The rows' values by type, as :func:`add_limit_rows` declared them (``S_ends``: branch-end
        powers in p.u., the part of :func:`complex_powers` after the buses)."""
        flows = np.abs(S_ends) * inst.model.base_mva
        out = {"bus_vm": vm, "gen_q": qg, "branch_flow": flows[self.flow_rows],
               "angle_diff": va_deg[self.angle_from] - va_deg[self.angle_to]}
        if self.gen_split is None:
            out["gen_p"] = pg
        else:
            out["gen_p"], out["slack_p"] = pg[self.gen_split[0]], pg[self.gen_split[1]]
        return out


def add_limit_rows(block: RowBlock, inst: GridInstance, tol: ACTolerances, labels: Labels,
                   derived_p: np.ndarray | None = None) -> LimitRows:
    """Voltage, generator, branch-flow and angle-difference limit rows of one AC state.

    ``derived_p`` (setpoint answers) lists generators whose P the power flow computed;
    their P rows and every Q row are then checked with ``tol.derived_gen_pu``.
    """
    m = inst.model
    base = m.base_mva
    block.bounds("bus_vm", m.vmin, m.vmax, size=m.n_bus, tolerance=tol.vm_pu, unit="p.u.", labels=labels.bus,
                 description="bus voltage magnitude limits")
    if derived_p is None:
        gen_split = None
        block.bounds("gen_p", m.pmin, m.pmax, size=m.n_gen, tolerance=tol.gen_pu * base, unit="MW",
                     labels=labels.gen, description="generator active power limits")
        block.bounds("gen_q", m.qmin, m.qmax, size=m.n_gen, tolerance=tol.gen_pu * base, unit="MVAr",
                     labels=labels.gen, description="generator reactive power limits")
    else:
        answered = np.setdiff1d(np.arange(m.n_gen), derived_p)
        gen_split = (answered, derived_p)
        block.bounds("gen_p", m.pmin[answered], m.pmax[answered], size=answered.size, tolerance=tol.gen_pu * base,
                     unit="MW", labels=pick(labels.gen, answered), description="generator active power limits")
        block.bounds("slack_p", m.pmin[derived_p], m.pmax[derived_p], size=derived_p.size,
                     tolerance=tol.derived_gen_pu * base, unit="MW", labels=pick(labels.gen, derived_p),
                     description="active power limits of reference-bus generators (set by the power flow)")
        block.bounds("gen_q", m.qmin, m.qmax, size=m.n_gen, tolerance=tol.derived_gen_pu * base, unit="MVAr",
                     labels=labels.gen, description="generator reactive power limits (set by the power flow)")
    flow_idx, angle_idx = limited_branches(inst)
    flow_rows = np.concatenate([flow_idx, flow_idx + m.n_branch])
    block.bounds("branch_flow", -np.inf, m.rate_mva[flow_rows % m.n_branch], size=flow_rows.size,
                 tolerance=tol.flow_pu * base, unit="MVA", labels=pick(labels.branch_ends, flow_rows),
                 description="apparent power limit (rateA) at both ends of each branch")
    block.bounds("angle_diff", m.angmin_deg[angle_idx], m.angmax_deg[angle_idx], size=angle_idx.size,
                 tolerance=tol.angle_deg, unit="deg", labels=pick(labels.branch, angle_idx),
                 description="voltage angle difference limits across each branch")
    return LimitRows(flow_rows, m.f[angle_idx], m.t[angle_idx], gen_split)


def pick(labels: tuple[str, ...], idx: np.ndarray) -> tuple[str, ...]:
    """The labels of the selected elements, built once per instance (a violation names its row by index)."""
    return tuple(map(labels.__getitem__, np.asarray(idx).tolist()))
