"""Constraint accounting written once: every family declares rows, this counts and measures them.

A row is satisfied when its violation (distance outside its bounds) is at most the
type's tolerance. A missing value (NaN) is a violated row: an answer cannot satisfy a
constraint it did not answer.

Rows come one type at a time (``bounds``, ``residual``) or as a :class:`RowBlock`: types
whose sizes, bounds and labels are fixed per instance, declared once and then measured
for every answer in one vectorized pass. On grids of a few hundred rows the per-type
numpy calls, not the arithmetic, are what scoring time is made of.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from itertools import accumulate
from typing import Mapping

import numpy as np


@dataclass(frozen=True)
class RowType:
    """One constraint type: its name, how many rows, and what a violation report says about them."""

    name: str
    size: int
    tolerance: float
    unit: str
    labels: object  # sequence of element names, indexed only for violated rows
    description: str


class RowBlock:
    """Constraint types fixed per instance (sizes, bounds, tolerances, labels), measured together.

    Declare the types once; each answer then gives the values of every type by name
    (:meth:`ConstraintReport.add_block`), checked against what was declared. A residual row is a bounds row
    with both bounds at its target, so |value - target| is its violation.
    """

    def __init__(self) -> None:
        self.types: list[RowType] = []
        self._bounds: list[tuple] = []  # (lower, upper) of each type: scalars or one per row

    def bounds(self, name: str, lower, upper, *, size: int, tolerance: float, unit: str, labels,
               description: str = "") -> None:
        """``size`` rows ``lower <= value <= upper``; ``-inf``/``inf`` bounds are allowed."""
        if any(t.name == name for t in self.types):
            raise ValueError(f"row type {name!r} is declared twice in one block")
        self.types.append(RowType(name, int(size), float(tolerance), unit, labels, description))
        self.__dict__.pop("names", None)
        self._bounds.append((lower, upper))
        self.__dict__.pop("_limits", None)  # declared after a measurement: gather the bounds again
        self.__dict__.pop("layout", None)

    def residual(self, name: str, *, size: int, target=0.0, tolerance: float, unit: str, labels,
                 description: str = "") -> None:
        """``size`` rows ``|value - target| <= tolerance`` (equalities such as power balance)."""
        self.bounds(name, target, target, size=size, tolerance=tolerance, unit=unit, labels=labels,
                    description=description)

    @cached_property
    def _limits(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bound of every row (gathered at the first measurement, not per declaration)."""
        ends = [0, *accumulate(t.size for t in self.types)]
        lower, upper = np.empty(ends[-1]), np.empty(ends[-1])
        for start, end, (lo, up) in zip(ends, ends[1:], self._bounds):
            lower[start:end], upper[start:end] = lo, up
        return lower, upper

    @cached_property
    def layout(self) -> Layout:
        """Where each type's rows sit and their tolerances (a report of this block alone reuses it)."""
        return Layout.of(self.types)

    @cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.types)

    def stack(self, values: Mapping[str, object]) -> np.ndarray:
        """The rows' values in declaration order from values keyed by type name.

        A type the block did not declare, a declared type left out, or a type with the wrong number
        of values is an error naming it: rows are never matched by position, so a family cannot
        mislabel them silently."""
        if not isinstance(values, Mapping):
            raise TypeError(f"row values must be given by type name ({{name: values}} for {list(self.names)}), "
                            f"not as a {type(values).__name__}")
        if values.keys() != set(self.names):
            missing = [n for n in self.names if n not in values]
            extra = sorted(set(values) - set(self.names))
            raise ValueError(f"row values do not match the declared types: missing {missing}, undeclared {extra}")
        parts = []
        for t in self.types:
            part = np.asarray(values[t.name], dtype=float).reshape(-1)
            if part.size != t.size:
                raise ValueError(f"row type {t.name!r} declared {t.size} rows, got {part.size} values")
            parts.append(part)
        return np.concatenate(parts) if parts else np.empty(0)

    def violation(self, values) -> np.ndarray:
        """Distance of every row outside its bounds (NaN where the value is missing).

        An infinite value at an infinite bound gives NaN (missing) with numpy's 'invalid'
        warning; checkers run under ``np.errstate(all="ignore")`` (the env's ``score`` does).
        """
        lower, upper = self._limits
        values = np.asarray(values, dtype=float)
        if values.shape != lower.shape:
            raise ValueError(f"a block of {lower.size} rows got values of shape {values.shape}")
        return np.maximum(np.maximum(lower - values, values - upper), 0.0)


