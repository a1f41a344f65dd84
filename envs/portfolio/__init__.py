"""Portfolio selection: a non-grid constrained optimization family (minimum-variance, factor model).
Its ids are declared here; the family class loads on first use."""
from __future__ import annotations

from ..core.registration import register_family

PORTFOLIO_SIZES = (10, 30, 100)
PORTFOLIO_OOD = {
    "return": ("return", "return floor 80-95% of the way to the best reachable (training 20-60%), factor vols 1.5x"),
    "sectors": ("sectors", "twice as many sectors (at most 11) with skewed sizes"),
    "relabel": ("relabel", "five-letter tickers, asset rows shuffled"),
}

register_family(
    "feasgym.envs.portfolio.family:PortfolioFamily", name="Portfolio",
    ids={f"feasgym/Portfolio-n{n}-v0": (
        {"n_assets": n}, f"minimum-variance portfolio of {n} assets: budget, box, sector caps, turnover, return floor")
        for n in PORTFOLIO_SIZES},
    ood=PORTFOLIO_OOD,
)
