"""Phantom injection: the best cost gain an attacker gets from the balance tolerances, per case.

For each case and instance, solves the AC-OPF (PYPOWER) for loads offset by every attack pattern of
:mod:`feasgym.envs.grids.attacks` at several fractions of the per-bus tolerance, writes that state
at the prompt's decimals for the real loads and scores it. Prints, per case, the best gain among
answers scored feasible (target <= 0.1% of cost) under today's tolerances, beside the same attack
under the old ones (per-bus 0.01 p.u., no system-wide rows) measured in the same run; and for power
flow, the largest error against the true flow among answers scored feasible.
Usage: python benchmarks/phantom_injection.py [--n 3] [--cases case5 case14 ...]
"""
from __future__ import annotations

import argparse
import math
import time

import gymnasium as gym

import feasgym  # noqa: F401
from feasgym.envs.grids.attacks import VARIANTS, acopf_attacks, best_gain, powerflow_attacks
from feasgym.envs.grids.checks import ACTolerances

OLD = ACTolerances(balance_pu=1e-2, system_balance_pu=math.inf, flow_pu=1e-2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=3, help="instances per case")
    parser.add_argument("--cases", nargs="+", default=["case5", "case14", "case30", "case57", "case118"])
    args = parser.parse_args()
    worst_case = 0.0
    for case in args.cases:
        for label, tol in (("now", None), ("old", OLD)):
            env = gym.make(f"feasgym/ACOPF-{case}-v0", **({"tolerances": tol} if tol else {}))
            t0 = time.perf_counter()
            per_variant = {v: 0.0 for v in VARIANTS}
            feasible = total = 0
            for k in range(args.n):
                env.reset(seed=0, options={"instance": k})
                results = acopf_attacks(env)
                total += len(results)
                for r in results:
                    feasible += r.feasible
                    if r.feasible:
                        per_variant[r.variant] = max(per_variant[r.variant], r.gain)
            best = max(per_variant.values())
            if label == "now":
                worst_case = max(worst_case, best)
            shown = " ".join(f"{v} {100 * g:.3f}%" for v, g in per_variant.items())
            print(f"{case:7s} {label}: best gain {100 * best:7.3f}% of cost ({feasible}/{total} attack answers "
                  f"feasible; {time.perf_counter() - t0:.0f}s) | {shown}", flush=True)
    print(f"worst case over {args.cases}: {100 * worst_case:.3f}% (target <= 0.1%)")
    for case in ("case14", "case118"):
        for label, tol in (("now", None), ("old", OLD)):
            env = gym.make(f"feasgym/PowerFlow-{case}-v0", **({"tolerances": tol} if tol else {}))
            worst: dict[str, float] = {}
            for k in range(args.n):
                env.reset(seed=0, options={"instance": k})
                for r in powerflow_attacks(env):
                    if r["feasible"]:
                        for q in ("vm_pu", "va_deg", "p_mw", "q_mvar"):
                            worst[q] = max(worst.get(q, 0.0), r["errors"][q])
            print(f"PowerFlow {case:7s} {label}: largest error of a feasible attack answer vs the true flow: "
                  + ", ".join(f"{q} {v:.4g}" for q, v in worst.items()), flush=True)


if __name__ == "__main__":
    main()
