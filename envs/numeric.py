"""A numeric face for any feasgym env, for stable-baselines3 and other array-based RL code.

``NumericEnv(gym.make(env_id, ...))`` keeps the text env underneath and changes only the
interface:

- observation: ``family.features(instance)`` standardized with the mean and standard
  deviation of the family's train-split draws (so entries are of order 1), ``float32``,
  clipped to +-``OBS_CLIP``; fixed length per env id.
- action: one entry in [-1, 1] per answer value (every field of every id of the unperturbed
  instance's schema, in schema order, by position), scaled linearly to ``family.value_bounds(instance)``.

``step`` writes the values with the env's own schema writer (at the prompt's decimals) and
steps the text env with that answer, so reward, ``terminated`` and ``info`` are exactly the
text env's (``info["answer"]`` adds the text that was scored).
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .core.family import ProblemFamily
from .core.schema import AnswerSchema, Values
from .core.text_env import FeasTextEnv

OBS_CLIP = 10.0
NORMALIZATION_SEED = 20261127
"""Fixed seed of the draws that estimate feature statistics: the same constants in every process."""


class ActionLayout:
    """Where each (section, field) block sits in the flat action vector.

    Built from the unperturbed instance's schema. Entries are positional (the i-th id of a
    section, in schema order, as in the features), not keyed by id, because some envs relabel
    ids per instance (portfolio tickers, the relabel OOD variants).
    """

    def __init__(self, schema: AnswerSchema):
        self.slots: dict[tuple[str, str], tuple[int, int]] = {}
        size = 0
        for section in schema.sections:
            for field in section.fields:
                self.slots[(section.name, field.name)] = (size, len(section.ids))
                size += len(section.ids)
        self.size = size

    def positions(self, section: str, field: str, count: int) -> slice:
        slot = self.slots.get((section, field))
        if slot is None:
            raise ValueError(f"answer field {section}.{field} is not in the numeric action layout")
        if count != slot[1]:
            raise ValueError(f"{section} has {count} ids in this instance, the numeric layout has {slot[1]}")
        return slice(slot[0], slot[0] + count)


_STATISTICS: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


def feature_statistics(family: ProblemFamily, draws: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (1 where a feature is constant) of train-split draws' features.

    Computed once per family configuration and process (sub-envs of a vector env share them):
    some families' draws are slow (portfolio n100: ~50 ms each).
    """
    key = (type(family).__qualname__, family.name, family.cache_key(), int(draws))
    if key not in _STATISTICS:
        rng = np.random.default_rng(NORMALIZATION_SEED)
        rows = np.array([family.features(family.draw(rng, "train")) for _ in range(int(draws))], dtype=float)
        mean, std = rows.mean(axis=0), rows.std(axis=0)
        _STATISTICS[key] = (mean, np.where(std > 1e-12 * np.maximum(1.0, np.abs(mean)), std, 1.0))
    mean, std = _STATISTICS[key]
    return mean.copy(), std.copy()


