"""feasgym.envs: optimization problems as text Gymnasium envs (no ML dependencies here).

Importing this package registers every env id with Gymnasium.
"""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:  # one version, pyproject's: the installed distribution's metadata
    __version__ = version("feasgym")
except PackageNotFoundError:  # pragma: no cover - run from a source tree that was never installed
    __version__ = "0+unknown"

from .registry import ENV_IDS, register_envs  # noqa: E402

register_envs()

__all__ = ["ENV_IDS", "register_envs", "__version__"]
