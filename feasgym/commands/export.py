"""``feasgym export``: write env instances with oracle answers as JSONL and/or an HF datasets folder."""
from __future__ import annotations

import argparse
import json

NAME = "export"
HELP = "Export instances (prompt, oracle completion, chat messages, instance key) as JSONL or an HF dataset."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", required=True, help="env id, e.g. feasgym/ACOPF-case14-v0")
    parser.add_argument("--split", default="train", choices=("train", "test", "ood"))
    parser.add_argument("--n", type=int, default=100, help="number of instances")
    parser.add_argument("--seed", type=int, default=0, help="seed of the instance stream")
    parser.add_argument("--start", type=int, default=0, help="index of the first instance")
    parser.add_argument("--out", required=True, help="output: a .jsonl file or an HF datasets folder")
    parser.add_argument("--format", default="auto", choices=("auto", "jsonl", "hf", "both"),
                        help="auto: JSONL for a .jsonl path, else an HF folder; both: folder plus OUT.jsonl")
    parser.add_argument("--workers", type=int, default=1, help="processes solving references in parallel")
    parser.add_argument("--system-prompt", default=None, help="system message to put first in `messages`")
    parser.add_argument("--env-kwarg", action="append", default=[], metavar="KEY=VALUE",
                        help="env keyword argument (VALUE parsed as JSON when it parses, else a string); repeatable")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def parse_env_kwargs(pairs: list[str], option: str = "--env-kwarg") -> dict:
    """``["answer_mode=setpoints", "max_turns=2"]`` -> ``{"answer_mode": "setpoints", "max_turns": 2}``
    (also ``feasgym study --env-option``; ``option`` names the flag in the error)."""
    kwargs = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{option} expects KEY=VALUE, got {pair!r}")
        try:
            kwargs[key] = json.loads(value)
        except ValueError:
            kwargs[key] = value
    return kwargs


def run(args: argparse.Namespace) -> int:
    import sys

    import gymnasium as gym

    from feasgym import ENV_IDS
    from feasgym.datasets import export_dataset, save_dataset

    if args.env not in gym.registry:
        print(f"feasgym export: unknown env id {args.env!r}; feasgym ids: {', '.join(ENV_IDS)}", file=sys.stderr)
        return 2
    try:
        env_kwargs = parse_env_kwargs(args.env_kwarg)
        dataset = export_dataset(args.env, split=args.split, n=args.n, seed=args.seed, start=args.start,
                                 env_kwargs=env_kwargs, system_prompt=args.system_prompt,
                                 workers=args.workers, progress=not args.no_progress)
    except (TypeError, ValueError) as err:  # bad counts or env kwargs the env does not take
        print(f"feasgym export: {err}", file=sys.stderr)
        return 2
    for path in save_dataset(dataset, args.out, args.format):
        print(f"wrote {len(dataset)} rows of {args.env} ({args.split}) to {path}")
    return 0
