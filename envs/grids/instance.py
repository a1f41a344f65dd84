"""Grid instances: perturbed loads and an optional N-1 branch outage, drawn from an RNG.

Load perturbation (defaults in line with OPFData / PGLearn practice): every load is
multiplied by a global factor ``alpha ~ U[scale]`` times its own factor
``eps_i ~ U[1 - noise, 1 + noise]``; P and Q scale together (constant power factor).
A global factor spreads total demand, the per-load noise varies its pattern.

Out-of-distribution variants (``ood=``, applied by the families to split "ood" only):

- ``"load"``: range shift, the global factor is drawn from :data:`OOD_LOAD_PERTURBATION`'s
  scale, disjoint from the training scale;
- ``"n-1"``: one branch out of service (the grid stays connected);
- ``"relabel"``: every bus, generator and branch gets a new random id and the prompt's
  rows are shuffled, so an answer that recalls the case's ids or row order fails.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from typing import TYPE_CHECKING

from .case import GridModel, base_loads, build_model, connected_outages

if TYPE_CHECKING:
    from ..core.constraints import RowBlock
    from .checks import Labels


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


OOD_KINDS = ("load", "n-1", "relabel")
LOAD_DECIMALS = 3  # loads in the prompt (MW, MVAr); drawn loads are rounded to it
OOD_LOAD_PERTURBATION = LoadPerturbation(scale=(0.6, 0.8), noise=0.1)
"""Global load factor below the training range U[0.8, 1.1]. Above it does not work on PGLib:
at U[1.1, 1.25] the AC-OPF has no solution on 0/15 case30 and case57 draws (8/15 case14),
while U[0.6, 0.8] solved 15/15 on case5/14/30 (measured)."""


def check_ood(kind: str | None) -> str | None:
    if kind is not None and kind not in OOD_KINDS:
        raise ValueError(f"ood must be None or one of {OOD_KINDS}, got {kind!r}")
    return kind


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
    # set by the family's ``prepare`` (declared here, not patched on): element names and the constraint rows
    labels: Labels = field(init=False, repr=False, compare=False)
    rows: RowBlock = field(init=False, repr=False, compare=False)

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
                       n_minus_1: bool, ood: str | None = None, cls: type[GridInstance] | None = None) -> GridInstance:
    """Draw loads (and an outage) from ``rng``; all randomness comes from it.

    ``ood`` (one of :data:`OOD_KINDS`) turns the draw into that out-of-distribution variant; ``cls`` is
    the family's instance type (a :class:`GridInstance` subclass declaring what its checker keeps).
    """
    check_ood(ood)
    if ood == "load":
        perturbation = OOD_LOAD_PERTURBATION
    pd, qd = base_loads(case)
    if perturbation is not None:
        pd, qd = perturbation.apply(rng, pd, qd)
    # The instance is what the prompt prints: loads at its 3 decimals, before anything is solved or checked.
    pd, qd = np.round(pd, LOAD_DECIMALS), np.round(qd, LOAD_DECIMALS)
    outage = None
    if n_minus_1 or ood == "n-1":
        candidates = connected_outages(case)
        outage = int(candidates[rng.integers(len(candidates))])
    model = build_model(case, outage)
    buses, gens, branches = default_ids(model)
    inst = (cls or GridInstance)(case, model, pd, qd, outage, buses, gens, branches)
    return relabel_instance(inst, rng) if ood == "relabel" else inst


def relabel_instance(inst: GridInstance, rng: np.random.Generator) -> GridInstance:
    """New random ids (never one of the case's own) and shuffled prompt rows.

    Values stay in model order, so checkers and reference solutions need no change; only
    the names an answer must use and the order rows are shown in differ.
    """
    m = inst.model
    inst.bus_ids = _fresh_ids(rng, "", m.n_bus, inst.bus_ids)
    inst.gen_ids = _fresh_ids(rng, "G", m.n_gen, inst.gen_ids)
    inst.branch_ids = _fresh_ids(rng, "L", m.n_branch, inst.branch_ids)
    inst.bus_order = rng.permutation(m.n_bus)
    inst.gen_order = rng.permutation(m.n_gen)
    inst.branch_order = rng.permutation(m.n_branch)
    return inst


def _fresh_ids(rng: np.random.Generator, prefix: str, n: int, old: tuple[str, ...]) -> tuple[str, ...]:
    """``n`` distinct ids ``prefix + 4 digits`` that avoid every id in ``old``."""
    taken = set(old)
    pool = [k for k in range(1000, 10000) if f"{prefix}{k}" not in taken]
    return tuple(f"{prefix}{k}" for k in rng.choice(pool, size=n, replace=False))
