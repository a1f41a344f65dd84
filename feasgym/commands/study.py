"""``feasgym study``: base model -> SFT -> GRPO -> arena on held-out and OOD instances -> report."""
from __future__ import annotations

import argparse
import sys

NAME = "study"
HELP = ("The controlled SFT-vs-RL comparison, end to end: build (or load) a base model, SFT on oracle answers, "
        "GRPO on the env's rewards, then a head-to-head on held-out and OOD instances and a report.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from feasgym.study.profiles import PROFILES

    parser.add_argument("--profile", choices=sorted(PROFILES), default="cpu-quick",
                        help="budgets and model size (default: cpu-quick, ~10 minutes on 2 CPU cores)")
    parser.add_argument("--env", action="extend", nargs="+", dest="envs", metavar="ID",
                        help="env id(s) to train and evaluate on (default: the profile's)")
    parser.add_argument("--env-option", action="append", default=[], metavar="KEY=VALUE",
                        help="constructor option for every env (gym.make kwargs), VALUE read as JSON when it parses, "
                             "e.g. answer_mode=full; repeatable; overrides the profile's options")
    parser.add_argument("--base-model", default=None,
                        help="HF hub name or local path of the base model (default: build the embedded tiny model)")
    parser.add_argument("--out", default=None, help="run folder (default: runs/study-<profile>); rerun to resume")
    parser.add_argument("--seed", type=int, default=None, help="seed for instances and training (default: profile's)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
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
    if changes:
        profile = profile.with_overrides(**changes)
    out = args.out or f"runs/study-{profile.name}"
    try:
        report = run_study(profile, out, base_model=args.base_model, progress=not args.no_progress)
    except StudyError as exc:
        print(f"feasgym study: {exc}", file=sys.stderr)
        print(f"completed stages are kept in {out}; rerun the same command to resume", file=sys.stderr)
        return 1
    print(f"report: {report}")
    return 0
