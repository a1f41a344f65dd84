"""Rows of env instances: prompt, oracle completion, chat messages and the instance key.

Row ``k`` is instance ``k`` of the ``split`` stream seeded by ``seed`` (``start`` shifts the
window), the same instance ``env.reset(seed=seed, options={"instance": k})`` gives, so the
reward functions of :mod:`feasgym.envs.rewards` score a completion against its row exactly.
Reference solutions go through the env's on-disk reference cache. Used by the dataset export
(:mod:`feasgym.datasets`) and by the training data of :mod:`feasgym.agents.training`.

The per-instance work is the public, picklable :func:`solve_instance` (one instance: its
reference record and its row); :func:`solve_instances` runs it over a chunk, which is the task
an executor (:mod:`feasgym.envs.executors`: this process, local processes, Ray) distributes.
:func:`iter_instance_results` streams results in index order with a bounded number in flight,
so memory does not grow with ``n``.
"""
from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any, Iterator, Sequence

from .core.cache import resolve_cache_dir, store_record
from .executors import Executor, make_executor
from .rewards import instance_columns

WORKER_ENVS = 4
"""Envs a process keeps for reuse (one per env id, kwargs and split)."""
MIN_CHUNK = 16
"""Instances per task at least (when there are enough for every worker): Ray's ~0.7 ms per task
is then under 1% of a chunk even at the fastest solve (case5, ~5 ms)."""
MAX_CHUNK = 256
CHUNKS_PER_WORKER = 4
PROGRESS_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_noinv_fmt}]"
"""tqdm's default bar with the rate always in instances/s (tqdm flips slow rates to s/instance)."""

_envs: OrderedDict = OrderedDict()


def worker_env(env_id: str, env_kwargs: dict | None, split: str):
    """This process's env for (env id, kwargs, split), made once and reused by later tasks."""
    import gymnasium as gym

    import feasgym.envs  # noqa: F401  (registers the ids in a spawned or remote worker)

    env_kwargs = dict(env_kwargs or {})
    # keyed by the cache the env would use too: FEASGYM_CACHE may change between calls in one process
    address = (env_id, json.dumps(env_kwargs, sort_keys=True, default=repr), split,
               str(resolve_cache_dir(env_kwargs.get("cache_dir", None))))
    env = _envs.get(address)
    if env is None:
        env = gym.make(env_id, split=split, **env_kwargs)
        _envs[address] = env
        while len(_envs) > WORKER_ENVS:
            _envs.popitem(last=False)[1].close()
    _envs.move_to_end(address)
    return env


def solve_instance(env_id: str, env_kwargs: dict | None, split: str, seed: int, instance: int,
                   system_prompt: str | None = None) -> dict:
    """Instance ``instance`` of the ``split`` stream seeded by ``seed``: ``{"row": ..., "reference": ...}``.

    ``reference`` is the instance's verified reference-cache record (key, attempt, solution,
    checksum: what :func:`~feasgym.envs.core.cache.store_record` and bundles take); ``row`` is
    its dataset row (columns: :func:`instance_records`). Solves at most once per machine (the
    worker's cache), and reuses one env per process.
    """
    env = worker_env(env_id, env_kwargs, split)
    prompt, _ = env.reset(seed=int(seed), options={"instance": int(instance)})
    return {"row": _row(env, prompt, dict(env_kwargs or {}), system_prompt),
            "reference": env.unwrapped.reference_record}


def solve_instances(env_id: str, env_kwargs: dict | None, split: str, seed: int, indices: Sequence[int],
                    system_prompt: str | None = None) -> list[dict]:
    """:func:`solve_instance` for each index of a chunk, in order (one executor task)."""
    return [solve_instance(env_id, env_kwargs, split, seed, k, system_prompt) for k in indices]


