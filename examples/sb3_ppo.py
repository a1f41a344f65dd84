"""PPO (stable-baselines3) on AC-OPF case5 setpoints through feasgym's numeric face, vs a random policy.

Run: python examples/sb3_ppo.py [--timesteps 20000]. ``FEASGYM_SMOKE=1`` (or ``--smoke``) runs a
tiny budget. The policy sees standardized loads (``Box``) and outputs one number in [-1, 1] per
generator setpoint (``Box``), which the wrapper scales to the limits, writes as the JSON answer
and scores with the same checker as the text env. Evaluation uses held-out ``test`` instances.
"""
from __future__ import annotations

import argparse
import os

import gymnasium as gym
import numpy as np

from feasgym.envs.numeric import NumericEnv, make_numeric

ENV_ID = "feasgym/ACOPF-case5-v0"
ENV_KWARGS = {"answer_mode": "setpoints"}


def evaluate(policy, n_instances: int, seed: int) -> dict:
    """Mean reward, feasible rate and constraint-satisfaction rate of ``policy(obs)`` on test instances 0..n-1."""
    import feasgym  # noqa: F401

    env = NumericEnv(gym.make(ENV_ID, split="test", **ENV_KWARGS))
    rewards, feasible, rates = [], [], []
    for k in range(n_instances):
        obs, _ = env.reset(seed=seed, options={"instance": k})
        _, reward, _, _, info = env.step(policy(obs))
        rewards.append(reward)
        feasible.append(info["feasibility"]["feasible"])
        rates.append(info["feasibility"]["score"])
    return {"reward": float(np.mean(rewards)), "feasible": float(np.mean(feasible)), "constraint_rate": float(np.mean(rates))}


def main(argv: list[str] | None = None) -> dict:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny MLP: more threads only add contention (9x slower measured on 2 busy cores)
    try:
        return run(argv)
    finally:
        torch.set_num_threads(threads)


def run(argv: list[str] | None = None) -> dict:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=20_000)
    parser.add_argument("--train-instances", type=int, default=32, help="size of the training instance pool")
    parser.add_argument("--eval-instances", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", default=os.environ.get("FEASGYM_SMOKE") == "1")
    args = parser.parse_args(argv)
    if args.smoke:
        args.timesteps, args.train_instances, args.eval_instances = 256, 2, 2

    # Four envs, each cycling over a fixed pool of training instances (references solved once, then cached).
    vec_env = make_vec_env(make_numeric, n_envs=4, seed=args.seed,
                           env_kwargs={"env_id": ENV_ID, "instance_pool": args.train_instances, **ENV_KWARGS})
    model = PPO("MlpPolicy", vec_env, n_steps=64, batch_size=64, learning_rate=1e-3, seed=args.seed,
                verbose=0, device="cpu")
    model.learn(total_timesteps=args.timesteps)

    rng = np.random.default_rng(args.seed)
    n_actions = vec_env.action_space.shape[0]
    results = {
        "ppo": evaluate(lambda obs: model.predict(obs, deterministic=True)[0], args.eval_instances, args.seed),
        "random": evaluate(lambda obs: rng.uniform(-1.0, 1.0, n_actions), args.eval_instances, args.seed),
        "midpoint": evaluate(lambda obs: np.zeros(n_actions), args.eval_instances, args.seed),
    }
    print(f"PPO, {args.timesteps} steps on {args.train_instances} train instances; "
          f"{args.eval_instances} test instances of {ENV_ID} {ENV_KWARGS}:")
    for name, r in results.items():
        print(f"  {name:8s} mean reward {r['reward']:.3f}  feasible {r['feasible']:.0%}  "
              f"constraint rate {r['constraint_rate']:.3f}")
    return results


if __name__ == "__main__":
    main()
