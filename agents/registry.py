"""``make_agent(spec, **kwargs)``: one string names any agent, for the CLI and for Python.

Specs: ``oracle``, ``looks-right``, ``random``, ``tool-user`` (the scripted tool user), ``hf:PATH_OR_HUB_NAME``,
``openai:MODEL`` or ``openai:MODEL@BASE_URL``. An :class:`Agent` passes through.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

from .baselines import BASELINES
from .protocol import Agent

PREFIXES = ("hf", "openai")


def _hf(target: str, **kwargs: Any) -> Agent:
    from .hf import HFAgent

    return HFAgent(target, **kwargs)


def _openai(target: str, **kwargs: Any) -> Agent:
    from .openai_compat import OpenAIAgent

    model, base_url = split_openai_target(target)
    if base_url is not None:
        kwargs.setdefault("base_url", base_url)
    return OpenAIAgent(model, **kwargs)


def split_openai_target(target: str) -> tuple[str, str | None]:
    """``MODEL@http://host/v1`` -> (MODEL, URL); the last ``@http`` splits, so model names may hold '@'."""
    at = max(target.rfind("@http://"), target.rfind("@https://"))
    if at < 0:
        return target, None
    return target[:at], target[at + 1:]


def agent_class(spec: str) -> Callable[..., Agent]:
    """The class a spec builds (used to know which keyword arguments it accepts)."""
    if spec in BASELINES:
        return BASELINES[spec]
    kind = spec.partition(":")[0]
    if kind == "hf":
        from .hf import HFAgent

        return HFAgent
    if kind == "openai":
        from .openai_compat import OpenAIAgent

        return OpenAIAgent
    raise ValueError(f"unknown agent spec {spec!r}: use one of {sorted(BASELINES)}, "
                     "'hf:PATH_OR_HUB_NAME' or 'openai:MODEL[@BASE_URL]'")


def accepted_kwargs(spec: str) -> set[str]:
    """Keyword arguments the spec's agent accepts."""
    params = inspect.signature(agent_class(spec).__init__).parameters
    return {n for n, p in params.items() if p.kind is p.KEYWORD_ONLY or (n != "self" and p.default is not p.empty)}


def make_agent(spec: str | Agent, **kwargs: Any) -> Agent:
    """Build the agent a spec names; unknown keyword arguments are an error, not ignored."""
    if isinstance(spec, Agent):
        if kwargs:
            raise TypeError("keyword arguments are for building an agent from a spec, not for an Agent instance")
        return spec
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"agent spec must be a non-empty string or an Agent, got {spec!r}")
    unknown = set(kwargs) - accepted_kwargs(spec)
    if unknown:
        raise TypeError(f"agent {spec!r} does not take {sorted(unknown)}; it takes {sorted(accepted_kwargs(spec))}")
    if spec in BASELINES:
        return BASELINES[spec](**kwargs)
    kind, _, target = spec.partition(":")
    if not target:
        raise ValueError(f"agent spec {spec!r} names no model after '{kind}:'")
    return _hf(target, **kwargs) if kind == "hf" else _openai(target, **kwargs)
