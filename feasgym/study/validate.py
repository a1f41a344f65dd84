"""Every setting of a study checked before anything is written.

A misspelled id or a constructor option an env rejects used to fail in the data stage,
after the run folder had stored its settings and locked them; here each env of every
split (train, test, OOD, pretraining) is constructed once, the OOD variant must exist for
each target family, and the seeds, threads and token limit must make sense. The error
says what to change; nothing is on disk yet, so the corrected command starts cleanly.
"""
from __future__ import annotations

import difflib

from .profiles import StudyProfile, env_family
from .stages import StudyError


def _known_ids() -> list[str]:
    import gymnasium as gym

    import feasgym.envs  # noqa: F401  (registers the ids)

    return sorted(k for k in gym.registry if k.startswith("feasgym/"))


def _check_id(env_id: str, known: list[str], what: str) -> None:
    if env_id in known:
        return
    close = difflib.get_close_matches(env_id, known, n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}?" if close else "`feasgym list` shows the ids"
    raise StudyError(f"unknown {what} env id {env_id!r}; {hint}")


def _check_make(env_id: str, kwargs: dict, split: str, what: str) -> None:
    import gymnasium as gym

    try:
        env = gym.make(env_id, split=split, **kwargs)
        env.close()
    except Exception as exc:  # the env's own message names the bad option
        raise StudyError(f"{what} env {env_id} (split {split!r}) rejects its settings {kwargs}: "
                         f"{type(exc).__name__}: {exc}") from exc


def validate_profile(profile: StudyProfile, base_model: str | None = None) -> None:
    """Raise :class:`StudyError` with a message saying what to fix; writes nothing."""
    from .layout import env_kwargs_for, pretrain_tasks

    p = profile
    if not p.env_ids:
        raise StudyError("no target env ids (--env)")
    if not p.seeds:
        raise StudyError("no training seeds (--seeds)")
    if len(set(p.seeds)) != len(p.seeds):
        raise StudyError(f"training seeds repeat: {list(p.seeds)}; give distinct --seeds")
    if any(int(s) < 0 for s in p.seeds):
        raise StudyError(f"training seeds must be >= 0, got {list(p.seeds)}")
    if int(p.threads) < 1:
        raise StudyError(f"--threads must be >= 1, got {p.threads}")
    if p.max_new_tokens is not None and int(p.max_new_tokens) < 1:
        raise StudyError(f"--max-new-tokens must be >= 1, got {p.max_new_tokens}")
    for name in ("n_train", "n_test", "n_ood", "n_probe"):
        if int(getattr(p, name)) < 1:
            raise StudyError(f"profile setting {name} must be >= 1, got {getattr(p, name)}")
    if p.grpo.num_generations < 2:
        raise StudyError("GRPO needs num_generations >= 2 (advantages are relative within a group)")
    known = _known_ids()
    for env_id in p.env_ids:
        _check_id(env_id, known, "target")
        family = env_family(env_id)
        if family not in p.ood:
            raise StudyError(f"no OOD variant defined for family {family!r} ({env_id}); the profile defines "
                             f"{sorted(p.ood)}")
        _check_make(env_id, env_kwargs_for(p, env_id), "train", "target")
        _check_make(env_id, env_kwargs_for(p, env_id), "test", "target")
        _check_make(env_id, env_kwargs_for(p, env_id, ood=True), "ood", "OOD")
        if p.tools:
            tool_kwargs = {"tools": tuple(p.tools), "max_tool_calls": p.max_tool_calls}
            _check_make(env_id, {**env_kwargs_for(p, env_id), **tool_kwargs}, "test", "tool-using")
            _check_make(env_id, {**env_kwargs_for(p, env_id, ood=True), **tool_kwargs}, "ood", "tool-using OOD")
    if base_model is None:
        for env_id, _n, kwargs in p.pretrain_envs:
            _check_id(env_id, known, "pretraining")
            _check_make(env_id, dict(kwargs), "train", "pretraining")
        if not pretrain_tasks(p):
            raise StudyError("the embedded base needs pretraining demonstrations of tasks that are not the target: "
                             f"every pretraining env of the profile ({[e[0] for e in p.pretrain_envs]}) is a target's "
                             "family and grid here; give --base-model, or other targets")
    else:
        _check_base_model(base_model)


def _check_base_model(base_model: str) -> None:
    from transformers import AutoConfig, AutoTokenizer

    try:
        AutoConfig.from_pretrained(base_model)
        AutoTokenizer.from_pretrained(base_model)
    except Exception as exc:
        raise StudyError(f"--base-model {base_model!r} cannot be loaded (config and tokenizer): "
                         f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc
