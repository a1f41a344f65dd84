"""Score completions over HTTP with ``feasgym serve``: POST /score takes (instance key, completion) batches.

Run: python examples/serve_scores.py [--env ID] [--n 4] [--url http://127.0.0.1:8000]. Without
``--url`` the server runs in this process on a free loopback port (what ``feasgym serve --rows
rows.jsonl`` runs as its own process). ``FEASGYM_SMOKE=1`` (or ``--smoke``) uses two instances.

The request, copy-pasteable (the key columns are those of every exported row)::

    curl -s localhost:8000/score -H 'content-type: application/json' -d '{"items": [
      {"env_id": "feasgym/ACOPF-case5-v0", "seed": 0, "split": "train", "instance": 0,
       "prompt_hash": "...", "completion": "{...}"}]}'
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import urllib.request

from feasgym.datasets import export_records
from feasgym.integrations.scoring import InstanceKey, InstanceStore
from feasgym.integrations.server import create_app, serve_in_background


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="feasgym/ACOPF-case5-v0")
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--url", default=None, help="a running feasgym serve (default: one started here)")
    parser.add_argument("--smoke", action="store_true", default=os.environ.get("FEASGYM_SMOKE") == "1")
    args = parser.parse_args(argv)
    if args.smoke:
        args.n = 2

    rows = export_records(args.env, n=args.n, progress=False)  # prompt, oracle completion, instance key columns
    keys = ("env_id", "seed", "split", "instance", "prompt_hash")
    kinds = {"oracle": lambda r: r["completion"], "digits edited": lambda r: r["completion"].replace("1", "9"),
             "prose": lambda r: "I think the grid is fine."}
    items = [{**{k: r[k] for k in keys}, "completion": make(r), "kind": kind} for r in rows for kind, make in kinds.items()]
    if args.url:
        server = contextlib.nullcontext(args.url)
    else:
        store = InstanceStore(lazy=False)
        store.preload(InstanceKey.from_mapping(r) for r in rows)
        server = serve_in_background(create_app(store))
    with server as url:
        request = urllib.request.Request(f"{url}/score", data=json.dumps({"items": items}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as resp:
            body = json.loads(resp.read())
    print(f"POST {url}/score: {body['n']} completions, {body['errors']} errors")
    for item, r in zip(items, body["results"]):
        print(f"  instance {item['instance']} {item['kind']:>13s}: format {r['format']:.2f}  feasibility "
              f"{r['feasibility']:.3f}  optimality {r['optimality']:.3f}  feasible {r['feasible']}")
    return body


if __name__ == "__main__":
    main()
