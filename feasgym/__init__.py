"""feasgym: does a language model *solve* a constrained optimization problem, or only look like it?

``import feasgym`` registers the envs (``gym.make("feasgym/ACOPF-case14-v0")``) and stays light:
ML dependencies are imported only by ``feasgym.agents``.
"""
from __future__ import annotations

from feasgym.envs import ENV_IDS, __version__  # noqa: F401  (registers the envs)

__all__ = ["ENV_IDS", "__version__"]
