"""The study's names, in one place: its stages, its agents, its evaluation sets and the folder names made
from labels. The pipeline writes by these names and the report reads by them; neither imports the other.
"""
from __future__ import annotations

from .profiles import StudyProfile


def stage_names(profile: StudyProfile) -> list[str]:
    seeded = [f"seed-{s}/{stage}" for s in profile.seeds for stage in ("sft", "grpo")]
    return ["data", "base", *seeded, "arena", "report"]


def agent_name(kind: str, seed: int | None = None) -> str:
    """Arena names: ``base``, ``oracle``, ``looks-right``; per training seed ``sft-s0``, ``rl-s0``."""
    return kind if seed is None else f"{kind}-s{seed}"


def env_kwargs_for(profile: StudyProfile, env_id: str, ood: bool = False) -> dict:
    kwargs = dict(profile.env_kwargs.get(env_id, {}))
    if ood:
        kwargs.update(profile.ood_for(env_id)[0])
    return kwargs


def eval_sets(profile: StudyProfile) -> dict[str, dict]:
    """The arena's two evaluations: held-out test instances and the OOD variant of each family."""
    return {
        "in-distribution": {"split": "test", "n": profile.n_test,
                            "envs": [(env_id, env_id, env_kwargs_for(profile, env_id)) for env_id in profile.env_ids]},
        "ood": {"split": "ood", "n": profile.n_ood,
                "envs": [(f"{env_id} OOD ({profile.ood_for(env_id)[1]})", env_id, env_kwargs_for(profile, env_id, True))
                         for env_id in profile.env_ids]},
    }


def slug(text: str) -> str:
    """A label as a file or folder name."""
    return "".join(c if c.isalnum() or c in "-." else "_" for c in text).strip("_")