@dataclass(frozen=True)
class Layout:
    """Row positions of a list of types: sizes, first row of each, tolerance of every row."""

    sizes: list[int]
    starts: np.ndarray  # first row of each type
    total: int
    tolerance: np.ndarray  # one per row
    nonempty: list[int]  # types with at least one row
    nonempty_starts: np.ndarray
    unique_names: bool  # no two types share a name (each is its own by_type entry)

    @classmethod
    def of(cls, types: list[RowType]) -> Layout:
        sizes = [t.size for t in types]
        starts = np.array([0, *accumulate(sizes)][:-1], dtype=np.intp)
        tolerance = np.array([t.tolerance for t in types]).repeat(sizes)
        nonempty = [i for i, n in enumerate(sizes) if n]
        nonempty_starts = starts[nonempty]
        for shared in (starts, tolerance, nonempty_starts):  # reused by every report of a block: never written
            shared.setflags(write=False)
        unique = len({t.name for t in types}) == len(types)
        return cls(sizes, starts, sum(sizes), tolerance, nonempty, nonempty_starts, unique)


class ConstraintReport:
    """Collects constraint rows by type; ``result()`` gives the feasibility dict for ``info``."""

    def __init__(self) -> None:
        self._types: list[RowType] = []
        self._violations: list[np.ndarray] = []  # concatenated, aligned with the types' rows
        self._blocks: list[RowBlock | None] = []  # what each entry of _violations came from (None: one type)

    def bounds(self, name: str, values, lower, upper, *, tolerance: float, unit: str, labels, description: str = "") -> None:
        """Rows ``lower <= values <= upper``; ``-inf``/``inf`` bounds are allowed."""
        values = np.asarray(values, dtype=float)
        with np.errstate(invalid="ignore"):
            violation = np.maximum(np.maximum(lower - values, values - upper), 0.0)
        self._add(name, violation, tolerance, unit, labels, description)

    def residual(self, name: str, residual, *, tolerance: float, unit: str, labels, description: str = "") -> None:
        """Rows ``|residual| <= tolerance`` (equalities such as power balance)."""
        self._add(name, np.abs(np.asarray(residual, dtype=float)), tolerance, unit, labels, description)

    def add_block(self, block: RowBlock, values: Mapping[str, object]) -> None:
        """Every row of ``block``, with ``values`` given by type name (``{"p_balance": array, ...}``)."""
        self._violations.append(block.violation(block.stack(values)))
        self._types.extend(block.types)
        self._blocks.append(block)

    def _add(self, name, violation, tolerance, unit, labels, description) -> None:
        violation = violation.reshape(-1)
        self._violations.append(violation)
        self._blocks.append(None)
        self._types.append(RowType(name, violation.size, float(tolerance), unit, labels, description))

    def result(self) -> dict:
        """Counts, rates and worst violations per type, and every violated row, worst first.

        All rows are evaluated in a few vectorized passes (one over every row, one over the
        violated ones); only violated rows are named.
        """
        types = self._types
        single_block = len(self._blocks) == 1 and self._blocks[0] is not None
        layout = self._blocks[0].layout if single_block else Layout.of(types)  # a block's layout is computed once
        starts, total, tol = layout.starts, layout.total, layout.tolerance
        vs = self._violations
        v = vs[0] if len(vs) == 1 else np.concatenate(vs) if vs else np.zeros(0)
        bad_rows = np.flatnonzero(~(v <= tol))  # NaN (missing) compares False, so it is violated
        n_bad = n_missing = [0] * len(types)
        violations: list[dict] = []
        if bad_rows.size:
            # An empty type shares its start with the next type; side="right" picks the later,
            # nonempty one, so each row maps to the type that owns it.
            owner = np.searchsorted(starts, bad_rows, side="right") - 1
            amount = v[bad_rows]
            missing = np.isnan(amount)
            n_bad = np.bincount(owner, minlength=len(types)).tolist()
            n_missing = np.bincount(owner[missing], minlength=len(types)).tolist()
            violations = _named_violations(types, bad_rows - starts[owner], owner, amount, missing, tol[bad_rows])
        worst = [0.0] * len(types)
        nonempty = layout.nonempty
        if nonempty:  # fmax skips missing (NaN) rows; a type with every row missing has 0 as its worst
            for i, w in zip(nonempty, np.fmax.reduceat(v, layout.nonempty_starts).tolist()):
                worst[i] = 0.0 if math.isnan(w) else w
        by_type = _by_type(types, n_bad, n_missing, worst, layout.unique_names)
        satisfied = total - sum(n_bad)
        return {
            "score": satisfied / total if total else 0.0,
            "feasible": total > 0 and satisfied == total,
            "satisfied": satisfied,
            "total": total,
            "by_type": by_type,
            "violations": violations,
        }


