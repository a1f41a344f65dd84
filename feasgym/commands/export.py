"""``feasgym export``: stream env instances with oracle answers into JSONL, Parquet and/or an HF datasets folder.

Instances are solved on an executor (``--executor local`` processes by default, or ``ray`` /
``ray:ADDRESS``); rows are written as they are produced, so memory does not grow with ``--n``.
"""
from __future__ import annotations

import argparse

NAME = "export"
HELP = "Export instances (prompt, oracle completion, chat messages, instance key) as JSONL, Parquet or an HF dataset."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", required=True, help="env id, e.g. feasgym/ACOPF-case14-v0")
    parser.add_argument("--split", default="train", choices=("train", "test", "ood"))
    parser.add_argument("--n", type=int, default=100, help="number of instances")
    parser.add_argument("--seed", type=int, default=0, help="seed of the instance stream")
    parser.add_argument("--start", type=int, default=0, help="index of the first instance")
    from feasgym.datasets import export_formats

    parser.add_argument("--out", required=True, help="output: a .jsonl or .parquet file, or an HF datasets folder")
    parser.add_argument("--format", default="auto", choices=("auto",) + export_formats(),
                        help="auto: by OUT's suffix (.jsonl, .parquet), else an HF folder; both: folder plus OUT.jsonl")
    parser.add_argument("--workers", type=int, default=1, help="local processes solving references in parallel")
    parser.add_argument("--executor", default="local", metavar="local|local:N|ray|ray:ADDRESS",
                        help="where instances are solved: local processes (--workers of them; default), or a Ray "
                             "cluster (ray: RAY_ADDRESS or a new local cluster; ray:ADDRESS, e.g. ray:auto)")
    parser.add_argument("--bundle", default=None, metavar="PATH",
                        help="also write the references of these rows into a bundle (feasgym cache import on "
                             "another machine)")
    parser.add_argument("--system-prompt", default=None, help="system message to put first in `messages`")
    parser.add_argument("--env-kwarg", action="append", default=[], metavar="KEY=VALUE",
                        help="env keyword argument (VALUE parsed as JSON when it parses, else a string); repeatable")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def parse_env_kwargs(pairs: list[str], option: str = "--env-kwarg") -> dict:
    """``["answer_mode=setpoints", "max_turns=2"]`` -> ``{"answer_mode": "setpoints", "max_turns": 2}``
    (also ``feasgym study --env-option``; ``option`` names the flag in the error)."""
    from .options import parse_key_values

    return parse_key_values(pairs, option)


def run(args: argparse.Namespace) -> int:
    import sys

    import gymnasium as gym

    from feasgym import ENV_IDS
    from feasgym.datasets import export_rows
    from feasgym.envs.executors import make_executor

    if args.env not in gym.registry:
        print(f"feasgym export: unknown env id {args.env!r}; feasgym ids: {', '.join(ENV_IDS)}", file=sys.stderr)
        return 2
    try:
        env_kwargs = parse_env_kwargs(args.env_kwarg)
        gym.make(args.env, **env_kwargs).close()  # bad env kwargs fail here, before any file or worker
        executor = make_executor(args.executor, args.workers)
    except (TypeError, ValueError, ImportError) as err:  # bad counts, env kwargs, executor, or no Ray
        print(f"feasgym export: {err}", file=sys.stderr)
        return 2
    try:
        with executor:
            paths = export_rows(args.env, args.out, args.format, bundle=args.bundle, split=args.split, n=args.n,
                                seed=args.seed, start=args.start, env_kwargs=env_kwargs,
                                system_prompt=args.system_prompt, executor=executor, progress=not args.no_progress)
    except (TypeError, ValueError) as err:
        print(f"feasgym export: {err}", file=sys.stderr)
        return 2
    for path in paths:
        print(f"wrote {args.n} rows of {args.env} ({args.split}) to {path}")
    if args.bundle:
        print(f"wrote {args.n} references to {args.bundle}")
    return 0
