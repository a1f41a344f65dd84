"""What every grid family shares: the case, load perturbation, N-1 and OOD options,
drawing and preparing instances, and the numeric pieces built from them."""
from __future__ import annotations

import dataclasses

import numpy as np

from ..core.family import ProblemFamily
from .case import GridModel, base_loads, build_model, pglib_name
from .checks import Labels
from .instance import (LOAD_DECIMALS, GridInstance, LoadPerturbation, as_perturbation, check_ood, default_ids,
                       draw_grid_instance)


class GridFamily(ProblemFamily):
    """Base of the AC-OPF, power-flow and DC-OPF families.

    ``ood`` (one of ``instance.OOD_KINDS``) applies to split "ood" draws only; subclasses
    add their own options to :meth:`config_key` and per-instance data in :meth:`prepare`.
    """

    def __init__(self, case: str = "case14", *, perturbation=LoadPerturbation(), n_minus_1: bool = False,
                 ood: str | None = None, tolerances=None):
        self.case = pglib_name(case)
        self.perturbation = as_perturbation(perturbation)
        self.n_minus_1 = bool(n_minus_1)
        self.ood = check_ood(ood)
        self.tolerances = tolerances
        build_model(self.case)  # fail fast on an unknown case

    instance_type: type[GridInstance] = GridInstance
    """The family's instance class: a GridInstance subclass declaring the typed data its checker keeps."""

    def config_key(self) -> str:
        """The subclass's own options that change instances or stored references."""
        return ""

    def cache_key(self) -> str:
        # loads=3dp: instances are rounded to the prompt's decimals (references of unrounded draws differ)
        return (f"{self.case}|{self.perturbation}|n1={self.n_minus_1}|ood={self.ood}|loads={LOAD_DECIMALS}dp|"
                f"{self.config_key()}")

    def draw(self, rng: np.random.Generator, split: str) -> GridInstance:
        ood = self.ood if split == "ood" else None
        inst = draw_grid_instance(self.case, rng, self.perturbation, self.n_minus_1, ood, cls=self.instance_type)
        return self.prepare(inst, rng)

    def nominal(self) -> GridInstance:
        model = build_model(self.case)
        pd, qd = (np.round(x, LOAD_DECIMALS) for x in base_loads(self.case))
        return self.prepare(self.instance_type(self.case, model, pd, qd, None, *default_ids(model)), None)

    def adopt(self, inst: GridInstance) -> GridInstance:
        """Another family's instance (same draw: loads, outage, ids, row order) as this family's, prepared
        for its rows without new randomness (e.g. the power_flow tool checks limits with AC-OPF's rows)."""
        drawn = {f.name: getattr(inst, f.name) for f in dataclasses.fields(GridInstance) if f.init}
        return self.prepare(self.instance_type(**drawn), None)

    def prepare(self, inst: GridInstance, rng: np.random.Generator | None) -> GridInstance:
        """Attach per-instance data the checker needs (``rng`` is None for the nominal instance)."""
        inst.labels = Labels(inst)
        return inst

    def outage_features(self, inst: GridInstance) -> list[np.ndarray]:
        """A one-hot of the outaged branch when this family's instances can have one, else nothing."""
        if not (self.n_minus_1 or self.ood == "n-1"):
            return []
        onehot = np.zeros(build_model(self.case).n_branch)
        if inst.outage is not None:
            onehot[inst.outage] = 1.0
        return [onehot]


def angle_bounds(m: GridModel, span_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Bus-angle bounds for random and numeric answers: +-span, the reference bus fixed at 0."""
    lo, hi = np.full(m.n_bus, -span_deg), np.full(m.n_bus, span_deg)
    lo[m.ref] = hi[m.ref] = 0.0
    return lo, hi