class NumericEnv(gym.Wrapper):
    """Box observations and Box actions over a feasgym text env (see the module doc).

    ``instance_pool=P`` makes each reset pick one of instances ``0..P-1`` of the stream seeded by
    ``pool_seed`` (the pick drawn from a generator seeded by ``reset(seed=...)``), so training
    revisits a fixed set of instances, the same in every sub-env of a vector env, whose
    references are solved once (the rows of ``export_dataset(env_id, seed=pool_seed, n=P)``).
    ``None`` advances the seeded stream (a new instance per episode), as the text env does.
    ``options={"instance": k}`` always wins.
    """

    def __init__(self, env: gym.Env, *, instance_pool: int | None = None, pool_seed: int = 0,
                 normalization_draws: int = 256):
        super().__init__(env)
        text_env = env.unwrapped
        if not isinstance(text_env, FeasTextEnv):
            raise TypeError(f"NumericEnv wraps feasgym text envs, got {type(text_env).__name__}")
        if instance_pool is not None and int(instance_pool) < 1:
            raise ValueError(f"instance_pool must be >= 1 or None, got {instance_pool}")
        self.family: ProblemFamily = text_env.family
        self.instance_pool = None if instance_pool is None else int(instance_pool)
        self.pool_seed = int(pool_seed)
        nominal = self.family.nominal()
        self.layout = ActionLayout(self.family.schema(nominal))
        n_features = len(np.asarray(self.family.features(nominal)).reshape(-1))
        if int(normalization_draws) > 0:
            self.feature_mean, self.feature_std = feature_statistics(self.family, normalization_draws)
        else:
            self.feature_mean, self.feature_std = np.zeros(n_features), np.ones(n_features)
        self.observation_space = spaces.Box(-OBS_CLIP, OBS_CLIP, shape=(n_features,), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(self.layout.size,), dtype=np.float32)
        self._pool_rng: np.random.Generator | None = None
        self._per_instance: tuple = (None, None, None)

    # ---- episode -------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        options = dict(options or {})
        if self.instance_pool is not None and "instance" not in options:
            if seed is not None or self._pool_rng is None:
                self._pool_rng = np.random.default_rng(seed)
            options["instance"] = int(self._pool_rng.integers(self.instance_pool))
            seed = self.pool_seed
        _, info = self.env.reset(seed=seed, options=options)
        return self.observation(), info

    def step(self, action: Any):
        answer = self.answer_text(action)
        _, reward, terminated, truncated, info = self.env.step(answer)
        info["answer"] = answer
        return self.observation(), reward, terminated, truncated, info

    # ---- the numeric <-> answer maps -----------------------------------------------
    def observation(self) -> np.ndarray:
        """The standardized features of the current instance."""
        features = np.asarray(self.family.features(self.env.unwrapped.instance), dtype=float).reshape(-1)
        z = (features - self.feature_mean) / self.feature_std
        return np.clip(np.nan_to_num(z, nan=0.0), -OBS_CLIP, OBS_CLIP).astype(np.float32)

    def action_values(self, action: Any) -> Values:
        """The answer values an action stands for (entries clipped to [-1, 1]; NaN counts as 0)."""
        a = np.nan_to_num(np.asarray(action, dtype=float).reshape(-1), nan=0.0)
        if a.size != self.layout.size:
            raise ValueError(f"action has {a.size} entries, expected {self.layout.size}")
        a = np.clip(a, -1.0, 1.0)
        schema, bounds = self._schema_and_bounds()
        values: Values = {}
        for section in schema.sections:
            values[section.name] = {}
            for field in section.fields:
                lo, hi = (np.asarray(b, dtype=float) for b in bounds[section.name][field.name])
                u = a[self.layout.positions(section.name, field.name, len(section.ids))]
                values[section.name][field.name] = lo + 0.5 * (u + 1.0) * (hi - lo)
        return values

    def action_from_values(self, values: Values) -> np.ndarray:
        """The action whose scaled values are ``values`` (clipped to the bounds): the inverse map."""
        schema, bounds = self._schema_and_bounds()
        action = np.zeros(self.layout.size)
        for section in schema.sections:
            for field in section.fields:
                lo, hi = (np.asarray(b, dtype=float) for b in bounds[section.name][field.name])
                span = hi - lo
                v = np.asarray(values[section.name][field.name], dtype=float)
                with np.errstate(invalid="ignore", divide="ignore"):
                    u = np.where(span > 0, 2.0 * (v - lo) / np.where(span > 0, span, 1.0) - 1.0, 0.0)
                action[self.layout.positions(section.name, field.name, len(section.ids))] = u
        return np.clip(action, -1.0, 1.0).astype(np.float32)

    def answer_text(self, action: Any) -> str:
        """The JSON answer an action stands for, written at the prompt's decimals."""
        return self._schema_and_bounds()[0].write(self.action_values(action))

    def _schema_and_bounds(self) -> tuple[AnswerSchema, dict]:
        """The current instance's schema and value bounds, built once per instance."""
        instance = self.env.unwrapped.instance
        if self._per_instance[0] is not instance:
            self._per_instance = (instance, self.family.schema(instance), self.family.value_bounds(instance))
        return self._per_instance[1], self._per_instance[2]


def make_numeric(env_id: str, *, instance_pool: int | None = None, pool_seed: int = 0,
                 normalization_draws: int = 256, **env_kwargs: Any) -> NumericEnv:
    """``NumericEnv(gym.make(env_id, **env_kwargs))``: the one-liner for SB3's ``make_vec_env``."""
    import feasgym.envs  # noqa: F401  (registers the ids)

    return NumericEnv(gym.make(env_id, **env_kwargs), instance_pool=instance_pool, pool_seed=pool_seed,
                      normalization_draws=normalization_draws)
