"""An OpenAI-compatible chat-completions agent (vLLM, llama.cpp server, Ollama, hosted APIs).

Built on the official ``openai`` client (``AsyncOpenAI``): its per-request timeouts, its retries
(timeouts, connection errors, 408/409/429/5xx, ``Retry-After`` honoured) with exponential
backoff from ``backoff_s``, and an asyncio semaphore for the concurrency limit. The agent owns
one event loop in a background thread, so ``act`` works from plain code and from inside a
running loop (notebooks), and connections are reused across batches. Whatever still fails is
recorded in that reply's ``error``; a run never aborts.

Tool-using episodes: a request's ``tools`` (OpenAI function schemas) are sent as ``tools`` and its
``messages`` as the conversation; tool calls come back as the reply's ``tool_calls`` (OpenAI
format), which the env reads with the same parser as text calls (:mod:`feasgym.envs.tools.calls`).
"""
from __future__ import annotations

import asyncio
import os
import threading
import time
import weakref
from typing import Any, Sequence

from .protocol import Agent, AnswerReply, AnswerRequest

DEFAULT_BASE_URL = "https://api.openai.com/v1"
MAX_BACKOFF_S = 60.0


class OpenAIAgent(Agent):
    """Chat completions at ``{base_url}/chat/completions``; the API key is read from ``api_key_env``
    at every request (no ``Authorization`` header when it is unset or empty)."""

    uses_tools = True

    def __init__(self, model: str, *, base_url: str | None = None, name: str | None = None,
                 api_key_env: str = "OPENAI_API_KEY", max_tokens: int = 2048, temperature: float = 0.0,
                 top_p: float | None = None, seed: int | None = None, system_prompt: str | None = None,
                 concurrency: int = 8, timeout_s: float = 120.0, max_retries: int = 3, backoff_s: float = 1.0,
                 extra_body: dict | None = None):
        if not model:
            raise ValueError("an OpenAI-compatible agent needs a model name")
        try:
            import openai  # noqa: F401
        except ImportError:
            raise ImportError("the OpenAI-compatible agent needs the openai client: pip install 'feasgym[openai]'") from None
        if int(concurrency) < 1 or int(max_retries) < 0 or float(timeout_s) <= 0 or float(backoff_s) < 0:
            raise ValueError("concurrency must be >= 1, max_retries >= 0, timeout_s > 0, backoff_s >= 0")
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
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client = None
        self._finalizer: weakref.finalize | None = None
        self._start_lock = threading.Lock()

    @property
    def config(self) -> dict:
        return {"kind": "openai", "model": self.model, "base_url": self.base_url, "api_key_env": self.api_key_env,
                "max_tokens": self.max_tokens, "temperature": self.temperature, "top_p": self.top_p,
                "seed": self.seed, "system_prompt": self.system_prompt, "extra_body": self.extra_body}

    def act(self, requests: Sequence[AnswerRequest]) -> list[AnswerReply]:
        if not requests:
            return []
        future = asyncio.run_coroutine_threadsafe(self._answer_all(list(requests)), self._event_loop())
        return future.result()

    def close(self) -> None:
        """Close the HTTP client and stop the agent's event loop (a later ``act`` starts them again)."""
        with self._start_lock:
            loop, thread, client = self._loop, self._thread, self._client
            self._loop = self._thread = self._client = None
        if loop is None:
            return
        self._finalizer.detach()
        if client is not None:
            asyncio.run_coroutine_threadsafe(client.close(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()

    # ---- the client and its loop ------------------------------------------------------
    def _event_loop(self) -> asyncio.AbstractEventLoop:
        with self._start_lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name=f"{self.name} client", daemon=True)
                thread.start()
                self._client = asyncio.run_coroutine_threadsafe(self._make_client(), loop).result()
                self._loop, self._thread = loop, thread
                # an agent dropped without close() still stops its loop thread
                self._finalizer = weakref.finalize(self, loop.call_soon_threadsafe, loop.stop)
            return self._loop

    async def _make_client(self):
        """Built inside the agent's loop, where its connection pool lives."""
        return _client_class()(api_key=self._api_key, base_url=self.base_url, timeout=self.timeout_s,
                               max_retries=self.max_retries, backoff_s=self.backoff_s)

    async def _api_key(self) -> str:
        return (os.environ.get(self.api_key_env) or "") if self.api_key_env else ""

    # ---- requests ---------------------------------------------------------------------
    async def _answer_all(self, requests: list[AnswerRequest]) -> list[AnswerReply]:
        limit = asyncio.Semaphore(self.concurrency)

        async def one(request: AnswerRequest) -> AnswerReply:
            async with limit:
                return await self._answer(request)

        return list(await asyncio.gather(*(one(r) for r in requests)))

    def _request(self, question: AnswerRequest | str) -> dict[str, Any]:
        """Keyword arguments of ``chat.completions.create`` for one question (its conversation and tools)."""
        import openai

        if isinstance(question, str):
            question = AnswerRequest(question)
        messages = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        conversation = _api_messages(question.messages) if question.messages else [
            {"role": "user", "content": question.prompt}]
        request: dict[str, Any] = {
            "model": self.model, "messages": messages + conversation,
            "max_tokens": self.max_tokens, "temperature": self.temperature,
            "top_p": openai.omit if self.top_p is None else self.top_p,
            "seed": openai.omit if self.seed is None else self.seed,
        }
        if question.tools:
            request["tools"] = list(question.tools)
        if self.extra_body:
            request["extra_body"] = dict(self.extra_body)
        return request

    async def _answer(self, question: AnswerRequest) -> AnswerReply:
        import openai

        start = time.perf_counter()
        request = self._request(question)
        if not await self._api_key():  # no key: send no Authorization header at all
            request["extra_headers"] = {"Authorization": openai.omit}
        try:
            raw = await self._client.chat.completions.with_raw_response.create(**request)
        except openai.APIStatusError as exc:
            detail = exc.response.text[:300]
            return _error_reply(f"HTTP {exc.status_code}: {detail}", _attempts(exc.response.request), start)
        except openai.APITimeoutError as exc:
            return _error_reply(f"timeout after {self.timeout_s:g} s", _attempts(exc.request), start)
        except openai.APIConnectionError as exc:
            reason = exc.__cause__ or exc
            return _error_reply(f"connection error: {reason}", _attempts(exc.request), start)
        except Exception as exc:  # noqa: BLE001  (anything else is this reply's error, not the run's end)
            return _error_reply(f"request failed: {type(exc).__name__}: {exc}", 1, start)
        return _reply_from(raw, time.perf_counter() - start)


def _api_messages(messages: list[dict]) -> list[dict]:
    """The conversation in the fields the chat-completions API takes (tool results: ``tool_call_id`` and content)."""
    out = []
    for m in messages:
        role = m.get("role")
        if role == "tool":
            out.append({"role": "tool", "tool_call_id": str(m.get("tool_call_id") or ""), "content": str(m.get("content") or "")})
        elif role == "assistant" and m.get("tool_calls"):
            out.append({"role": "assistant", "content": m.get("content") or None, "tool_calls": list(m["tool_calls"])})
        else:
            out.append({"role": role, "content": m.get("content") or ""})
    return out


def _client_class():
    """``AsyncOpenAI`` whose retry delay starts at ``backoff_s`` (the client's own starts at 0.5 s)."""
    global _CLIENT
    if _CLIENT is None:
        import openai

        class BackoffClient(openai.AsyncOpenAI):
            def __init__(self, *, backoff_s: float, **kwargs: Any):
                super().__init__(**kwargs)
                self._feasgym_backoff_s = backoff_s

            def _calculate_retry_timeout(self, remaining_retries, options, response_headers=None):
                retry_after = self._parse_retry_after_header(response_headers)
                if retry_after is not None and 0 < retry_after <= MAX_BACKOFF_S:
                    return retry_after  # the server said how long to wait
                done = options.get_max_retries(self.max_retries) - remaining_retries
                return min(self._feasgym_backoff_s * 2.0 ** min(done, 30), MAX_BACKOFF_S)

        _CLIENT = BackoffClient
    return _CLIENT


_CLIENT = None


def _attempts(request: Any) -> int:
    """Attempts made for a request: the client numbers its retries in ``x-stainless-retry-count``."""
    try:
        return int(request.headers.get("x-stainless-retry-count", 0)) + 1
    except (AttributeError, TypeError, ValueError):
        return 1


def _error_reply(message: str, attempts: int, start: float) -> AnswerReply:
    return AnswerReply("", error=f"{message} (after {attempts} attempt{'s' * (attempts > 1)})",
                       latency_s=time.perf_counter() - start, extra={"attempts": attempts})


def _reply_from(raw: Any, latency: float) -> AnswerReply:
    """Read the first choice; a body that is not JSON or not a completion is an error reply, not an exception."""
    attempts = int(getattr(raw, "retries_taken", 0)) + 1
    extra = {"attempts": attempts} if attempts > 1 else {}
    try:
        completion = raw.parse()
    except ValueError:
        return AnswerReply("", error=f"response is not JSON: {raw.http_response.content[:200]!r}",
                           latency_s=latency, extra=extra)
    try:
        choice = completion.choices[0]
        text = choice.message.content or ""
        if not isinstance(text, str):
            raise TypeError(type(text).__name__)
    except (AttributeError, IndexError, KeyError, TypeError):
        return AnswerReply("", error=f"malformed response: {raw.http_response.text[:200]}", latency_s=latency,
                           extra=extra)
    usage = getattr(completion, "usage", None)
    calls = getattr(choice.message, "tool_calls", None)
    tool_calls = [c.model_dump(mode="json", exclude_none=True) for c in calls] if calls else None
    return AnswerReply(text, prompt_tokens=getattr(usage, "prompt_tokens", None),
                       completion_tokens=getattr(usage, "completion_tokens", None), latency_s=latency,
                       finish_reason=getattr(choice, "finish_reason", None), extra=extra, tool_calls=tool_calls)
