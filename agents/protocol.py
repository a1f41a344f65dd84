"""The agent protocol: a batch of prompts (with their envs) in, a batch of replies out.

Batched by default (one-at-a-time is a batch of one). Every reply carries its own error,
so one failed request never loses the others' answers.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Sequence

import gymnasium as gym


@dataclass
class AnswerRequest:
    """One question: the prompt, and the env already reset to its instance (baselines read it).

    In a tool-using episode ``messages`` is the conversation so far (OpenAI chat format, the
    prompt first, then assistant turns with ``tool_calls`` and ``tool`` results) and ``tools``
    the OpenAI function schemas the agent may call; both are None in a single-turn question.
    """

    prompt: str
    env: gym.Env | None = None
    messages: list[dict] | None = None
    tools: list[dict] | None = None


@dataclass
class AnswerReply:
    """One answer. ``error`` is set (and ``text`` usually empty) when the agent could not answer.

    ``truncated_prompt`` says the agent cut the prompt to fit its context; the arena
    reports it per episode. Token counts and latency are None where unknown.
    """

    text: str
    error: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float | None = None
    truncated_prompt: bool = False
    finish_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    tool_calls: list[dict] | None = None  # OpenAI format; None when the reply calls no tool


class Agent(ABC):
    """Maps a batch of requests to a batch of replies, in order.

    ``name`` identifies the agent in logs; ``config`` is a JSON-serializable description
    that the arena stores so a run can be reproduced and a resumed run checked.
    ``batch_size`` is how many requests the arena hands over at once; ``uses_tools`` says
    the agent can play tool-using episodes (the arena runs those only for such agents).
    """

    name: str = "agent"
    batch_size: int = 1
    uses_tools: bool = False  # reads ``AnswerRequest.tools`` and may reply with tool calls

    @property
    @abstractmethod
    def config(self) -> dict:
        """JSON-serializable settings that determine the answers."""

    @abstractmethod
    def act(self, requests: Sequence[AnswerRequest]) -> list[AnswerReply]:
        """One reply per request, same order. Failures go into ``AnswerReply.error``."""

    def close(self) -> None:
        """Release resources (HTTP clients, models); the default has none."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, config={self.config!r})"


def error_replies(n: int, message: str, latency_s: float | None = None) -> list[AnswerReply]:
    """``n`` empty replies that carry the same error (a whole batch failed)."""
    return [AnswerReply(text="", error=message, latency_s=latency_s) for _ in range(n)]
