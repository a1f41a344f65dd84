"""On-disk cache of reference solutions, safe under concurrent processes.

One small JSON file per instance, written to a temporary file and atomically renamed,
so readers never see a partial file and concurrent writers of the same key agree
(the content is deterministic). Location: ``cache_dir`` argument, else the
``FEASGYM_CACHE`` environment variable, else ``~/.cache/feasgym``. ``cache_dir=False``
disables the disk cache.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path


def default_cache_dir() -> Path:
    env = os.environ.get("FEASGYM_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "feasgym"


class ReferenceCache:
    def __init__(self, namespace: str, cache_dir: str | os.PathLike | None | bool = None):
        self.enabled = cache_dir is not False
        root = default_cache_dir() if cache_dir in (None, True) else Path(cache_dir) if self.enabled else None
        digest = hashlib.sha256(namespace.encode()).hexdigest()[:16]
        self.folder = root / digest if root is not None else None
        self._memory: dict[str, dict] = {}
        self._namespace = namespace

    def get(self, key: str) -> dict | None:
        if key in self._memory:
            return self._memory[key]
        if not self.enabled:
            return None
        try:
            with open(self.folder / f"{key}.json", encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            return None  # absent or unreadable: recompute (and overwrite) it
        self._memory[key] = data
        return data

    def put(self, key: str, data: dict) -> None:
        self._memory[key] = data
        if not self.enabled:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            marker = self.folder / "NAMESPACE"
            if not marker.exists():
                _atomic_write(marker, self._namespace)
            _atomic_write(self.folder / f"{key}.json", json.dumps(data, separators=(",", ":")))
        except OSError:
            pass  # a read-only or full disk only costs speed, never results


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
