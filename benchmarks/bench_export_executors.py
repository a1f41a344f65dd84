"""Export executors: Ray on one machine vs local processes, per-task overhead vs a solve, cold export speed.

Run: ``python benchmarks/bench_export_executors.py [--env feasgym/ACOPF-case14-v0] [--n 1000]``
(needs ``feasgym[ray]``). Every timed export is cold: it solves into a fresh temporary reference
cache. Printed, from one run:

1. Per-task overhead of each executor (no-op tasks through the same ordered, bounded map), and
   what it is against one chunk of solves at the chunk size an export of ``--n`` uses (target < 1%).
2. Ray vs local processes, both started once beforehand (cluster start-up excluded), the same
   workers, interleaved rounds of ``--round-n`` cold instances each on fresh seeds: the
   per-round ratio Ray/local (target <= 1.3x), and a check that both give identical rows and
   references on the same instances.
3. Cold export of ``--n`` instances with the default reference solver through the local
   executor (what ``feasgym export --workers 2`` does), instances/s (target >= 60/s on 2 cores),
   and the same with ``reference_solver="pypower"`` on ``--pypower-n`` instances.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def noop(i: int) -> int:
    return i


def fresh_cache() -> None:
    os.environ["FEASGYM_CACHE"] = tempfile.mkdtemp(prefix="feasgym-bench-cache-")


def timed_export(env_id: str, executor, *, n: int, seed: int, env_kwargs: dict | None = None) -> float:
    from feasgym.datasets import export_rows

    out = Path(tempfile.mkdtemp(prefix="feasgym-bench-out-")) / "rows.jsonl"
    start = time.perf_counter()
    export_rows(env_id, out, n=n, seed=seed, executor=executor, env_kwargs=env_kwargs, progress=False)
    return time.perf_counter() - start


def task_overhead_ms(executor, tasks: int = 400) -> float:
    list(executor.map(noop, [(i,) for i in range(20)]))  # warm
    start = time.perf_counter()
    assert list(executor.map(noop, [(i,) for i in range(tasks)])) == list(range(tasks))
    return (time.perf_counter() - start) / tasks * 1e3 * executor.workers  # per task, per worker


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="feasgym/ACOPF-case14-v0")
    parser.add_argument("--n", type=int, default=1000, help="instances of the cold export")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--round-n", type=int, default=160, help="cold instances per executor per round")
    parser.add_argument("--pypower-n", type=int, default=100, help="instances of the PYPOWER cold export (0: skip)")
    args = parser.parse_args()
    fresh_cache()
    import ray

    from feasgym.envs.dataset_rows import chunk_size, iter_instance_results
    from feasgym.envs.executors import LocalExecutor, RayExecutor

    print(f"{args.env}; {args.workers} workers; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}")
    start = time.perf_counter()
    ray.init(num_cpus=args.workers, log_to_driver=False)
    print(f"ray.init(num_cpus={args.workers}): {time.perf_counter() - start:.1f} s (excluded below)")
    with LocalExecutor(args.workers) as local, RayExecutor() as on_ray:
        executors = {"local": local, "ray": on_ray}
        for ex in executors.values():  # start workers, import feasgym, build the env (excluded)
            timed_export(args.env, ex, n=2 * args.workers, seed=10_000)

        # 2. interleaved cold rounds
        times: dict[str, list[float]] = {"local": [], "ray": []}
        seed = 20_000
        for r in range(args.rounds):
            order = ("local", "ray") if r % 2 == 0 else ("ray", "local")
            for name in order:
                seed += 1
                times[name].append(timed_export(args.env, executors[name], n=args.round_n, seed=seed))
        ratios = [t_ray / t_local for t_ray, t_local in zip(times["ray"], times["local"])]
        per_instance = statistics.median(times["local"]) / args.round_n * args.workers  # s per instance per worker

        # 1. overhead per task vs a chunk of solves
        size = chunk_size(args.n, args.workers)
        print(f"\n1. per-task overhead (no-op tasks), chunk of {size} instances at --n {args.n} "
              f"(one cold instance: {per_instance * 1e3:.1f} ms per worker)")
        for name, ex in executors.items():
            ms = task_overhead_ms(ex)
            print(f"   {name:5s}: {ms:.2f} ms per task = {ms / (size * per_instance * 1e3):.3%} of a chunk, "
                  f"{ms / (per_instance * 1e3):.1%} of one solve (target: chunk < 1%)")

        print(f"\n2. Ray vs local processes, {args.rounds} interleaved rounds of {args.round_n} cold instances")
        for name in ("local", "ray"):
            rates = [args.round_n / t for t in times[name]]
            print(f"   {name:5s}: {min(rates):.1f}-{max(rates):.1f} instances/s "
                  f"(median {statistics.median(rates):.1f})")
        print(f"   ratio Ray/local time per round: {min(ratios):.2f}-{max(ratios):.2f} "
              f"(median {statistics.median(ratios):.2f}); target <= 1.3: "
              f"{'met' if statistics.median(ratios) <= 1.3 else 'NOT met'}")
        same_seed = 20_001  # solved by local in round 0: both read the same references now
        rows = {name: list(iter_instance_results(args.env, n=40, seed=same_seed, executor=ex, progress=False))
                for name, ex in executors.items()}
        print(f"   identical rows and references on 40 instances: {rows['local'] == rows['ray']}")

        # 3. cold export, default reference solver, local executor
        fresh_cache()
        t = timed_export(args.env, local, n=args.n, seed=30_000)
        print(f"\n3. cold export of {args.n} instances, default reference solver, {args.workers} local workers: "
              f"{t:.1f} s = {args.n / t:.1f} instances/s (target >= 60/s)")
        if args.pypower_n:
            t = timed_export(args.env, local, n=args.pypower_n, seed=30_000, env_kwargs={"reference_solver": "pypower"})
            print(f"   same with reference_solver='pypower' on {args.pypower_n} instances: "
                  f"{args.pypower_n / t:.1f} instances/s")
    ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
