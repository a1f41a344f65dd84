"""Play tool-using episodes: a batch of envs, one agent, turns until every episode has its final answer.

Each turn hands the agent every unfinished conversation at once (batched like single-turn
questions), steps each env with its reply, and appends the assistant turn and the tool
results (OpenAI chat format: ``tool_calls`` on the assistant message, one ``tool`` message
per call). The env bounds the loop: every tool turn uses at least one call of its budget,
and a reply past the budget is scored as the final answer. The final step's ``info`` is the
env's own score of the answer, as in a single-turn episode.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

import gymnasium as gym

from feasgym.envs.tools.calls import parse_action

from ..protocol import Agent, AnswerReply, AnswerRequest, error_replies


@dataclass
class ToolEpisode:
    """One finished episode: the final step's info, the final reply, the conversation after the prompt, totals."""

    info: dict
    reply: AnswerReply
    messages: list[dict]
    turns: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    generation_s: float = 0.0
    errors: list[str] = field(default_factory=list)


def reply_action(reply: AnswerReply):
    """What the env is stepped with: the reply's text when its tool calls are in it (the env parses them
    itself, as training does), the structured message when they came apart from the text (OpenAI API)."""
    if reply.tool_calls and not parse_action(reply.text).is_tool_call:
        return {"role": "assistant", "content": reply.text, "tool_calls": reply.tool_calls}
    return reply.text


def play_tool_episodes(agent: Agent, envs: Sequence[gym.Env], prompts: Sequence[str],
                       max_turns: int = 1_000) -> list[ToolEpisode]:
    """Play one episode per (already reset) env to its end; never raises for an agent's failure."""
    n = len(envs)
    conversations = [[{"role": "user", "content": p}] for p in prompts]
    schemas = [env.unwrapped.tool_schemas for env in envs]
    done: list[ToolEpisode | None] = [None] * n
    turns, gen_s = [0] * n, [0.0] * n
    tokens: list[list] = [[None, None] for _ in range(n)]
    errors: list[list[str]] = [[] for _ in range(n)]
    active = list(range(n))
    while active:
        requests = [AnswerRequest(prompt=prompts[i], env=envs[i], messages=list(conversations[i]), tools=schemas[i])
                    for i in active]
        start = time.perf_counter()
        try:
            replies = list(agent.act(requests))
            if len(replies) != len(requests) or not all(isinstance(r, AnswerReply) for r in replies):
                replies = error_replies(len(requests), f"agent returned {len(replies)} replies for {len(requests)} requests")
        except Exception as exc:  # an agent crash ends these episodes with an empty answer, never the run
            replies = error_replies(len(requests), f"agent raised {type(exc).__name__}: {exc}")
        share = (time.perf_counter() - start) / len(requests)
        still = []
        for i, reply in zip(active, replies):
            turns[i] += 1
            gen_s[i] += share
            for slot, value in enumerate((reply.prompt_tokens, reply.completion_tokens)):
                if value is not None:
                    tokens[i][slot] = (tokens[i][slot] or 0) + value
            if reply.error:
                errors[i].append(reply.error)
            action = reply_action(reply)
            observation, _, terminated, truncated, info = envs[i].step(action)
            if "tool_results" in info:
                conversations[i].append(parse_action(action).assistant_message())
                conversations[i] += [{"role": "tool", "tool_call_id": r["id"], "name": r["name"], "content": r["content"]}
                                     for r in info["tool_results"]]
            elif not (terminated or truncated):  # multi-turn repair: the feedback is a user turn
                conversations[i] += [{"role": "assistant", "content": reply.text},
                                     {"role": "user", "content": observation}]
            if not (terminated or truncated) and turns[i] >= max_turns:  # a safety net: the env's budget ends it first
                info = {**info, **envs[i].unwrapped.score(parse_action(action).text)}
                truncated = True
            if terminated or truncated:
                conversations[i].append({"role": "assistant", "content": reply.text})
                done[i] = ToolEpisode(info, reply, conversations[i][1:], turns[i], tokens[i][0], tokens[i][1],
                                      gen_s[i], errors[i])
            else:
                still.append(i)
        active = still
    return done  # type: ignore[return-value]

