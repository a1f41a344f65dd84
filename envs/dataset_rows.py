"""Rows of env instances: prompt, oracle completion, chat messages and the instance key.

Row ``k`` is instance ``k`` of the ``split`` stream seeded by ``seed`` (``start`` shifts the
window), the same instance ``env.reset(seed=seed, options={"instance": k})`` gives, so the
reward functions of :mod:`feasgym.envs.rewards` score a completion against its row exactly.
Reference solutions go through the env's on-disk reference cache. Used by the dataset export
(:mod:`feasgym.datasets`) and by the training data of :mod:`feasgym.agents.training`.
"""
from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Iterable, Sequence

from .rewards import instance_columns


def instance_records(
    env_id: str,
    *,
    split: str = "train",
    n: int = 100,
    seed: int = 0,
    start: int = 0,
    env_kwargs: dict | None = None,
    system_prompt: str | None = None,
    workers: int = 1,
    progress: bool = True,
    desc: str | None = None,
) -> list[dict]:
    """One row per instance ``start .. start+n-1``, in index order.

    Columns: ``prompt``, ``completion`` (the oracle's answer at the prompt's decimals),
    ``messages`` (chat format: optional system, user prompt, assistant answer), the instance key
    ``env_id``, ``seed``, ``split``, ``instance``, ``prompt_hash``, ``reference_objective`` and
    ``env_kwargs`` (JSON, for the record). ``workers > 1`` solves in spawned processes.
    """
    if int(n) < 0 or int(start) < 0:
        raise ValueError(f"n and start must be >= 0, got n={n}, start={start}")
    if int(workers) < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    env_kwargs = dict(env_kwargs or {})
    indices = list(range(int(start), int(start) + int(n)))
    job = (env_id, env_kwargs, split, int(seed), system_prompt)
    from tqdm.auto import tqdm

    bar = tqdm(total=len(indices), desc=desc or f"{env_id} {split}", unit="instance", disable=not progress)
    rows: list[dict] = []
    with bar:
        if int(workers) == 1 or len(indices) <= 1:
            for row in _rows(job, indices):
                rows.append(row)
                bar.update(1)
        else:
            chunks = _chunks(indices, int(workers))
            # spawn, not fork: the parent may hold threads (torch, tokenizers) that fork would break.
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=min(int(workers), len(chunks)), mp_context=context) as pool:
                for part in pool.map(_rows_of_chunk, [(job, chunk) for chunk in chunks]):
                    rows.extend(part)
                    bar.update(len(part))
    return rows


# ---- workers -----------------------------------------------------------------------
def _rows_of_chunk(args: tuple) -> list[dict]:
    job, indices = args
    return list(_rows(job, indices))


def _rows(job: tuple, indices: Iterable[int]) -> Iterable[dict]:
    import gymnasium as gym

    import feasgym.envs  # noqa: F401  (registers the ids in a spawned worker)

    env_id, env_kwargs, split, seed, system_prompt = job
    env = gym.make(env_id, split=split, **env_kwargs)
    try:
        for k in indices:
            prompt, _ = env.reset(seed=seed, options={"instance": k})
            yield _row(env, prompt, env_kwargs, system_prompt)
    finally:
        env.close()


def _row(env, prompt: str, env_kwargs: dict, system_prompt: str | None) -> dict:
    answer = env.unwrapped.reference_answer()
    messages = [] if system_prompt is None else [{"role": "system", "content": system_prompt}]
    messages += [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
    row = {"prompt": prompt, "completion": answer, "messages": messages}
    row.update(instance_columns(env))
    row["reference_objective"] = float(env.unwrapped.score(answer)["optimality"]["reference_objective"])
    row["env_kwargs"] = json.dumps(env_kwargs, sort_keys=True, default=repr)
    return row


def _chunks(indices: Sequence[int], workers: int) -> list[list[int]]:
    """Contiguous chunks, several per worker so a slow chunk does not idle the others."""
    size = max(1, -(-len(indices) // (workers * 4)))
    return [list(indices[i:i + size]) for i in range(0, len(indices), size)]
