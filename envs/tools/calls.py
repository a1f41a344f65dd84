"""The one tool-call format: how a reply calls a tool, parsed the same way by the env, the agents and training.

A reply calls tools either as text (what a text model writes; Hermes/Qwen convention)::

    <tool_call>
    {"name": "power_flow", "arguments": {"setpoints": {...}}}
    </tool_call>

(a last block without its closing tag counts when its JSON is whole: servers often stop
generation at the closing tag and drop it) or as an OpenAI chat message ``{"role": "assistant", "content": ..., "tool_calls": [...]}``
(what an OpenAI-compatible server returns). Both become the same :class:`ToolCall` list.
A reply without a tool call is the final answer. A call that cannot be read (bad JSON, no
name, arguments that are not an object, an unterminated block) is still a call: it comes
back with ``error`` set, so the env can answer it with an error observation and count it.

Nothing here raises on any input: :func:`parse_action` takes str, bytes, message dicts,
message lists or anything else.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..core.answer import coerce_text

OPEN, CLOSE = "<tool_call>", "</tool_call>"
MAX_ARGUMENT_CHARS = 200_000
_PARSE_ERRORS = (ValueError, RecursionError, MemoryError, OverflowError, TypeError)


@dataclass
class ToolCall:
    """One call: its name and arguments, the arguments' text as written, and why it is unusable (if it is)."""

    name: str
    arguments: dict | None
    raw_arguments: str = ""
    error: str | None = None
    id: str = ""

    def openai(self) -> dict:
        """The call as an OpenAI ``tool_calls`` entry (arguments as a JSON string)."""
        raw = self.raw_arguments or json.dumps(self.arguments if self.arguments is not None else {})
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": raw}}

    def template(self) -> dict:
        """The call as chat templates take it (``apply_chat_template``: arguments as a dict)."""
        return {"id": self.id, "type": "function",
                "function": {"name": self.name, "arguments": self.arguments if self.arguments is not None else {}}}


