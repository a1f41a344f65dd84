"""The run folder: one subfolder per stage, a ``DONE.json`` marker when it completed.

A stage whose marker exists is skipped on the next run (resume); a stage that failed
leaves no marker, so it reruns, and the stages before it stay done. Each marker records
the settings that stage depended on; resuming with other settings is accepted only when
no finished stage depends on what changed (so a run stopped by a bad token limit reruns
with a corrected one and keeps its data), derived stages (arena, report) are redone, and
anything else is refused, because mixing stages of two configurations compares the wrong models.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Callable

from feasgym.envs.core.files import write_json

MARKER = "DONE.json"


class StudyError(RuntimeError):
    """A study cannot go on (bad settings, a failed stage); the message says what to do."""


def fingerprint(settings: dict, keys: tuple[str, ...] | None) -> dict:
    """The part of ``settings`` a stage depends on (``None``: all of it), as plain JSON."""
    plain = json.loads(json.dumps(settings, default=str))
    return plain if keys is None else {k: plain.get(k) for k in keys}


class RunFolder:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.settings: dict | None = None
        self.deps: Callable[[str], tuple[str, ...] | None] = lambda stage: None
        self.derived: set[str] = set()

    def stage_dir(self, stage: str) -> Path:
        return self.root / stage

    def done(self, stage: str) -> dict | None:
        try:
            return json.loads((self.stage_dir(stage) / MARKER).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _current(self, stage: str) -> dict | None:
        """The stage's marker if it was made with the settings it depends on now."""
        marker = self.done(stage)
        if marker is None or self.settings is None:
            return marker
        if marker.get("settings") != fingerprint(self.settings, self.deps(stage)):
            return None
        return marker

    def run_stage(self, stage: str, work: Callable[[Path], dict], log: Callable[[str], None] = print) -> tuple[dict, bool]:
        """Run ``work(stage_dir)`` unless done; returns (its result, whether it was cached)."""
        cached = self._current(stage)
        if cached is not None:
            log(f"[{stage}] done earlier ({cached['wall_s']:.0f} s), skipped")
            return cached["result"], True
        folder = self.stage_dir(stage)
        if self.done(stage) is not None:  # a derived stage made with other settings: redo from scratch
            shutil.rmtree(folder)
        folder.mkdir(parents=True, exist_ok=True)
        log(f"[{stage}] running")
        start = time.perf_counter()
        try:
            result = work(folder)
        except StudyError:
            raise
        except Exception as exc:
            raise StudyError(f"stage {stage!r} failed: {type(exc).__name__}: {exc}") from exc
        wall = time.perf_counter() - start
        marker = {"stage": stage, "wall_s": wall, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                  "load_avg_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
                  "settings": fingerprint(self.settings or {}, self.deps(stage)), "result": result}
        write_json(folder / MARKER, marker)
        log(f"[{stage}] done in {wall:.0f} s")
        return result, False

    def open(self, settings: dict, stages: list[str], deps: Callable[[str], tuple[str, ...] | None],
             derived: set[str]) -> None:
        """Adopt ``settings`` for this run: refuse if a finished, non-derived stage depends on a change."""
        self.settings, self.deps, self.derived = settings, deps, set(derived)
        path = self.root / "settings.json"
        plain = fingerprint(settings, None)
        if path.exists():
            old = json.loads(path.read_text(encoding="utf-8"))
            if old != plain:
                changed = sorted(k for k in set(old) | set(plain) if old.get(k) != plain.get(k))
                stale = [s for s in stages if s not in self.derived and self.done(s) is not None
                         and self._current(s) is None]
                if stale:
                    raise StudyError(f"{self.root} holds a study with other settings (changed: {', '.join(changed)}; "
                                     f"finished stages that depend on them: {', '.join(stale)}); use another --out "
                                     "folder, or delete this one to start over")
        elif self.root.exists() and any(self.root.iterdir()):
            raise StudyError(f"{self.root} exists and holds no study settings; use another --out folder")
        self.root.mkdir(parents=True, exist_ok=True)
        write_json(path, plain)

    def stage_times(self, stages: list[str]) -> dict[str, float]:
        return {s: d["wall_s"] for s in stages if (d := self.done(s)) is not None}

    def stage_loads(self, stages: list[str]) -> dict[str, float | None]:
        return {s: d.get("load_avg_1min") for s in stages if (d := self.done(s)) is not None}
