"""Grid instances: perturbed loads and an optional N-1 branch outage, drawn from an RNG.

Load perturbation (defaults in line with OPFData / PGLearn practice): every load is
multiplied by a global factor ``alpha ~ U[scale]`` times its own factor
``eps_i ~ U[1 - noise, 1 + noise]``; P and Q scale together (constant power factor).
A global factor spreads total demand, the per-load noise varies its pattern.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .case import GridModel, base_loads, build_model, connected_outages


@dataclass(frozen=True)
class LoadPerturbation:
    scale: tuple[float, float] = (0.8, 1.1)
    noise: float = 0.1

    def __post_init__(self):
        lo, hi = self.scale
        if not (0 < lo <= hi) or not (0 <= self.noise < 1):
            raise ValueError(f"invalid load perturbation {self}: need 0 < scale_lo <= scale_hi and 0 <= noise < 1")

    def apply(self, rng: np.random.Generator, pd: np.ndarray, qd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        alpha = rng.uniform(*self.scale)
        eps = rng.uniform(1.0 - self.noise, 1.0 + self.noise, size=pd.shape)
        factor = alpha * eps
        return pd * factor, qd * factor


def as_perturbation(value) -> LoadPerturbation | None:
    """Accept None (unperturbed), a LoadPerturbation, or a dict of its fields."""
    if value is None or isinstance(value, LoadPerturbation):
        return value
    if isinstance(value, dict):
        data = dict(value)
        if "scale" in data:
            data["scale"] = tuple(data["scale"])
        return LoadPerturbation(**data)
    raise TypeError(f"perturbation must be None, a dict or a LoadPerturbation, not {type(value).__name__}")


@dataclass
class GridInstance:
    """One drawn instance. ``bus_ids``/``gen_ids``/``branch_ids`` are the names used in the
    prompt and the answer; ``*_order`` give the row order shown in the prompt."""

    case: str
    model: GridModel
    pd_mw: np.ndarray
    qd_mvar: np.ndarray
    outage: int | None
    bus_ids: tuple[str, ...]
    gen_ids: tuple[str, ...]
    branch_ids: tuple[str, ...]
    bus_order: np.ndarray = field(default=None)
    gen_order: np.ndarray = field(default=None)
    branch_order: np.ndarray = field(default=None)

    def __post_init__(self):
        for name, n in (("bus_order", self.model.n_bus), ("gen_order", self.model.n_gen), ("branch_order", self.model.n_branch)):
            if getattr(self, name) is None:
                setattr(self, name, np.arange(n))


def default_ids(model: GridModel) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """PGLib bus numbers as bus ids; generators G1..; branches L<case row + 1>."""
    buses = tuple(str(int(n)) for n in model.bus_numbers)
    gens = tuple(f"G{i + 1}" for i in range(model.n_gen))
    branches = tuple(f"L{int(r) + 1}" for r in model.branch_rows)
    return buses, gens, branches


def draw_grid_instance(case: str, rng: np.random.Generator, perturbation: LoadPerturbation | None,
                       n_minus_1: bool) -> GridInstance:
    """Draw loads (and an outage) from ``rng``; all randomness comes from it."""
    pd, qd = base_loads(case)
    if perturbation is not None:
        pd, qd = perturbation.apply(rng, pd, qd)
    outage = None
    if n_minus_1:
        candidates = connected_outages(case)
        outage = int(candidates[rng.integers(len(candidates))])
    model = build_model(case, outage)
    buses, gens, branches = default_ids(model)
    return GridInstance(case, model, pd, qd, outage, buses, gens, branches)
