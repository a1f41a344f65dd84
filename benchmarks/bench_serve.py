"""Scoring server throughput: completions/s over loopback HTTP at 1, 4 and 16 concurrent clients.

Baseline, measured in the same run and interleaved with the server rounds: the same
completions scored in-process by ``env.unwrapped.score`` in as many threads as there are
clients (numpy releases the GIL, so threads gain on 2 cores too); the ratio says what HTTP,
JSON and the batching cost on top of the scoring itself. Each round sends every client
``--requests`` batches of ``--batch`` completions (a mix of oracle, looks-right, random and
broken answers over ``--instances`` instances). Prints the range over ``--rounds`` rounds.

Run: python benchmarks/bench_serve.py [--env feasgym/ACOPF-case14-v0] [--rounds 3]. ``--url`` measures
a running server instead, e.g. several processes::

    feasgym serve --env feasgym/ACOPF-case14-v0 --n 4 --workers 2 --port 8765 &
    python benchmarks/bench_serve.py --url http://127.0.0.1:8765
"""
from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import threading
import time
import urllib.request

import gymnasium as gym
import numpy as np

import feasgym  # noqa: F401
from feasgym.envs.rewards import instance_columns
from feasgym.integrations.scoring import InstanceKey, InstanceStore
from feasgym.integrations.server import create_app, serve_in_background


def completions(env_id: str, n_instances: int) -> tuple[list[dict], list]:
    items, envs = [], []
    rng = np.random.default_rng(0)
    for k in range(n_instances):
        env = gym.make(env_id)
        env.reset(seed=0, options={"instance": k})
        u = env.unwrapped
        oracle = u.reference_answer()
        answers = [oracle, u.nominal_answer(), u.random_answer(rng), oracle[: len(oracle) // 2], "no answer"]
        items += [{**instance_columns(env), "completion": a} for a in answers]
        envs += [env] * len(answers)
    return items, envs


def post(url: str, payload: bytes) -> dict:
    req = urllib.request.Request(f"{url}/score", data=payload, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=300) as resp:
        return json.loads(resp.read())


def server_round(url: str, batch: list[dict], clients: int, requests: int) -> float:
    payload = json.dumps({"items": batch}).encode()
    errors = []

    def client():
        for _ in range(requests):
            body = post(url, payload)
            if body["n"] != len(batch) or body["errors"]:
                errors.append(body)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    assert not errors, errors[:1]
    return clients * requests * len(batch) / elapsed


def inprocess_round(batch: list[dict], batch_envs: list, threads: int, n: int) -> float:
    """``n`` completions per thread scored by ``env.unwrapped.score`` in ``threads`` threads (one env per
    instance, shared, as the server shares its store)."""
    def work():
        done = 0
        while done < n:
            for item, env in zip(batch, batch_envs):
                env.unwrapped.score(item["completion"])
            done += len(batch)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    start = time.perf_counter()
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return threads * -(-n // len(batch)) * len(batch) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="feasgym/ACOPF-case14-v0")
    parser.add_argument("--instances", type=int, default=4)
    parser.add_argument("--batch", type=int, default=64, help="completions per request")
    parser.add_argument("--requests", type=int, default=8, help="requests per client per round")
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--url", default=None, help="a running feasgym serve holding instances 0..N-1 of seed 0")
    args = parser.parse_args(argv)

    items, envs = completions(args.env, args.instances)
    reps = -(-args.batch // len(items))
    batch, batch_envs = (items * reps)[: args.batch], (envs * reps)[: args.batch]
    if args.url:
        server = contextlib.nullcontext(args.url.rstrip("/"))
    else:
        store = InstanceStore(lazy=False)
        store.preload(InstanceKey.from_mapping(it) for it in items)
        server = serve_in_background(create_app(store))
    levels = [int(c) for c in args.clients.split(",")]
    rates: dict[tuple[str, int], list[float]] = {(side, c): [] for c in levels for side in ("in-process", "server")}
    with server as url:
        post(url, json.dumps({"items": batch}).encode())  # warm-up
        for _ in range(args.rounds):  # interleaved: each level's baseline, then its server run, every round
            for c in levels:
                rates[("in-process", c)].append(inprocess_round(batch, batch_envs, c, args.batch * args.requests))
                rates[("server", c)].append(server_round(url, batch, c, args.requests))
    print(f"{args.env}: {args.instances} instances, {args.batch} completions per request, "
          f"{args.requests} requests per client, {args.rounds} rounds (loopback HTTP, "
          f"{'server at ' + args.url if args.url else 'one server process'})")
    print("baseline: the same completions scored by env.unwrapped.score in as many threads as clients")
    print(f"{'clients':>8s} {'server completions/s':>22s} {'range':>13s} {'in-process/s':>13s} {'range':>13s} "
          f"{'server/in-process':>18s}")
    for c in levels:
        srv, base = rates[("server", c)], rates[("in-process", c)]
        ms, mb = statistics.median(srv), statistics.median(base)
        print(f"{c:8d} {ms:22.0f} {min(srv):6.0f}-{max(srv):<6.0f} {mb:13.0f} {min(base):6.0f}-{max(base):<6.0f} "
              f"{ms / mb:17.2f}x")


if __name__ == "__main__":
    main()
