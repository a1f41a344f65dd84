"""On-disk cache of reference solutions that proves what it holds, safe under concurrent processes.

One small JSON file per instance, written to a temporary file and atomically renamed, so
readers never see a partial file and concurrent writers of the same key agree (the content is
deterministic). Each file records its full key (problem family, configuration, package
version, split, seed, instance index, and the draw attempt that had a solution) and a SHA-256
checksum over key and solution. A file is trusted only when its key is the one asked for, its
checksum matches and its solution is well formed; anything else (another instance's file
under this name, ``{}``, a list, a truncated write, wrong types, value lists shorter than the
instance's ids) is reported by one :class:`ReferenceCacheWarning` naming the file, and the
caller solves again and rewrites it.

Location: ``cache_dir`` argument, else the ``FEASGYM_CACHE`` environment variable, else
``~/.cache/feasgym``. ``cache_dir=False`` disables the disk cache (an in-memory one remains).
Bundles of many verified records (to ship references between machines) are in
:mod:`feasgym.envs.core.bundle`.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

from .files import write_text

CACHE_FORMAT = 2
"""Layout version of the files; part of the folder name, so files of another layout are never read."""
MEMORY_ENTRIES = 64
"""Records kept in memory per cache (an LRU): a long export must not grow with its length."""
NOMINAL = "nominal"
"""Entry name of the unperturbed instance's solution."""


class ReferenceCacheWarning(UserWarning):
    """A cache file failed verification; it is solved again and rewritten."""


