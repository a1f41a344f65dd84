"""OpenRLHF: ``reward_func(queries, prompts, labels)`` for ``--remote_rm_url``, as a file or over HTTP.

OpenRLHF loads a Python file given as ``--remote_rm_url /path/to/file.py`` and calls its
``reward_func(queries, prompts, labels)`` (``queries``: prompt + response as decoded text;
``labels``: the dataset's ``--label_key`` column). This module is such a file::

    --remote_rm_url "$(python -c 'import feasgym.integrations.openrlhf as m; print(m.__file__)')"
    --label_key label          # a column of openrlhf_label(row): the instance key as JSON

or, to share one preloaded scorer between every rollout worker, run ``feasgym serve`` and pass
``--remote_rm_url http://HOST:PORT/openrlhf`` (the same function behind HTTP, batched).

Returns ``{"rewards", "scores", "extra_logs"}`` (float tensors; ``extra_logs`` holds the three
rewards, the constraint-satisfaction rate and feasibility per sample, which OpenRLHF logs).
``rewards`` is the env's scalar reward, or ``$FEASGYM_REWARD_WEIGHTS`` ("0.1,1,0.3": format,
feasibility, optimality) times the three rewards. ``$FEASGYM_SCORE_URL`` scores on a server.
"""
from __future__ import annotations

import json
import os
from typing import Any, Mapping, Sequence

from feasgym.integrations.scoring import SCORE_NAMES, InstanceKey, parse_key, score_keys, weighted_score

WEIGHTS_ENV = "FEASGYM_REWARD_WEIGHTS"
SERVER_ENV = "FEASGYM_SCORE_URL"
LOG_NAMES = SCORE_NAMES + ("constraint_rate", "feasible")


def openrlhf_label(row: Mapping[str, Any]) -> str:
    """The ``label`` column for an exported row: its instance key (and env kwargs) as JSON."""
    label = InstanceKey.from_mapping(row).columns()
    kwargs = json.loads(row.get("env_kwargs") or "{}")
    if kwargs:
        label["env_kwargs"] = kwargs
    return json.dumps(label, sort_keys=True)


def response_text(query: str, prompt: str) -> str:
    """The response part of an OpenRLHF query (prompt + response, decoded with special tokens).

    The prompt is cut at its exact start when the decoded query begins with it, else after the
    last occurrence of its final 200 characters; a query that holds neither is scored whole.
    """
    if query.startswith(prompt):
        return query[len(prompt):]
    tail = prompt[-200:]
    at = query.rfind(tail) if tail else -1
    return query[at + len(tail):] if at >= 0 else query


def rewards_of(queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any],
               weights: Sequence[float] | None = None, server_url: str | None = None, store=None) -> dict:
    """Plain-list rewards (what the HTTP endpoint returns): ``{"rewards", "scores", "extra_logs"}``."""
    if not (len(queries) == len(prompts) == len(labels)):
        raise ValueError(f"queries, prompts and labels differ in length: {len(queries)}, {len(prompts)}, {len(labels)}")
    keys, kwargs = [], []
    for label in labels:
        data = json.loads(label) if isinstance(label, (str, bytes)) else label
        keys.append(parse_key(data))
        kwargs.append(data.get("env_kwargs") if isinstance(data, Mapping) else None)
    texts = [response_text(q, p) for q, p in zip(queries, prompts)]
    results = score_keys(keys, texts, kwargs, server_url=server_url, store=store)
    rewards = [weighted_score(r, weights) for r in results]
    logs = {name: [float(r[name]) for r in results] for name in LOG_NAMES}
    return {"rewards": rewards, "scores": rewards, "extra_logs": logs}


def reward_func(queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any]) -> dict:
    """OpenRLHF's reward hook: tensors of rewards, scores and per-sample logs for a batch."""
    import torch

    raw = os.environ.get(WEIGHTS_ENV)
    weights = [float(w) for w in raw.split(",")] if raw else None
    out = rewards_of(queries, prompts, labels, weights, server_url=os.environ.get(SERVER_ENV))
    as_tensor = lambda values: torch.tensor(values, dtype=torch.float32)  # noqa: E731
    return {"rewards": as_tensor(out["rewards"]), "scores": as_tensor(out["scores"]),
            "extra_logs": {k: as_tensor(v) for k, v in out["extra_logs"].items()}}
