"""Synthetic portfolio instances from a factor model, drawn from an RNG (no data download).

Returns and risks are annual, in percent. Covariance Sigma = B F B' + diag(idio_vol^2) (%^2)
with three factors (market, size, value). Every number is rounded to what the prompt shows
before it is used, so the prompt states the instance exactly.

Constraints drawn per instance: budget (weights sum to 1), long-only box 0 <= w <= max_weight,
sector caps, turnover sum |w - current| <= turnover_limit, expected return >= min_return.
The current holdings satisfy budget, box and caps (a projection), so the turnover ball is
never empty; the return floor is set a drawn fraction of the way from the current
holdings' return to the best return reachable within the other constraints (an LP).

Out-of-distribution variants (``ood=``, split "ood" only):

- ``"return"``: range shift; the floor sits 80-95% of the way to the best reachable return
  (training: 20-60%) and factor volatilities are 1.5x;
- ``"sectors"``: a different sector structure: twice as many sectors (at most 11) with skewed
  sizes (Dirichlet 0.5 shares; training: uniform assignment) and caps drawn for that count;
- ``"relabel"``: five-letter tickers (training: three or four) and asset rows shuffled
  (training: grouped by sector, then alphabetical).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..core.qp import solve_qp

OOD_KINDS = ("return", "sectors", "relabel")
FACTORS = ("market", "size", "value")
FACTOR_VOL = np.array([16.0, 8.0, 7.0])  # % per year
FACTOR_PREMIUM = np.array([5.0, 1.5, 1.0])  # % per year
SECTOR_NAMES = ("Energy", "Materials", "Industrials", "ConsumerDisc", "ConsumerStaples", "HealthCare",
                "Financials", "InfoTech", "CommServices", "Utilities", "RealEstate")
WEIGHT_DECIMALS = 4  # how current holdings are shown
TRAIN_TARGET = (0.2, 0.6)
OOD_TARGET = (0.8, 0.95)
OOD_VOL_SCALE = 1.5


def check_ood(kind: str | None) -> str | None:
    if kind is not None and kind not in OOD_KINDS:
        raise ValueError(f"portfolio ood must be None or one of {OOD_KINDS}, got {kind!r}")
    return kind


def default_sector_count(n_assets: int) -> int:
    return int(np.clip(round(n_assets / 12) + 2, 3, 8))


@dataclass
class PortfolioInstance:
    tickers: tuple[str, ...]
    sectors: tuple[str, ...]  # sector names, in sector index order
    sector_of: np.ndarray  # sector index per asset
    mu: np.ndarray  # expected annual return, %
    betas: np.ndarray  # (n, 3) factor loadings
    idio_vol: np.ndarray  # %
    factor_cov: np.ndarray  # (3, 3), %^2
    current: np.ndarray  # current weights
    max_weight: np.ndarray
    sector_cap: np.ndarray
    turnover_limit: float
    min_return: float  # %
    order: np.ndarray  # row order in the prompt
    valid: bool = True  # False when the drawn constraints left no room (the env redraws)

    @property
    def n(self) -> int:
        return len(self.tickers)

    def sector_matrix(self) -> sp.csr_matrix:
        return sp.csr_matrix((np.ones(self.n), (self.sector_of, np.arange(self.n))), shape=(len(self.sectors), self.n))

    def covariance(self) -> np.ndarray:
        return self.betas @ self.factor_cov @ self.betas.T + np.diag(self.idio_vol ** 2)


def draw_portfolio(rng: np.random.Generator, n: int, ood: str | None = None) -> PortfolioInstance:
    """One instance; every random number comes from ``rng``."""
    check_ood(ood)
    tickers = _tickers(rng, n, (5, 5) if ood == "relabel" else (3, 4))
    n_sectors = default_sector_count(n)
    if ood == "sectors":
        n_sectors = min(2 * n_sectors, len(SECTOR_NAMES), n // 2)
        shares = rng.dirichlet(np.full(n_sectors, 0.5))
        sector_of = _assign(rng, n, shares)
    else:
        sector_of = _assign(rng, n, np.full(n_sectors, 1.0 / n_sectors))
    names = tuple(SECTOR_NAMES[i] for i in np.sort(rng.choice(len(SECTOR_NAMES), n_sectors, replace=False)))
    vol = FACTOR_VOL * rng.uniform(0.85, 1.15, 3) * (OOD_VOL_SCALE if ood == "return" else 1.0)
    corr = np.eye(3)
    corr[np.triu_indices(3, 1)] = rng.uniform(-0.3, 0.3, 3)
    corr = np.triu(corr) + np.triu(corr, 1).T
    factor_cov = np.round(np.outer(vol, vol) * corr, 1)
    betas = np.round(np.column_stack([rng.normal(1.0, 0.3, n), rng.normal(0.0, 0.5, n), rng.normal(0.0, 0.5, n)]), 2)
    mu = np.round(betas @ FACTOR_PREMIUM + rng.normal(0.0, 1.5, n), 2)
    idio = np.round(rng.uniform(15.0, 35.0, n), 1)
    max_weight = np.round(np.minimum(rng.uniform(2.0, 4.0, n) / n, 0.4), 3)
    caps = np.round(np.minimum(rng.uniform(1.3, 2.2, n_sectors) / n_sectors, 0.9), 2)
    turnover = round(float(rng.uniform(0.2, 0.5)), 2)
    target = rng.uniform(*(OOD_TARGET if ood == "return" else TRAIN_TARGET))
    if ood == "relabel":
        order = rng.permutation(n)
    else:
        order = np.lexsort((np.array(tickers), sector_of))
    inst = PortfolioInstance(tickers, names, sector_of, mu, betas, idio, factor_cov, np.zeros(n), max_weight,
                             caps, turnover, 0.0, order)
    start = rng.dirichlet(np.full(n, 1.0))
    current = _project(inst, start)
    if current is None:
        inst.valid = False
        return inst
    inst.current = np.round(current, WEIGHT_DECIMALS)
    best = max_return(inst)
    if best is None:
        inst.valid = False
        return inst
    base = float(mu @ inst.current)
    inst.min_return = float(np.floor((base + target * (best - base)) * 1000) / 1000)
    return inst


def _tickers(rng: np.random.Generator, n: int, lengths: tuple[int, int]) -> tuple[str, ...]:
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        word = "".join(rng.choice(letters, int(rng.integers(lengths[0], lengths[1] + 1))))
        if word not in seen:
            seen.add(word)
            out.append(word)
    return tuple(out)


def _assign(rng: np.random.Generator, n: int, shares: np.ndarray) -> np.ndarray:
    """Sector of each asset: every sector gets at least one asset, the rest follow ``shares``."""
    k = len(shares)
    rest = rng.choice(k, size=n - k, p=shares / shares.sum())
    return rng.permutation(np.r_[np.arange(k), rest]).astype(int)


def linear_constraints(inst: PortfolioInstance) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Budget and sector caps on the weights: rows, lower and upper bounds."""
    A = sp.vstack([sp.csr_matrix(np.ones((1, inst.n))), inst.sector_matrix()])
    return sp.csr_matrix(A), np.r_[1.0, np.full(len(inst.sectors), -np.inf)], np.r_[1.0, inst.sector_cap]


