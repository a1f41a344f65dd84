"""Training and evaluation rows drawn from env instance streams.

A row is one instance: its ``prompt``, the oracle's ``completion`` (the reference answer
at the prompt's decimals) and the columns that address the instance (``env_id``,
``seed``, ``split``, ``instance``), so SFT learns from demonstrations and GRPO's reward
functions score every completion against its own row's instance.

Drawing an AC-OPF instance solves a reference OPF (about a second on a laptop core);
``workers > 1`` spreads the solves over processes, and the env's reference cache keeps
them for every later reset of the same instance (trainer rewards, the arena).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable


@dataclass(frozen=True)
class InstanceSource:
    """One instance stream: an env id with its constructor kwargs, a split and a seed."""

    env_id: str
    split: str = "train"
    seed: int = 0
    env_kwargs: dict = field(default_factory=dict)


def instance_rows(source: InstanceSource, count: int, *, start: int = 0, workers: int = 1,
                  progress: bool = False, desc: str | None = None) -> list[dict]:
    """Rows for instances ``start .. start + count - 1`` of ``source``, in index order
    (the export's rows: :func:`feasgym.envs.dataset_rows.instance_records`)."""
    from feasgym.envs.dataset_rows import instance_records

    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    return instance_records(source.env_id, split=source.split, n=count, seed=source.seed, start=start,
                            env_kwargs=source.env_kwargs, workers=workers, progress=progress, desc=desc)


def write_rows(rows: Iterable[dict], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    tmp.replace(path)
    return path


def read_rows(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
