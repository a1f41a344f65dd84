"""Text spaces with a charset that admits JSON and whitespace (Gymnasium's default is alphanumeric)."""
from __future__ import annotations

import string

from gymnasium import spaces

PRINTABLE_CHARSET = frozenset(string.printable)


def text_space(max_length: int) -> spaces.Text:
    return spaces.Text(max_length=max_length, min_length=0, charset="".join(sorted(PRINTABLE_CHARSET)))
