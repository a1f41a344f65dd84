"""Baseline agents that read the env instead of the prompt: they calibrate the scores.

- ``oracle``: the env's reference solution (must score format 1, feasible 1);
- ``looks-right``: the unperturbed case's optimum, perfectly formatted but not re-solved
  for this instance (format 1, feasibility low: the format-vs-feasibility gap);
- ``random``: random well-typed values inside each field's range.
"""
from __future__ import annotations

import time
from abc import abstractmethod
from typing import Callable, Sequence

import numpy as np

from feasgym.envs.core.text_env import SPLITS

from .protocol import Agent, AnswerReply, AnswerRequest


class EnvReadingAgent(Agent):
    """An agent whose answer is a function of the request's env; errors are caught per request."""

    batch_size = 64

    def __init__(self, name: str):
        self.name = name

    @abstractmethod
    def _answer(self, request: AnswerRequest) -> str:
        """The answer text for the request's env (may raise; the error is recorded)."""

    def act(self, requests: Sequence[AnswerRequest]) -> list[AnswerReply]:
        replies = []
        for request in requests:
            start = time.perf_counter()
            if request.env is None:
                replies.append(AnswerReply("", error=f"{self.name} needs the env of each request (request.env is None)"))
                continue
            try:
                text = self._answer(request)
            except Exception as exc:  # an env without this baseline answers nothing, recorded
                replies.append(AnswerReply("", error=f"{type(exc).__name__}: {exc}",
                                           latency_s=time.perf_counter() - start))
                continue
            replies.append(AnswerReply(text, latency_s=time.perf_counter() - start))
        return replies


class OracleAgent(EnvReadingAgent):
    """The env's reference answer at the prompt's decimals."""

    def __init__(self, name: str = "oracle"):
        super().__init__(name)

    @property
    def config(self) -> dict:
        return {"kind": "oracle"}

    def _answer(self, request: AnswerRequest) -> str:
        return request.env.unwrapped.reference_answer()


class LooksRightAgent(EnvReadingAgent):
    """The nominal case's optimum reused on the perturbed instance: formatted, plausible, unsolved."""

    def __init__(self, name: str = "looks-right"):
        super().__init__(name)

    @property
    def config(self) -> dict:
        return {"kind": "looks-right"}

    def _answer(self, request: AnswerRequest) -> str:
        return request.env.unwrapped.nominal_answer()


class RandomAgent(EnvReadingAgent):
    """Uniform random values in each field's range.

    The generator of each answer is derived from (agent seed, instance stream seed, split,
    instance index), so an answer does not depend on batch order and a resumed run
    reproduces the same answers.
    """

    def __init__(self, name: str = "random", seed: int = 0):
        super().__init__(name)
        self.seed = int(seed)

    @property
    def config(self) -> dict:
        return {"kind": "random", "seed": self.seed}

    def _answer(self, request: AnswerRequest) -> str:
        env = request.env.unwrapped
        key = env.instance_key
        entropy = [self.seed, int(key.get("seed", 0)) & 0xFFFFFFFF]
        spawn = (SPLITS.get(key.get("split"), 0), int(key.get("instance", 0)))
        rng = np.random.default_rng(np.random.SeedSequence(entropy=entropy, spawn_key=spawn))
        return env.random_answer(rng)


BASELINES: dict[str, Callable[..., Agent]] = {
    "oracle": OracleAgent,
    "looks-right": LooksRightAgent,
    "random": RandomAgent,
}
