"""A small client for ``feasgym serve`` (``POST /score``), used by the adapters' ``server_url`` option."""
from __future__ import annotations

import json
import urllib.request
from typing import Any, Sequence

from feasgym.integrations.scoring import InstanceKey

MAX_PER_REQUEST = 4096


def score_remote(url: str, keys: Sequence[InstanceKey], completions: Sequence[Any], *, timeout_s: float = 300.0,
                 detail: bool = False) -> list[dict]:
    """The server's result per (key, completion), in order (requests of at most 4096 items)."""
    results: list[dict] = []
    base = url.rstrip("/")
    for start in range(0, len(keys), MAX_PER_REQUEST):
        items = [{**k.columns(), "completion": c}
                 for k, c in zip(keys[start:start + MAX_PER_REQUEST], completions[start:start + MAX_PER_REQUEST])]
        data = json.dumps({"items": items, "detail": detail}).encode()
        request = urllib.request.Request(f"{base}/score", data=data, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            results += json.loads(response.read())["results"]
    return results
