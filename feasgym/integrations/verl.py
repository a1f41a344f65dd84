"""verl: parquet rows in verl's layout and ``compute_score`` for its reward managers.

Rows (``feasgym export --format verl`` or :func:`verl_row`)::

    {"data_source": "feasgym/ACOPF-case5-v0",
     "prompt": [{"role": "user", "content": "..."}],          # system message first when exported with one
     "ability": "constrained-optimization",
     "reward_model": {"style": "rule", "ground_truth": '{"env_id": ..., "seed": 0, ...}'},   # the key, JSON
     "extra_info": {"env_id", "seed", "split", "instance", "prompt_hash", "index", "env_kwargs",
                    "reference_objective"}}

verl config (the function is loaded by path; ``reward_kwargs`` reach it as keyword arguments)::

    reward.custom_reward_function.path=pkg://feasgym.integrations.verl
    reward.custom_reward_function.name=compute_score          # or compute_score_batch with the batch manager

The key is read from ``extra_info`` (else from ``ground_truth``) and guarded by the prompt hash;
a row that does not match its rebuilt prompt raises (a wrong dataset must stop training, not
train on wrong rewards). Completions never raise. ``score`` is the env's scalar reward, or
``weights`` (format, feasibility, optimality) times the three rewards when given. With
``server_url`` (or ``$FEASGYM_SCORE_URL``) a batch is one request to ``feasgym serve``.
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from feasgym.integrations.scoring import SCORE_NAMES, InstanceKey, parse_key, score_keys, weighted_score

ABILITY = "constrained-optimization"
SERVER_ENV = "FEASGYM_SCORE_URL"


def verl_row(row: Mapping[str, Any], index: int | None = None) -> dict:
    """An exported feasgym row (:mod:`feasgym.datasets`) in verl's RL dataset layout."""
    key = InstanceKey.from_mapping(row)
    prompt = [m for m in row.get("messages") or [] if m.get("role") != "assistant"] or \
        [{"role": "user", "content": row["prompt"]}]
    extra = {**key.columns(), "index": int(key.instance if index is None else index),
             "env_kwargs": row.get("env_kwargs") or "{}",
             "reference_objective": float(row.get("reference_objective") or 0.0)}
    return {"data_source": key.env_id, "prompt": prompt, "ability": ABILITY,
            "reward_model": {"style": "rule", "ground_truth": key.to_json()}, "extra_info": extra}


@contextlib.contextmanager
def verl_writer(path: str | os.PathLike) -> Iterator[Callable[[dict], None]]:
    """``write(row)`` for exported rows, streamed into a verl parquet file (atomically, in row groups): the
    export's parquet writer with each row in verl's layout."""
    from feasgym.datasets import parquet_writer

    with parquet_writer(Path(path)) as write:
        yield lambda row: write(verl_row(row))


def write_verl_parquet(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike) -> Path:
    """Write exported rows as one verl parquet file; returns its path."""
    with verl_writer(path) as write:
        for row in rows:
            write(dict(row))
    return Path(path)


# ---- scoring -----------------------------------------------------------------------------
def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: Mapping | None = None,
                  weights: Sequence[float] | None = None, server_url: str | None = None, **_: Any) -> dict:
    """verl's per-item reward: ``{"score": float, "format", "feasibility", "optimality", "constraint_rate",
    "feasible"}`` for one response (numbers only, so verl can log every key)."""
    return compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info], weights=weights,
                               server_url=server_url)[0]


def compute_score_batch(data_sources: Sequence[str], solution_strs: Sequence[str], ground_truths: Sequence[Any],
                        extra_infos: Sequence[Mapping | None], weights: Sequence[float] | None = None,
                        server_url: str | None = None, **_: Any) -> list[dict]:
    """verl's batch reward (``BatchRewardManager``): one dict per response, as :func:`compute_score`."""
    found = [_key(source, truth, extra) for source, truth, extra in zip(data_sources, ground_truths, extra_infos)]
    results = score_keys([k for k, _ in found], solution_strs, [kw for _, kw in found],
                         server_url=server_url or os.environ.get(SERVER_ENV))
    return [_verl_scores(r, weights) for r in results]


def _key(source: str, truth: Any, extra: Mapping | None) -> tuple[InstanceKey, dict]:
    extra = extra or {}
    if extra.get("seed") is not None:
        key = InstanceKey.from_mapping(extra, source)
    else:
        key = parse_key(truth, source)
    if key.env_id != source:
        raise ValueError(f"row of data_source {source!r} names env id {key.env_id!r}")
    raw = extra.get("env_kwargs") or "{}"
    return key, json.loads(raw) if isinstance(raw, str) else dict(raw)


def _verl_scores(result: dict, weights: Sequence[float] | None) -> dict:
    out = {"score": weighted_score(result, weights)}
    out.update({n: float(result[n]) for n in SCORE_NAMES})
    out["constraint_rate"] = float(result["constraint_rate"])
    out["feasible"] = float(result["feasible"])
    return out
