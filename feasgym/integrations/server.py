"""The scoring server behind ``feasgym serve``: ``POST /score`` scores a batch of (instance key, completion).

Request (JSON)::

    {"items": [{"env_id": "feasgym/ACOPF-case5-v0", "seed": 0, "split": "train", "instance": 3,
                "prompt_hash": "9f2c...", "completion": "<answer text or chat message list>"}, ...],
     "detail": false}

Response: ``{"results": [...], "n": N, "errors": E}``, one result per item in order, each with
the three rewards ``format``, ``feasibility``, ``optimality`` (the TRL reward functions' values),
the components ``constraint_rate``, ``feasible``, ``gap``, ``objective``, ``reference_objective``,
``reward`` (the env's scalar) and ``error`` (None, or why that item got zeros: unknown
instance, prompt-hash mismatch, bad key). ``detail: true`` adds the env's full score dict.
A body that is not JSON, or not this shape, is a 400/422 with a message; a body over the size
cap is a 413. ``GET /health`` reports the instances held. ``POST /openrlhf`` speaks OpenRLHF's
remote-reward protocol (:mod:`feasgym.integrations.openrlhf`).

Scoring runs in the server's thread pool, so requests overlap their I/O; run several
processes (``feasgym serve --workers N``) to use several cores.
"""
from __future__ import annotations

import json
import os
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from .scoring import InstanceStore

MAX_BODY_BYTES = 64 * 1024 * 1024
MAX_ITEMS = 8192
CONFIG_ENV = "FEASGYM_SERVE_CONFIG"


class BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def create_app(store: InstanceStore, *, max_body_bytes: int = MAX_BODY_BYTES, max_items: int = MAX_ITEMS) -> FastAPI:
    """A FastAPI app scoring against ``store``."""
    app = FastAPI(title="feasgym scoring server", description=__doc__.splitlines()[0])
    app.state.store = store

    def fail(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "instances": len(store), "lazy": store.lazy,
                "env_ids": sorted({k[0] for k in store.keys()})}

    @app.post("/score")
    async def score(request: Request):
        try:
            body = await _read_capped(request, max_body_bytes)
            items, detail = _parse(body, max_items)
        except BadRequest as err:
            return fail(err.status, str(err))
        results = await run_in_threadpool(_score_all, store, items, detail)
        payload = {"results": results, "n": len(results), "errors": sum(r["error"] is not None for r in results)}
        return Response(orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json")

    @app.post("/openrlhf")
    async def openrlhf(request: Request):
        """OpenRLHF's remote reward protocol: ``{"query", "prompts", "labels"}`` -> ``{"rewards", "scores", "extra_logs"}``."""
        from .openrlhf import rewards_of

        try:
            data = orjson.loads(await _read_capped(request, max_body_bytes))
        except orjson.JSONDecodeError as err:
            return fail(400, f"request body is not JSON: {err}")
        except BadRequest as err:
            return fail(err.status, str(err))
        if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("query", "prompts", "labels")):
            return fail(422, 'expected {"query": [...], "prompts": [...], "labels": [...]} (OpenRLHF remote reward)')
        if len(data["query"]) > max_items:
            return fail(413, f"{len(data['query'])} queries is over the cap of {max_items} per request")
        if not all(isinstance(q, str) for k in ("query", "prompts") for q in data[k]):
            return fail(422, "query and prompts must be lists of strings")
        try:
            out = await run_in_threadpool(rewards_of, data["query"], data["prompts"], data["labels"],
                                          data.get("weights"), None, store)
        except (ValueError, TypeError, LookupError) as err:  # a label that names no instance of this server
            return fail(422, str(err))
        return Response(orjson.dumps(out), media_type="application/json")

    return app


async def _read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise BadRequest(400, f"bad Content-Length {declared!r}") from None
        if size > limit:
            raise BadRequest(413, f"request body of {size} bytes is over the cap of {limit} bytes")
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise BadRequest(413, f"request body is over the cap of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(body: bytes, max_items: int) -> tuple[list[dict], bool]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise BadRequest(400, f"request body is not JSON: {err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise BadRequest(422, 'expected a JSON object {"items": [{"env_id", "seed", "split", "instance", '
                              '"prompt_hash", "completion"}, ...]}')
    items = data["items"]
    if len(items) > max_items:
        raise BadRequest(413, f"{len(items)} items is over the cap of {max_items} per request")
    detail = data.get("detail", False)
    if not isinstance(detail, bool):
        raise BadRequest(422, "detail must be true or false")
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise BadRequest(422, f"items[{i}] must be an object, got {type(item).__name__}")
        completion = item.get("completion")
        if not isinstance(completion, (str, list)):
            raise BadRequest(422, f"items[{i}].completion must be a string or a list of chat messages, got "
                                  f"{type(completion).__name__}")
    return items, detail


def _score_all(store: InstanceStore, items: list[dict], detail: bool) -> list[dict]:
    return [store.score_item(item, item["completion"], detail) for item in items]


# ---- the app a uvicorn worker process builds (feasgym serve --workers N) ---------------
def build_store(config: dict, progress: bool = False) -> InstanceStore:
    """The store a ``feasgym serve`` config describes (``rows``, ``range``, ``bundles``: reference bundles
    imported into the cache first, ``lazy``, ``max_instances``), with its instances preloaded."""
    from .scoring import InstanceKey, keys_and_kwargs, read_rows

    if config.get("bundles"):
        import sys

        from feasgym.envs.core.bundle import import_bundle

        for bundle in config["bundles"]:  # references shipped from another machine, into this cache
            report = import_bundle(bundle)
            if progress or report.problems:
                print(f"bundle {bundle}: {report.written} references imported"
                      + "".join(f"\n  left out: {p}" for p in report.problems[:5]), file=sys.stderr)
    keys, env_kwargs = [], {}
    for path in config.get("rows", []):
        found, kwargs = keys_and_kwargs(read_rows(path))
        keys += found
        for env_id, kw in kwargs.items():
            if env_kwargs.setdefault(env_id, kw) != kw:
                raise ValueError(f"{path}: rows of {env_id} were exported with other env kwargs than earlier rows")
    span = config.get("range")
    if span:
        env_id = span["env_id"]
        if env_kwargs.setdefault(env_id, span.get("env_kwargs", {})) != span.get("env_kwargs", {}):
            raise ValueError(f"--env-kwarg for {env_id} differs from the env kwargs of its rows")
        keys += [InstanceKey(env_id, span["seed"], span["split"], k)
                 for k in range(span["start"], span["start"] + span["n"])]
    store = InstanceStore(env_kwargs, lazy=config.get("lazy", False),
                          max_instances=config.get("max_instances", 100_000))
    store.preload(keys, progress=progress)
    return store


def app_from_env():
    """uvicorn factory: the app for the config in ``$FEASGYM_SERVE_CONFIG`` (JSON)."""
    config = json.loads(os.environ[CONFIG_ENV])
    return create_app(build_store(config), max_body_bytes=config.get("max_body_bytes", MAX_BODY_BYTES),
                      max_items=config.get("max_items", MAX_ITEMS))


class serve_in_background:
    """Run ``app`` with uvicorn in a thread on loopback (tests, examples, benchmarks)::

        with serve_in_background(app) as url:   # "http://127.0.0.1:PORT"
            ...
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, timeout_s: float = 30.0):
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
        self.timeout_s = timeout_s
        self.thread = None

    def __enter__(self) -> str:
        import threading
        import time

        self.thread = threading.Thread(target=self.server.run, name="feasgym serve", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + self.timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the scoring server did not start")
            time.sleep(0.01)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=self.timeout_s)
