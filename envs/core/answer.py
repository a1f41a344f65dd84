"""Locate and parse the JSON answer inside free text.

Rule (documented in the README): the answer is the **last** top-level JSON object in the
text that parses; an object is top-level when it does not begin inside an earlier object that
parses. LLMs often draft, reason, then answer, so the final object counts.

Work is linear in the text and nothing raises: a text over the size cap is refused; JSON nested
deeper than ``MAX_NESTING_DEPTH`` containers is refused with a named message (``json_parses``
fails); otherwise every '{' is decided in one vectorized pass (:mod:`.json_scan`) and the
decoder runs once, on the chosen object.

Speed matters (GRPO scores thousands of completions), so the common cases skip that pass: an
answer that is one object is parsed by ``orjson`` (about 4x faster than the stdlib on a case118
answer); prose followed by one object by the stdlib's C decoder (it also reads NaN/Infinity,
which must be seen to be reported). Duplicate keys and depth are ruled out by counting ':' and
'{' in the object's text against the keys and objects of the parsed tree (with no '[' the tree
is then root -> sections -> records). When the counts disagree (a duplicate key, punctuation
inside strings, deeper values) the object is parsed again into key-value pairs, at C speed, and
the root, its sections and their records are rebuilt remembering their duplicated keys.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from itertools import chain

import orjson

from .json_scan import scan_objects

MAX_ANSWER_CHARS = 200_000
MAX_NESTING_DEPTH = 64
"""Containers (objects and arrays) one JSON value may nest; an answer needs 3."""

_PARSE_ERRORS = (ValueError, RecursionError, MemoryError, OverflowError)
_MAY_START_OBJECT = re.compile(r'\{[ \t\n\r]*+["}]')  # a '{' followed by anything else cannot parse


class JObject(dict):
    """A JSON object that remembers which keys appeared more than once."""

    __slots__ = ("duplicates",)


def _object(pairs: tuple, levels: int) -> JObject:
    """The object of a key-value pair tuple, its duplicated keys remembered; ``levels`` deep (root -> sections -> records)."""
    obj = JObject(pairs)
    if len(obj) != len(pairs):
        seen: set = set()
        obj.duplicates = {k for k, _ in pairs if k in seen or seen.add(k)}
    else:
        obj.duplicates = ()
    if levels > 1:
        for key, value in obj.items():
            if type(value) is tuple:  # an object of the level below (arrays are lists)
                obj[key] = _object(value, levels - 1)
    return obj


_is_dict = dict.__instancecheck__  # isinstance(x, dict) as a C callable, for filter()
_FAST = json.JSONDecoder()
_PAIRS = json.JSONDecoder(object_pairs_hook=tuple)  # objects as pair tuples: duplicates kept, at C speed


@dataclass
class LocatedAnswer:
    """What was found in the text: the parsed object (or None), its text, and why.

    ``root`` is a dict; when the object was parsed exactly (duplicates possible) the root, its
    sections and their records are :class:`JObject` s, and objects below records (never a valid
    field value) stay key-value pair tuples.
    """

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
    """Find the last top-level JSON object in ``text`` that parses (see the module docstring)."""
    if len(text) > max_chars:
        return LocatedAnswer(False, None, f"answer is {len(text)} characters, over the {max_chars} cap")
    first = text.find("{")
    if first < 0:
        return LocatedAnswer(False, None, "no JSON object ('{') in the answer")
    quick = _whole_object(text)
    if quick is not None:
        return quick
    # A '{' not followed by '"' or '}' fails at once (and reads one level): the text before the first
    # '{' that may start an object cannot hold the answer or nest deep, so it is skipped.
    may_start = _MAY_START_OBJECT.search(text, first)
    if may_start is None:
        return LocatedAnswer(True, None, _NO_OBJECT)
    first = may_start.start()
    quick = _single_object(text, first)
    if quick is not None:
        return quick
    scan = scan_objects(text[first:], MAX_NESTING_DEPTH)
    if scan.too_deep is not None:
        return LocatedAnswer(True, None, f"JSON nested deeper than {MAX_NESTING_DEPTH} levels (the '{{' at "
                                         f"character {first + scan.too_deep}): refused, not parsed")
    if scan.last is None:
        return LocatedAnswer(True, None, _NO_OBJECT)
    start, end = first + scan.last[0], first + scan.last[1]
    span = text[start:end]
    note = "parsed the JSON object" if scan.count == 1 else f"{scan.count} JSON objects found; the last one counts"
    try:
        obj = _FAST.decode(span)
        if not _shallow(span, obj):
            obj = _object(_PAIRS.decode(span), 3)
    except _PARSE_ERRORS as exc:  # the scan and the decoder disagree, or the stack is already deep
        return LocatedAnswer(True, None, f"the JSON object at character {start} does not parse: {exc}")
    return LocatedAnswer(True, obj, note, span)


_NO_OBJECT = "found '{' but no complete JSON object parses (truncated or invalid JSON)"


def _whole_object(text: str) -> LocatedAnswer | None:
    """The fast path: the text (stripped) is exactly one strict-JSON object, shallow, without duplicates."""
    span = text.strip()
    if not (span.startswith("{") and span.endswith("}")):
        return None
    try:
        obj = orjson.loads(span)
    except (orjson.JSONDecodeError, RecursionError, MemoryError):
        return None  # not strict JSON (NaN, 1e999, deep nesting, ...): the general path decides
    return _checked(span, obj) if isinstance(obj, dict) else None


def _single_object(text: str, first: int) -> LocatedAnswer | None:
    """Prose, then one shallow object without duplicates, and no '{' after it: that object is the answer."""
    try:
        obj, end = _FAST.raw_decode(text, first)
    except _PARSE_ERRORS:
        return None
    if not isinstance(obj, dict) or text.find("{", end) >= 0:
        return None
    return _checked(text[first:end], obj)


def _checked(span: str, obj: dict) -> LocatedAnswer | None:
    """The located answer when ``obj`` (parsed from ``span``) is within the depth cap, else None (the scan decides)."""
    if not _shallow(span, obj):
        if span.count("{") + span.count("[") > _WALK_LIMIT or _depth(obj) > MAX_NESTING_DEPTH:
            return None
        try:
            obj = _object(_PAIRS.decode(span), 3)
        except _PARSE_ERRORS:
            return None
    return LocatedAnswer(True, obj, "parsed the JSON object", span)


_WALK_LIMIT = 4096  # containers a parsed tree may have for its depth to be measured by walking it


def _depth(root: dict) -> int:
    """How many containers deep the parsed tree nests, stopping once past the cap."""
    deepest, stack = 1, [(root, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_NESTING_DEPTH:
            break
        for child in (node.values() if type(node) is dict else node):
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1))
    return deepest


def _shallow(span: str, root: dict) -> bool:
    """True when the text holds no '[' and every ':' and '{' of it is a key / object of the parsed tree.

    Keys and objects are counted down to records (root -> sections -> records). Each key in
    the text has one ':' outside strings, so equal counts mean no key was collapsed and no
    object is deeper than a record; any ':' / '{' inside a string breaks equality too and takes
    the exact path.
    """
    if "[" in span:
        return False
    tables = list(filter(_is_dict, root.values()))
    records = list(filter(_is_dict, chain.from_iterable(map(dict.values, tables))))  # at C speed: no Python loop
    keys = len(root) + sum(map(len, tables)) + sum(map(len, records))
    return span.count(":") == keys and span.count("{") == 1 + len(tables) + len(records)
