"""The contract a problem family fulfils; the shared text env does everything else."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from .constraints import ConstraintReport
from .schema import AnswerSchema, Values


class ProblemFamily(ABC):
    """Four pure pieces: generator (``draw`` + ``solve``), renderer, schema, checker.

    ``draw`` must take all randomness from the generator it is given. ``solve`` returns
    the reference solution as a JSON-serializable dict (it is cached on disk), or None
    when the drawn instance has no usable reference (it is then skipped and counted).
    """

    #: Short family name used in ids and cache keys, e.g. "ACOPF".
    name: str = ""

    @abstractmethod
    def cache_key(self) -> str:
        """A string that changes whenever drawn instances or references would change."""

    @abstractmethod
    def draw(self, rng: np.random.Generator, split: str) -> Any:
        """A new instance from ``rng`` for the given split ("train", "test" or "ood")."""

    @abstractmethod
    def nominal(self) -> Any:
        """The unperturbed instance (used for the "looks-right" template answer)."""

    @abstractmethod
    def solve(self, instance: Any) -> dict | None:
        """Reference solution: ``{"values": {...lists...}, "objective": float, ...}`` or None."""

    @abstractmethod
    def render(self, instance: Any) -> str:
        """The self-contained prompt."""

    @abstractmethod
    def schema(self, instance: Any) -> AnswerSchema:
        """The answer schema (ids, fields, decimals) for this instance."""

    @abstractmethod
    def check(self, instance: Any, values: Values) -> tuple[ConstraintReport, float | None]:
        """Every constraint row for the answer's values, and the answer's objective (None if not computable)."""

    def objective_info(self) -> dict:
        """Units and sense of the objective, for ``info['optimality']``."""
        return {"unit": "", "sense": "min"}

    def answer_errors(self, instance: Any, values: Values, solution: dict) -> dict | None:
        """Optional per-quantity error of the answer against the reference solution.

        Calculation tasks (e.g. power flow) have one right answer, so how far each answered
        quantity is from it is worth reporting beside feasibility; shown as
        ``info['optimality']['errors']``. None (the default) adds nothing.
        """
        return None

    @abstractmethod
    def features(self, instance: Any) -> np.ndarray:
        """Fixed-length numeric description of the instance, entries of order 1.

        The length depends only on the family's configuration (not on the draw), so numeric
        agents (e.g. the stable-baselines3 wrapper) get a fixed-shape observation.
        """

    @abstractmethod
    def value_bounds(self, instance: Any) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
        """Lower and upper bound of every answer field, aligned with the schema's ids.

        Used to scale numeric actions and to draw random well-typed answers.
        """

    def random_values(self, instance: Any, rng: np.random.Generator) -> Values:
        """Uniform random values inside each field's bounds."""
        return {
            section: {name: rng.uniform(lo, hi) for name, (lo, hi) in fields.items()}
            for section, fields in self.value_bounds(instance).items()
        }


def solution_record(values: Values, objective: float, **extra) -> dict:
    """The JSON-serializable reference solution a family's ``solve`` returns (and the cache stores)."""
    lists = {sec: {f: np.asarray(col, dtype=float).tolist() for f, col in fields.items()} for sec, fields in values.items()}
    return {"values": lists, "objective": float(objective), **extra}


def values_from_solution(solution: dict) -> Values:
    """Turn the cached JSON lists back into arrays."""
    return {sec: {f: np.asarray(col, dtype=float) for f, col in fields.items()} for sec, fields in solution["values"].items()}
