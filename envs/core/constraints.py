"""Constraint accounting written once: every family declares rows, this counts and measures them.

A row is satisfied when its violation (distance outside its bounds) is at most the
type's tolerance. A missing value (NaN) is a violated row: an answer cannot satisfy a
constraint it did not answer.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class _Rows:
    name: str
    violation: np.ndarray  # >= 0, NaN when the value is missing
    tolerance: float
    unit: str
    labels: object  # sequence of element names, indexed only for violated rows
    description: str


class ConstraintReport:
    """Collects constraint rows by type; ``result()`` gives the feasibility dict for ``info``."""

    def __init__(self) -> None:
        self._types: list[_Rows] = []

    def bounds(self, name: str, values, lower, upper, *, tolerance: float, unit: str, labels, description: str = "") -> None:
        """Rows ``lower <= values <= upper``; ``-inf``/``inf`` bounds are allowed."""
        values = np.asarray(values, dtype=float)
        with np.errstate(invalid="ignore"):
            violation = np.maximum(np.maximum(lower - values, values - upper), 0.0)
        self._add(name, violation, tolerance, unit, labels, description)

    def residual(self, name: str, residual, *, tolerance: float, unit: str, labels, description: str = "") -> None:
        """Rows ``|residual| <= tolerance`` (equalities such as power balance)."""
        self._add(name, np.abs(np.asarray(residual, dtype=float)), tolerance, unit, labels, description)

    def _add(self, name, violation, tolerance, unit, labels, description) -> None:
        self._types.append(_Rows(name, np.atleast_1d(violation), float(tolerance), unit, labels, description))

    def result(self) -> dict:
        """Counts, rates and worst violations per type, and every violated row, worst first.

        All rows are evaluated in one vectorized pass; only violated rows are named.
        """
        types = self._types
        sizes = np.array([r.violation.size for r in types], dtype=int)
        v = np.concatenate([r.violation for r in types]) if types else np.zeros(0)
        tol = np.repeat([r.tolerance for r in types], sizes)
        missing = np.isnan(v)
        bad = ~(v <= tol)  # NaN (missing) compares False, so it is violated
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]) if types else np.zeros(0, dtype=int)
        nonempty = sizes > 0
        n_bad = np.zeros(len(types), dtype=int)
        n_missing = np.zeros(len(types), dtype=int)
        worst = np.zeros(len(types))
        if nonempty.any():
            s = starts[nonempty]
            n_bad[nonempty] = np.add.reduceat(bad.astype(np.int64), s)
            n_missing[nonempty] = np.add.reduceat(missing.astype(np.int64), s)
            worst[nonempty] = np.maximum.reduceat(np.where(missing, 0.0, v), s)
        by_type: dict[str, dict] = {}
        for i, rows in enumerate(types):
            entry = by_type.get(rows.name)
            if entry is None:
                entry = by_type[rows.name] = {"total": 0, "violated": 0, "missing": 0, "max_violation": 0.0,
                                              "unit": rows.unit, "tolerance": rows.tolerance,
                                              "description": rows.description}
            entry["total"] += int(sizes[i])
            entry["violated"] += int(n_bad[i])
            entry["missing"] += int(n_missing[i])
            entry["max_violation"] = max(entry["max_violation"], float(worst[i]))
        for entry in by_type.values():
            entry["rate"] = 1.0 - entry["violated"] / entry["total"] if entry["total"] else 1.0
        violations: list[dict] = []
        bad_rows = np.flatnonzero(bad)
        if bad_rows.size:
            # An empty type shares its start with the next type; side="right" picks the later,
            # nonempty one, so each row maps to the type that owns it.
            owner = np.searchsorted(starts, bad_rows, side="right") - 1
            for row, t in zip(bad_rows.tolist(), owner.tolist()):
                rows = types[t]
                local = row - starts[t]
                amount = None if missing[row] else float(v[row])
                violations.append({"type": rows.name, "element": str(rows.labels[local]), "amount": amount,
                                   "unit": rows.unit, "tolerance": rows.tolerance})
            violations.sort(key=_severity, reverse=True)
        total = int(sizes.sum())
        satisfied = total - int(n_bad.sum())
        return {
            "score": satisfied / total if total else 0.0,
            "feasible": total > 0 and satisfied == total,
            "satisfied": satisfied,
            "total": total,
            "by_type": by_type,
            "violations": violations,
        }


def _severity(v: dict) -> float:
    """Worst first: missing values, then by how many tolerances a row is off."""
    if v["amount"] is None:
        return float("inf")
    return v["amount"] / v["tolerance"] if v["tolerance"] > 0 else v["amount"]

