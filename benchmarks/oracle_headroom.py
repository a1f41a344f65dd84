"""Measure how close the oracle's rounded answer comes to each tolerance (the headroom).

For each case and answer mode, writes the reference answer at the prompt's decimals,
scores it, and prints per constraint type the worst violation as a fraction of its
tolerance over N instances. The tolerances in README "Tolerances" were chosen from this.
Usage: python benchmarks/oracle_headroom.py [--n 50] [--cases case5 case14 ...]
"""
from __future__ import annotations

import argparse
import time
from collections import defaultdict

import gymnasium as gym

import feasgym  # noqa: F401


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--cases", nargs="+", default=["case5", "case14", "case30", "case57", "case118"])
    parser.add_argument("--modes", nargs="+", default=["full", "setpoints"])
    args = parser.parse_args()
    for mode in args.modes:
        for case in args.cases:
            env = gym.make(f"feasgym/ACOPF-{case}-v0", answer_mode=mode)
            worst = defaultdict(float)
            infeasible = skipped = 0
            t0 = time.perf_counter()
            for k in range(args.n):
                _, info = env.reset(seed=0, options={"instance": k})
                skipped += info["skipped_draws"]
                s = env.unwrapped.score(env.unwrapped.reference_answer())
                infeasible += not s["feasibility"]["feasible"]
                for name, row in s["feasibility"]["by_type"].items():
                    if row["tolerance"] > 0:
                        worst[name] = max(worst[name], row["max_violation"] / row["tolerance"])
            shown = ", ".join(f"{k} {v:.3f}" for k, v in sorted(worst.items()))
            print(f"{mode:9s} {case:7s} n={args.n} oracle infeasible={infeasible} skipped draws={skipped} "
                  f"({time.perf_counter() - t0:.0f}s) worst violation/tolerance: {shown}", flush=True)


if __name__ == "__main__":
    main()
