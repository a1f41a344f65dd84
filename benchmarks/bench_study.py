"""Per-stage wall times of ``feasgym study`` (default: cpu-quick, its 3 seeds) against the 12-minute target.

    python benchmarks/bench_study.py                      # run cpu-quick into a fresh folder, then print
    python benchmarks/bench_study.py --from runs/study-cpu-quick   # print a finished run's stage times

Prints each stage's wall time, its share of the total, the 1-minute load average when it
ended (a shared machine inflates wall times; read them beside the load), seconds per
training step, and the total against 720 s.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

TARGET_S = 720.0


def stage_table(run: Path) -> list[dict]:
    rows = []
    for marker in sorted(run.glob("**/DONE.json"), key=lambda p: json.loads(p.read_text())["finished_at"]):
        done = json.loads(marker.read_text())
        row = {"stage": done["stage"], "wall_s": done["wall_s"], "load": done.get("load_avg_1min")}
        steps = done["result"].get("steps")
        if steps:  # base (pretraining), SFT, GRPO: seconds per optimizer step, probes included
            row["s_per_step"] = done["wall_s"] / steps
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", default=None, help="a finished run folder to read instead of running")
    parser.add_argument("--profile", default="cpu-quick")
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    args = parser.parse_args()
    if args.source:
        run = Path(args.source)
        wall = None
    else:
        from feasgym.study import PROFILES, run_study

        profile = PROFILES[args.profile]
        if args.seeds:
            profile = profile.with_overrides(seeds=tuple(args.seeds))
        run = Path(tempfile.mkdtemp(prefix="bench-study-")) / "run"
        start = time.perf_counter()
        run_study(profile, run, progress=False, log=lambda s: None)
        wall = time.perf_counter() - start
    rows = stage_table(run)
    total = sum(r["wall_s"] for r in rows)
    print(f"run folder: {run}; {os.cpu_count()} CPUs; load average now {os.getloadavg()}")
    print(f"{'stage':<16}{'wall s':>9}{'share':>8}{'load':>7}{'s/step':>9}")
    for r in rows:
        load = f"{r['load']:.1f}" if r.get("load") is not None else "-"
        step = f"{r['s_per_step']:.2f}" if r.get("s_per_step") else "-"
        print(f"{r['stage']:<16}{r['wall_s']:>9.1f}{r['wall_s'] / total:>8.1%}{load:>7}{step:>9}")
    print(f"total stage time {total:.0f} s = {total / TARGET_S:.2f} x the {TARGET_S:.0f} s target"
          + (f"; wall incl. validation and setup {wall:.0f} s" if wall else ""))


if __name__ == "__main__":
    main()
