"""Locate and parse the JSON answer inside free text, keeping what the format checks need.

Rule (documented in the README): the answer is the **last** JSON object in the text that
parses. LLMs often draft, reason, then answer, so the final object is the one that counts.
Numbers keep their source text so decimal places can be checked; duplicate keys are
recorded instead of silently overwritten.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

MAX_ANSWER_CHARS = 200_000
MAX_PARSE_ATTEMPTS = 10_000


class Num:
    """A JSON number with its decimal places (None for exponent notation)."""

    __slots__ = ("value", "decimals")

    def __init__(self, value: float, decimals: int | None):
        self.value = value
        self.decimals = decimals


def _parse_number(text: str) -> Num:
    if "e" in text or "E" in text:
        return Num(float(text), None)
    dot = text.find(".")
    return Num(float(text), 0 if dot < 0 else len(text) - dot - 1)


def _parse_constant(text: str) -> Num:
    return Num(float("nan") if text == "NaN" else float(text.replace("Infinity", "inf")), None)


class JObject(dict):
    """A JSON object that remembers which keys appeared more than once."""

    __slots__ = ("duplicates",)


def _object_pairs(pairs: list) -> JObject:
    obj = JObject(pairs)
    if len(obj) != len(pairs):
        seen: set = set()
        obj.duplicates = {k for k, _ in pairs if k in seen or seen.add(k)}
    else:
        obj.duplicates = ()
    return obj


_DECODER = json.JSONDecoder(
    parse_float=_parse_number,
    parse_int=_parse_number,
    parse_constant=_parse_constant,
    object_pairs_hook=_object_pairs,
)


@dataclass
class LocatedAnswer:
    """What was found in the text: the parsed object (or None) and why."""

    found: bool
    root: JObject | None
    message: str
    candidates: int = 0


def coerce_text(answer: object) -> str:
    """Turn whatever an agent produced into text, never raising."""
    if isinstance(answer, str):
        return answer
    if isinstance(answer, (bytes, bytearray)):
        return bytes(answer).decode("utf-8", errors="replace")
    if answer is None:
        return ""
    try:
        return str(answer)
    except Exception:  # an object whose __str__ fails is still an answer: an empty one
        return ""


def locate_answer(text: str, max_chars: int = MAX_ANSWER_CHARS) -> LocatedAnswer:
    """Find the last top-level JSON object in ``text`` that parses.

    Objects are found left to right: a parsed object is skipped over whole (its inner
    objects are not candidates), a '{' that does not parse is passed by. Work is bounded:
    texts over ``max_chars`` are rejected and at most ``MAX_PARSE_ATTEMPTS`` starts tried.
    """
    if len(text) > max_chars:
        return LocatedAnswer(False, None, f"answer is {len(text)} characters, over the {max_chars} cap")
    pos = text.find("{")
    if pos < 0:
        return LocatedAnswer(False, None, "no JSON object ('{') in the answer")
    last: JObject | None = None
    found = attempts = 0
    while pos >= 0 and attempts < MAX_PARSE_ATTEMPTS:
        attempts += 1
        try:
            obj, end = _DECODER.raw_decode(text, pos)
        except (ValueError, RecursionError, MemoryError, OverflowError):
            pos = text.find("{", pos + 1)
            continue
        if isinstance(obj, JObject):
            last, found = obj, found + 1
        pos = text.find("{", end)
    if last is None:
        return LocatedAnswer(True, None, "found '{' but no complete JSON object parses (truncated or invalid JSON)", attempts)
    note = "parsed the JSON object" if found == 1 else f"{found} JSON objects found; the last one counts"
    return LocatedAnswer(True, last, note, found)


def is_finite_number(value: object) -> bool:
    return isinstance(value, Num) and math.isfinite(value.value)
