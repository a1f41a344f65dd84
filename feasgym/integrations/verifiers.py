"""verifiers (prime-rl): ``load_environment`` returning a ``vf.SingleTurnEnv`` whose rubric is feasgym's scores.

::

    env = load_environment("feasgym/ACOPF-case5-v0", n=256, eval_n=32,
                           weights={"format": 0.1, "feasibility": 1.0, "optimality": 0.3})
    results = env.evaluate_sync(client=AsyncOpenAI(base_url=...), model="...", num_examples=32)

The rubric's functions are ``format_reward``, ``feasibility_reward``, ``optimality_reward``
(the TRL reward functions' values; ``weights`` sets theirs) and ``constraint_rate`` and
``feasible``, logged at weight 0. The datasets come from
:func:`feasgym.datasets.export_dataset` (``question`` = the prompt, ``answer`` = the oracle's
answer, ``info`` = the instance key and env kwargs as JSON). Every instance is loaded, and its
prompt hash checked, when the environment is built, so a dataset that does not match its
rebuilt prompts fails there, not as zero rewards later. The answer scored is the completion's
last assistant message; each rollout is scored once and the five functions read that result.
"""
from __future__ import annotations

import json
from typing import Any, Mapping

from feasgym.envs.rewards import completion_text
from feasgym.integrations.scoring import SCORE_NAMES, InstanceKey, InstanceStore

DEFAULT_WEIGHTS = {"format": 0.1, "feasibility": 1.0, "optimality": 0.3}
LOGGED = ("constraint_rate", "feasible")
STATE_KEY = "feasgym_scores"


def verifiers_rows(dataset) -> Any:
    """An exported ``datasets.Dataset`` in verifiers' columns: ``question``, ``answer``, ``info`` (with ``env_id``)."""
    def convert(row: Mapping[str, Any]) -> dict:
        key = InstanceKey.from_mapping(row)
        info = {**key.columns(), "env_kwargs": json.loads(row.get("env_kwargs") or "{}")}
        return {"question": row["prompt"], "answer": row["completion"], "info": json.dumps(info, sort_keys=True)}

    return dataset.map(convert, remove_columns=dataset.column_names)


def feasgym_rubric(store: InstanceStore, weights: Mapping[str, float] | None = None, parser=None):
    """A ``vf.Rubric`` of the three rewards (``weights``) and the logged rates (weight 0)."""
    import verifiers as vf

    weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
    unknown = set(weights) - set(SCORE_NAMES)
    if unknown:
        raise ValueError(f"weights are for {list(SCORE_NAMES)}, got {sorted(unknown)}")

    def scores(completion, info, state) -> dict:
        if isinstance(state, dict) and STATE_KEY in state:
            return state[STATE_KEY]
        data = json.loads(info) if isinstance(info, str) else dict(info)
        result = store.score(InstanceKey.from_mapping(data), completion_text(completion))
        if isinstance(state, dict):
            state[STATE_KEY] = result
        return result

    def format_reward(completion, info, state, **_) -> float:
        return float(scores(completion, info, state)["format"])

    def feasibility_reward(completion, info, state, **_) -> float:
        return float(scores(completion, info, state)["feasibility"])

    def optimality_reward(completion, info, state, **_) -> float:
        return float(scores(completion, info, state)["optimality"])

    def constraint_rate(completion, info, state, **_) -> float:
        return float(scores(completion, info, state)["constraint_rate"])

    def feasible(completion, info, state, **_) -> float:
        return float(scores(completion, info, state)["feasible"])

    funcs = [format_reward, feasibility_reward, optimality_reward, constraint_rate, feasible]
    w = [float(weights.get(n, 0.0)) for n in SCORE_NAMES] + [0.0] * len(LOGGED)
    return vf.Rubric(funcs=funcs, weights=w, parser=parser)


def load_environment(env_id: str = "feasgym/ACOPF-case5-v0", *, split: str = "train", n: int = 64, seed: int = 0,
                     eval_split: str = "test", eval_n: int = 16, eval_seed: int | None = None,
                     env_kwargs: Mapping[str, Any] | None = None, weights: Mapping[str, float] | None = None,
                     system_prompt: str | None = None, dataset=None, eval_dataset=None, progress: bool = False,
                     **kwargs: Any):
    """A verifiers ``SingleTurnEnv`` over instances of ``env_id`` (``dataset``/``eval_dataset``: exported
    rows to use instead of exporting ``n``/``eval_n`` here; other ``kwargs`` go to ``SingleTurnEnv``)."""
    import verifiers as vf

    from feasgym.datasets import export_dataset

    env_kwargs = dict(env_kwargs or {})
    if dataset is None:
        dataset = export_dataset(env_id, split=split, n=n, seed=seed, env_kwargs=env_kwargs, progress=progress)
    if eval_dataset is None and eval_n:
        eval_dataset = export_dataset(env_id, split=eval_split, n=eval_n, seed=seed if eval_seed is None else eval_seed,
                                      env_kwargs=env_kwargs, progress=progress)
    store = InstanceStore({env_id: env_kwargs}, lazy=False)
    for rows in (dataset, eval_dataset):
        if rows is not None:  # loads every instance and checks its prompt hash now
            store.preload((InstanceKey.from_mapping(r) for r in rows), progress=progress)
    return vf.SingleTurnEnv(dataset=verifiers_rows(dataset),
                            eval_dataset=None if eval_dataset is None else verifiers_rows(eval_dataset),
                            system_prompt=system_prompt, rubric=feasgym_rubric(store, weights),
                            env_id=env_id, **kwargs)
