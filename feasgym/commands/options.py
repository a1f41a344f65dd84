"""KEY=VALUE command-line options, parsed one way for every command (export, study, compare)."""
from __future__ import annotations

import json
from typing import Any


def json_or_text(value: str) -> Any:
    """``VALUE`` as JSON when it parses (``2``, ``true``, ``{"a": 1}``), else the plain string."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def split_pair(item: str, option: str) -> tuple[str, str]:
    """``"KEY=VALUE"`` -> ``("KEY", "VALUE")``; a ValueError naming ``option`` when there is no key or no '='."""
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise ValueError(f"{option} expects KEY=VALUE, got {item!r}")
    return key, value


def parse_key_values(items: list[str], option: str) -> dict[str, Any]:
    """``["answer_mode=setpoints", "max_turns=2"]`` -> ``{"answer_mode": "setpoints", "max_turns": 2}``."""
    return {key: json_or_text(value) for key, value in (split_pair(item, option) for item in items)}
