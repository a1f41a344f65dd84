"""A real OpenAI-compatible chat-completions server on loopback, shared by the tests that drive the ``openai``
client (or a library built on it) over HTTP: the server owns the socket, the threads, the request log and the
response shape; each test passes only a responder that says what its "model" answers."""
from __future__ import annotations

import json
import threading
import traceback
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Union

CHAT_PATH = "/v1/chat/completions"


@dataclass
class ChatRequest:
    """One POST to the chat-completions route, as the responder sees it."""

    body: dict
    headers: Any
    n: int  # how many times this prompt has been asked, this request included (1 the first time)

    @property
    def prompt(self) -> str:
        return prompt_key(self.body)


@dataclass
class Completion:
    """An assistant turn, sent in the OpenAI ``chat.completion`` shape."""

    content: str | None = None
    tool_calls: list[dict] | None = None
    finish_reason: str | None = None  # default: "tool_calls" when there are calls, else "stop"
    prompt_tokens: int = 10
    completion_tokens: int = 10


@dataclass
class Raw:
    """A reply sent as it is: an HTTP error (``Raw(500, b"internal error")``) or a 200 that is not JSON."""

    status: int
    data: bytes = b""


Reply = Union[str, Completion, Raw]  # a plain string is an assistant message with that content


def tool_call(call_id: str, name: str, arguments: dict | str) -> dict:
    """One OpenAI function call; ``arguments`` as a dict is sent as JSON, as a string verbatim (to send bad JSON)."""
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}


def prompt_key(body: dict) -> str:
    """The last message's content (text, or its JSON when it is a list of parts): what requests are counted by."""
    messages = body.get("messages") or [{}]
    content = messages[-1].get("content")
    return content if isinstance(content, str) else json.dumps(content)


def completion_json(body: dict, reply: Completion) -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.tool_calls:
        message["tool_calls"] = reply.tool_calls
    finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
    usage = {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
             "total_tokens": reply.prompt_tokens + reply.completion_tokens}
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": body.get("model", ""),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage}


class LoopbackChatServer:
    """``POST /v1/chat/completions`` on 127.0.0.1 (a free port), answered by ``respond(request) -> Reply``.

    It records every request body, its ``Authorization`` header, how often each prompt was asked and the
    most requests it served at once. A responder that raises gets a 500 to the client and the error is raised
    again by ``close`` (so a broken responder fails the test instead of reading as a client error)."""

    def __init__(self, respond: Callable[[ChatRequest], Reply]):
        self.respond = respond
        self.bodies: list[dict] = []
        self.auth: list[str | None] = []
        self.calls: Counter[str] = Counter()
        self.active = self.max_active = 0
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != CHAT_PATH:
                    return self._send(Raw(404, b"not found"))
                body = json.loads(data)
                with server.lock:
                    key = prompt_key(body)
                    server.calls[key] += 1
                    server.auth.append(self.headers.get("Authorization"))
                    server.bodies.append(body)
                    server.active += 1
                    server.max_active = max(server.max_active, server.active)
                    request = ChatRequest(body, self.headers, server.calls[key])
                try:
                    try:
                        reply = server.respond(request)
                    except Exception:
                        with server.lock:
                            server.errors.append(traceback.format_exc())
                        reply = Raw(500, b'{"error": {"message": "the test responder raised"}}')
                    self._send(reply if isinstance(reply, Raw) else Raw(200, json.dumps(completion_json(
                        body, Completion(content=reply) if isinstance(reply, str) else reply)).encode()))
                finally:
                    with server.lock:
                        server.active -= 1

            def _send(self, reply: Raw):
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply.data)))
                self.end_headers()
                self.wfile.write(reply.data)

        return Handler

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self.errors:
            raise AssertionError("the test responder raised:\n" + self.errors[0])

    def __enter__(self) -> "LoopbackChatServer":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.close()
        except AssertionError:
            if exc is None:  # do not hide the test's own failure behind the responder's
                raise
