"""The study's names, in one place: its stages, its agents, its evaluation sets and the folder names made
from labels. The pipeline writes by these names and the report reads by them; neither imports the other.
"""
from __future__ import annotations

from functools import lru_cache

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


@lru_cache(maxsize=None)
def _task_identity(env_id: str, kwargs_items: tuple) -> tuple:
    """What a demonstration teaches: the problem family and, for grid families, the grid (an answer mode
    or a perturbation of the same grid is the same physics)."""
    import gymnasium as gym

    import feasgym.envs  # noqa: F401  (registers the ids)

    env = gym.make(env_id, **dict(kwargs_items))
    family = env.unwrapped.family
    env.close()
    grid = getattr(family, "case", None)
    return (type(family).__name__, grid if grid is not None else env_id)


def task_identity(env_id: str, kwargs: dict | None = None) -> tuple:
    return _task_identity(env_id, tuple(sorted((kwargs or {}).items(), key=lambda kv: kv[0])))


def pretrain_tasks(profile: StudyProfile) -> list[tuple[str, int, dict]]:
    """The profile's pretraining demonstrations that are not a target task: a pretraining env on a target's
    family and grid (``feasgym/ACOPF-v0`` with ``case="case5_pjm"`` for the ``ACOPF-case5`` target, in
    any answer mode) is dropped, like the target's own id."""
    targets = {task_identity(env_id, profile.env_kwargs.get(env_id, {})) for env_id in profile.env_ids}
    return [(env_id, int(n), dict(kwargs)) for env_id, n, kwargs in profile.pretrain_envs
            if int(n) > 0 and env_id not in profile.env_ids and task_identity(env_id, kwargs) not in targets]


def pretrain_label(env_id: str, kwargs: dict) -> str:
    """``feasgym/ACOPF-v0 (case=case3_lmbd, answer_mode=setpoints)``: an id and its options, for reports."""
    return env_id + (f" ({', '.join(f'{k}={v}' for k, v in kwargs.items())})" if kwargs else "")


def pretrain_file(index: int, env_id: str) -> str:
    """Data-stage file of the ``index``-th pretraining task (two entries may share a generic id)."""
    return f"pretrain.{index}.{slug(env_id)}.jsonl"
