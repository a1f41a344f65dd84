"""Text spaces with a charset that admits JSON and whitespace (Gymnasium's default is alphanumeric).

``PromptText`` also fixes batched text in ``AsyncVectorEnv(shared_memory=True)`` (the default
of ``gym.make_vec(..., vectorization_mode="async")``): Gymnasium decodes a ``Text`` shared
buffer once, when the vector env is built, so every later ``reset``/``step`` returned those
stale strings. Here the decoded batch is a live view read at access (and copied as a plain
tuple when the vector env copies its observations).
"""
from __future__ import annotations

import string
from collections.abc import Sequence

import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import read_from_shared_memory

PRINTABLE_CHARSET = frozenset(string.printable)


class PromptText(spaces.Text):
    """A ``Text`` space whose async-vector batches decode from shared memory at read time."""


def text_space(max_length: int) -> spaces.Text:
    return PromptText(max_length=max_length, min_length=0, charset="".join(sorted(PRINTABLE_CHARSET)))


class SharedTextBatch(Sequence):
    """The strings currently in an async vector env's shared text buffer, one per sub-env."""

    def __init__(self, space: spaces.Text, shared_memory, n: int):
        self._rows = np.frombuffer(shared_memory.get_obj(), dtype=np.int32).reshape(n, space.max_length)
        self._chars = np.array(space.character_list + ("",), dtype=object)  # padding decodes to ""
        self._n_chars = len(space.character_list)

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        row = self._rows[index]
        pad = np.flatnonzero(row >= self._n_chars)
        end = int(pad[0]) if pad.size else len(row)
        return "".join(self._chars[row[:end]])

    def __deepcopy__(self, memo) -> tuple[str, ...]:
        return tuple(self)

    def __eq__(self, other) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __repr__(self) -> str:
        return f"SharedTextBatch({tuple(s[:20] + '...' for s in self)!r})"


@read_from_shared_memory.register(PromptText)
def _read_prompt_text(space: PromptText, shared_memory, n: int = 1) -> SharedTextBatch:
    return SharedTextBatch(space, shared_memory, n)
