"""Locate and parse the JSON answer inside free text.

Rule (documented in the README): the answer is the **last** top-level JSON object in the
text that parses. LLMs often draft, reason, then answer, so the final object counts.

Speed matters (GRPO scores thousands of completions), so the common case runs at C speed:
an answer that is one object is parsed by ``orjson`` (about 4x faster than the stdlib on a
case118 answer), anything else by the stdlib's C decoder with no Python hooks (it also
reads NaN/Infinity, which must be seen to be reported), and duplicate keys
are ruled out by counting ':' and '{' in the object's text against the keys and objects
of the parsed tree. Only when the counts disagree (a duplicate key, or punctuation inside
strings) is the object parsed again with a hook that records each object's duplicates.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import chain

import orjson

MAX_ANSWER_CHARS = 200_000
MAX_PARSE_ATTEMPTS = 10_000

_PARSE_ERRORS = (ValueError, RecursionError, MemoryError, OverflowError)


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


_is_dict = dict.__instancecheck__  # isinstance(x, dict) as a C callable, for filter()
_FAST = json.JSONDecoder()
_EXACT = json.JSONDecoder(object_pairs_hook=_object_pairs)


@dataclass
class LocatedAnswer:
    """What was found in the text: the parsed object (or None), its text, and why."""

    found: bool
    root: dict | None
    message: str
    span: str = ""


def duplicates_of(obj: dict) -> set | tuple:
    """Keys that appeared more than once in this object (empty unless re-parsed exactly)."""
    return obj.duplicates if type(obj) is JObject else ()  # a plain dict has none (getattr's miss is slower)


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
    whole = _whole_object(text)
    if whole is not None:
        return whole
    last: tuple[dict, int, int] | None = None
    found = attempts = 0
    while pos >= 0 and attempts < MAX_PARSE_ATTEMPTS:
        attempts += 1
        try:
            obj, end = _FAST.raw_decode(text, pos)
        except _PARSE_ERRORS:
            pos = text.find("{", pos + 1)
            continue
        if isinstance(obj, dict):
            last, found = (obj, pos, end), found + 1
        pos = text.find("{", end)
    if last is None:
        return LocatedAnswer(True, None, "found '{' but no complete JSON object parses (truncated or invalid JSON)")
    obj, start, end = last
    span = text[start:end]
    if not _counts_match(span, obj):
        obj = _EXACT.decode(span)
    note = "parsed the JSON object" if found == 1 else f"{found} JSON objects found; the last one counts"
    return LocatedAnswer(True, obj, note, span)


def _whole_object(text: str) -> LocatedAnswer | None:
    """The fast path: the text (stripped) is exactly one strict-JSON object."""
    span = text.strip()
    if not (span.startswith("{") and span.endswith("}")):
        return None
    try:
        obj = orjson.loads(span)
    except (orjson.JSONDecodeError, RecursionError, MemoryError):
        return None  # not strict JSON (NaN, 1e999, deep nesting, ...): the general path decides
    if not isinstance(obj, dict):
        return None
    if not _counts_match(span, obj):
        obj = _EXACT.decode(span)
    return LocatedAnswer(True, obj, "parsed the JSON object", span)


def _counts_match(span: str, root: dict) -> bool:
    """True when every ':' and '{' of the text is a key / object of the parsed tree (no duplicates).

    Keys and objects are counted down to records (root -> sections -> records). Each key
    in the text has one ':' outside strings, so equal counts mean no key was collapsed;
    any deeper object, or ':' / '{' inside a string, breaks equality and takes the exact path.
    """
    tables = list(filter(_is_dict, root.values()))
    records = list(filter(_is_dict, chain.from_iterable(map(dict.values, tables))))  # at C speed: no Python loop
    keys = len(root) + sum(map(len, tables)) + sum(map(len, records))
    return span.count(":") == keys and span.count("{") == 1 + len(tables) + len(records)
