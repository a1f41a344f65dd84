"""The reference schedule: the unit-commitment MILP solved by HiGHS (``highspy``).

Variables per unit g and period t: on u, start v, stop w (binary); output p as an integer
number of 0.01 MW (the answer's grid, so the optimum is writable at the prompt's decimals
exactly); reserve r, production cost c and startup cost s (continuous). Constraints, in the
words of :mod:`feasgym.envs.uc.schedule`:

- sum_g p = demand; sum_g r >= reserve; r <= pmax u - p; r <= ramp_up u (so r <= min(pmax - p, ramp_up));
- pmin u <= p <= pmax u; v - w = u_t - u_(t-1); v + w <= 1;
- p_t - p_(t-1) <= ramp_up u_(t-1) + startup_limit v_t; p_(t-1) - p_t <= ramp_down u_t + shutdown_limit w_t;
- sum of v over the last min_up periods <= u_t, sum of w over the last min_down periods <= 1 - u_t
  (the start or stop before the horizon included as a constant);
- c >= cost_k u + slope_k (p - mw_k u) for every segment k (convex costs: c is the piecewise cost);
- s >= first tier cost * v_t, and s >= tier cost * (v_t - sum of w over periods t-lag+1 .. t-1) for every
  later tier (the tier applies unless the unit stopped less than lag periods before t);
- an unavailable unit has u = 0.

Objective: sum c + sum s ($). Quadratic costs do not occur: PGLib-UC gives piecewise-linear
convex costs, used as they are.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..core.qp import new_highs, run_highs
from .instance import MW_DECIMALS, UCInstance

GRID = 10 ** MW_DECIMALS  # output steps per MW
MIP_REL_GAP = 1e-6
TIME_LIMIT_S = 120.0


@dataclass
class MILPResult:
    on: np.ndarray  # (units, periods) 0/1
    p: np.ndarray  # (units, periods) MW, multiples of 0.01
    objective: float  # HiGHS's objective ($)
    mip_gap: float
    nodes: int


class _Builder:
    """Rows of a sparse LP, one constraint family at a time."""

    def __init__(self, n_cols: int):
        self.n = n_cols
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.vals: list[float] = []
        self.lo: list[float] = []
        self.hi: list[float] = []

    def add(self, terms: list[tuple[int, float]], lo: float, hi: float) -> None:
        r = len(self.lo)
        for c, v in terms:
            if v != 0.0:
                self.rows.append(r)
                self.cols.append(c)
                self.vals.append(v)
        self.lo.append(lo)
        self.hi.append(hi)

    def matrix(self) -> sp.csc_matrix:
        return sp.csc_matrix((self.vals, (self.rows, self.cols)), shape=(len(self.lo), self.n))


def solve_uc(inst: UCInstance, *, mip_rel_gap: float = MIP_REL_GAP, time_limit_s: float = TIME_LIMIT_S,
             demand_offset_mw: float = 0.0, reserve_offset_mw: float = 0.0,
             integer_output: bool = True) -> MILPResult | None:
    """The optimal schedule, or None unless HiGHS proves optimality within ``mip_rel_gap``.

    ``demand_offset_mw``/``reserve_offset_mw`` shift the requirements (the tolerance-budget
    attack uses them); ``integer_output=False`` drops the 0.01 MW grid (continuous outputs).
    """
    import highspy

    n, T = inst.n_units, inst.periods
    nv = n * T
    U, V, W, P, R, C, S = (k * nv for k in range(7))
    idx = lambda base, g, t: base + g * T + t  # noqa: E731
    b = _Builder(7 * nv)
    inf = np.inf
    pmin, pmax = inst.pmin * GRID, inst.pmax * GRID
    ru, rd = inst.ramp_up * GRID, inst.ramp_down * GRID
    su, sd = inst.startup_limit * GRID, inst.shutdown_limit * GRID
    p0 = np.round(inst.p_t0 * GRID)
    demand = np.round(inst.demand * GRID) + demand_offset_mw * GRID
    reserve = np.round(inst.reserve * GRID) + reserve_offset_mw * GRID
    for t in range(T):
        b.add([(idx(P, g, t), 1.0) for g in range(n)], demand[t], demand[t])
        b.add([(idx(R, g, t), 1.0) for g in range(n)], reserve[t], inf)
    last_start = np.where(inst.on_t0 == 1, 1 - inst.hours_t0, -10**6)
    last_stop = np.where(inst.on_t0 == 0, 1 - inst.hours_t0, -10**6)
    for g in range(n):
        u0 = float(inst.on_t0[g])
        mw = inst.cost_mw[g] * GRID
        usd = inst.cost_usd[g]
        slopes = np.diff(usd) / np.diff(mw)
        for t in range(T):
            u, v, w, p, r = (idx(k, g, t) for k in (U, V, W, P, R))
            b.add([(r, 1.0), (p, 1.0), (u, -pmax[g])], -inf, 0.0)
            b.add([(r, 1.0), (u, -ru[g])], -inf, 0.0)
            b.add([(p, 1.0), (u, -pmax[g])], -inf, 0.0)
            b.add([(p, 1.0), (u, -pmin[g])], 0.0, inf)
            if t == 0:
                b.add([(v, 1.0), (w, -1.0), (u, -1.0)], -u0, -u0)
                b.add([(p, 1.0), (v, -su[g])], -inf, p0[g] + ru[g] * u0)
                b.add([(p, -1.0), (u, -rd[g]), (w, -sd[g])], -inf, -p0[g])
            else:
                up, pp = idx(U, g, t - 1), idx(P, g, t - 1)
                b.add([(v, 1.0), (w, -1.0), (u, -1.0), (up, 1.0)], 0.0, 0.0)
                b.add([(p, 1.0), (pp, -1.0), (up, -ru[g]), (v, -su[g])], -inf, 0.0)
                b.add([(pp, 1.0), (p, -1.0), (u, -rd[g]), (w, -sd[g])], -inf, 0.0)
            b.add([(v, 1.0), (w, 1.0)], -inf, 1.0)
            period = t + 1
            first = period - int(inst.min_up[g]) + 1
            hist = 1.0 if last_start[g] >= first else 0.0
            b.add([(idx(V, g, k), 1.0) for k in range(max(first - 1, 0), t + 1)] + [(u, -1.0)], -inf, -hist)
            first = period - int(inst.min_down[g]) + 1
            hist = 1.0 if last_stop[g] >= first else 0.0
            b.add([(idx(W, g, k), 1.0) for k in range(max(first - 1, 0), t + 1)] + [(u, 1.0)], -inf, 1.0 - hist)
            c = idx(C, g, t)
            for k, slope in enumerate(slopes):
                # c >= usd_k u + slope (p - mw_k u)
                b.add([(c, 1.0), (p, -slope), (u, slope * mw[k] - usd[k])], 0.0, inf)
            s = idx(S, g, t)
            lags, costs = inst.startup_lag[g], inst.startup_cost[g]
            b.add([(s, 1.0), (v, -costs[0])], 0.0, inf)
            for lag, cost in zip(lags[1:].tolist(), costs[1:].tolist()):
                # the tier applies to a start unless the unit stopped in periods t-lag+1 .. t-1 (off < lag)
                first = period - lag + 1
                if last_stop[g] >= first:
                    continue  # it stopped there before the horizon (and any later stop is there too)
                terms = [(s, 1.0), (v, -cost)] + [(idx(W, g, k - 1), cost) for k in range(max(first, 1), period)]
                b.add(terms, 0.0, inf)
    col_lo = np.zeros(7 * nv)
    col_hi = np.full(7 * nv, inf)
    col_hi[U:P] = 1.0
    out = np.flatnonzero(~inst.available)
    for g in out:
        col_hi[U + g * T:U + (g + 1) * T] = 0.0
    col_hi[P:R] = np.repeat(pmax, T)
    cost = np.zeros(7 * nv)
    cost[C:] = 1.0
    integrality = np.zeros(7 * nv, dtype=int)
    integrality[U:P] = 1
    if integer_output:
        integrality[P:R] = 1
    A = b.matrix()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = 7 * nv, A.shape[0]
    lp.col_cost_ = cost
    lp.col_lower_, lp.col_upper_ = col_lo, np.clip(col_hi, -highspy.kHighsInf, highspy.kHighsInf)
    lp.row_lower_ = np.clip(np.array(b.lo), -highspy.kHighsInf, highspy.kHighsInf)
    lp.row_upper_ = np.clip(np.array(b.hi), -highspy.kHighsInf, highspy.kHighsInf)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = A.indptr, A.indices, A.data
    lp.integrality_ = [highspy.HighsVarType.kInteger if k else highspy.HighsVarType.kContinuous
                       for k in integrality.tolist()]
    h = new_highs(highspy)  # quiet and single-threaded (see core.qp.new_highs)
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("random_seed", 0)
    h.passModel(lp)
    run_highs(highspy, h)
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    x = np.asarray(h.getSolution().col_value, dtype=float)
    info = h.getInfo()
    on = np.round(x[U:V]).reshape(n, T) + 0.0  # + 0.0: no negative zeros
    p_steps = x[P:R].reshape(n, T)
    p = (np.round(p_steps) if integer_output else p_steps) / GRID + 0.0
    return MILPResult(on, p, float(info.objective_function_value), float(info.mip_gap), int(info.mip_node_count))

