"""The run folder: one subfolder per stage, a ``DONE.json`` marker when it completed.

A stage whose marker exists is skipped on the next run (resume); a stage that failed
leaves no marker, so it reruns, and the stages before it stay done. The study's
settings are stored once; resuming with other settings is refused, because mixing
stages from two configurations would compare the wrong models.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from feasgym.agents.training.common import write_json

MARKER = "DONE.json"


class StudyError(RuntimeError):
    """A study cannot go on (bad settings, a failed stage); the message says what to do."""


class RunFolder:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def stage_dir(self, stage: str) -> Path:
        return self.root / stage

    def done(self, stage: str) -> dict | None:
        try:
            return json.loads((self.stage_dir(stage) / MARKER).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def run_stage(self, stage: str, work: Callable[[Path], dict], log: Callable[[str], None] = print) -> tuple[dict, bool]:
        """Run ``work(stage_dir)`` unless done; returns (its result, whether it was cached)."""
        cached = self.done(stage)
        if cached is not None:
            log(f"[{stage}] done earlier ({cached['wall_s']:.0f} s), skipped")
            return cached["result"], True
        folder = self.stage_dir(stage)
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
                  "result": result}
        write_json(folder / MARKER, marker)
        log(f"[{stage}] done in {wall:.0f} s")
        return result, False

    def check_settings(self, settings: dict) -> None:
        """Store the settings, or refuse if the folder holds a run with other settings."""
        path = self.root / "settings.json"
        plain = json.loads(json.dumps(settings, default=str))
        if path.exists():
            old = json.loads(path.read_text(encoding="utf-8"))
            if old != plain:
                changed = sorted(k for k in set(old) | set(plain) if old.get(k) != plain.get(k))
                raise StudyError(f"{self.root} holds a study with other settings (changed: {', '.join(changed)}); "
                                 "use another --out folder, or delete this one to start over")
            return
        self.root.mkdir(parents=True, exist_ok=True)
        write_json(path, plain)

    def stage_times(self, stages: list[str]) -> dict[str, float]:
        return {s: d["wall_s"] for s in stages if (d := self.done(s)) is not None}
