"""Answer schemas: what a well-formed answer is, the named format checks, and the writer.

A schema is a list of sections; each section maps identifiers to records of numeric
fields, each field with the decimal places the prompt asks for. The same schema writes
the oracle's answer, so the reference answer is always well-formed by construction.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import cached_property
from itertools import chain
from operator import itemgetter

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

    @cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


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
        self._bad_decimals = _bad_decimals_patterns(decimals)
        self._fractional = {s.name: all(f.decimals > 0 for f in s.fields) for s in sections}

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
        root_dups = sorted(duplicates_of(root))  # a duplicated section (or any top-level key) is ambiguous
        missing_sections = [s.name for s in self.sections if not isinstance(root.get(s.name), dict)]
        if missing_sections:
            checks["sections_present"] = (False, "missing or not an object: " + ", ".join(missing_sections))
            if root_dups:
                checks["ids_unique"] = _listed(root_dups, "duplicate keys", "")
            return _finish(checks, "sections missing"), self._empty()
        checks["sections_present"] = (True, "all sections present")

        faults: dict[str, list[str]] = {k: [] for k in ("unknown", "missing", "duplicated", "untyped", "nonfinite")}
        faults["duplicated"].extend(root_dups)
        text = _literal_field_keys(located.span, self._decimals) if "\\" in located.span else located.span
        bad = _bad_decimal_fields(self._bad_decimals, text)
        floats = _values_are_floats(bad, located.span)
        n_numbers = 0
        for section in self.sections:
            if section.name in root_dups:  # which copy counts is unknowable, so none does
                values[section.name] = {f.name: np.full(len(section.ids), np.nan) for f in section.fields}
                continue
            columns, n = _read_section(root[section.name], section, self._index[section.name], faults,
                                       floats and self._fractional[section.name])
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
            checks["decimals"] = _listed(bad, "values without the asked decimal places", "decimal places as asked",
                                         shown=lambda name: f"{name} (asked {self._decimals[name]})")
        return _finish(checks, ""), values

    def _empty(self) -> Values:
        return {s.name: {f.name: np.full(len(s.ids), np.nan) for f in s.fields} for s in self.sections}


def _bad_decimals_patterns(decimals: dict[str, int]) -> tuple[tuple[str, re.Pattern], ...]:
    """Per field, a pattern matching its key unless the value is a plain number with exactly the asked decimals.

    One pattern per field, not one alternation: each starts with its literal key, which the
    regex engine searches for at C speed (an alternation has no literal prefix and is slower).
    Names are word characters, so matches of different fields never overlap and merging them
    by position gives what one alternation would find. Classes are ASCII (about 20% faster):
    the text is parsed JSON, whose numbers and whitespace between tokens are ASCII, so after a
    key's closing quote (which always ends a string) Unicode digits or spaces cannot occur.
    A key counts only where its opening quote follows '{', ',' or whitespace: in JSON text a
    quote inside a string follows a backslash, and a closing quote is never followed by a name,
    so text inside strings (``"x\\"p_mw": 1``) is not taken for a key.
    """
    patterns = []
    for name, d in decimals.items():
        if not re.fullmatch(r"\w+", name):
            raise ValueError(f"field name {name!r} must be word characters")
        good = r"-?+\d++" + (rf"\.\d{{{d}}}" if d > 0 else "") + r"(?![\d.eE])"  # possessive: no backtracking to try
        key = rf'"{name}"(?<![^ \t\n\r{{,]"{name}")'  # a real key: its quote follows '{', ',' or a space
        patterns.append((name, re.compile(rf'{key}\s*+:(?!\s*+{good})', re.ASCII)))
    return tuple(patterns)


_ESCAPED_KEY = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)++"(?=[ \t\n\r]*+:)')
"""A key string with at least one escape. In JSON text the segments between strings hold no
backslash, so a match can only begin at a string's opening quote: the search stays in step."""


def _literal_field_keys(span: str, fields: dict) -> str:
    """The object's text with every escaped key that decodes to a field name written literally
    (``"p\\u005fmw"`` -> ``"p_mw"``), so the decimals patterns see keys as parsed."""
    parts, done = [], 0
    for match in _ESCAPED_KEY.finditer(span):
        try:
            key = json.loads(match.group())
        except ValueError:
            continue
        if key in fields:
            parts += [span[done:match.start()], f'"{key}"']
            done = match.end()
    return "".join(parts) + span[done:] if parts else span


def _bad_decimal_fields(patterns: tuple[tuple[str, re.Pattern], ...], text: str) -> list[str]:
    """Names of the fields whose value lacks the asked decimals, in text order."""
    hits = sorted((m.start(), name) for name, pattern in patterns for m in pattern.finditer(text))
    return [name for _, name in hits]


def _values_are_floats(bad_decimals: list[str], span: str) -> bool:
    """True when every field's value in the parsed object is a float, known from the decimals check alone.

    With no backslash in the text every key is written literally, so each field key of the
    parsed object was seen by the decimals patterns; none failing means each such value is
    written ``-?digits.digits`` (when its field asks decimals), which parses as a float.
    """
    return not bad_decimals and "\\" not in span


def _read_section(table: dict, section: Section, index: dict[str, int], faults: dict,
                  floats: bool = False) -> tuple[dict, int]:
    """Columns of one section (NaN where unusable) and how many usable numbers it had.

    ``floats``: every value of a field of this section is known to be a float (see :func:`_values_are_floats`).
    """
    name, ids = section.name, section.ids
    table_dups = duplicates_of(table)
    if table_dups:
        faults["duplicated"].extend(f"{name}.{k}" for k in table_dups)
    records = _records(table, ids)
    block = _float_block(records, section.fields, floats) if type(table) is dict else None  # plain parse: no duplicates
    # A block means every id has a record, so with as many keys as ids there is no other key.
    if len(table) != len(index) or (block is None and table.keys() - index.keys()):
        faults["unknown"].extend(f"{name}.{k}" for k in table if k not in index)
    if block is None:
        block = _checked_block(records, section, table_dups, faults)
    else:
        finite = np.isfinite(block)
        if finite.all():
            return dict(zip(section.names, block)), block.size
        for f, ok in zip(section.fields, finite):
            faults["nonfinite"].extend(f"{name}.{ids[i]}.{f.name}" for i in np.flatnonzero(~ok))
        block[~finite] = np.nan
    return dict(zip(section.names, block)), int(np.count_nonzero(~np.isnan(block)))


def _float_block(records: list, fields: tuple[Field, ...], floats: bool = False) -> np.ndarray | None:
    """(fields x records) values when every record is an object holding every field as a JSON float, else None.

    The common case, run at C speed (map, set); anything else takes the per-value path.
    ``floats``: the values are known to be floats, so their types are not checked again.
    """
    try:
        cols = [list(map(itemgetter(f.name), records)) for f in fields]
    except (KeyError, TypeError):  # a record missing, not an object, or without a field
        return None
    if not floats and not set(map(type, chain.from_iterable(cols))) <= _FLOAT_ONLY:
        return None
    return np.fromiter(chain.from_iterable(cols), float, len(fields) * len(records)).reshape(len(fields), len(records))


def _records(table: dict, ids: tuple[str, ...]) -> list:
    """The record of each id (None where absent); one C call when every id is present (the common case)."""
    if len(ids) > 1:
        try:
            return list(itemgetter(*ids)(table))
        except KeyError:
            pass
    return list(map(table.get, ids))


def _checked_block(records: list, section: Section, table_dups, faults: dict) -> np.ndarray:
    """(fields x records) values checked one by one, each unusable one named under its fault."""
    name, ids = section.name, section.ids
    block = np.full((len(section.fields), len(records)), np.nan)
    for j, f in enumerate(section.fields):
        for i, record in enumerate(records):
            label = f"{name}.{ids[i]}.{f.name}"
            v = record.get(f.name, _ABSENT) if isinstance(record, dict) else _NO_RECORD
            if v is _NO_RECORD:
                if j == 0:
                    faults["missing"].append(f"{name}.{ids[i]}")
            elif ids[i] in table_dups:
                pass  # ambiguous: which record counts is unknowable, so none does
            elif f.name in duplicates_of(record):
                faults["duplicated"].append(label)
            elif v is _ABSENT:
                faults["missing"].append(label)
            elif type(v) is not float and type(v) is not int:
                faults["untyped"].append(label)
            elif not math.isfinite(x := _to_float(v)):
                faults["nonfinite"].append(label)
            else:
                block[j, i] = x
    return block


def _to_float(v: float) -> float:
    """A JSON number as a float; an integer too large for one is infinite (as 1e999 reads)."""
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


_FLOAT_ONLY = frozenset({float})
_ABSENT = object()
_NO_RECORD = object()


def _fmt(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    if text.startswith("-") and float(text) == 0:  # -0.0 and tiny negatives are written as zero
        return "0." + "0" * decimals if decimals else "0"
    return text


def _listed(bad: list[str], what: str, ok: str, shown=str) -> tuple[bool, str]:
    """A check's result: passed with ``ok``, or how many are ``bad`` naming the first 8 (each as ``shown`` gives)."""
    if not bad:
        return True, ok
    names = ", ".join(map(shown, bad[:8])) + (f" (+{len(bad) - 8} more)" if len(bad) > 8 else "")
    return False, f"{len(bad)} {what}: {names}"


def _finish(checks: dict, reason: str) -> dict:
    """Fill unchecked names as failed and compute the format score."""
    if len(checks) < len(FORMAT_CHECKS):
        for name in FORMAT_CHECKS:
            checks.setdefault(name, (False, f"not checked: {reason}"))
    listed = [{"name": n, "passed": bool(ok), "message": message}
              for n, (ok, message) in zip(FORMAT_CHECKS, map(checks.__getitem__, FORMAT_CHECKS))]
    passed = sum(map(itemgetter("passed"), listed))
    return {"score": passed / len(FORMAT_CHECKS), "passed": passed, "total": len(FORMAT_CHECKS), "checks": listed}