def _project(inst: PortfolioInstance, point: np.ndarray) -> np.ndarray | None:
    """The weights closest to ``point`` that satisfy budget, box and sector caps."""
    A, lo, hi = linear_constraints(inst)
    n = inst.n
    return solve_qp(-2 * point, A, lo, hi, np.zeros(n), inst.max_weight, sp.identity(n, format="csc") * 2.0)


def turnover_system(inst: PortfolioInstance) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every constraint but the return floor over x = [w, t], t_i >= |w_i - current_i|, sum t <= limit."""
    n = inst.n
    A0, lo0, hi0 = linear_constraints(inst)
    eye = sp.identity(n, format="csr")
    A = sp.vstack([
        sp.hstack([A0, sp.csr_matrix((A0.shape[0], n))]),
        sp.hstack([eye, -eye]),  # w - t <= current
        sp.hstack([eye, eye]),  # w + t >= current
        sp.hstack([sp.csr_matrix((1, n)), sp.csr_matrix(np.ones((1, n)))]),
    ])
    lo = np.r_[lo0, np.full(n, -np.inf), inst.current, -np.inf]
    hi = np.r_[hi0, inst.current, np.full(n, np.inf), inst.turnover_limit]
    col_lo = np.r_[np.zeros(n), np.zeros(n)]
    col_hi = np.r_[inst.max_weight, np.full(n, np.inf)]
    return sp.csr_matrix(A), lo, hi, col_lo, col_hi


def max_return(inst: PortfolioInstance) -> float | None:
    """The best expected return (%) reachable within budget, box, caps and turnover (LP)."""
    A, lo, hi, col_lo, col_hi = turnover_system(inst)
    x = solve_qp(np.r_[-inst.mu, np.zeros(inst.n)], A, lo, hi, col_lo, col_hi)
    return None if x is None else float(inst.mu @ x[:inst.n])
