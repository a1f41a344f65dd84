"""Limit tolerances spent at once: the best cost gain from widening every limit by its tolerance.

For each case and answer mode, solves the AC-OPF (PYPOWER) with every limit widened by a fraction
of the tolerance its row allows (voltages, generator P/Q, branch flows, angle differences; in setpoint
mode the power flow's outputs, reference-bus P and every Q, by their larger allowance), writes the
solution at the prompt's decimals and scores it for the real limits. Prints the best gain among
answers scored feasible (target <= 0.1% of cost).
Usage: python benchmarks/limit_relaxation.py [--n 4] [--cases case5 case14 ...]
"""
from __future__ import annotations

import argparse
import time

import gymnasium as gym

import feasgym  # noqa: F401
from feasgym.envs.grids.attacks import best_gain, limit_attacks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=4, help="instances per case")
    parser.add_argument("--cases", nargs="+", default=["case5", "case14", "case30", "case57", "case118"])
    args = parser.parse_args()
    worst = 0.0
    for case in args.cases:
        for mode in ("full", "setpoints"):
            env = gym.make(f"feasgym/ACOPF-{case}-v0", answer_mode=mode)
            t0 = time.perf_counter()
            gains, feasible, total = [], 0, 0
            for k in range(args.n):
                env.reset(seed=0, options={"instance": k})
                results = limit_attacks(env, fractions=(0.5, 0.9, 0.99))
                total += len(results)
                feasible += sum(r.feasible for r in results)
                gains.append(best_gain(results))
            worst = max(worst, max(gains))
            print(f"{case:7s} {mode:9s}: best gain {100 * max(gains):.4f}% of cost (per instance "
                  f"{' '.join(f'{100 * g:.4f}%' for g in gains)}; {feasible}/{total} attack answers feasible; "
                  f"{time.perf_counter() - t0:.0f}s)", flush=True)
    print(f"worst case over {args.cases}: {100 * worst:.4f}% (target <= 0.1%)")


if __name__ == "__main__":
    main()
