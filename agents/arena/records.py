"""Per-episode records and the append-only JSONL store that makes runs resumable.

A record holds everything needed to recompute the summary without the env: the
instance address, the prompt hash, the answer, every score component exactly as
``env.unwrapped.score`` returned it, violations by type, tokens, latency and timing.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

import numpy as np

from ..protocol import AnswerReply

TOP_VIOLATIONS = 5


def episode_record(*, env_label: str, env_id: str, agent: str, key: dict, reply: AnswerReply, result: dict,
                   generation_s: float, scoring_s: float, tool_episode=None) -> dict:
    """One JSON line: the instance, the reply and its scores (components copied, never recomputed).

    A tool-using episode (``tool_episode``: :class:`.tool_episodes.ToolEpisode`) adds its tool
    calls (total, per tool, malformed, cost), its number of turns and the conversation after the prompt.
    """
    fmt, feas, opt = result["format"], result["feasibility"], result["optimality"]
    checks = {c["name"]: c["passed"] for c in fmt["checks"]}
    calls = result.get("tool_calls") or {}
    return {
        "env": env_label,
        "env_id": env_id,
        "agent": agent,
        "instance": int(key["instance"]),
        "seed": key["seed"],
        "split": key["split"],
        "prompt_hash": key["prompt_hash"],
        "answer": reply.text,
        "error": reply.error,
        "answer_found": bool(checks.get("answer_found", False)),
        "format": float(fmt["score"]),
        "format_failed": [name for name, passed in checks.items() if not passed],
        "constraint_rate": float(feas["score"]),
        "feasible": bool(feas["feasible"]),
        "satisfied": int(feas["satisfied"]),
        "total": int(feas["total"]),
        "violations_by_type": {t: {"violated": int(e["violated"]), "total": int(e["total"]),
                                   "max_violation": float(e["max_violation"])} for t, e in feas["by_type"].items()},
        "top_violations": feas["violations"][:TOP_VIOLATIONS],
        "objective": opt["objective"],
        "reference_objective": opt["reference_objective"],
        "gap": opt["gap"],
        "reward": float(result["reward"]),
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "latency_s": reply.latency_s,
        "truncated_prompt": bool(reply.truncated_prompt),
        "finish_reason": reply.finish_reason,
        "reply_extra": reply.extra or {},
        "generation_s": float(generation_s),
        "scoring_s": float(scoring_s),
        "tools": tool_episode is not None,
        "tool_calls": int(calls.get("total", 0)),
        "tool_calls_by_tool": dict(calls.get("by_tool", {})),
        "tool_malformed": int(calls.get("malformed", 0)),
        "tool_cost": float(calls.get("cost", 0.0)),
        "turns": tool_episode.turns if tool_episode is not None else 1,
        "messages": tool_episode.messages if tool_episode is not None else None,
    }


def record_key(record: dict) -> tuple[str, str, int]:
    return record["env"], record["agent"], int(record["instance"])


class EpisodeStore:
    """Append-only JSONL of records. A line cut short by an interrupted write is dropped on open."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.records: dict[tuple[str, str, int], dict] = {}
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):  # interrupted mid-line: cut back to the last full line
            data = data[: data.rfind(b"\n") + 1]
            self.path.write_bytes(data)
        for line in data.decode("utf-8", errors="replace").splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                self.records[record_key(record)] = record
            except (ValueError, KeyError, TypeError):
                continue  # a line that is no record (damaged by hand or by a crash) is not resumed

    def append(self, record: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, separators=(",", ":"), default=_jsonable) + "\n")
            fh.flush()
        self.records[record_key(record)] = record

    def select(self, env_label: str, agent: str, instances: range) -> Iterator[dict]:
        for k in instances:
            record = self.records.get((env_label, agent, k))
            if record is not None:
                yield record


def _jsonable(value):
    """numpy scalars/arrays as JSON values; anything else by its repr (never fail a write)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return repr(value)
