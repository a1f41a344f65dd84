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

    def relabel(self, instance: Any, solution: dict) -> dict:
        """Map a solution of ``nominal()`` onto ``instance``'s ids (identity when ids agree)."""
        return solution

    def random_values(self, instance: Any, rng: np.random.Generator) -> Values:
        """Well-typed random values inside each field's declared range."""
        schema = self.schema(instance)
        return {
            s.name: {f.name: rng.uniform(-1.0, 1.0, len(s.ids)) for f in s.fields} for s in schema.sections
        }


def values_from_solution(solution: dict) -> Values:
    """Turn the cached JSON lists back into arrays."""
    return {sec: {f: np.asarray(col, dtype=float) for f, col in fields.items()} for sec, fields in solution["values"].items()}
