"""Every env id and its constructor, registered with Gymnasium in one place."""
from __future__ import annotations

import gymnasium as gym

GRID_CASES = ("case5", "case14", "case30", "case57", "case118")

# id -> (entry point, default kwargs, one-line description for the README)
ENV_SPECS: dict[str, tuple[str, dict, str]] = {}

for _case in GRID_CASES:
    ENV_SPECS[f"feasgym/ACOPF-{_case}-v0"] = (
        "feasgym.envs.grids.acopf:ACOPFEnv",
        {"case": _case},
        f"AC-OPF on PGLib {_case}, full state answer, perturbed loads",
    )

ENV_IDS = tuple(ENV_SPECS)


def register_envs() -> None:
    """Register all ids (idempotent, so re-imports and reloads are harmless)."""
    for env_id, (entry_point, kwargs, _) in ENV_SPECS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point, kwargs=dict(kwargs), max_episode_steps=None)
