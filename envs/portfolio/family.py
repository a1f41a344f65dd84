"""Minimum-variance portfolio selection: the family and its env class.

Objective: minimize the portfolio variance w' Sigma w (annual, %^2) of a factor-model
covariance, subject to budget, long-only box, sector caps, turnover against current
holdings and a minimum expected return (see :mod:`feasgym.envs.portfolio.instance`).
The answer is a weight per ticker at 5 decimals. Reference: HiGHS convex QP, then
re-checked in the original variables with the same checker (a solver can call a point
optimal while violating a turnover limit); a reference that fails the re-check is
dropped and the instance redrawn.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..core.constraints import ConstraintReport
from ..core.family import ProblemFamily
from ..core.qp import solve_qp
from ..core.schema import AnswerSchema, Field, Section, Values
from ..grids.render import num, table
from .instance import FACTORS, PortfolioInstance, check_ood, draw_portfolio, turnover_system

WEIGHT_FIELD = Field("w", 5, "", "fraction of capital held in the asset (0.25 = 25%).")
NOMINAL_SEED = 20240601  # the fixed draw used as the "looks-right" template instance
RECHECK_SHARE = 0.1  # the unrounded reference must satisfy every row within 10% of its tolerance


@dataclass(frozen=True)
class PortfolioTolerances:
    """Default tolerances and why (weights are written with 5 decimals, so each is off by <= 5e-6).

    Worst-case rounding over n <= 100 weights: budget, sector sums and turnover move by at most
    100 * 5e-6 = 5e-4 (< 1e-3); expected return by at most sum |mu_i| * 5e-6 < 0.02 points for
    |mu| < 40%; a single weight by 5e-6 (< 1e-5). So the oracle always passes, by construction.
    """

    budget: float = 1e-3
    weight: float = 1e-5
    sector: float = 1e-3
    turnover: float = 1e-3
    return_pct: float = 2e-2


class PortfolioFamily(ProblemFamily):
    name = "Portfolio"

    def __init__(self, n_assets: int = 30, *, tolerances: PortfolioTolerances | None = None, ood: str | None = None):
        n_assets = int(n_assets)
        if not 4 <= n_assets <= 500:
            raise ValueError(f"n_assets must be in [4, 500], got {n_assets}")
        self.n_assets = n_assets
        self.tolerances = tolerances or PortfolioTolerances()
        self.ood = check_ood(ood)

    def cache_key(self) -> str:
        return f"n={self.n_assets}|ood={self.ood}|{self.tolerances}"

    # ---- generator -----------------------------------------------------------------
    def draw(self, rng: np.random.Generator, split: str) -> PortfolioInstance:
        return draw_portfolio(rng, self.n_assets, self.ood if split == "ood" else None)

    def nominal(self) -> PortfolioInstance:
        return draw_portfolio(np.random.default_rng(NOMINAL_SEED), self.n_assets)

    def solve(self, inst: PortfolioInstance) -> dict | None:
        if not inst.valid:
            return None
        n = inst.n
        A, lo, hi, col_lo, col_hi = turnover_system(inst)
        A = sp.vstack([A, sp.hstack([sp.csr_matrix(inst.mu[None, :]), sp.csr_matrix((1, n))])])
        lo, hi = np.r_[lo, inst.min_return], np.r_[hi, np.inf]
        Q = sp.block_diag([2.0 * inst.covariance(), sp.csr_matrix((n, n))], format="csc")
        x = solve_qp(np.zeros(2 * n), A, lo, hi, col_lo, col_hi, Q)
        if x is None:
            return None
        w = np.clip(x[:n], 0.0, inst.max_weight)
        report, objective = self.check(inst, {"weights": {"w": w}})
        if not _within(report, RECHECK_SHARE):
            return None
        return {"values": {"weights": {"w": w.tolist()}}, "objective": objective}

    # ---- schema and prompt ---------------------------------------------------------
    def schema(self, inst: PortfolioInstance) -> AnswerSchema:
        return AnswerSchema((Section("weights", inst.tickers, (WEIGHT_FIELD,)),))

    def render(self, inst: PortfolioInstance) -> str:
        tol = self.tolerances
        schema = self.schema(inst)
        counts = np.bincount(inst.sector_of, minlength=len(inst.sectors))
        rules = [
            f"- Budget: the weights sum to 1 (tolerance {tol.budget:g}).",
            f"- Long only, capped: 0 <= w <= max_weight for every asset (tolerance {tol.weight:g}).",
            f"- Sector caps: the weights of each sector sum to at most its cap (tolerance {tol.sector:g}).",
            f"- Turnover: sum over assets of |w - current_weight| at most {num(inst.turnover_limit)} "
            f"(tolerance {tol.turnover:g}).",
            f"- Expected return sum(w * exp_return_pct) at least {num(inst.min_return)} % "
            f"(tolerance {tol.return_pct:g} percentage points).",
        ]
        assets = table(
            f"Assets ({inst.n}):",
            ["ticker", "sector", "exp_return_pct", "idio_vol_pct"] + [f"beta_{f}" for f in FACTORS]
            + ["current_weight", "max_weight"],
            [[inst.tickers[i], inst.sectors[inst.sector_of[i]], num(inst.mu[i]), num(inst.idio_vol[i])]
             + [num(b) for b in inst.betas[i]] + [num(inst.current[i]), num(inst.max_weight[i])] for i in inst.order],
        )
        factors = table("Factor covariance F (%^2):", ["factor"] + list(FACTORS),
                        [[f] + [num(v) for v in inst.factor_cov[k]] for k, f in enumerate(FACTORS)])
        sectors = table(f"Sectors ({len(inst.sectors)}):", ["sector", "cap", "assets"],
                        [[s, num(inst.sector_cap[k]), str(counts[k])] for k, s in enumerate(inst.sectors)])
        parts = [
            f"Task: choose portfolio weights for the {inst.n} assets below that satisfy every constraint "
            "and minimize the portfolio variance.",
            "Model: annual returns and volatilities in percent. Covariance (%^2): Sigma = B F B^T + "
            "diag(idio_vol_pct^2), where row i of B is asset i's (beta_market, beta_size, beta_value) and F is "
            "the factor covariance below. Portfolio variance = w^T Sigma w; expected return = "
            "sum_i w_i * exp_return_pct_i.",
            "Constraints:\n" + "\n".join(rules),
            factors,
            sectors,
            assets,
            schema.instructions(),
        ]
        return "\n\n".join(parts) + "\n"

    # ---- checker -------------------------------------------------------------------
    def check(self, inst: PortfolioInstance, values: Values) -> tuple[ConstraintReport, float | None]:
        tol = self.tolerances
        w = values["weights"]["w"]
        report = ConstraintReport()
        report.residual("budget", [w.sum() - 1.0], tolerance=tol.budget, unit="", labels=("portfolio",),
                        description="weights sum to 1")
        report.bounds("weight_bounds", w, 0.0, inst.max_weight, tolerance=tol.weight, unit="",
                      labels=inst.tickers, description="long only, at most max_weight per asset")
        sector_sums = np.bincount(inst.sector_of, weights=w, minlength=len(inst.sectors))
        report.bounds("sector_cap", sector_sums, -np.inf, inst.sector_cap, tolerance=tol.sector, unit="",
                      labels=inst.sectors, description="sector weight at most its cap")
        report.bounds("turnover", [np.abs(w - inst.current).sum()], -np.inf, inst.turnover_limit,
                      tolerance=tol.turnover, unit="", labels=("portfolio",),
                      description="sum of |w - current weight| at most the turnover limit")
        report.bounds("min_return", [inst.mu @ w], inst.min_return, np.inf, tolerance=tol.return_pct, unit="%",
                      labels=("portfolio",), description="expected return at least the floor")
        return report, portfolio_variance(inst, w) if np.all(np.isfinite(w)) else None

    def features(self, inst: PortfolioInstance) -> np.ndarray:
        """Per asset (answer order, as the action's weights): return/10, idio vol/30, betas, current
        weight * n, max weight * n, its sector's cap; then turnover limit, return floor/10 and the
        factor covariance/100."""
        n = inst.n
        per_asset = [inst.mu / 10, inst.idio_vol / 30, *inst.betas.T, inst.current * n, inst.max_weight * n,
                     inst.sector_cap[inst.sector_of]]
        return np.concatenate(per_asset + [[inst.turnover_limit, inst.min_return / 10], inst.factor_cov.ravel() / 100])

    def value_bounds(self, inst: PortfolioInstance) -> dict:
        return {"weights": {"w": (np.zeros(inst.n), inst.max_weight.astype(float))}}

    def objective_info(self) -> dict:
        return {"unit": "%^2", "sense": "min", "description": "portfolio variance w' Sigma w of the annual return"}


def portfolio_variance(inst: PortfolioInstance, w: np.ndarray) -> float:
    """w' (B F B' + D^2) w without forming Sigma: O(n k)."""
    exposure = inst.betas.T @ w
    return float(exposure @ inst.factor_cov @ exposure + np.sum((inst.idio_vol * w) ** 2))


def _within(report: ConstraintReport, share: float) -> bool:
    result = report.result()
    return all(t["missing"] == 0 and t["max_violation"] <= share * t["tolerance"] for t in result["by_type"].values())