def default_cache_dir() -> Path:
    env = os.environ.get("FEASGYM_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "feasgym"


def resolve_cache_dir(cache_dir: str | os.PathLike | None | bool = None) -> Path | None:
    """The cache root a ``cache_dir`` argument means (None when the disk cache is disabled)."""
    if cache_dir is False:
        return None
    return default_cache_dir() if cache_dir in (None, True) else Path(cache_dir)


@dataclass(frozen=True)
class Namespace:
    """What the references of one env configuration depend on: family, configuration, version."""

    family: str
    config: str
    version: str

    @property
    def digest(self) -> str:
        """The folder name of this namespace (also encodes the file layout version)."""
        text = f"v{CACHE_FORMAT}|{self.family}|{self.config}|{self.version}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @classmethod
    def of_key(cls, key: Mapping) -> "Namespace":
        return cls(str(key["family"]), str(key["config"]), str(key["version"]))


def entry_name(split: str | None, seed: int | None, instance: int | str) -> str:
    """File stem of an instance's record: ``train-0-12``, or ``nominal``."""
    return NOMINAL if instance == NOMINAL else f"{split}-{seed}-{instance}"


def instance_key(namespace: Namespace, split: str | None, seed: int | None, instance: int | str) -> dict:
    """The key fields a record must carry (all but ``attempt``)."""
    return {**asdict(namespace), "split": split, "seed": seed, "instance": instance}


def checksum(key: Mapping, solution: Any) -> str:
    """SHA-256 over the canonical JSON of key and solution (floats round-trip exactly through JSON)."""
    text = json.dumps({"key": key, "solution": solution}, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def make_record(key: Mapping, attempt: int, solution: dict) -> dict:
    """The JSON object stored for one instance."""
    full = {**key, "attempt": int(attempt)}
    return {"feasgym_reference": CACHE_FORMAT, "key": full, "solution": solution,
            "checksum": checksum(full, solution)}


def record_problem(record: Any, expect: Mapping | None = None) -> str | None:
    """Why ``record`` cannot be trusted (None when it can): layout, key, checksum, solution shape.

    ``expect`` holds the key fields the caller asked for; the record's must equal them.
    """
    if not isinstance(record, dict):
        return f"holds a JSON {type(record).__name__}, not a reference record"
    if record.get("feasgym_reference") != CACHE_FORMAT:
        return f"is not a feasgym reference record of layout {CACHE_FORMAT}"
    key, solution = record.get("key"), record.get("solution")
    if not isinstance(key, dict):
        return "has no key"
    missing = [f for f in ("family", "config", "version", "split", "seed", "instance", "attempt") if f not in key]
    if missing:
        return f"key lacks {missing}"
    attempt = key["attempt"]
    if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 0:
        return f"key has attempt {attempt!r}, not a count"
    if expect is not None:
        wrong = [f"{f}={key.get(f)!r} (expected {v!r})" for f, v in expect.items() if key.get(f) != v]
        if wrong:
            return "belongs to another key: " + ", ".join(wrong)
    if solution is None:
        return "has no solution"
    problem = solution_problem(solution)
    if problem:
        return problem
    if record.get("checksum") != checksum(key, solution):
        return "checksum does not match its key and solution"
    return None


def solution_problem(solution: Any, schema: Any = None) -> str | None:
    """Why ``solution`` is not a usable reference (None when it is).

    Always checked: ``{"values": {section: {field: [finite numbers]}}, "objective": finite}``.
    With ``schema`` (the instance's :class:`~feasgym.envs.core.schema.AnswerSchema`), every
    section and field it asks for must be present with one value per id.
    """
    if not isinstance(solution, dict):
        return f"solution is a {type(solution).__name__}, not an object"
    values, objective = solution.get("values"), solution.get("objective")
    if not _is_number(objective):
        return f"solution objective is {objective!r}, not a finite number"
    if not isinstance(values, dict) or not values:
        return "solution has no values"
    for section, fields in values.items():
        if not isinstance(fields, dict):
            return f"solution values.{section} is not an object"
        for name, column in fields.items():
            if not isinstance(column, list):
                return f"solution values.{section}.{name} is not a list"
            if not all(_is_number(v) for v in column):
                return f"solution values.{section}.{name} holds a value that is not a finite number"
    for section in getattr(schema, "sections", ()):
        fields = values.get(section.name)
        if fields is None:
            return f"solution has no values.{section.name}"
        for name in section.names:
            column = fields.get(name)
            if column is None:
                return f"solution has no values.{section.name}.{name}"
            if len(column) != len(section.ids):
                return (f"solution values.{section.name}.{name} has {len(column)} entries, "
                        f"the instance has {len(section.ids)} {section.name}")
    return None


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


class ReferenceCache:
    """Verified reference records of one :class:`Namespace`, on disk and in a bounded memory."""

    def __init__(self, namespace: Namespace, cache_dir: str | os.PathLike | None | bool = None):
        if not isinstance(namespace, Namespace):
            raise TypeError(f"namespace must be a Namespace, got {type(namespace).__name__}")
        self.namespace = namespace
        root = resolve_cache_dir(cache_dir)
        self.enabled = root is not None
        self.folder = root / namespace.digest if root is not None else None
        self._folder = str(self.folder)
        self._memory: OrderedDict[str, dict] = OrderedDict()

    def path(self, name: str) -> Path | None:
        return Path(self._file(name)) if self.folder is not None else None

    def _file(self, name: str) -> str:
        # a plain string: pathlib interns every path part, which would grow with each instance read
        return os.path.join(self._folder, name + ".json")

    def key(self, split: str | None, seed: int | None, instance: int | str) -> dict:
        return instance_key(self.namespace, split, seed, instance)

    def get(self, name: str, expect: Mapping) -> dict | None:
        """The verified record stored under ``name`` for key fields ``expect``, else None.

        An absent file is None silently; a file that fails verification warns once, naming it.
        """
        hit = self._memory.get(name)
        if hit is not None and hit["key"] == {**expect, "attempt": hit["key"]["attempt"]}:
            self._memory.move_to_end(name)
            return hit
        if not self.enabled:
            return None
        path = self._file(name)
        try:
            with open(path, "rb") as fh:
                raw = fh.read()
        except FileNotFoundError:
            return None
        except OSError as err:
            self._warn(path, f"cannot be read ({err.strerror or err})")
            return None
        try:
            record = json.loads(raw)
        except ValueError:
            self._warn(path, "is not valid JSON (truncated or overwritten)")
            return None
        problem = record_problem(record, expect)
        if problem:
            self._warn(path, problem)
            return None
        self._remember(name, record)
        return record

    def reject(self, name: str, reason: str) -> None:
        """A record that passed :meth:`get` but does not fit its instance: warn and forget it."""
        self._memory.pop(name, None)
        self._warn(self._file(name) if self.enabled else f"<memory>/{name}", reason)

    def put(self, name: str, key: Mapping, attempt: int, solution: dict) -> dict:
        """Store a freshly solved reference; returns its record."""
        record = make_record(key, attempt, solution)
        self.put_record(name, record)
        return record

    def put_record(self, name: str, record: dict) -> None:
        """Store a verified record (e.g. from a remote worker or a bundle) under ``name``."""
        self._remember(name, record)
        if not self.enabled:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            marker = self.folder / "NAMESPACE"
            if not marker.exists():
                write_text(marker, json.dumps(asdict(self.namespace)))
            write_text(self._file(name), json.dumps(record, separators=(",", ":")))
        except OSError:
            pass  # a read-only or full disk only costs speed, never results

    def _remember(self, name: str, record: dict) -> None:
        self._memory[name] = record
        self._memory.move_to_end(name)
        while len(self._memory) > MEMORY_ENTRIES:
            self._memory.popitem(last=False)

    @staticmethod
    def _warn(path, reason: str) -> None:
        warnings.warn(f"feasgym reference cache: {path} {reason}; solving the instance again and rewriting it",
                      ReferenceCacheWarning, stacklevel=4)


def store_record(record: dict, cache_dir: str | os.PathLike | None | bool = None) -> Path | None:
    """Verify ``record`` and write it where a :class:`ReferenceCache` of its namespace looks for it.

    Returns the file written (None when the disk cache is disabled); raises ``ValueError``
    naming the problem when the record fails verification.
    """
    problem = record_problem(record)
    if problem:
        raise ValueError(f"reference record {problem}")
    key = record["key"]
    cache = ReferenceCache(Namespace.of_key(key), cache_dir)
    name = entry_name(key["split"], key["seed"], key["instance"])
    cache.put_record(name, record)
    return cache.path(name)


def iter_records(cache_dir: str | os.PathLike | None | bool = None) -> Iterator[tuple[Path, dict | None, str | None]]:
    """Every record file under the cache root: ``(path, record, None)`` or ``(path, None, problem)``.

    A record is verified against the folder and file name it lies under (its key must map to
    that path), so a file copied under another name is reported, not used.
    """
    root = resolve_cache_dir(cache_dir)
    if root is None or not root.is_dir():
        return
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(folder.glob("*.json")):
            try:
                record = json.loads(path.read_bytes())
            except (OSError, ValueError) as err:
                yield path, None, f"cannot be read as JSON ({err})"
                continue
            problem = record_problem(record)
            if problem is None:
                key = record["key"]
                where = (Namespace.of_key(key).digest, entry_name(key["split"], key["seed"], key["instance"]))
                if where != (folder.name, path.stem):
                    problem = f"holds the record of {where[0]}/{where[1]}.json"
            yield (path, None, problem) if problem else (path, record, None)
