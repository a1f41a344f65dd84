"""feasgym.agents: who answers (models, baselines), training, and the arena.

``make_agent(spec)`` builds any agent; ``feasgym.agents.arena.run_arena`` compares them on
identical instances. Heavy dependencies (torch, transformers, trl) are imported lazily
inside submodules, so importing this package stays light.
"""
from .protocol import Agent, AnswerReply, AnswerRequest
from .registry import make_agent

__all__ = ["Agent", "AnswerReply", "AnswerRequest", "make_agent"]
