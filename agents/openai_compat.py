"""An OpenAI-compatible chat-completions agent (vLLM, llama.cpp server, Ollama, hosted APIs).

Standard library HTTP (urllib), a thread pool for the concurrency limit, per-request
timeouts and retries with exponential backoff on timeouts, connection errors, 429 and
5xx. Whatever still fails is recorded in that reply's ``error``; a run never aborts.
"""
from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

from .protocol import Agent, AnswerReply, AnswerRequest

DEFAULT_BASE_URL = "https://api.openai.com/v1"
RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class RequestFailed(Exception):
    def __init__(self, message: str, retryable: bool):
        super().__init__(message)
        self.retryable = retryable


class OpenAIAgent(Agent):
    """Chat completions at ``{base_url}/chat/completions``; the API key is read from ``api_key_env``."""

    def __init__(self, model: str, *, base_url: str | None = None, name: str | None = None,
                 api_key_env: str = "OPENAI_API_KEY", max_tokens: int = 2048, temperature: float = 0.0,
                 top_p: float | None = None, seed: int | None = None, system_prompt: str | None = None,
                 concurrency: int = 8, timeout_s: float = 120.0, max_retries: int = 3, backoff_s: float = 1.0,
                 extra_body: dict | None = None):
        if not model:
            raise ValueError("an OpenAI-compatible agent needs a model name")
        if int(concurrency) < 1 or int(max_retries) < 0 or float(timeout_s) <= 0:
            raise ValueError("concurrency must be >= 1, max_retries >= 0, timeout_s > 0")
        self.model = model
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {self.base_url!r}")
        self.name = name or f"openai:{model}"
        self.api_key_env = api_key_env
        self.max_tokens, self.temperature, self.top_p, self.seed = int(max_tokens), float(temperature), top_p, seed
        self.system_prompt = system_prompt
        self.concurrency, self.batch_size = int(concurrency), int(concurrency)
        self.timeout_s, self.max_retries, self.backoff_s = float(timeout_s), int(max_retries), float(backoff_s)
        self.extra_body = dict(extra_body or {})

    @property
    def config(self) -> dict:
        return {"kind": "openai", "model": self.model, "base_url": self.base_url, "api_key_env": self.api_key_env,
                "max_tokens": self.max_tokens, "temperature": self.temperature, "top_p": self.top_p,
                "seed": self.seed, "system_prompt": self.system_prompt, "extra_body": self.extra_body}

    def act(self, requests: Sequence[AnswerRequest]) -> list[AnswerReply]:
        if len(requests) <= 1:
            return [self._answer(r.prompt) for r in requests]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(requests))) as pool:
            return list(pool.map(lambda r: self._answer(r.prompt), requests))

    # ---- one request -----------------------------------------------------------------
    def _body(self, prompt: str) -> dict:
        messages = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        body: dict[str, Any] = {"model": self.model, "messages": messages + [{"role": "user", "content": prompt}],
                                "max_tokens": self.max_tokens, "temperature": self.temperature}
        if self.top_p is not None:
            body["top_p"] = self.top_p
        if self.seed is not None:
            body["seed"] = self.seed
        body.update(self.extra_body)
        return body

    def _answer(self, prompt: str) -> AnswerReply:
        start = time.perf_counter()
        data = json.dumps(self._body(prompt)).encode()
        errors: list[str] = []
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                response = self._post(data)
            except RequestFailed as exc:
                errors.append(str(exc))
                if exc.retryable:
                    continue
                break
            return _reply_from(response, time.perf_counter() - start, attempt)
        tries = len(errors)
        return AnswerReply("", error=f"{errors[-1]} (after {tries} attempt{'s' * (tries > 1)})",
                           latency_s=time.perf_counter() - start, extra={"attempts": tries})

    def _post(self, data: bytes) -> dict:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(f"{self.base_url}/chat/completions", data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", errors="replace")
            raise RequestFailed(f"HTTP {exc.code}: {detail}", exc.code in RETRY_STATUS) from None
        except (socket.timeout, TimeoutError):
            raise RequestFailed(f"timeout after {self.timeout_s:g} s", True) from None
        except urllib.error.URLError as exc:
            retryable = isinstance(exc.reason, (socket.timeout, TimeoutError, ConnectionError, OSError))
            raise RequestFailed(f"connection error: {exc.reason}", retryable) from None
        except (ConnectionError, OSError) as exc:
            raise RequestFailed(f"connection error: {exc}", True) from None
        try:
            return json.loads(raw)
        except ValueError:
            raise RequestFailed(f"response is not JSON: {raw[:200]!r}", False) from None


def _reply_from(response: Any, latency: float, attempt: int) -> AnswerReply:
    """Read the first choice; a malformed response is an error reply, not an exception."""
    try:
        choice = response["choices"][0]
        text = choice["message"]["content"] or ""
    except (KeyError, IndexError, TypeError):
        return AnswerReply("", error=f"malformed response: {json.dumps(response)[:200]}", latency_s=latency)
    usage = response.get("usage") or {}
    return AnswerReply(text, prompt_tokens=usage.get("prompt_tokens"), completion_tokens=usage.get("completion_tokens"),
                       latency_s=latency, finish_reason=choice.get("finish_reason"),
                       extra={"attempts": attempt + 1} if attempt else {})