@dataclass
class ParsedAction:
    """A reply read as tool calls (``calls`` non-empty) or as a final answer (``calls`` empty).

    ``content`` is the text outside the tool calls; ``text`` is the whole reply as text (what
    is scored when the reply is a final answer).
    """

    calls: list[ToolCall] = field(default_factory=list)
    content: str = ""
    text: str = ""

    @property
    def is_tool_call(self) -> bool:
        return bool(self.calls)

    def assistant_message(self) -> dict:
        """The reply as an OpenAI assistant message (what a conversation keeps)."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content if self.calls else self.text}
        if self.calls:
            message["tool_calls"] = [c.openai() for c in self.calls]
        return message


def render_tool_call(name: str, arguments: dict) -> str:
    """The canonical text of one call (what the embedded chat template writes and :func:`parse_action` reads)."""
    return f"{OPEN}\n{json.dumps({'name': name, 'arguments': arguments}, separators=(', ', ': '))}\n{CLOSE}"


def parse_action(action: Any, id_prefix: str = "call_") -> ParsedAction:
    """Read a reply (text, bytes, OpenAI assistant message, or a message list) as tool calls or an answer."""
    if isinstance(action, (list, tuple)):
        last = next((m for m in reversed(action) if isinstance(m, dict) and m.get("role") == "assistant"), None)
        if last is None:
            return ParsedAction(text="")
        action = last
    if isinstance(action, dict):
        return _parse_message(action, id_prefix)
    return parse_text(coerce_text(action), id_prefix)


def parse_text(text: str, id_prefix: str = "call_") -> ParsedAction:
    """Every ``<tool_call>...</tool_call>`` block of the text, in order; an unclosed last block counts too."""
    calls: list[ToolCall] = []
    outside: list[str] = []
    pos = 0
    while True:
        start = text.find(OPEN, pos)
        if start < 0:
            outside.append(text[pos:])
            break
        outside.append(text[pos:start])
        body_start = start + len(OPEN)
        end = text.find(CLOSE, body_start)
        body = text[body_start:] if end < 0 else text[body_start:end]
        call = _call_from_json(body.strip(), f"{id_prefix}{len(calls)}")
        if end < 0 and call.error is not None:  # generation stopped at the stop string: fine if the JSON is whole
            call.error += f" (and the tool call is not closed with {CLOSE})"
        calls.append(call)
        if end < 0:
            break
        pos = end + len(CLOSE)
    return ParsedAction(calls=calls, content="".join(outside).strip() if calls else text, text=text)


def _parse_message(message: dict, id_prefix: str) -> ParsedAction:
    content = _content_text(message.get("content"))
    raw_calls = message.get("tool_calls")
    if not raw_calls:
        # a message whose content holds text tool calls (a text model behind a chat API)
        return parse_text(content, id_prefix)
    content = parse_text(content).content  # text copies of the structured calls are not content
    calls = []
    entries = raw_calls if isinstance(raw_calls, (list, tuple)) else [raw_calls]
    for i, entry in enumerate(entries):
        call_id = f"{id_prefix}{i}"
        if not isinstance(entry, dict):
            calls.append(ToolCall("", None, coerce_text(entry)[:200], "a tool call must be an object", call_id))
            continue
        call_id = str(entry.get("id") or call_id)
        function = entry.get("function") if isinstance(entry.get("function"), dict) else entry
        name = function.get("name")
        arguments = function.get("arguments", {})
        if not isinstance(name, str) or not name:
            calls.append(ToolCall("", None, coerce_text(arguments)[:200], "the tool call has no name", call_id))
            continue
        calls.append(_with_arguments(name, arguments, call_id))
    return ParsedAction(calls=calls, content=content, text=content)


def _call_from_json(body: str, call_id: str) -> ToolCall:
    if len(body) > MAX_ARGUMENT_CHARS:
        return ToolCall("", None, body[:200], f"the tool call is {len(body)} characters, over the "
                                              f"{MAX_ARGUMENT_CHARS} cap", call_id)
    try:
        obj = json.loads(body)
    except _PARSE_ERRORS as exc:
        return ToolCall("", None, body[:200], f"the tool call is not valid JSON ({_short(exc)}); write "
                                              f'{OPEN}{{"name": ..., "arguments": {{...}}}}{CLOSE}', call_id)
    if not isinstance(obj, dict):
        return ToolCall("", None, body[:200], 'the tool call must be a JSON object {"name": ..., "arguments": {...}}',
                        call_id)
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        return ToolCall("", None, body[:200], 'the tool call has no "name"', call_id)
    arguments = obj.get("arguments", obj.get("parameters", {}))
    call = _with_arguments(name, arguments, call_id)
    if call.error is None and isinstance(arguments, dict):
        call.raw_arguments = _raw_value(body, "arguments", arguments) or call.raw_arguments
    return call


def _with_arguments(name: str, arguments: Any, call_id: str) -> ToolCall:
    """A call whose arguments are a dict or a JSON string of one (OpenAI sends strings)."""
    raw = arguments if isinstance(arguments, str) else None
    if isinstance(arguments, str):
        if len(arguments) > MAX_ARGUMENT_CHARS:
            return ToolCall(name, None, arguments[:200], f"the arguments are over the {MAX_ARGUMENT_CHARS} character cap",
                            call_id)
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except _PARSE_ERRORS as exc:
            return ToolCall(name, None, raw[:200], f"the arguments are not valid JSON ({_short(exc)})", call_id)
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        return ToolCall(name, None, coerce_text(arguments)[:200], "the arguments must be a JSON object", call_id)
    if raw is None:
        try:
            raw = json.dumps(arguments)
        except _PARSE_ERRORS:
            raw = ""
    return ToolCall(name, arguments, raw, None, call_id)


def _raw_value(text: str, key: str, value: Any) -> str | None:
    """The text of ``key``'s value as written in ``text`` (so numbers keep their written decimals)."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r'"' + re.escape(key) + r'"\s*:\s*', text):
        try:
            decoded, end = decoder.raw_decode(text, match.end())
        except _PARSE_ERRORS:
            continue
        if decoded == value:
            return text[match.end():end]
    return None


def raw_argument(call: ToolCall, key: str) -> str | None:
    """The written text of one argument's value (e.g. a draft answer object with its decimals as written)."""
    if call.arguments is None or key not in call.arguments:
        return None
    return _raw_value(call.raw_arguments, key, call.arguments[key])


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, list):  # content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return coerce_text(content)


def _short(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:160]
