"""Env scores as TRL reward functions: ``f(prompts, completions, **dataset_columns) -> list[float | None]``.

Each completion is scored against the instance its dataset row names (columns ``env_id``,
``seed``, ``split``, ``instance``; see :func:`instance_columns`), exactly as
``env.unwrapped.score`` would. A row of another env id gets ``None`` (TRL skips it).

Use with TRL::

    rewards = trl_reward_functions("feasgym/ACOPF-case5-v0")
    GRPOConfig(..., reward_weights=[0.0, 1.0, 0.0], multi_objective_aggregation="normalize_then_sum")
    GRPOTrainer(model=..., reward_funcs=rewards, args=config, train_dataset=dataset)

``reward_weights`` follows the order format, feasibility, optimality.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any, Callable

import gymnasium as gym

from .core.weighting import optimality_credit

INSTANCE_COLUMNS = ("env_id", "seed", "split", "instance")
REWARD_NAMES = ("format_reward", "feasibility_reward", "optimality_reward")


def completion_text(completion: Any) -> str:
    """The answer text of a completion: a string, or the last message's content in a chat list."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, (list, tuple)) and completion:
        last = completion[-1]
        if isinstance(last, dict):
            content = last.get("content", "")
            if isinstance(content, list):  # multimodal-style content parts
                return "".join(p.get("text", "") for p in content if isinstance(p, dict))
            return content if isinstance(content, str) else str(content)
        return str(last)
    if isinstance(completion, dict):
        return str(completion.get("content", ""))
    return "" if completion is None else str(completion)


def instance_columns(env: gym.Env) -> dict:
    """The dataset columns that address the env's current instance."""
    key = env.unwrapped.instance_key
    return {"env_id": env.spec.id if env.spec else "", "seed": key["seed"], "split": key["split"],
            "instance": key["instance"]}


class EnvScorer:
    """Scores (instance, answer) pairs with one env per split, remembering recent results.

    The three reward functions of one batch share this scorer, so each completion is
    parsed and checked once, not three times.
    """

    def __init__(self, env_id: str, env_kwargs: dict | None = None, memory: int = 4096):
        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs or {})
        self._envs: dict[str, gym.Env] = {}
        self._current: dict[str, tuple] = {}
        self._memory: OrderedDict = OrderedDict()
        self._size = memory

    def score(self, seed: int, split: str, instance: int, answer: str) -> dict:
        key = (int(seed), str(split), int(instance), hashlib.sha1(answer.encode("utf-8", "replace")).hexdigest())
        hit = self._memory.get(key)
        if hit is not None:
            self._memory.move_to_end(key)
            return hit
        env = self._env(str(split))
        if self._current.get(split) != key[:3]:
            env.reset(seed=key[0], options={"instance": key[2]})
            self._current[split] = key[:3]
        result = env.unwrapped.score(answer)
        self._memory[key] = result
        if len(self._memory) > self._size:
            self._memory.popitem(last=False)
        return result

    def _env(self, split: str) -> gym.Env:
        if split not in self._envs:
            self._envs[split] = gym.make(self.env_id, split=split, **self.env_kwargs)
        return self._envs[split]


def trl_reward_functions(env_id: str, *, optimality_scale: float | None = None, **env_kwargs) -> list[Callable]:
    """``[format_reward, feasibility_reward, optimality_reward]`` for one env id.

    - ``format_reward``: the format score in [0, 1].
    - ``feasibility_reward``: 1.0 if every constraint holds, else the constraint-satisfaction
      rate times 0.5, so a fully feasible answer always beats any infeasible one.
    - ``optimality_reward``: 1 at or below the reference cost, falling to 0 at the env's
      optimality scale (5% gap); 0 when infeasible.
    """
    import feasgym.envs  # noqa: F401  (registers the ids)

    scorer = EnvScorer(env_id, env_kwargs)
    scale = optimality_scale

    def _scores(completions, columns) -> list[dict | None]:
        n = len(completions)
        env_ids = columns.get("env_id", [env_id] * n)
        out = []
        for i, completion in enumerate(completions):
            if env_ids[i] != env_id:
                out.append(None)
                continue
            out.append(scorer.score(columns["seed"][i], columns["split"][i], columns["instance"][i],
                                    completion_text(completion)))
        return out

    def format_reward(prompts=None, completions=(), **columns) -> list[float | None]:
        return [None if s is None else float(s["format"]["score"]) for s in _scores(completions, columns)]

    def feasibility_reward(prompts=None, completions=(), **columns) -> list[float | None]:
        return [None if s is None else feasibility_value(s) for s in _scores(completions, columns)]

    def optimality_reward(prompts=None, completions=(), **columns) -> list[float | None]:
        out = []
        for s in _scores(completions, columns):
            if s is None:
                out.append(None)
            else:
                kwargs = {} if scale is None else {"scale": scale}
                out.append(optimality_credit(s["optimality"]["gap"], **kwargs) if s["feasibility"]["feasible"] else 0.0)
        return out

    format_reward.scorer = feasibility_reward.scorer = optimality_reward.scorer = scorer
    return [format_reward, feasibility_reward, optimality_reward]


def feasibility_value(score: dict) -> float:
    """1 for a feasible answer, else half the constraint-satisfaction rate (< 0.5)."""
    feas = score["feasibility"]
    return 1.0 if feas["feasible"] else 0.5 * float(feas["score"])
