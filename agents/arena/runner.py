"""``run_arena``: every agent answers the same instances of every env; results, summary, report, plots.

Paired design: instance k of env E is ``reset(seed=seed, options={"instance": k})`` for
every agent, and every answer is scored by ``env.unwrapped.score`` (the env's own
scorer, nothing recomputed). Episodes are appended to ``episodes.jsonl`` as they finish;
rerunning with the same ``out_dir`` skips finished (env, agent, instance) rows.

With ``tools=("power_flow", "check")`` every agent that can use tools (``agent.uses_tools``)
also plays tool-using episodes of the same instances, under the name ``NAME+tools`` (see
:mod:`.tool_episodes`), so "with vs without tools" is a paired comparison in each env section.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import gymnasium as gym

from ..protocol import Agent, AnswerReply, AnswerRequest, error_replies
from ..registry import make_agent
from .records import EpisodeStore, episode_record
from .summary import env_summary
from .tool_episodes import play_tool_episodes

TOOLS_SUFFIX = "+tools"

# settings that do not change an agent's answers, so a resumed run may differ in them
RESUME_FREE_KEYS = {"batch_size", "device", "concurrency"}


@dataclass
class EnvSpec:
    """An env section: its label in the summary, the Gymnasium id and extra ``gym.make`` kwargs."""

    label: str
    env_id: str
    kwargs: dict = field(default_factory=dict)


def as_env_specs(env_ids: Iterable, env_kwargs: Mapping[str, dict] | None = None) -> list[EnvSpec]:
    """Plain ids (kwargs from ``env_kwargs[id]``) or ``(label, env_id, kwargs)`` tuples; labels unique."""
    specs = []
    for item in env_ids:
        if isinstance(item, EnvSpec):
            specs.append(item)
        elif isinstance(item, str):
            specs.append(EnvSpec(item, item, dict((env_kwargs or {}).get(item) or {})))
        elif isinstance(item, (tuple, list)) and len(item) == 3:
            specs.append(EnvSpec(str(item[0]), str(item[1]), dict(item[2] or {})))
        else:
            raise ValueError(f"env spec must be an id or a (label, env_id, kwargs) tuple, got {item!r}")
    labels = [s.label for s in specs]
    if not specs or len(set(labels)) != len(labels):
        raise ValueError(f"need at least one env and unique labels, got {labels}")
    return specs


class ArenaRun:
    """One arena run over env sections x agents x instances (see :func:`run_arena`)."""

    def __init__(self, envs: list[EnvSpec], agents: dict[str, Agent], *, episodes: int, seed: int, split: str,
                 out_dir: Path, progress: bool, redo_errors: bool = False, tools: Sequence[str] | None = None,
                 max_tool_calls: int | None = None):
        if episodes < 1:
            raise ValueError("episodes must be >= 1")
        if not agents:
            raise ValueError("need at least one agent")
        self.envs, self.agents = envs, agents
        self.episodes, self.seed, self.split = int(episodes), int(seed), split
        self.out_dir = out_dir
        self.progress = progress
        self.redo_errors = bool(redo_errors)
        self.store = EpisodeStore(out_dir / "episodes.jsonl")
        self.reset_s = 0.0  # time spent loading instances (reference solves) in this session
        self.tools = tuple(tools or ())
        self.max_tool_calls = max_tool_calls
        if max_tool_calls is not None and not self.tools:
            raise ValueError("max_tool_calls needs tools")
        # players: (name, agent, with tools); tool players only for agents that can use tools
        self.players = [(name, agent, False) for name, agent in agents.items()]
        if self.tools:
            users = [(name + TOOLS_SUFFIX, agent, True) for name, agent in agents.items() if agent.uses_tools]
            if not users:
                raise ValueError(f"tools={list(self.tools)} but no agent uses tools (agents: {sorted(agents)}); "
                                 "tool users: hf:..., openai:..., tool-user")
            self.players += users

    def tool_kwargs(self) -> dict:
        kwargs = {"tools": list(self.tools)}
        if self.max_tool_calls is not None:
            kwargs["max_tool_calls"] = int(self.max_tool_calls)
        return kwargs

    def player_config(self, agent: Agent, with_tools: bool) -> dict:
        config = _plain(agent.config)
        return {**config, **self.tool_kwargs()} if with_tools else config

    # ---- run metadata and resume checks ------------------------------------------------
    def _metadata(self) -> dict:
        return {"seed": self.seed, "split": self.split,
                "envs": {s.label: {"env_id": s.env_id, "kwargs": _plain(s.kwargs)} for s in self.envs},
                "agents": {name: self.player_config(agent, t) for name, agent, t in self.players}}

    def check_and_write_metadata(self) -> None:
        """A resumed run must ask the same questions of the same agents, or its rows would not pair."""
        path = self.out_dir / "run.json"
        meta = self._metadata()
        if path.exists():
            old = json.loads(path.read_text(encoding="utf-8"))
            problems = [f"{k}: {old.get(k)!r} != {meta[k]!r}" for k in ("seed", "split") if old.get(k) != meta[k]]
            for label, env in meta["envs"].items():
                if label in old.get("envs", {}) and old["envs"][label] != env:
                    problems.append(f"env {label!r}: {old['envs'][label]} != {env}")
            for name, config in meta["agents"].items():
                before = old.get("agents", {}).get(name)
                if before is not None and _answer_config(before) != _answer_config(config):
                    problems.append(f"agent {name!r}: {before} != {config}")
            if problems:
                raise ValueError(f"{self.out_dir} holds a run with other settings (use a new out_dir): "
                                 + "; ".join(problems))
            meta = {**old, "envs": {**old.get("envs", {}), **meta["envs"]},
                    "agents": {**old.get("agents", {}), **meta["agents"]}}
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(meta, indent=2, default=repr), encoding="utf-8")

    # ---- the loop --------------------------------------------------------------------
    def run(self) -> dict:
        self.check_and_write_metadata()
        todo = {(s.label, name): [k for k in range(self.episodes) if not self._finished(s.label, name, k)]
                for s in self.envs for name, _, _ in self.players}
        total = len(self.envs) * len(self.players) * self.episodes
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=total - sum(map(len, todo.values())), disable=not self.progress,
                   desc="arena", unit="ep", dynamic_ncols=True)
        try:
            for spec in self.envs:
                pools: dict[bool, list[gym.Env]] = {False: [], True: []}
                try:
                    for name, agent, with_tools in self.players:
                        instances = todo[(spec.label, name)]
                        bar.set_postfix_str(f"{spec.label} / {name}")
                        pool = pools[with_tools]
                        for start in range(0, len(instances), max(1, int(agent.batch_size))):
                            chunk = instances[start:start + max(1, int(agent.batch_size))]
                            while len(pool) < len(chunk):
                                pool.append(self._make_env(spec, with_tools))
                            if with_tools:
                                self._run_tool_chunk(spec, name, agent, chunk, pool)
                            else:
                                self._run_chunk(spec, name, agent, chunk, pool)
                            bar.update(len(chunk))
                finally:
                    for env in pools[False] + pools[True]:
                        env.close()
        finally:
            bar.close()
        return self.summarize()

    def _finished(self, label: str, agent: str, k: int) -> bool:
        record = self.store.records.get((label, agent, k))
        return record is not None and not (self.redo_errors and record["error"] is not None)

    def _make_env(self, spec: EnvSpec, with_tools: bool = False) -> gym.Env:
        kwargs = self.env_kwargs(spec)
        if with_tools:
            kwargs.update(self.tool_kwargs())
        return gym.make(spec.env_id, **kwargs)

    def env_kwargs(self, spec: EnvSpec) -> dict:
        """``gym.make`` kwargs: the run's split, unless the section or the registered id sets one (OOD ids do)."""
        kwargs = dict(spec.kwargs)
        if "split" not in kwargs and "split" not in (gym.spec(spec.env_id).kwargs or {}):
            kwargs["split"] = self.split
        return kwargs

    def _run_chunk(self, spec: EnvSpec, name: str, agent: Agent, chunk: Sequence[int], pool: list[gym.Env]) -> None:
        requests, keys = [], []
        start = time.perf_counter()
        for env, k in zip(pool, chunk):
            prompt, key = env.reset(seed=self.seed, options={"instance": k})
            requests.append(AnswerRequest(prompt=prompt, env=env))
            keys.append(key)
        self.reset_s += time.perf_counter() - start
        start = time.perf_counter()
        try:
            replies = list(agent.act(requests))
            if len(replies) != len(requests) or not all(isinstance(r, AnswerReply) for r in replies):
                replies = error_replies(len(requests), f"agent returned {len(replies)} replies for "
                                                       f"{len(requests)} requests (or non-AnswerReply items)")
        except Exception as exc:  # an agent crash costs this batch its answers, never the run
            replies = error_replies(len(requests), f"agent raised {type(exc).__name__}: {exc}")
        generation_s = (time.perf_counter() - start) / len(requests)
        for env, key, reply in zip(pool, keys, replies):
            start = time.perf_counter()
            result = env.unwrapped.score(reply.text)
            scoring_s = time.perf_counter() - start
            self.store.append(episode_record(env_label=spec.label, env_id=spec.env_id, agent=name, key=key,
                                             reply=reply, result=result, generation_s=generation_s,
                                             scoring_s=scoring_s))

    def _run_tool_chunk(self, spec: EnvSpec, name: str, agent: Agent, chunk: Sequence[int],
                        pool: list[gym.Env]) -> None:
        start = time.perf_counter()
        envs, prompts, keys = pool[:len(chunk)], [], []
        for env, k in zip(envs, chunk):
            prompt, key = env.reset(seed=self.seed, options={"instance": k})
            prompts.append(prompt)
            keys.append(key)
        self.reset_s += time.perf_counter() - start
        for key, episode in zip(keys, play_tool_episodes(agent, envs, prompts)):
            reply = episode.reply
            reply = AnswerReply(reply.text, error="; ".join(episode.errors) or None,
                                prompt_tokens=episode.prompt_tokens, completion_tokens=episode.completion_tokens,
                                latency_s=reply.latency_s, truncated_prompt=reply.truncated_prompt,
                                finish_reason=reply.finish_reason, extra=reply.extra)
            self.store.append(episode_record(env_label=spec.label, env_id=spec.env_id, agent=name, key=key,
                                             reply=reply, result=episode.info, generation_s=episode.generation_s,
                                             scoring_s=0.0, tool_episode=episode))

    # ---- outputs -----------------------------------------------------------------------
    def summarize(self) -> dict:
        """Summary of this run's envs x agents x instances from the store; writes summary, report, plots."""
        from .plots import write_plots
        from .report import write_report

        instances = range(self.episodes)
        envs: dict[str, dict] = {}
        generation_s = scoring_s = 0.0
        for spec in self.envs:
            by_agent = {name: list(self.store.select(spec.label, name, instances)) for name, _, _ in self.players}
            envs[spec.label] = env_summary(by_agent, spec.env_id)
            envs[spec.label]["split"] = self.env_kwargs(spec).get("split") or gym.spec(spec.env_id).kwargs["split"]
            for records in by_agent.values():
                generation_s += sum(r["generation_s"] for r in records)
                scoring_s += sum(r["scoring_s"] for r in records)
        summary = {
            "episodes": self.episodes, "seed": self.seed, "split": self.split,
            "agents": {name: self.player_config(agent, t) for name, agent, t in self.players},
            "tools": self.tool_kwargs() if self.tools else None,
            "envs": envs,
            "timing": {"generation_s": generation_s, "scoring_s": scoring_s,
                       "reset_s_this_session": self.reset_s},
        }
        self.out_dir.mkdir(parents=True, exist_ok=True)
        summary["plots"] = write_plots(summary, self.out_dir)
        (self.out_dir / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
        write_report(summary, self.out_dir / "report.md")
        return summary


def _plain(value: Any) -> Any:
    """JSON round trip (unknown objects by repr), so configs compare as stored."""
    return json.loads(json.dumps(value, default=repr))


def _answer_config(config: dict) -> dict:
    return {k: v for k, v in config.items() if k not in RESUME_FREE_KEYS}


def run_arena(env_ids: Sequence, agents: Mapping[str, Agent | str], *, episodes: int = 50, seed: int = 0,
              out_dir: str | os.PathLike = "runs/arena", split: str = "test",
              env_kwargs: Mapping[str, dict] | None = None, progress: bool = True,
              redo_errors: bool = False, tools: Sequence[str] | None = None,
              max_tool_calls: int | None = None) -> dict:
    """Run (or resume) a head-to-head comparison and return its summary.

    ``env_ids``: ids or ``(label, env_id, kwargs)`` tuples (e.g. an OOD variant under its own
    label). ``agents``: name -> :class:`Agent` or spec string for :func:`make_agent`.
    Writes ``episodes.jsonl``, ``run.json``, ``summary.json``, ``report.md`` and PNG plots
    to ``out_dir``. Finished episodes found there are kept; with ``redo_errors`` the ones whose
    agent reported an error (e.g. an API outage) are asked again and their rows replaced.
    ``tools`` (e.g. ``("power_flow", "check")``, with ``max_tool_calls``): tool-using agents
    also play every instance with those tools, as ``NAME+tools``.
    """
    import feasgym  # noqa: F401  (registers the env ids)

    specs = as_env_specs(env_ids, env_kwargs)
    built = {str(name): make_agent(agent) for name, agent in agents.items()}
    try:
        return ArenaRun(specs, built, episodes=episodes, seed=seed, split=split, out_dir=Path(out_dir),
                        progress=progress, redo_errors=redo_errors, tools=tools,
                        max_tool_calls=max_tool_calls).run()
    finally:
        for name, agent in built.items():
            if isinstance(agents[name], str):  # built here, so released here
                agent.close()
