"""Env steps per second through the numeric (SB3) wrapper vs the text env, measured in the same run.

For each env, over a pool of instances whose references are solved before timing:
- text:      reset + step(answer text) on the text env (the answer: a random well-formed one);
- numeric:   reset + step(action) on NumericEnv (action -> values -> JSON -> same checker);
- sb3 vec:   DummyVecEnv(NumericEnv).step(actions), what stable-baselines3's PPO drives.
Prints steps/s and the ratio numeric / text (the wrapper's overhead; 1.0 = free).
Usage: python benchmarks/bench_numeric.py [--seconds 2]
"""
from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

import feasgym  # noqa: F401
from feasgym.envs.numeric import NumericEnv

CASES = (("feasgym/ACOPF-case5-v0", {"answer_mode": "setpoints"}), ("feasgym/ACOPF-case14-v0", {}),
         ("feasgym/ACOPF-case118-v0", {}), ("feasgym/DCOPF-case14-v0", {}), ("feasgym/Portfolio-n30-v0", {}))
POOL = 4


def rate(step, seconds: float) -> float:
    """Steps per second of ``step()`` over about ``seconds`` (after one warm-up call)."""
    step()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        n += 1
    return n / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> None:
    from stable_baselines3.common.vec_env import DummyVecEnv

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"{'env':40s} {'text steps/s':>12s} {'numeric':>9s} {'sb3 vec':>9s} {'numeric/text':>12s}")
    for env_id, kwargs in CASES:
        if env_id not in gym.registry:
            continue
        text_env = gym.make(env_id, **kwargs)
        answers = []
        for k in range(POOL):  # solve the pool's references now, not while timing
            text_env.reset(seed=0, options={"instance": k})
            answers.append(text_env.unwrapped.random_answer(rng))
        numeric = NumericEnv(gym.make(env_id, **kwargs), instance_pool=POOL)
        numeric.reset(seed=0)
        vec = DummyVecEnv([lambda: NumericEnv(gym.make(env_id, **kwargs), instance_pool=POOL)])
        vec.seed(0)
        vec.reset()
        actions = rng.uniform(-1, 1, (64,) + numeric.action_space.shape).astype(np.float32)
        counter = {"i": 0}

        def text_step():
            k = counter["i"] = (counter["i"] + 1) % POOL
            text_env.reset(seed=0, options={"instance": k})
            text_env.step(answers[k])

        def numeric_step():
            counter["i"] += 1
            numeric.reset()
            numeric.step(actions[counter["i"] % 64])

        def vec_step():
            counter["i"] += 1
            vec.step(actions[counter["i"] % 64][None])  # single-step episodes: the vec env resets itself

        t, n, v = rate(text_step, args.seconds), rate(numeric_step, args.seconds), rate(vec_step, args.seconds)
        label = env_id + (f" {kwargs}" if kwargs else "")
        print(f"{label:40s} {t:12.0f} {n:9.0f} {v:9.0f} {n / t:12.2f}")


if __name__ == "__main__":
    main()
