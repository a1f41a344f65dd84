"""``feasgym serve``: the scoring server (FastAPI + uvicorn), ``POST /score`` for batches of completions."""
from __future__ import annotations

import argparse
import json

NAME = "serve"
HELP = "Serve POST /score: three scores per (instance key, completion), references preloaded from the cache or bundles."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", action="append", default=[], metavar="PATH",
                        help="exported rows whose instances to preload (.jsonl, .parquet incl. verl's, HF folder); "
                             "repeatable; their env_kwargs column sets each env id's kwargs")
    parser.add_argument("--bundle", action="append", default=[], metavar="PATH",
                        help="reference bundle (feasgym export --bundle / feasgym cache export) to import into the "
                             "cache before preloading, so nothing is solved here; repeatable")
    parser.add_argument("--env", default=None, help="also preload a range of instances of this env id")
    parser.add_argument("--split", default="train", choices=("train", "test", "ood"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--n", type=int, default=0, help="instances of --env to preload")
    parser.add_argument("--env-kwarg", action="append", default=[], metavar="KEY=VALUE",
                        help="env keyword argument for --env (as feasgym export); repeatable")
    parser.add_argument("--lazy", action="store_true",
                        help="load instances that were not preloaded on first request (may solve them)")
    parser.add_argument("--max-instances", type=int, default=100_000, help="cap on instances held (lazy loading)")
    parser.add_argument("--max-body-mb", type=float, default=64.0, help="request size cap (413 above it)")
    parser.add_argument("--max-items", type=int, default=8192, help="items per request cap (413 above it)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="server processes (each preloads the instances)")
    parser.add_argument("--log-level", default="warning")


def config_of(args: argparse.Namespace) -> dict:
    """The JSON config every server process builds its store from."""
    from .export import parse_env_kwargs

    config = {"rows": list(args.rows), "bundles": list(args.bundle), "lazy": bool(args.lazy), "max_instances": int(args.max_instances),
              "max_body_bytes": int(args.max_body_mb * 1024 * 1024), "max_items": int(args.max_items)}
    if args.env:
        config["range"] = {"env_id": args.env, "split": args.split, "seed": int(args.seed), "start": int(args.start),
                           "n": int(args.n), "env_kwargs": parse_env_kwargs(args.env_kwarg)}
    return config


def run(args: argparse.Namespace) -> int:
    import os
    import sys

    try:
        import uvicorn

        from feasgym.integrations.server import CONFIG_ENV, build_store, create_app
    except ImportError as err:
        print(f"feasgym serve needs FastAPI and uvicorn: pip install 'feasgym[serve]' ({err})", file=sys.stderr)
        return 2
    try:
        config = config_of(args)
        if not config["rows"] and not config.get("range") and not config["lazy"]:
            raise ValueError("nothing to serve: give --rows and/or --env with --n, or --lazy")
        if args.workers > 1:  # each process builds its own store from the config
            os.environ[CONFIG_ENV] = json.dumps(config)
            store = build_store(config, progress=True)  # fail here, once, on bad rows or kwargs
            print(f"feasgym serve: {len(store)} instances preloaded; {args.workers} workers on "
                  f"http://{args.host}:{args.port}", file=sys.stderr)
            del store
            uvicorn.run("feasgym.integrations.server:app_from_env", factory=True, host=args.host, port=args.port,
                        workers=args.workers, log_level=args.log_level)
            return 0
        store = build_store(config, progress=True)
    except (TypeError, ValueError, OSError) as err:
        print(f"feasgym serve: {err}", file=sys.stderr)
        return 2
    print(f"feasgym serve: {len(store)} instances preloaded; POST http://{args.host}:{args.port}/score",
          file=sys.stderr)
    app = create_app(store, max_body_bytes=config["max_body_bytes"], max_items=config["max_items"])
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0
