"""The scoring vocabulary, in one place: the components every view of a score reads, the env's scalar
reward (a documented, configurable weighting of them), the TRL reward values, and the names and
dataset columns that address an instance. The env, the TRL reward functions, the integrations
(verl, OpenRLHF, verifiers, lm-eval, the scoring server) and GRPO all import them from here.

Defaults (weights sum to 1):

- ``format`` 0.1 x format score
- ``constraint_rate`` 0.3 x constraint-satisfaction rate
- ``feasible`` 0.4 x [all constraints satisfied]
- ``optimality`` 0.2 x optimality credit, only when feasible: 1 at or below the reference
  cost, falling linearly to 0 at a relative gap of ``optimality_scale`` (default 5%). Credit is capped
  at the reference: beating it (``below_reference``) earns nothing more.

With these defaults every feasible answer (reward >= 0.4) outscores every infeasible one
(reward < 0.1 + 0.3 = 0.4), so format and easy rows can never buy feasibility.
"""
from __future__ import annotations

import math

DEFAULT_REWARD_WEIGHTS = {"format": 0.1, "constraint_rate": 0.3, "feasible": 0.4, "optimality": 0.2}
DEFAULT_OPTIMALITY_SCALE = 0.05


def validate_weights(weights: dict | None) -> dict:
    merged = dict(DEFAULT_REWARD_WEIGHTS)
    if weights:
        unknown = set(weights) - set(DEFAULT_REWARD_WEIGHTS)
        if unknown:
            raise ValueError(f"unknown reward weight(s) {sorted(unknown)}; known: {sorted(DEFAULT_REWARD_WEIGHTS)}")
        merged.update({k: float(v) for k, v in weights.items()})
    return merged


REFERENCE_RTOL = 1e-4
"""How far (relative) a feasible answer may beat the reference before ``below_reference`` is set: the
rounded oracle itself lands within ~1e-6 of it, and the solvers agree to ~1e-6. An answer further
below has found slack in a tolerance (or the reference is wrong): either way it earns no more credit
than the reference, and the flag lets a run notice it."""


def objective_gap(objective: float | None, reference: float, sense: str = "min") -> float | None:
    """How much worse than the reference the answer's objective is, relative (negative = better).

    ``sense`` "min" (cost, variance) or "max" (return, welfare): the sign follows the objective's sense, so
    the optimality credit and ``below_reference`` read the same for both."""
    if objective is None or not math.isfinite(objective):
        return None
    if sense not in ("min", "max"):
        raise ValueError(f"objective sense must be 'min' or 'max', got {sense!r}")
    worse = objective - reference if sense == "min" else reference - objective
    return worse / max(abs(reference), 1e-9)


def optimality_credit(gap: float | None, scale: float = DEFAULT_OPTIMALITY_SCALE) -> float:
    """1 at or below the reference cost, 0 at ``scale`` relative gap or worse; 0 when no gap (infeasible)."""
    if gap is None:
        return 0.0
    return float(min(1.0, max(0.0, 1.0 - gap / scale)))


def combine(format_score: float, constraint_rate: float, feasible: bool, gap: float | None,
            weights: dict, scale: float = DEFAULT_OPTIMALITY_SCALE) -> tuple[float, dict]:
    components = {
        "format": float(format_score),
        "constraint_rate": float(constraint_rate),
        "feasible": 1.0 if feasible else 0.0,
        "optimality": optimality_credit(gap, scale) if feasible else 0.0,
    }
    return float(sum(weights[k] * components[k] for k in components)), components


INSTANCE_COLUMNS = ("env_id", "seed", "split", "instance")
"""Dataset columns that address an instance (``env_id`` may be omitted: a reward function's own id is assumed)."""
CHECK_COLUMN = "prompt_hash"
"""Optional column: the first 16 hex digits of the prompt's SHA-256, verified when present."""
REWARD_NAMES = ("format_reward", "feasibility_reward", "optimality_reward")
"""The TRL reward functions' names (what TRL logs each under), in the order of their values below."""


def feasibility_reward_value(feasible: bool, constraint_rate: float) -> float:
    """The feasibility reward: 1 for a feasible answer, else half the constraint-satisfaction rate (< 0.5),
    so a fully feasible answer always beats any infeasible one."""
    return 1.0 if feasible else 0.5 * float(constraint_rate)


def optimality_reward_value(feasible: bool, gap: float | None, scale: float = DEFAULT_OPTIMALITY_SCALE) -> float:
    """The optimality reward: the optimality credit of a feasible answer (:func:`optimality_credit`), else 0."""
    return optimality_credit(gap, scale) if feasible else 0.0


def feasibility_value(score: dict) -> float:
    """:func:`feasibility_reward_value` of a score dict (``env.score``'s)."""
    return feasibility_reward_value(score["feasibility"]["feasible"], score["feasibility"]["score"])


def optimality_value(score: dict, scale: float = DEFAULT_OPTIMALITY_SCALE) -> float:
    """:func:`optimality_reward_value` of a score dict (``env.score``'s)."""
    return optimality_reward_value(score["feasibility"]["feasible"], score["optimality"]["gap"], scale)
