"""Env scores as TRL reward functions: ``f(prompts, completions, **dataset_columns) -> list[float | None]``.

Each completion is scored against the instance its dataset row names (columns ``env_id``,
``seed``, ``split``, ``instance``; see :func:`instance_columns`), exactly as
``env.unwrapped.score`` would. A row of another env id gets ``None`` (TRL skips it). When the
row also carries ``prompt_hash`` (exported datasets do), the rebuilt prompt must hash the same,
so a dataset exported with other env kwargs or another feasgym version fails loudly instead of
being scored against the wrong instance.

Use with TRL::

    rewards = trl_reward_functions("feasgym/ACOPF-case5-v0")
    GRPOConfig(..., reward_weights=[0.1, 1.0, 0.3], multi_objective_aggregation="normalize_then_sum")
    GRPOTrainer(model=..., reward_funcs=rewards, args=config, train_dataset=dataset)

``reward_weights`` follows the order format, feasibility, optimality.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any, Callable

import gymnasium as gym

from .core.answer import coerce_text
from .core.weighting import CHECK_COLUMN, INSTANCE_COLUMNS, REWARD_NAMES, feasibility_value, optimality_value

__all__ = ["CHECK_COLUMN", "INSTANCE_COLUMNS", "REWARD_NAMES", "EnvScorer", "completion_text", "feasibility_value",
           "instance_columns", "optimality_value", "trl_reward_functions"]


def completion_text(completion: Any) -> str:
    """The answer text of a completion, never raising.

    A string (or bytes) is the answer. A chat completion (a list of messages, or one message) is
    answered by its last message whose ``role`` is ``"assistant"``: a trailing user, tool or system
    message is not the model's answer, and with no assistant message the answer is empty (format
    0, feasibility 0, optimality 0). A message's ``content`` is a string, or a list of parts whose
    text parts (strings, or ``{"type": "text", "text": str}``) are joined; any other content or
    part (``None``, a number, an image) holds no text.
    """
    try:
        if isinstance(completion, (str, bytes, bytearray)):
            return coerce_text(completion)
        if isinstance(completion, dict):
            completion = [completion]
        if isinstance(completion, (list, tuple)):
            for message in reversed(completion):
                if _role(message) == "assistant":
                    return _content_text(message)
            return ""
        return coerce_text(completion)
    except Exception:  # an object whose attributes or comparisons fail is no answer, not a crash
        return ""


def _role(message: Any) -> Any:
    return message.get("role") if isinstance(message, dict) else getattr(message, "role", None)


def _content_text(message: Any) -> str:
    content = message.get("content") if isinstance(message, dict) else getattr(message, "content", None)
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and part.get("type", "text") == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
        return "".join(texts)
    return ""


def instance_columns(env: gym.Env) -> dict:
    """The dataset columns that address the env's current instance (plus its ``prompt_hash``)."""
    key = env.unwrapped.instance_key
    return {"env_id": env.spec.id if env.spec else "", "seed": key["seed"], "split": key["split"],
            "instance": key["instance"], CHECK_COLUMN: key["prompt_hash"]}


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

    def score(self, seed: int, split: str, instance: int, answer: str, prompt_hash: str | None = None) -> dict:
        """``env.unwrapped.score(answer)`` on instance ``instance`` of the ``split`` stream seeded by ``seed``."""
        address = (int(seed), str(split), int(instance))
        key = address + (hashlib.sha1(answer.encode("utf-8", "replace")).hexdigest(),)
        env = self._env(address[1])
        if self._current.get(address[1]) != address:
            env.reset(seed=address[0], options={"instance": address[2]})
            self._current[address[1]] = address
        if prompt_hash is not None and prompt_hash != env.unwrapped.instance_key[CHECK_COLUMN]:
            raise ValueError(
                f"{self.env_id} seed={address[0]} split={address[1]} instance={address[2]}: the dataset row's "
                f"prompt_hash {prompt_hash} differs from the rebuilt prompt's "
                f"{env.unwrapped.instance_key[CHECK_COLUMN]}; build the reward functions with the env kwargs "
                "(and feasgym version) the dataset was exported with"
            )
        hit = self._memory.get(key)
        if hit is not None:
            self._memory.move_to_end(key)
            return hit
        result = env.unwrapped.score(answer)
        self._memory[key] = result
        if len(self._memory) > self._size:
            self._memory.popitem(last=False)
        return result

    @property
    def optimality_scale(self) -> float:
        return self._env("train").unwrapped.optimality_scale

    def _env(self, split: str) -> gym.Env:
        if split not in self._envs:
            self._envs[split] = gym.make(self.env_id, split=split, **self.env_kwargs)
        return self._envs[split]


def trl_reward_functions(env_id: str, *, optimality_scale: float | None = None, **env_kwargs) -> list[Callable]:
    """``[format_reward, feasibility_reward, optimality_reward]`` for one env id.

    ``env_kwargs`` go to ``gym.make`` and must match those the dataset was built with.

    - ``format_reward``: the format score in [0, 1].
    - ``feasibility_reward``: 1.0 if every constraint holds, else the constraint-satisfaction
      rate times 0.5, so a fully feasible answer always beats any infeasible one.
    - ``optimality_reward``: 1 at or below the reference cost, falling to 0 at the env's
      ``optimality_scale`` relative gap (default 5%); 0 when infeasible.
    """
    import feasgym.envs  # noqa: F401  (registers the ids)

    if optimality_scale is not None:
        env_kwargs["optimality_scale"] = float(optimality_scale)
    scorer = EnvScorer(env_id, env_kwargs)

    def _scores(completions, columns) -> list[dict | None]:
        n = len(completions)
        env_ids = columns.get("env_id")
        env_ids = [env_id] * n if env_ids is None else env_ids
        missing = [c for c in INSTANCE_COLUMNS[1:] if c not in columns]
        if missing:
            raise ValueError(
                f"feasgym reward functions need the dataset columns {list(INSTANCE_COLUMNS)} (from "
                f"feasgym.datasets.export_dataset or instance_columns(env)); missing: {missing}"
            )
        hashes = columns.get(CHECK_COLUMN)
        hashes = [None] * n if hashes is None else hashes
        out = []
        for i, completion in enumerate(completions):
            if env_ids[i] != env_id:
                out.append(None)
                continue
            out.append(scorer.score(columns["seed"][i], columns["split"][i], columns["instance"][i],
                                    completion_text(completion), hashes[i]))
        return out

    def format_reward(prompts=None, completions=(), **columns) -> list[float | None]:
        return [None if s is None else float(s["format"]["score"]) for s in _scores(completions, columns)]

    def feasibility_reward(prompts=None, completions=(), **columns) -> list[float | None]:
        return [None if s is None else feasibility_value(s) for s in _scores(completions, columns)]

    def optimality_reward(prompts=None, completions=(), **columns) -> list[float | None]:
        return [None if s is None else optimality_value(s, scorer.optimality_scale) for s in _scores(completions, columns)]

    format_reward.scorer = feasibility_reward.scorer = optimality_reward.scorer = scorer
    return [format_reward, feasibility_reward, optimality_reward]

