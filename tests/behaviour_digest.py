"""A digest of what every registered id does: its prompts and how fixed answers score.

``python -m tests.behaviour_digest`` writes ``tests/data/behaviour_digest.json``; the test compares
the current code against it, so a refactor that changes a prompt or a score of any id fails loudly
(a deliberate change rewrites the file in the same commit). Counts and rates are rounded to 9
significant digits, gaps and rewards to 1e-6: a reference solve may move in its last bits with the
BLAS, the CPU or a cold cache, a real change does not hide there.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import gymnasium as gym
import numpy as np

import feasgym  # noqa: F401
from feasgym.envs.registry import ENV_IDS

PATH = Path(__file__).parent / "data" / "behaviour_digest.json"
SEED, INSTANCES = 7, (0, 1)


def _rounded(x):
    if isinstance(x, float):
        return x if not math.isfinite(x) or x == 0 else float(f"{x:.9g}")
    if isinstance(x, dict):
        return {k: _rounded(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_rounded(v) for v in x]
    return x


def _summary(score: dict) -> dict:
    feas = score["feasibility"]
    return {"format": score["format"]["score"], "checks": {c["name"]: c["passed"] for c in score["format"]["checks"]},
            "csr": feas["score"], "feasible": feas["feasible"],
            "by_type": {k: [v["total"], v["violated"], v["missing"]] for k, v in feas["by_type"].items()},
            "gap": _absolute(score["optimality"]["gap"]), "reward": _absolute(score["reward"])}


def _absolute(x: float | None) -> float | None:
    """To 1e-6 absolute: an oracle's gap is ~1e-7 of solver noise, whose digits a fresh solve may move."""
    return None if x is None else round(float(x), 6) + 0.0


def digest_of(env_id: str) -> str:
    env = gym.make(env_id)
    u = env.unwrapped
    parts = []
    for k in INSTANCES:
        env.reset(seed=SEED, options={"instance": k})
        answers = [u.reference_answer(), u.nominal_answer(), u.random_answer(np.random.default_rng(k)), "{}"]
        parts.append({"prompt": hashlib.sha256(u.prompt.encode()).hexdigest(),
                      "scores": [_rounded(_summary(u.score(a))) for a in answers]})
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def current() -> dict[str, str]:
    return {env_id: digest_of(env_id) for env_id in ENV_IDS}


if __name__ == "__main__":
    PATH.parent.mkdir(parents=True, exist_ok=True)
    PATH.write_text(json.dumps(current(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {PATH}")
