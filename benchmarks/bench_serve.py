"""Scoring server throughput: completions/s over loopback HTTP at 1, 4 and 16 concurrent clients.

Baseline, measured in the same run and interleaved with the server rounds: the same
completions scored in-process by ``env.unwrapped.score`` in a plain loop (the scoring floor);
the ratio says what HTTP, JSON and the batching cost on top. Each round sends every client
``--requests`` batches of ``--batch`` completions (a mix of oracle, looks-right, random and
broken answers over ``--instances`` instances). Prints the range over ``--rounds`` rounds.

Run: python benchmarks/bench_serve.py [--env feasgym/ACOPF-case14-v0] [--rounds 3]
"""
from __future__ import annotations

import argparse
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


def inprocess_round(batch: list[dict], batch_envs: list, n: int) -> float:
    start = time.perf_counter()
    done = 0
    while done < n:
        for item, env in zip(batch, batch_envs):
            env.unwrapped.score(item["completion"])
        done += len(batch)
    return done / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="feasgym/ACOPF-case14-v0")
    parser.add_argument("--instances", type=int, default=4)
    parser.add_argument("--batch", type=int, default=64, help="completions per request")
    parser.add_argument("--requests", type=int, default=8, help="requests per client per round")
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    items, envs = completions(args.env, args.instances)
    reps = -(-args.batch // len(items))
    batch, batch_envs = (items * reps)[: args.batch], (envs * reps)[: args.batch]
    store = InstanceStore(lazy=False)
    store.preload(InstanceKey.from_mapping(it) for it in items)
    levels = [int(c) for c in args.clients.split(",")]
    rates: dict[str, list[float]] = {"in-process env.score": []} | {f"server, {c} client(s)": [] for c in levels}
    with serve_in_background(create_app(store)) as url:
        post(url, json.dumps({"items": batch}).encode())  # warm-up
        for _ in range(args.rounds):  # interleaved: baseline, then each level, every round
            rates["in-process env.score"].append(inprocess_round(batch, batch_envs, args.batch * args.requests * 4))
            for c in levels:
                rates[f"server, {c} client(s)"].append(server_round(url, batch, c, args.requests))
    base = statistics.median(rates["in-process env.score"])
    print(f"{args.env}: {args.instances} instances, {args.batch} completions per request, "
          f"{args.requests} requests per client, {args.rounds} rounds (loopback HTTP, one server process)")
    print(f"{'':28s} {'completions/s (median)':>24s} {'range':>20s} {'vs in-process':>14s}")
    for name, values in rates.items():
        med = statistics.median(values)
        print(f"{name:28s} {med:24.0f} {min(values):9.0f}-{max(values):<10.0f} {med / base:13.2f}x")


if __name__ == "__main__":
    main()
