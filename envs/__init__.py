"""feasgym.envs: optimization problems as text Gymnasium envs (no ML dependencies here).

Importing this package registers every env id with Gymnasium.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .registry import ENV_IDS, register_envs  # noqa: E402

register_envs()

__all__ = ["ENV_IDS", "register_envs", "__version__"]