def chunk_size(n: int, workers: int) -> int:
    """Instances per task: about four tasks per worker (so a slow chunk does not idle the others),
    at least :data:`MIN_CHUNK` (task overhead under 1% of a solve) unless that would leave workers
    idle, at most :data:`MAX_CHUNK` (bounded results in flight)."""
    workers = max(1, int(workers))
    balanced = -(-n // (workers * CHUNKS_PER_WORKER))
    every_worker = max(1, -(-n // workers))
    return max(1, min(MAX_CHUNK, max(balanced, min(MIN_CHUNK, every_worker))))


def iter_instance_results(
    env_id: str,
    *,
    split: str = "train",
    n: int = 100,
    seed: int = 0,
    start: int = 0,
    env_kwargs: dict | None = None,
    system_prompt: str | None = None,
    workers: int = 1,
    executor: "str | Executor | None" = None,
    progress: bool = True,
    desc: str | None = None,
) -> Iterator[dict]:
    """:func:`solve_instance` results for instances ``start .. start+n-1``, in index order, as produced.

    ``executor``: an :class:`~feasgym.envs.executors.Executor` (the caller keeps it open) or a
    spec (``"local"``, ``"local:N"``, ``"serial"``, ``"ray"``, ``"ray:ADDRESS"``; default
    ``"local"`` with ``workers`` processes). References solved where the caller's cache is not
    (Ray) are stored into it as they arrive. The progress bar shows instances/s and the ETA.
    """
    if int(n) < 0 or int(start) < 0:
        raise ValueError(f"n and start must be >= 0, got n={n}, start={start}")
    if int(workers) < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    env_kwargs = dict(env_kwargs or {})
    indices = range(int(start), int(start) + int(n))
    runner = make_executor(executor, 1 if len(indices) <= 1 else int(workers))
    return _stream(runner, runner is not executor, env_id, env_kwargs, split, int(seed), indices, system_prompt,
                   progress, desc)


def _stream(runner: Executor, owned: bool, env_id: str, env_kwargs: dict, split: str, seed: int,
            indices: range, system_prompt: str | None, progress: bool, desc: str | None) -> Iterator[dict]:
    from tqdm.auto import tqdm

    bar = tqdm(total=len(indices), desc=desc or f"{env_id} {split}", unit="instance", disable=not progress,
               dynamic_ncols=True, bar_format=PROGRESS_FORMAT)
    try:
        size = 1 if runner.in_process else chunk_size(len(indices), runner.workers)
        tasks = ((env_id, env_kwargs, split, seed, indices[i:i + size], system_prompt)
                 for i in range(0, len(indices), size))
        for part in runner.map(solve_instances, tasks):
            for result in part:
                if not runner.shares_cache:
                    store_record(result["reference"], env_kwargs.get("cache_dir"))
                yield result
                bar.update(1)
    finally:
        bar.close()
        if owned:
            runner.close()


def iter_instance_records(env_id: str, **kwargs: Any) -> Iterator[dict]:
    """The rows of :func:`iter_instance_results` (same arguments), streamed."""
    return (result["row"] for result in iter_instance_results(env_id, **kwargs))


def instance_records(env_id: str, **kwargs: Any) -> list[dict]:
    """One row per instance ``start .. start+n-1``, in index order (arguments: :func:`iter_instance_results`).

    Columns: ``prompt``, ``completion`` (the oracle's answer at the prompt's decimals),
    ``messages`` (chat format: optional system, user prompt, assistant answer), the instance key
    ``env_id``, ``seed``, ``split``, ``instance``, ``prompt_hash``, ``reference_objective`` and
    ``env_kwargs`` (JSON, for the record). ``workers > 1`` solves in spawned processes. For
    large ``n`` stream instead (:func:`iter_instance_records`, :func:`feasgym.datasets.export_rows`).
    """
    return list(iter_instance_records(env_id, **kwargs))


def _row(env, prompt: str, env_kwargs: dict, system_prompt: str | None) -> dict:
    answer = env.unwrapped.reference_answer()
    messages = [] if system_prompt is None else [{"role": "system", "content": system_prompt}]
    messages += [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
    row = {"prompt": prompt, "completion": answer, "messages": messages}
    row.update(instance_columns(env))
    row["reference_objective"] = float(env.unwrapped.score(answer)["optimality"]["reference_objective"])
    row["env_kwargs"] = json.dumps(env_kwargs, sort_keys=True, default=repr)
    return row
