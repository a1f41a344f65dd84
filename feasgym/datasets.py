"""Export env instances as a Hugging Face dataset: prompt, oracle completion, chat messages, instance key.

Row ``k`` is instance ``k`` of the ``split`` stream seeded by ``seed`` (``start`` shifts the
window), the same instance ``env.reset(seed=seed, options={"instance": k})`` gives, so the
reward functions of :mod:`feasgym.envs.rewards` score a completion against its row exactly.
Reference solutions go through the env's on-disk reference cache, so a second export (or the
reward functions later) does not solve again. Splits draw from disjoint seed streams.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from feasgym.envs.dataset_rows import instance_records

EXPORT_FORMATS = ("jsonl", "hf", "both")


def export_records(env_id: str, **kwargs: Any) -> list[dict]:
    """One row per instance (arguments and columns: :func:`feasgym.envs.dataset_rows.instance_records`)."""
    kwargs.setdefault("desc", f"export {env_id} {kwargs.get('split', 'train')}")
    return instance_records(env_id, **kwargs)


def export_dataset(env_id: str, **kwargs: Any):
    """A ``datasets.Dataset`` of instances of ``env_id`` (arguments as :func:`export_records`).

    Columns: ``prompt`` (str), ``completion`` (the oracle's answer at the prompt's decimals),
    ``messages`` (chat format: optional system, user prompt, assistant answer), the instance
    key ``env_id``, ``seed``, ``split``, ``instance``, ``prompt_hash`` (what the TRL reward
    functions read), ``reference_objective`` and ``env_kwargs`` (JSON, for the record).
    """
    import datasets

    return datasets.Dataset.from_list(export_records(env_id, **kwargs))


def save_dataset(dataset, out: str | os.PathLike, fmt: str = "auto") -> list[Path]:
    """Write ``dataset`` as JSONL (``out`` ending in ``.jsonl``) and/or an HF folder (``save_to_disk``).

    ``fmt="auto"`` picks JSONL for a ``.jsonl`` path and an HF folder otherwise; ``"both"``
    writes the folder at ``out`` and JSONL next to it (``out.jsonl``). Returns the paths written.
    """
    if fmt not in EXPORT_FORMATS + ("auto",):
        raise ValueError(f"format must be one of {('auto',) + EXPORT_FORMATS}, got {fmt!r}")
    out = Path(out)
    if fmt == "auto":
        fmt = "jsonl" if out.suffix == ".jsonl" else "hf"
    written = []
    if fmt in ("hf", "both"):
        folder = out.with_suffix("") if out.suffix == ".jsonl" else out
        dataset.save_to_disk(str(folder))
        written.append(folder)
    if fmt in ("jsonl", "both"):
        path = out if out.suffix == ".jsonl" else out.with_name(out.name + ".jsonl")
        written.append(_write_jsonl(dataset, path))
    return written


def _write_jsonl(dataset, path: Path) -> Path:
    """One JSON object per row with exact floats (``Dataset.to_json`` rounds to 10 digits), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for row in dataset:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return path


def load_jsonl(path: str | os.PathLike):
    """Load an exported JSONL file back as a ``datasets.Dataset``."""
    import datasets

    return datasets.load_dataset("json", data_files=str(path), split="train")
