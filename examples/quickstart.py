"""Quickstart: make an env, read the prompt, score answers. Run: python examples/quickstart.py [--env ID]

Every score comes back as separate parts: format (is it a well-formed answer?), feasibility
(do the physics/finance constraints hold? which ones fail?) and optimality (how far from the
reference cost?). ``FEASGYM_SMOKE=1`` (or ``--smoke``) prints less; the work is the same.
"""
from __future__ import annotations

import argparse
import os

import gymnasium as gym
import numpy as np

import feasgym  # noqa: F401  (registers the feasgym/... ids)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="feasgym/ACOPF-case5-v0")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", default=os.environ.get("FEASGYM_SMOKE") == "1")
    args = parser.parse_args(argv)

    env = gym.make(args.env)
    prompt, info = env.reset(seed=args.seed)  # instance 0 of the stream seeded by args.seed
    print(f"{args.env}: instance {info['instance']} of seed {info['seed']}, prompt of {len(prompt)} characters")
    print("\n".join(prompt.splitlines()[: 5 if args.smoke else 30]), "\n...")

    answers = {
        "oracle": env.unwrapped.reference_answer(),                      # the reference solution
        "looks right": env.unwrapped.nominal_answer(),                   # unperturbed optimum: well formed, wrong
        "random": env.unwrapped.random_answer(np.random.default_rng(args.seed)),
        "prose": "Run every generator at half capacity.",
    }
    summary = {}
    for name, answer in answers.items():
        _, reward, terminated, _, step_info = env.step(answer)  # single turn: terminated is True
        env.reset(seed=args.seed)                                # back to the same instance
        feas = step_info["feasibility"]
        summary[name] = {"reward": reward, "format": step_info["format"]["score"], "constraint_rate": feas["score"],
                         "feasible": feas["feasible"], "gap": step_info["optimality"]["gap"]}
        gap = summary[name]["gap"]
        print(f"{name:12s} reward {reward:.3f}  format {summary[name]['format']:.2f}  "
              f"constraints {feas['satisfied']}/{feas['total']}  feasible {feas['feasible']!s:5s}  "
              f"gap {'-' if gap is None else f'{gap:+.3%}'}")
        for violation in feas["violations"][:2]:
            print(f"    violated: {violation['type']} at {violation['element']}")
    return summary


if __name__ == "__main__":
    main()
