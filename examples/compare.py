"""Head-to-head arena from Python: oracle vs looks-right vs random (and any model you name).

    python examples/compare.py                      # AC-OPF case14, 30 instances, in-distribution and N-1
    python examples/compare.py --model hf:Qwen/Qwen2.5-0.5B-Instruct
    python examples/compare.py --model openai:my-model@http://127.0.0.1:8000/v1
    FEASGYM_SMOKE=1 python examples/compare.py      # tiny budgets (case5, 3 instances): what CI runs

Outputs land in --out: episodes.jsonl, summary.json, report.md, gap.png, violations.png.
Rerunning with the same --out resumes.
"""
from __future__ import annotations

import argparse
import os

from feasgym.agents import make_agent
from feasgym.agents.arena import run_arena


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[], help="extra agent spec (hf:... or openai:...)")
    parser.add_argument("--episodes", type=int, default=30)
    parser.add_argument("--case", default="case14")
    parser.add_argument("--out", default="runs/example-compare")
    parser.add_argument("--smoke", action="store_true", default=os.environ.get("FEASGYM_SMOKE") == "1",
                        help="tiny budgets (also FEASGYM_SMOKE=1)")
    args = parser.parse_args(argv)
    case, episodes = ("case5", 3) if args.smoke else (args.case, args.episodes)
    env_id = f"feasgym/ACOPF-{case}-v0"

    agents = {"oracle": make_agent("oracle"), "looks-right": make_agent("looks-right"),
              "random": make_agent("random", seed=0)}
    for spec in args.model:
        agents[spec.split("/")[-1]] = make_agent(spec, **({"max_new_tokens": 16} if args.smoke else {}))

    summary = run_arena(
        [env_id, ("N-1 (one branch out)", env_id, {"n_minus_1": True})],  # two sections, same agents
        agents, episodes=episodes, seed=0, out_dir=args.out, progress=not args.smoke,
    )
    for label, section in summary["envs"].items():
        print(f"\n{label}")
        for name, a in section["agents"].items():
            print(f"  {name:14s} format {a['format']['mean']:.2f}  constraint-satisfaction "
                  f"{a['constraint_rate']['mean']:.3f}  feasible {a['feasible']['mean']:.2f} "
                  f"[{a['feasible']['ci_low']:.2f}, {a['feasible']['ci_high']:.2f}]")
    print(f"\nreport: {args.out}/report.md")
    return summary


if __name__ == "__main__":
    main()
