"""Answer schemas: what a well-formed answer is, the named format checks, and the writer.

A schema is a list of sections; each section maps identifiers to records of numeric
fields, each field with the decimal places the prompt asks for. The same schema writes
the oracle's answer, so the reference answer is always well-formed by construction.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from .answer import LocatedAnswer, duplicates_of

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
        decimals: dict[str, int] = {}
        for section in sections:
            for f in section.fields:
                if decimals.setdefault(f.name, f.decimals) != f.decimals:
                    raise ValueError(f"field {f.name!r} asks different decimals in different sections")
        self._decimals = decimals
        self._bad_decimals = _bad_decimals_pattern(decimals)

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

    def instructions(self) -> str:
        """The prompt's closing block: which object is scored, the layout, every field's unit and decimals."""
        return "\n\n".join([
            "Answer: reply with one JSON object (if you write several, the last one is scored), exactly this layout:",
            self.skeleton(),
            "Fields:\n" + self.describe_fields(),
        ])

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
        values: Values = {}
        checks: dict[str, tuple[bool, str]] = {}
        checks["answer_found"] = (located.found, located.message if not located.found else "a JSON object was located")
        root = located.root
        if root is None:
            checks["json_parses"] = (False, located.message)
            return _finish(checks, "no parsed answer"), self._empty()
        checks["json_parses"] = (True, located.message)
        missing_sections = [s.name for s in self.sections if not isinstance(root.get(s.name), dict)]
        if missing_sections:
            checks["sections_present"] = (False, "missing or not an object: " + ", ".join(missing_sections))
            return _finish(checks, "sections missing"), self._empty()
        checks["sections_present"] = (True, "all sections present")

        faults: dict[str, list[str]] = {k: [] for k in ("unknown", "missing", "duplicated", "untyped", "nonfinite")}
        n_numbers = 0
        for section in self.sections:
            columns, n = _read_section(root[section.name], section, self._index[section.name], faults)
            values[section.name] = columns
            n_numbers += n
        checks["ids_valid"] = _listed(faults["unknown"], "unknown ids", "no unknown ids")
        checks["ids_complete"] = _listed(faults["missing"], "missing", "every id has every field")
        checks["ids_unique"] = _listed(faults["duplicated"], "duplicate keys", "no duplicate keys")
        checks["numbers_typed"] = _listed(faults["untyped"], "not JSON numbers", "all values are JSON numbers")
        checks["numbers_finite"] = _listed(faults["nonfinite"], "not finite", "all numbers finite")
        if n_numbers == 0:
            checks["decimals"] = (False, "no usable numbers to check")
        else:
            bad = [m.group(m.lastindex) for m in self._bad_decimals.finditer(located.span)]
            checks["decimals"] = _listed([f"{name} (asked {self._decimals[name]})" for name in bad],
                                         "values without the asked decimal places", "decimal places as asked")
        return _finish(checks, ""), values

    def _empty(self) -> Values:
        return {s.name: {f.name: np.full(len(s.ids), np.nan) for f in s.fields} for s in self.sections}


def _bad_decimals_pattern(decimals: dict[str, int]) -> re.Pattern:
    """Matches a field's value unless it is a plain number with exactly the asked decimals."""
    alternatives = []
    for name, d in decimals.items():
        good = r"-?\d+" + (rf"\.\d{{{d}}}" if d > 0 else "") + r"(?![\d.eE])"
        alternatives.append(rf'"({re.escape(name)})"\s*:(?!\s*{good})')
    return re.compile("|".join(alternatives))


def _read_section(table: dict, section: Section, index: dict[str, int], faults: dict) -> tuple[dict, int]:
    """Columns of one section (NaN where unusable) and how many usable numbers it had."""
    name = section.name
    table_dups = duplicates_of(table)
    faults["duplicated"].extend(f"{name}.{k}" for k in table_dups)
    if len(table) != len(index) or table.keys() - index.keys():
        faults["unknown"].extend(f"{name}.{k}" for k in table if k not in index)
    records = [table.get(key) for key in section.ids]
    columns: dict[str, np.ndarray] = {}
    usable = 0
    for f in section.fields:
        raw = [r.get(f.name, _ABSENT) if isinstance(r, dict) else _NO_RECORD for r in records]
        if type(table) is dict and all(type(v) is float for v in raw):  # plain parse: no duplicates
            col = np.array(raw)
            finite = np.isfinite(col)
            if not finite.all():
                faults["nonfinite"].extend(f"{name}.{section.ids[i]}.{f.name}" for i in np.flatnonzero(~finite))
                col[~finite] = np.nan
        else:
            col = np.full(len(raw), np.nan)
            for i, v in enumerate(raw):
                label = f"{name}.{section.ids[i]}.{f.name}"
                record = records[i]
                if v is _NO_RECORD:
                    if f is section.fields[0]:
                        faults["missing"].append(f"{name}.{section.ids[i]}")
                elif section.ids[i] in table_dups:
                    pass  # ambiguous: which record counts is unknowable, so none does
                elif f.name in duplicates_of(record):
                    faults["duplicated"].append(label)
                elif v is _ABSENT:
                    faults["missing"].append(label)
                elif type(v) is not float and type(v) is not int:
                    faults["untyped"].append(label)
                elif not math.isfinite(v):
                    faults["nonfinite"].append(label)
                else:
                    col[i] = v
        columns[f.name] = col
        usable += int(np.count_nonzero(~np.isnan(col)))
    return columns, usable


_ABSENT = object()
_NO_RECORD = object()


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
