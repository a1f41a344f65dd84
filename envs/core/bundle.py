"""Reference bundles: many verified cache records in one file, to ship references between machines.

References solved on a cluster land in the cache of the machine that ran the export (the
executor stores what remote workers send back); ``feasgym cache export`` writes them into one
bundle and ``feasgym cache import`` on a training node verifies every record (key, checksum,
layout) and writes it into that node's reference cache, where every env reads it: the arena,
the TRL reward functions and the export then do not solve again. No shared filesystem needed.

Layout: JSON Lines (gzip-compressed when the name ends in ``.gz``): a header line
``{"feasgym_bundle": 1, ...}``, one cache record per line, and a closing line
``{"feasgym_bundle_end": COUNT}`` so a truncated copy is detected.
"""
from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .files import atomic_path
from .cache import CACHE_FORMAT, Namespace, iter_records, record_problem, store_record

BUNDLE_FORMAT = 1


@dataclass
class BundleReport:
    """What an import or export did: records written, and each record or file left out with why."""

    path: Path
    written: int = 0
    problems: list[str] = field(default_factory=list)
    complete: bool = True


def _open(path: Path, mode: str, compressed: bool):
    if compressed:
        return io.TextIOWrapper(gzip.open(path, mode + "b"), encoding="utf-8")
    return open(path, mode, encoding="utf-8")


@contextlib.contextmanager
def bundle_writer(path: str | os.PathLike) -> Iterator[Callable[[dict], None]]:
    """``with bundle_writer(p) as add: add(record)``; the file appears (atomically) when the block ends cleanly."""
    from .. import __version__

    path = Path(path)
    count = 0

    def add(record: dict) -> None:
        nonlocal count
        problem = record_problem(record)
        if problem:
            raise ValueError(f"reference record {problem}")
        fh.write(json.dumps(record, separators=(",", ":")) + "\n")
        count += 1

    with atomic_path(path) as tmp, _open(tmp, "w", path.name.endswith(".gz")) as fh:
        fh.write(json.dumps({"feasgym_bundle": BUNDLE_FORMAT, "record_layout": CACHE_FORMAT,
                             "feasgym_version": __version__}) + "\n")
        yield add
        fh.write(json.dumps({"feasgym_bundle_end": count}) + "\n")


def write_bundle(records: Iterable[dict], path: str | os.PathLike) -> int:
    """Write ``records`` (verified as they go) into a bundle; returns how many."""
    n = 0
    with bundle_writer(path) as add:
        for record in records:
            add(record)
            n += 1
    return n


def read_bundle(path: str | os.PathLike) -> Iterator[tuple[dict | None, str | None, bool]]:
    """``(record, None, False)`` for each verified record, ``(None, problem, False)`` for each line that is
    not one, and a final ``(None, problem, True)`` when the copy is truncated (no or a wrong closing line).

    Raises ``ValueError`` when the file is not a feasgym bundle. Good records before a truncation
    are still yielded.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no reference bundle at {path}")
    seen = lines = 0
    try:
        with _open(path, "r", path.name.endswith(".gz")) as fh:
            try:
                header = json.loads(fh.readline() or "null")
            except ValueError:
                header = None
            if not isinstance(header, dict) or header.get("feasgym_bundle") != BUNDLE_FORMAT:
                raise ValueError(f"{path} is not a feasgym reference bundle (layout {BUNDLE_FORMAT})")
            end = None
            for number, line in enumerate(fh, start=2):
                if line.startswith('{"feasgym_bundle_end"'):
                    end = _closing(line)
                    break
                lines += 1
                try:
                    record = json.loads(line)
                except ValueError:
                    yield None, f"{path}:{number} is not valid JSON", False
                    continue
                problem = record_problem(record)
                if problem:
                    yield None, f"{path}:{number} {problem}", False
                    continue
                seen += 1
                yield record, None, False
    except (EOFError, OSError, UnicodeDecodeError) as err:  # gzip.BadGzipFile is an OSError
        yield None, f"{path} is truncated or unreadable after {seen} records ({err})", True
        return
    if end is None:
        yield None, f"{path} is truncated: no closing line after {seen} records", True
    elif end != lines:
        yield None, f"{path} closes with {end} records, it holds {lines}", True


def _closing(line: str) -> int | None:
    try:
        end = json.loads(line)["feasgym_bundle_end"]
    except (ValueError, KeyError, TypeError):
        return None
    return end if isinstance(end, int) else None


def import_bundle(path: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> BundleReport:
    """Verify every record of a bundle and write it into the reference cache at ``cache_dir``."""
    report = BundleReport(Path(path))
    for record, problem, truncated in read_bundle(path):
        if problem:
            report.problems.append(problem)
            report.complete = report.complete and not truncated
            continue
        store_record(record, cache_dir)
        report.written += 1
    return report


def export_bundle(out: str | os.PathLike, cache_dir: str | os.PathLike | None = None, *,
                  namespaces: Iterable[Namespace] | None = None, split: str | None = None,
                  seed: int | None = None) -> BundleReport:
    """Bundle every verified record in the cache at ``cache_dir`` (optionally only some namespaces,
    one split, one seed; the nominal solutions go along with their namespace)."""
    wanted = None if namespaces is None else {ns.digest for ns in namespaces}
    report = BundleReport(Path(out))

    def selected() -> Iterator[dict]:
        for file, record, problem in iter_records(cache_dir):
            if wanted is not None and file.parent.name not in wanted:
                continue
            if problem:
                report.problems.append(f"{file} {problem}")
                continue
            key = record["key"]
            nominal = key["split"] is None
            if not nominal and ((split is not None and key["split"] != split) or (seed is not None and key["seed"] != seed)):
                continue
            yield record

    report.written = write_bundle(selected(), out)
    return report
