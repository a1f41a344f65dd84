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
        by_type: dict[str, dict] = {}
        violations: list[dict] = []
        satisfied = total = 0
        for rows in self._types:
            v = rows.violation
            missing = np.isnan(v)
            bad = missing | (v > rows.tolerance)
            n_bad = int(bad.sum())
            finite = v[~missing]
            worst = float(finite.max()) if finite.size else 0.0
            entry = by_type.setdefault(
                rows.name,
                {"total": 0, "violated": 0, "missing": 0, "max_violation": 0.0, "unit": rows.unit,
                 "tolerance": rows.tolerance, "description": rows.description},
            )
            entry["total"] += int(v.size)
            entry["violated"] += n_bad
            entry["missing"] += int(missing.sum())
            entry["max_violation"] = max(entry["max_violation"], worst)
            total += int(v.size)
            satisfied += int(v.size) - n_bad
            for i in np.flatnonzero(bad):
                amount = None if missing[i] else float(v[i])
                violations.append({"type": rows.name, "element": str(rows.labels[i]), "amount": amount,
                                   "unit": rows.unit, "tolerance": rows.tolerance})
        for entry in by_type.values():
            entry["rate"] = 1.0 - entry["violated"] / entry["total"] if entry["total"] else 1.0
        violations.sort(key=_severity, reverse=True)
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

