"""Answer schemas: what a well-formed answer is, the named format checks, and the writer.

A schema is a list of sections; each section maps identifiers to records of numeric
fields, each field with the decimal places the prompt asks for. The same schema writes
the oracle's answer, so the reference answer is always well-formed by construction.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .answer import JObject, LocatedAnswer, Num

FORMAT_CHECKS = (
    "answer_found",
    "json_parses",
    "sections_present",
    "ids_valid",
    "ids_complete",
    "ids_unique",
    "numbers_typed",
    "numbers_finite",
    "decimals",
)


@dataclass(frozen=True)
class Field:
    """One numeric field of a record, e.g. ``p_mw`` written with 3 decimals."""

    name: str
    decimals: int
    unit: str = ""
    description: str = ""


@dataclass(frozen=True)
class Section:
    """A top-level answer key mapping ids to records (e.g. ``generators``)."""

    name: str
    ids: tuple[str, ...]
    fields: tuple[Field, ...]

    def index(self) -> dict[str, int]:
        return {key: i for i, key in enumerate(self.ids)}


Values = dict[str, dict[str, np.ndarray]]
"""Parsed answer values: section -> field -> float array aligned with the section ids (NaN = missing)."""


class AnswerSchema:
    """Format checks and value extraction for one instance's answer."""

    def __init__(self, sections: tuple[Section, ...]):
        self.sections = sections
        self._index = {s.name: s.index() for s in sections}

    # ---- writing -------------------------------------------------------------------
    def write(self, values: Values) -> str:
        """Serialize values as the JSON answer with each field's decimals."""
        parts = []
        for section in self.sections:
            cols = [(f.name, f.decimals, values[section.name][f.name]) for f in section.fields]
            rows = []
            for i, key in enumerate(section.ids):
                inner = ", ".join(f'"{name}": {_fmt(col[i], dec)}' for name, dec, col in cols)
                rows.append(f'    "{key}": {{{inner}}}')
            parts.append(f'  "{section.name}": {{\n' + ",\n".join(rows) + "\n  }")
        return "{\n" + ",\n".join(parts) + "\n}"

    def skeleton(self, shown: int = 2) -> str:
        """A short example of the answer layout with the first ``shown`` ids of each section."""
        parts = []
        for section in self.sections:
            rows = []
            for key in section.ids[:shown]:
                inner = ", ".join(f'"{f.name}": {_fmt(0.0, f.decimals)}' for f in section.fields)
                rows.append(f'    "{key}": {{{inner}}}')
            if len(section.ids) > shown:
                rows.append(f"    ... one entry for each of the {len(section.ids)} {section.name} ids")
            parts.append(f'  "{section.name}": {{\n' + ",\n".join(rows) + "\n  }")
        return "{\n" + ",\n".join(parts) + "\n}"

    def describe_fields(self) -> str:
        lines = []
        for section in self.sections:
            for f in section.fields:
                unit = f" [{f.unit}]" if f.unit else ""
                lines.append(f"- {section.name}.*.{f.name}{unit}: {f.description} Write exactly {f.decimals} decimal places.")
        return "\n".join(lines)

    # ---- reading -------------------------------------------------------------------
    def read(self, located: LocatedAnswer) -> tuple[dict, Values]:
        """Run every named format check and extract the values (NaN where unusable)."""
        values: Values = {
            s.name: {f.name: np.full(len(s.ids), np.nan) for f in s.fields} for s in self.sections
        }
        checks: dict[str, tuple[bool, str]] = {}
        checks["answer_found"] = (located.found, located.message if not located.found else "a JSON object was located")
        root = located.root
        if root is None:
            checks["json_parses"] = (False, located.message)
            return _finish(checks, "no parsed answer"), values
        checks["json_parses"] = (True, located.message)
        missing_sections = [s.name for s in self.sections if not isinstance(root.get(s.name), JObject)]
        if missing_sections:
            checks["sections_present"] = (False, "missing or not an object: " + ", ".join(missing_sections))
            return _finish(checks, "sections missing"), values
        checks["sections_present"] = (True, "all sections present")

        unknown: list[str] = []
        missing: list[str] = []
        duplicated: list[str] = []
        untyped: list[str] = []
        nonfinite: list[str] = []
        bad_decimals: list[str] = []
        n_numbers = 0
        for section in self.sections:
            table = root[section.name]
            index = self._index[section.name]
            if table.duplicates:
                duplicated.extend(f"{section.name}.{k}" for k in table.duplicates)
            for key in table:
                if key not in index:
                    unknown.append(f"{section.name}.{key}")
            columns = values[section.name]
            for key, i in index.items():
                record = table.get(key)
                if not isinstance(record, JObject):
                    missing.append(f"{section.name}.{key}")
                    continue
                if key in table.duplicates:
                    continue  # ambiguous: which value counts is unknowable, so none does
                for f in section.fields:
                    label = f"{section.name}.{key}.{f.name}"
                    if f.name in record.duplicates:
                        duplicated.append(label)
                        continue
                    number = record.get(f.name, _ABSENT)
                    if number is _ABSENT:
                        missing.append(label)
                    elif not isinstance(number, Num):
                        untyped.append(label)
                    elif not math.isfinite(number.value):
                        nonfinite.append(label)
                    else:
                        n_numbers += 1
                        columns[f.name][i] = number.value
                        if number.decimals != f.decimals:
                            bad_decimals.append(label)
        checks["ids_valid"] = _listed(unknown, "unknown ids", "no unknown ids")
        checks["ids_complete"] = _listed(missing, "missing", "every id has every field")
        checks["ids_unique"] = _listed(duplicated, "duplicate keys", "no duplicate keys")
        checks["numbers_typed"] = _listed(untyped, "not JSON numbers", "all values are JSON numbers")
        checks["numbers_finite"] = _listed(nonfinite, "not finite", "all numbers finite")
        if n_numbers == 0:
            checks["decimals"] = (False, "no usable numbers to check")
        else:
            checks["decimals"] = _listed(bad_decimals, "wrong decimal places", "decimal places as asked")
        return _finish(checks, ""), values


_ABSENT = object()


def _fmt(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    return "0." + "0" * decimals if text.startswith("-") and float(text) == 0 else text


def _listed(bad: list[str], what: str, ok: str) -> tuple[bool, str]:
    if not bad:
        return True, ok
    shown = ", ".join(bad[:8]) + (f" (+{len(bad) - 8} more)" if len(bad) > 8 else "")
    return False, f"{len(bad)} {what}: {shown}"


def _finish(checks: dict, reason: str) -> dict:
    """Fill unchecked names as failed and compute the format score."""
    for name in FORMAT_CHECKS:
        checks.setdefault(name, (False, f"not checked: {reason}"))
    listed = [{"name": n, "passed": bool(checks[n][0]), "message": checks[n][1]} for n in FORMAT_CHECKS]
    passed = sum(c["passed"] for c in listed)
    return {"score": passed / len(FORMAT_CHECKS), "passed": passed, "total": len(FORMAT_CHECKS), "checks": listed}
