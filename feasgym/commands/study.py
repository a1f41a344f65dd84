"""``feasgym study``: base model -> SFT -> GRPO -> arena on held-out and OOD instances -> report."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "study"
HELP = ("The controlled SFT-vs-RL comparison over training seeds: pretrain (or load) a base model, per seed SFT on "
        "oracle answers and GRPO on the env's feasibility reward, a head-to-head of every model on the same held-out "
        "and OOD instances, and a report whose verdicts treat seeds as the unit of replication.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from feasgym.study.profiles import PROFILES

    parser.add_argument("--profile", choices=sorted(PROFILES), default="cpu-quick",
                        help="budgets, model size and seeds (default: cpu-quick, 3 training seeds on 2 CPU cores; "
                             "measured times in the README)")
    parser.add_argument("--env", action="extend", nargs="+", dest="envs", metavar="ID",
                        help="env id(s) to train and evaluate on (default: the profile's)")
    parser.add_argument("--env-option", action="append", default=[], metavar="KEY=VALUE",
                        help="constructor option for every env (gym.make kwargs), VALUE read as JSON when it parses, "
                             "e.g. answer_mode=full; repeatable; overrides the profile's options")
    parser.add_argument("--base-model", default=None,
                        help="HF hub name or local path of the base model (default: the embedded tiny model, pretrained "
                             "on other tasks; LoRA adapters above the profile's size threshold)")
    parser.add_argument("--out", default=None, help="run folder (default: runs/study-<profile>); rerun to resume")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed for the instances (data, probes, evaluation) and the embedded base (default: profile's)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, metavar="S",
                        help="training seeds: one SFT and one RL model each, all evaluated on the same instances "
                             "(default: the profile's; cpu-quick 0 1 2)")
    parser.add_argument("--max-new-tokens", type=int, default=None, metavar="N",
                        help="generation and GRPO completion limit (default: the longest oracle answer in the model's "
                             "tokens + a margin; a smaller N is refused before training)")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="torch threads, pinned for training and generation (default: the profile's; results "
                             "are bit-identical only at the same thread count on the same machine)")
    parser.add_argument("--tools", default=None, metavar="T1,T2",
                        help="the arena also plays the models and the scripted tool user with these tools "
                             "(e.g. power_flow,check) on the same instances, as NAME+tools")
    parser.add_argument("--max-tool-calls", type=int, default=None, metavar="K", help="tool-call budget per episode")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    import os

    # Before torch loads OpenMP: idle threads sleep instead of spinning. Measured on the shared 2-core
    # machine (load ~7): 2 spinning threads generated 20x slower than 1 thread; passive, 1.3x.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from feasgym.study import PROFILES, StudyError, run_study

    from .export import parse_env_kwargs

    profile = PROFILES[args.profile]
    changes = {}
    if args.envs:
        changes["env_ids"] = tuple(args.envs)
    if args.env_option:
        try:
            options = parse_env_kwargs(args.env_option, "--env-option")
        except ValueError as err:
            print(f"feasgym study: {err}", file=sys.stderr)
            return 2
        env_ids = changes.get("env_ids", profile.env_ids)
        changes["env_kwargs"] = {env_id: {**profile.env_kwargs.get(env_id, {}), **options} for env_id in env_ids}
    if args.seed is not None:
        changes["seed"] = args.seed
    if args.seeds is not None:
        changes["seeds"] = tuple(args.seeds)
    if args.max_new_tokens is not None:
        changes["max_new_tokens"] = args.max_new_tokens
    if args.threads is not None:
        changes["threads"] = args.threads
    if args.tools:
        changes["tools"] = tuple(t.strip() for t in args.tools.split(",") if t.strip())
    if args.max_tool_calls is not None:
        changes["max_tool_calls"] = args.max_tool_calls
    if changes:
        profile = profile.with_overrides(**changes)
    out = args.out or f"runs/study-{profile.name}"
    try:
        report = run_study(profile, out, base_model=args.base_model, progress=not args.no_progress)
    except StudyError as exc:
        print(f"feasgym study: {exc}", file=sys.stderr)
        if (Path(out) / "settings.json").exists():
            print(f"completed stages are kept in {out}; rerun to resume (after fixing the settings named above, "
                  "if any: stages that do not depend on them are kept)", file=sys.stderr)
        else:
            print(f"nothing was written to {out}; fix the settings named above and rerun", file=sys.stderr)
        return 1
    print(f"report: {report}")
    return 0
