"""One atomic writer: every file feasgym writes (cache entries, bundles, datasets, run folders) appears
whole or not at all, even with several processes writing the same folder."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A fresh temporary path beside ``path`` (unique per writer), moved onto ``path`` when the block ends
    cleanly and removed otherwise. The block may write a file or a folder there."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()  # the block creates it (a file, or a folder)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                tmp.unlink()


def write_text(path: str | os.PathLike, text: str) -> Path:
    """``text`` (UTF-8) written atomically to ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | os.PathLike, data: Any, *, indent: int | None = 2) -> Path:
    """``data`` as JSON (non-JSON values as ``str``), written atomically to ``path``."""
    return write_text(path, json.dumps(data, indent=indent, default=str))
