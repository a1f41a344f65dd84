"""``feasgym cache``: ship reference solutions between machines as one bundle file, and check a cache.

``feasgym cache export OUT`` bundles the verified records of the reference cache (all of it, or
one env's, split's or seed's); ``feasgym cache import BUNDLE`` verifies each record and writes it
into this machine's cache, where every env reads it; ``feasgym cache check`` lists bad files.
"""
from __future__ import annotations

import argparse
import sys

NAME = "cache"
HELP = "Reference cache: export/import bundles of solved instances (keys and checksums), check files."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    export = sub.add_parser("export", help="write verified cache records into one bundle file (.jsonl or .jsonl.gz)")
    export.add_argument("out", help="bundle path (gzip-compressed when it ends in .gz)")
    export.add_argument("--env", default=None, help="only this env id's references (with its --env-kwarg options)")
    export.add_argument("--env-kwarg", action="append", default=[], metavar="KEY=VALUE",
                        help="env keyword argument of --env (as in feasgym export); repeatable")
    export.add_argument("--split", default=None, choices=("train", "test", "ood"), help="only this split")
    export.add_argument("--seed", type=int, default=None, help="only this stream seed")
    imp = sub.add_parser("import", help="verify a bundle's records and write them into the cache")
    imp.add_argument("bundle", help="a bundle written by `feasgym cache export` or `feasgym export --bundle`")
    check = sub.add_parser("check", help="verify every file of the cache and list those that fail")
    for p in (export, imp, check):
        p.add_argument("--cache-dir", default=None,
                       help="cache folder (default: $FEASGYM_CACHE, else ~/.cache/feasgym)")


def run(args: argparse.Namespace) -> int:
    from feasgym.envs.core.cache import resolve_cache_dir

    root = resolve_cache_dir(args.cache_dir)
    try:
        return {"export": _export, "import": _import, "check": _check}[args.action](args, root)
    except (FileNotFoundError, ValueError, TypeError) as err:
        print(f"feasgym cache {args.action}: {err}", file=sys.stderr)
        return 2


def _export(args, root) -> int:
    from feasgym.envs.core.bundle import export_bundle

    namespaces = None
    if args.env is not None:
        import gymnasium as gym

        from feasgym.commands.export import parse_env_kwargs

        if args.env not in gym.registry:
            raise ValueError(f"unknown env id {args.env!r}")
        env = gym.make(args.env, **parse_env_kwargs(args.env_kwarg))
        namespaces = [env.unwrapped.cache_namespace]
        env.close()
    report = export_bundle(args.out, root, namespaces=namespaces, split=args.split, seed=args.seed)
    for problem in report.problems:
        print(f"skipped: {problem}", file=sys.stderr)
    print(f"wrote {report.written} references from {root} to {report.path}")
    return 0


def _import(args, root) -> int:
    from feasgym.envs.core.bundle import import_bundle

    report = import_bundle(args.bundle, root)
    for problem in report.problems:
        print(f"skipped: {problem}", file=sys.stderr)
    print(f"imported {report.written} references from {report.path} into {root}"
          + ("" if report.complete else " (the bundle is truncated: re-copy it)"))
    return 0 if report.complete and not report.problems else 1


def _check(args, root) -> int:
    from feasgym.envs.core.cache import iter_records

    good = bad = 0
    for path, _, problem in iter_records(root):
        if problem:
            bad += 1
            print(f"{path} {problem}")
        else:
            good += 1
    print(f"{good} good, {bad} bad reference files in {root}")
    return 1 if bad else 0