def _by_type(types: list[RowType], n_bad: list[int], n_missing: list[int], worst: list[float],
             unique_names: bool) -> dict[str, dict]:
    """Per type name: rows, violated, missing, worst violation, rate (types sharing a name are merged)."""
    if unique_names:  # one entry per type, built whole (the same values the merging loop gives)
        return {t.name: {"total": t.size, "violated": nb, "missing": nm, "max_violation": max(0.0, w),
                         "unit": t.unit, "tolerance": t.tolerance, "description": t.description,
                         "rate": 1.0 - nb / t.size if t.size else 1.0}
                for t, nb, nm, w in zip(types, n_bad, n_missing, worst)}
    by_type: dict[str, dict] = {}
    for t, nb, nm, w in zip(types, n_bad, n_missing, worst):
        entry = by_type.get(t.name)
        if entry is None:
            entry = by_type[t.name] = {"total": 0, "violated": 0, "missing": 0, "max_violation": 0.0,
                                       "unit": t.unit, "tolerance": t.tolerance, "description": t.description}
        entry["total"] += t.size
        entry["violated"] += nb
        entry["missing"] += nm
        entry["max_violation"] = max(entry["max_violation"], w)
    for entry in by_type.values():
        entry["rate"] = 1.0 - entry["violated"] / entry["total"] if entry["total"] else 1.0
    return by_type


def _named_violations(types: list[RowType], local: np.ndarray, owner: np.ndarray, amount: np.ndarray,
                      missing: np.ndarray, tolerance: np.ndarray) -> list[dict]:
    """One dict per violated row (``local``: its index within its type), worst first: missing values,
    then by how many tolerances a row is off.

    The order is one stable sort of the severities (ties keep row order), as sorting the
    dicts by severity would give, without a Python key call per row.
    """
    with np.errstate(over="ignore"):  # a huge amount over a small tolerance is infinitely severe, as in Python
        severity = np.where(missing, np.inf, amount / np.where(tolerance > 0, tolerance, 1.0))
    order = np.argsort(-severity, kind="stable")
    out = []
    for t, i, a in zip(owner[order].tolist(), local[order].tolist(), amount[order].tolist()):
        rt = types[t]
        out.append({"type": rt.name, "element": str(rt.labels[i]), "amount": None if math.isnan(a) else a,
                    "unit": rt.unit, "tolerance": rt.tolerance})
    return out
