"""The reference AC-OPF as a CasADi NLP solved by Ipopt, built once per case and reused.

Why: PYPOWER's interior point spends 17-28 ms per iteration in Python derivative code
(~220 ms a case14 solve). Here the model (polar form, the checker's model: bus shunts,
taps, phase shifters, angle-difference limits, |S| limits at both branch ends, polynomial
costs) is built once as a CasADi expression graph with exact Hessians by AD; loads and
branch statuses are *parameters*, so every instance of a case, N-1 outages included,
reuses one built solver. Each solve warm-starts from the nominal optimum and falls back to
a cold (flat) start if that fails.

Failed draws are detected cheaply: a capacity pre-check (total load above total Pmax is
rejected without a solve), Ipopt's own status (``Infeasible_Problem_Detected`` and
friends), and an iteration cap well above what converging solves take (measured: see
:data:`MAX_ITER`).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .case import GridModel, _build_model_cached, base_loads, pglib_name

MAX_ITER = 120
"""Ipopt iteration cap (deterministic, unlike a time limit, so a draw is kept or skipped the same
way on every machine). Converging warm-started solves took at most 11/14/21 iterations on
case30/57/118 draws and up to 71 on case300 (one draw of 30; the others 20-37); draws still
running at the cap had no solution in every sample (PYPOWER agreed: case30/57, and 3 case300
draws checked), and their iterations are the slow ones (30-70 ms each on case300 against ~6 ms
in a converging solve)."""

CONCLUSIVE_FAILURES = ("Infeasible_Problem_Detected", "Maximum_Iterations_Exceeded")
"""Warm-start outcomes not retried from a cold start: of 70 case30/case57 draws and 20 case300
draws, every draw Ipopt called locally infeasible, or that hit the iteration cap, from the warm
start failed from the cold start too (and PYPOWER found no solution either), so a
retry would only double the cost of a failed draw. Other failures (restoration failure, invalid
numbers, ...) are retried from the flat start."""

IPOPT_OPTIONS = {
    "print_level": 0,
    "sb": "yes",
    "tol": 1e-8,
    "max_iter": MAX_ITER,
    "linear_solver": "mumps",
    "mu_strategy": "adaptive",
}


def _sparse_dm(rows, cols, values, shape):
    import casadi as ca

    rows, cols = np.asarray(rows, dtype=int), np.asarray(cols, dtype=int)
    sparsity = ca.Sparsity.triplet(shape[0], shape[1], rows.tolist(), cols.tolist())
    return ca.DM(sparsity, np.asarray(values, dtype=float)[np.lexsort((rows, cols))].tolist())


class CompiledACOPF:
    """One case's AC-OPF, with per-bus loads (p.u.) and per-branch statuses as NLP parameters."""

    def __init__(self, model: GridModel):
        import casadi as ca

        self.model = m = model
        nb, ng, nl = m.n_bus, m.n_gen, m.n_branch
        base = m.base_mva
        self._nb, self._ng, self._nl = nb, ng, nl
        rows = np.arange(nl)
        Yff = np.asarray(m.Yf[rows, m.f]).ravel()
        Yft = np.asarray(m.Yf[rows, m.t]).ravel()
        Ytf = np.asarray(m.Yt[rows, m.f]).ravel()
        Ytt = np.asarray(m.Yt[rows, m.t]).ravel()

        x = ca.SX.sym("x", 2 * nb + 2 * ng)
        va, vm = x[:nb], x[nb:2 * nb]
        pg, qg = x[2 * nb:2 * nb + ng], x[2 * nb + ng:]
        p = ca.SX.sym("p", 2 * nb + nl)
        pd, qd, status = p[:nb], p[nb:2 * nb], p[2 * nb:]

        f, t = m.f.tolist(), m.t.tolist()
        vf, vt = vm[f], vm[t]
        delta = va[f] - va[t]
        cos_d, sin_d = ca.cos(delta), ca.sin(delta)
        vv = vf * vt
        dm = ca.DM
        pf = status * (vf ** 2 * dm(Yff.real) + vv * (dm(Yft.real) * cos_d + dm(Yft.imag) * sin_d))
        qf = status * (-vf ** 2 * dm(Yff.imag) + vv * (dm(Yft.real) * sin_d - dm(Yft.imag) * cos_d))
        pt = status * (vt ** 2 * dm(Ytt.real) + vv * (dm(Ytf.real) * cos_d - dm(Ytf.imag) * sin_d))
        qt = status * (-vt ** 2 * dm(Ytt.imag) - vv * (dm(Ytf.real) * sin_d + dm(Ytf.imag) * cos_d))

        Cf = _sparse_dm(m.f, rows, np.ones(nl), (nb, nl))
        Ct = _sparse_dm(m.t, rows, np.ones(nl), (nb, nl))
        Cg = _sparse_dm(m.gen_bus, np.arange(ng), np.ones(ng), (nb, ng))
        vm2 = vm ** 2
        p_bal = ca.mtimes(Cf, pf) + ca.mtimes(Ct, pt) + vm2 * dm(m.gs_mw / base) + pd - ca.mtimes(Cg, pg)
        q_bal = ca.mtimes(Cf, qf) + ca.mtimes(Ct, qt) - vm2 * dm(m.bs_mvar / base) + qd - ca.mtimes(Cg, qg)

        self._flow, self._angle = m.flow_limited, m.angle_limited
        fl, an = self._flow.tolist(), self._angle.tolist()
        g = ca.vertcat(p_bal, q_bal, pf[fl] ** 2 + qf[fl] ** 2, pt[fl] ** 2 + qt[fl] ** 2, delta[an])

        c2, c1, c0 = (dm(col) for col in m.cost.T)
        pmw = pg * base
        cost = ca.sum1(c2 * pmw ** 2 + c1 * pmw + c0)
        self.cost_scale = max(1.0, float(np.abs(m.cost[:, 1] * m.pmax).sum() + np.abs(m.cost[:, 2]).sum()) / 1e3)
        nlp = {"x": x, "p": p, "f": cost / self.cost_scale, "g": g}
        self._solver = ca.nlpsol("acopf", "ipopt", nlp, {"ipopt": dict(IPOPT_OPTIONS), "print_time": False,
                                                         "error_on_fail": False})

        inf = np.inf
        va_lo, va_hi = np.full(nb, -inf), np.full(nb, inf)
        va_lo[m.ref] = va_hi[m.ref] = 0.0
        self._lbx = np.concatenate([va_lo, m.vmin, m.pmin / base, m.qmin / base])
        self._ubx = np.concatenate([va_hi, m.vmax, m.pmax / base, m.qmax / base])
        rate2 = (m.rate_mva[self._flow] / base) ** 2
        self._rate2 = rate2
        nbal, nflow, nang = 2 * nb, 2 * len(fl), len(an)
        self._lbg = np.concatenate([np.zeros(nbal), np.full(nflow, -inf), np.deg2rad(m.angmin_deg[self._angle])])
        self._ubg = np.concatenate([np.zeros(nbal), np.tile(rate2, 2), np.deg2rad(m.angmax_deg[self._angle])])
        self._angle_rows = nbal + nflow + np.arange(nang)
        self._flow_rows = nbal + np.arange(nflow)
        self._x_flat = np.concatenate([np.zeros(nb), (m.vmin + m.vmax) / 2, (m.pmin + m.pmax) / 2 / base,
                                       (m.qmin + m.qmax) / 2 / base])
        self.total_pmax = float(m.pmax.sum())
        pd0, qd0 = base_loads(m.name)
        nominal = self._solve(pd0, qd0, None, self._x_flat)
        self._x_warm = nominal[0] if nominal is not None else self._x_flat
        self.last_stats: dict = {}

    def solve(self, pd_mw: np.ndarray, qd_mvar: np.ndarray, outage: int | None = None) -> dict | None:
        """The optimal state (case order, MW/MVAr/p.u./deg) for these loads and outaged branch row, or None."""
        pd_mw, qd_mvar = np.asarray(pd_mw, dtype=float), np.asarray(qd_mvar, dtype=float)
        if pd_mw.sum() > self.total_pmax:  # more load than generation capacity: no solve can help
            self.last_stats = {"return_status": "load_above_capacity", "iter_count": 0, "success": False}
            return None
        found = self._solve(pd_mw, qd_mvar, outage, self._x_warm)
        if found is None and self.last_stats["return_status"] not in CONCLUSIVE_FAILURES:
            found = self._solve(pd_mw, qd_mvar, outage, self._x_flat)
        if found is None:
            return None
        sol, _ = found
        m, nb, ng = self.model, self._nb, self._ng
        pg = sol[2 * nb:2 * nb + ng] * m.base_mva
        return {
            "vm_pu": sol[nb:2 * nb].copy(),
            "va_deg": np.rad2deg(sol[:nb]),
            "p_mw": pg,
            "q_mvar": sol[2 * nb + ng:] * m.base_mva,
            "gen_bus": m.bus_numbers[m.gen_bus].astype(float),
            "objective": m.gen_cost(pg),
        }

    def _solve(self, pd_mw, qd_mvar, outage, x0) -> tuple[np.ndarray, dict] | None:
        m = self.model
        status = np.ones(self._nl)
        lbg, ubg = self._lbg, self._ubg
        if outage is not None:
            k = int(np.flatnonzero(m.branch_rows == outage)[0])
            status[k] = 0.0
            lbg, ubg = lbg.copy(), ubg.copy()
            hit = np.flatnonzero(self._angle == k)
            lbg[self._angle_rows[hit]], ubg[self._angle_rows[hit]] = -np.inf, np.inf
        params = np.concatenate([pd_mw / m.base_mva, qd_mvar / m.base_mva, status])
        # print_level 0 + sb: Ipopt writes nothing (no process-wide stdout redirection needed, so threads are safe)
        result = self._solver(x0=x0, p=params, lbx=self._lbx, ubx=self._ubx, lbg=lbg, ubg=ubg)
        stats = self._solver.stats()
        self.last_stats = {k: stats.get(k) for k in ("return_status", "iter_count", "success")}
        if not stats.get("success"):
            return None
        sol = np.asarray(result["x"]).ravel()
        if not np.all(np.isfinite(sol)):
            return None
        return sol, stats


@lru_cache(maxsize=32)
def compiled_acopf(case: str) -> CompiledACOPF:
    """The built solver of ``case`` (one per case and process; outages are parameters)."""
    return CompiledACOPF(_build_model_cached(pglib_name(case), None))


def solve_acopf_ipopt(case: str, pd_mw: np.ndarray, qd_mvar: np.ndarray, outage: int | None = None) -> dict | None:
    """The reference AC-OPF state of one instance (same result dict as :func:`opf_solver.solve_acopf`)."""
    return compiled_acopf(case).solve(pd_mw, qd_mvar, outage)
