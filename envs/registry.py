"""Collects every family's ids and registers them with Gymnasium (families declare their own).

Every subpackage of ``feasgym.envs`` is imported (its ``__init__`` declares its family with
:func:`~feasgym.envs.core.registration.register_family`), so a new family folder is found without
being listed here; each id's entry point is the one generic factory
:func:`~feasgym.envs.core.registration.make_env`.
"""
from __future__ import annotations

import importlib
import pkgutil

import gymnasium as gym

from .core.registration import ENTRY_POINT, FAMILIES

SHARED_PACKAGES = ("core", "tools")  # machinery, not families


def discover_families() -> None:
    """Import every family folder of this package (each registers itself on import)."""
    package = __name__.rpartition(".")[0]
    for module in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if module.ispkg and module.name not in SHARED_PACKAGES:
            importlib.import_module(f"{package}.{module.name}")


discover_families()

# id -> (entry point, kwargs, one-line description for the README)
ENV_SPECS: dict[str, tuple[str, dict, str]] = {
    env_id: (ENTRY_POINT, kwargs, text)
    for family in FAMILIES.values() for env_id, (kwargs, text) in family.env_specs().items()
}
ENV_IDS = tuple(ENV_SPECS)


def register_envs() -> None:
    """Register all ids (idempotent, so re-imports and reloads are harmless)."""
    for env_id, (entry_point, kwargs, _) in ENV_SPECS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point, kwargs=dict(kwargs), max_episode_steps=None)
