"""feasgym serve on loopback over real HTTP (uvicorn started here): batches equal env.score, errors per item."""
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import gymnasium as gym
import numpy as np
import pytest

from feasgym.envs.rewards import instance_columns, trl_reward_functions
from feasgym.integrations.scoring import InstanceKey, InstanceStore
from feasgym.integrations.server import create_app, serve_in_background

ENV_ID = "feasgym/ACOPF-case5-v0"
KEYS = [("train", 0, k) for k in range(3)] + [("test", 5, 0)]


def _post(url, payload, raw=None):
    data = raw if raw is not None else json.dumps(payload).encode()
    req = urllib.request.Request(f"{url}/score", data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.fixture(scope="module")
def cases():
    """Per instance: its columns and answers of every kind (oracle, looks-right, random, broken, chat)."""
    out = []
    rng = np.random.default_rng(0)
    for split, seed, k in KEYS:
        env = gym.make(ENV_ID, split=split)
        env.reset(seed=seed, options={"instance": k})
        oracle = env.unwrapped.reference_answer()
        answers = [oracle, env.unwrapped.nominal_answer(), env.unwrapped.random_answer(rng),
                   env.unwrapped.random_answer(rng), oracle[: len(oracle) // 2], "", "{", "no answer here",
                   oracle.replace("1", "7"), [{"role": "user", "content": "q"}, {"role": "assistant", "content": oracle}]]
        out.append((instance_columns(env), answers, env))
    return out


@pytest.fixture(scope="module")
def url(cases):
    store = InstanceStore(lazy=False)
    store.preload(InstanceKey.from_mapping(cols) for cols, _, _ in cases)
    with serve_in_background(create_app(store, max_body_bytes=2_000_000, max_items=600)) as base:
        yield base


def test_eight_clients_of_256_completions_equal_env_score(url, cases):
    rewards = trl_reward_functions(ENV_ID)
    batches = []
    for c in range(8):
        items = []
        for j in range(256):
            cols, answers, _ = cases[(c + j) % len(cases)]
            items.append({**cols, "completion": answers[(c * 7 + j) % len(answers)]})
        batches.append(items)
    replies = [None] * 8

    def client(c):
        replies[c] = _post(url, {"items": batches[c]})

    threads = [threading.Thread(target=client, args=(c,)) for c in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    envs = {(cols["split"], cols["seed"], cols["instance"]): env for cols, _, env in cases}
    by_instance = {}  # the TRL reward functions, fed one instance at a time (their scorer resets per switch)
    for items, (status, body) in zip(batches, replies):
        assert status == 200, body
        assert body["n"] == 256 and body["errors"] == 0
        for item, got in zip(items, body["results"]):
            env = envs[(item["split"], item["seed"], item["instance"])]  # each env stays on its instance
            text = item["completion"] if isinstance(item["completion"], str) else item["completion"][-1]["content"]
            want = env.unwrapped.score(text)
            assert got["error"] is None
            assert got["format"] == want["format"]["score"]
            assert got["constraint_rate"] == want["feasibility"]["score"]
            assert got["feasible"] == want["feasibility"]["feasible"]
            assert got["gap"] == want["optimality"]["gap"] and got["reward"] == want["reward"]
            by_instance.setdefault(item["instance"] + 100 * (item["split"] == "test"), []).append((item, got))
    for pairs in by_instance.values():
        items = [it for it, _ in pairs]
        columns = {k: [it[k] for it in items] for k in ("env_id", "seed", "split", "instance", "prompt_hash")}
        trl = [f(completions=[it["completion"] for it in items], **columns) for f in rewards]
        assert [[got[name] for _, got in pairs] for name in ("format", "feasibility", "optimality")] == trl
    kinds = [r["feasible"] for _, body in replies for r in body["results"]]
    assert any(kinds) and not all(kinds)  # the batch mixes feasible and infeasible answers


def test_bad_items_are_per_item_errors(url, cases):
    cols, answers, _ = cases[0]
    items = [{**cols, "completion": answers[0]},
             {**cols, "prompt_hash": "0" * 16, "completion": answers[0]},
             {**cols, "instance": 99, "completion": answers[0]},
             {**cols, "split": "dev", "completion": answers[0]},
             {**cols, "env_id": "feasgym/NoSuch-v0", "completion": answers[0]},
             {"completion": answers[0]},
             {**cols, "seed": "x", "completion": answers[0]},
             {**cols, "completion": "\x00\ud7ff" * 1000 + "}" * 5000}]
    status, body = _post(url, {"items": items})
    assert status == 200 and body["n"] == 8 and body["errors"] == 6
    first, hashed, missing, split, env, nokey, seed, junk = body["results"]
    assert first["error"] is None and first["feasible"]
    assert "prompt_hash" in hashed["error"] and hashed["format"] == 0.0
    assert "not loaded" in missing["error"]
    assert "split" in split["error"] and "unknown env id" in env["error"]
    assert "env_id" in nokey["error"] and "seed" in seed["error"]
    assert junk["error"] is None and junk["format"] == 0.0


def test_detail_and_health(url, cases):
    cols, answers, env = cases[1]
    status, body = _post(url, {"items": [{**cols, "completion": answers[2]}], "detail": True})
    want = env.unwrapped.score(answers[2])
    detail = body["results"][0]["detail"]
    assert detail["feasibility"]["satisfied"] == want["feasibility"]["satisfied"]
    assert detail["feasibility"]["violations"][0] == want["feasibility"]["violations"][0]
    with urllib.request.urlopen(f"{url}/health", timeout=10) as resp:
        health = json.loads(resp.read())
    assert health == {"status": "ok", "instances": len(KEYS), "lazy": False, "env_ids": [ENV_ID]}


@pytest.mark.parametrize("payload, raw, status, words", [
    (None, b"{not json", 400, "not JSON"),
    ([1, 2], None, 422, "items"),
    ({"items": "x"}, None, 422, "items"),
    ({"items": [5]}, None, 422, "items[0] must be an object"),
    ({"items": [{"completion": 5}]}, None, 422, "items[0].completion"),
    ({"items": [{"completion": "a"}] * 601}, None, 413, "601 items"),
    ({"items": [], "detail": "yes"}, None, 422, "detail"),
])
def test_malformed_requests_are_4xx_with_a_message(url, payload, raw, status, words):
    got, body = _post(url, payload, raw)
    assert got == status and words in body["error"]


def _raw_post(url, headers, body):
    """POST with exact headers (http.client): a declared length, or a chunked body."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest("POST", "/score")
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.endheaders()
        if body:
            conn.send(body)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_request_size_cap_declared_and_streamed(url):
    # a declared Content-Length over the cap is refused before any of the body is read
    status, body = _raw_post(url, {"Content-Type": "application/json", "Content-Length": "2000001"}, b"")
    assert status == 413 and "2000001 bytes is over the cap of 2000000" in body["error"]
    # a chunked body (no length declared) is counted as it streams in
    small = InstanceStore(lazy=False)
    with serve_in_background(create_app(small, max_body_bytes=1000)) as base:
        payload = json.dumps({"items": [{"completion": "x" * 1500}]}).encode()
        chunk = b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload)
        status, body = _raw_post(base, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}, chunk)
        assert status == 413 and "over the cap of 1000 bytes" in body["error"]
        ok = json.dumps({"items": []}).encode()
        status, body = _raw_post(base, {"Transfer-Encoding": "chunked"}, b"%x\r\n%s\r\n0\r\n\r\n" % (len(ok), ok))
        assert status == 200 and body["n"] == 0


def test_empty_batch_and_lazy_store(cases):
    cols, answers, _ = cases[0]
    store = InstanceStore(lazy=True)
    with serve_in_background(create_app(store)) as base:
        assert _post(base, {"items": []}) == (200, {"results": [], "n": 0, "errors": 0})
        status, body = _post(base, {"items": [{**cols, "completion": answers[0]}]})
    assert status == 200 and body["results"][0]["feasible"] and len(store) == 1


def test_store_from_exported_rows_checks_hash_and_kwargs(tmp_path):
    from feasgym.datasets import export_records
    from feasgym.integrations.server import build_store

    rows = export_records(ENV_ID, n=2, seed=3, progress=False)
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    store = build_store({"rows": [str(path)]})
    assert sorted(store.keys()) == [(ENV_ID, "train", 3, 0), (ENV_ID, "train", 3, 1)]
    key = InstanceKey.from_mapping(rows[1])
    assert store.score(key, rows[1]["completion"])["feasible"]
    rows[0]["prompt_hash"] = "f" * 16  # rows of another export must fail at start-up, not score wrongly
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(ValueError, match="prompt_hash"):
        build_store({"rows": [str(path)]})
    rows[0]["env_kwargs"] = json.dumps({"answer_mode": "full"})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(ValueError, match="different env kwargs"):
        build_store({"rows": [str(path)]})


def test_feasgym_serve_command(cases):
    cols, answers, _ = cases[0]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "feasgym.cli", "serve", "--env", ENV_ID, "--n", "1", "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, body = _post(f"http://127.0.0.1:{port}", {"items": [{**cols, "completion": answers[0]}]})
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read().decode()
                time.sleep(0.2)
        assert status == 200 and body["results"][0]["feasible"] and body["results"][0]["format"] == 1.0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    bad = subprocess.run([sys.executable, "-m", "feasgym.cli", "serve"], capture_output=True, text=True)
    assert bad.returncode == 2 and "nothing to serve" in bad.stderr


def test_store_from_a_bundle_solves_nothing(tmp_path, monkeypatch):
    from feasgym.datasets import export_rows
    from feasgym.integrations.server import build_store

    rows, bundle = tmp_path / "rows.jsonl", tmp_path / "refs.jsonl.gz"
    export_rows(ENV_ID, rows, "jsonl", bundle=bundle, n=2, seed=8, progress=False)
    monkeypatch.setenv("FEASGYM_CACHE", str(tmp_path / "fresh-cache"))  # another machine: an empty cache
    family = type(gym.make(ENV_ID).unwrapped.family)

    def no_solve(*args, **kwargs):
        raise AssertionError("solved a reference the bundle holds")

    monkeypatch.setattr(family, "solve", no_solve)
    store = build_store({"rows": [str(rows)], "bundles": [str(bundle)]})
    row = json.loads(rows.read_text().splitlines()[1])
    assert len(store) == 2 and store.score(InstanceKey.from_mapping(row), row["completion"])["feasible"]
