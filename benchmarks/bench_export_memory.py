"""Streaming export memory: RSS growth of `export_rows` over N case5 rows (target <= 100 MiB at N = 20,000).

Run: ``python benchmarks/bench_export_memory.py [--n 20000] [--workers 2] [--format jsonl]``.
Solves into a fresh temporary reference cache (cold: every instance is solved). Prints the peak
RSS growth of the exporting process over its state after a 50-row warm-up (imports, env, pool
started), sampled every 50 ms, the workers' RSS at the start and the end, and as a baseline the
growth of a fresh process that keeps the rows in a list (``export_records``, the export before
streaming) for a smaller N, scaled per row.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

MiB = 2 ** 20


class PeakRSS:
    """Peak RSS of this process while the block runs (sampled by a thread)."""

    def __init__(self, every_s: float = 0.05):
        self.every_s, self.peak, self._stop = every_s, 0, threading.Event()

    def _run(self):
        me = psutil.Process()
        while not self._stop.is_set():
            self.peak = max(self.peak, me.memory_info().rss)
            self._stop.wait(self.every_s)

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, psutil.Process().memory_info().rss)


def workers_rss() -> int:
    return sum(c.memory_info().rss for c in psutil.Process().children(recursive=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="feasgym/ACOPF-case5-v0")
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--format", default="jsonl", choices=("jsonl", "parquet", "hf"))
    parser.add_argument("--list-n", type=int, default=2_000, help="rows of the in-memory baseline")
    args = parser.parse_args()
    os.environ["FEASGYM_CACHE"] = tempfile.mkdtemp(prefix="feasgym-bench-cache-")
    from feasgym.datasets import export_rows
    from feasgym.envs.executors import make_executor

    out_dir = Path(tempfile.mkdtemp(prefix="feasgym-bench-export-"))
    suffix = {"jsonl": ".jsonl", "parquet": ".parquet", "hf": ""}[args.format]
    with make_executor("local", args.workers) as executor:
        export_rows(args.env, out_dir / f"warm{suffix}", n=50, seed=99, executor=executor, progress=False)
        base, workers0 = psutil.Process().memory_info().rss, workers_rss()
        start = time.perf_counter()
        with PeakRSS() as peak:
            (path,) = export_rows(args.env, out_dir / f"rows{suffix}", args.format, n=args.n, executor=executor,
                                  progress=sys.stderr.isatty())
        elapsed = time.perf_counter() - start
        workers1 = workers_rss()
    # Baseline in a fresh process (this one's allocator would reuse freed pages): rows kept in a list.
    script = ("import sys, psutil\nfrom feasgym.datasets import export_records\n"
              f"export_records({args.env!r}, n=50, seed=98, progress=False)\n"
              "base = psutil.Process().memory_info().rss\n"
              f"rows = export_records({args.env!r}, n={args.list_n}, progress=False)\n"
              "print(psutil.Process().memory_info().rss - base)\n")
    list_growth = int(subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                                     text=True).stdout.split()[-1])
    size = sum(p.stat().st_size for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file())
    print(f"{args.env}, {args.n} rows, {args.format}, {args.workers} local workers, cold cache")
    print(f"  export: {elapsed:.1f} s ({args.n / elapsed:.1f} instances/s), output {size / MiB:.1f} MiB")
    print(f"  exporting process RSS: {base / MiB:.0f} MiB after warm-up, peak {peak.peak / MiB:.0f} MiB: "
          f"growth {(peak.peak - base) / MiB:.1f} MiB ({(peak.peak - base) / args.n / 1024:.2f} KiB/row); "
          f"target <= 100 MiB: {'met' if peak.peak - base <= 100 * MiB else 'NOT met'}")
    print(f"  workers' RSS (all {args.workers}): {workers0 / MiB:.0f} MiB at start, {workers1 / MiB:.0f} MiB at end")
    print(f"  baseline, rows kept in a list ({args.list_n} cached rows, fresh process): RSS growth "
          f"{max(list_growth, 0) / MiB:.1f} MiB ({max(list_growth, 0) / args.list_n / 1024:.1f} KiB/row, "
          f"~{max(list_growth, 0) / args.list_n * args.n / MiB:.0f} MiB at {args.n} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
