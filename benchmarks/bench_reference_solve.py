"""Reference AC-OPF solve time: the compiled CasADi + Ipopt model vs PYPOWER, same instances, one run.

For each case, draws N perturbed instances (the envs' default load perturbation) and solves
each with both solvers, interleaved (the order alternates per instance, so a slow phase of
the machine hits both sides). Prints per case: the one-off build time, median and range of
each solver's solve time, the ratio of medians, the largest relative cost difference, how
often the two agree on "no solution", and Ipopt's iteration counts.
Targets (issue 12): >= 10x on case118, >= 25x on case14.
Usage: python benchmarks/bench_reference_solve.py [--n 12] [--cases case5 case14 ...] [--n1]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from feasgym.envs.grids.acopf_ipopt import compiled_acopf
from feasgym.envs.grids.instance import LoadPerturbation, draw_grid_instance
from feasgym.envs.grids.opf_solver import solve_reference


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=12)
    parser.add_argument("--cases", nargs="+", default=["case5", "case14", "case30", "case57", "case118", "case300"])
    parser.add_argument("--n1", action="store_true", help="one random branch outage per instance (N-1)")
    parser.add_argument("--casadi-only", action="store_true",
                        help="time the compiled solver alone (median over draws it solved; the README's tier table)")
    args = parser.parse_args()
    print(f"{'case':8s} {'build':>8s} {'CasADi median [range] ms':>28s} {'PYPOWER median [range] ms':>30s} "
          f"{'ratio':>6s} {'max cost diff':>13s} {'both fail':>9s} {'disagree':>8s} {'iters':>8s}", flush=True)
    if args.casadi_only:
        return casadi_only(args)
    for case in args.cases:
        _, build = timed(lambda: compiled_acopf(case))
        solver = compiled_acopf(case)
        fast, slow, diffs, iters = [], [], [], []
        both_fail = disagree = 0
        for k in range(args.n):
            inst = draw_grid_instance(case, np.random.default_rng([12, k]), LoadPerturbation(), args.n1)
            run = {name: (lambda name=name: solve_reference(case, inst.pd_mw, inst.qd_mvar, inst.outage, name))
                   for name in ("casadi", "pypower")}
            order = ("casadi", "pypower") if k % 2 == 0 else ("pypower", "casadi")
            got = {}
            for name in order:
                got[name], seconds = timed(run[name])
                (fast if name == "casadi" else slow).append(seconds)
                if name == "casadi":
                    iters.append(solver.last_stats.get("iter_count") or 0)
            a, b = got["casadi"], got["pypower"]
            if a is None and b is None:
                both_fail += 1
            elif a is None or b is None:
                disagree += 1
            else:
                diffs.append(abs(a["objective"] - b["objective"]) / abs(b["objective"]))
        mf, ms = statistics.median(fast) * 1e3, statistics.median(slow) * 1e3
        print(f"{case:8s} {build * 1e3:6.0f}ms {mf:8.1f} [{min(fast) * 1e3:6.1f}-{max(fast) * 1e3:6.1f}] "
              f"{ms:12.1f} [{min(slow) * 1e3:6.0f}-{max(slow) * 1e3:6.0f}] {ms / mf:5.1f}x "
              f"{max(diffs, default=float('nan')):13.1e} {both_fail:9d} {disagree:8d} "
              f"{min(iters):3d}-{max(iters):3d}", flush=True)


def casadi_only(args) -> None:
    print(f"{'case':34s} {'build ms':>8s} {'solved':>6s} {'median ms':>9s} {'range ms':>15s} {'iters':>7s} "
          f"{'failed draw ms':>14s}", flush=True)
    for case in args.cases:
        _, build = timed(lambda: compiled_acopf(case))
        solver = compiled_acopf(case)
        ok, failed, iters = [], [], []
        for k in range(args.n):
            inst = draw_grid_instance(case, np.random.default_rng([12, k]), LoadPerturbation(), args.n1)
            state, seconds = timed(lambda: solver.solve(inst.pd_mw, inst.qd_mvar, inst.outage))
            (ok if state is not None else failed).append(seconds)
            if state is not None:
                iters.append(solver.last_stats["iter_count"])
        if not ok:
            print(f"{case:34s} {build * 1e3:8.0f} {0:3d}/{args.n:<2d} (no draw solved)", flush=True)
            continue
        fail = f"{statistics.median(failed) * 1e3:14.0f}" if failed else f"{'-':>14s}"
        print(f"{case:34s} {build * 1e3:8.0f} {len(ok):3d}/{args.n:<2d} {statistics.median(ok) * 1e3:9.1f} "
              f"{min(ok) * 1e3:6.1f}-{max(ok) * 1e3:7.1f} {min(iters):3d}-{max(iters):3d} {fail}", flush=True)


if __name__ == "__main__":
    main()
