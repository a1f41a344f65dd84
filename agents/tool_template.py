"""A chat template that renders tools, tool calls and tool results the way :mod:`feasgym.envs.tools.calls` reads them.

The embedded tokenizer's template (:mod:`feasgym.agents.training.base_model`) is built here.
For one user message without tools it renders exactly what the tool-less template did
(the prompt, then the answer marker), so models trained before tools existed see the same
text. With tools, each tool's name and parameter schema come first (the env's prompt already
describes the tools; a tiny model's context is short); an assistant turn is the marker,
its text, each call as ``render_tool_call`` writes it, then EOS; a tool result is
``<tool_response>...</tool_response>``. The template is prefix-preserving (each turn only
appends), which multi-turn GRPO needs.
"""
from __future__ import annotations

from typing import Any

from feasgym.envs.tools.calls import CLOSE, OPEN, parse_action

TOOLS_HEADER = "Tools you may call (name, then its parameters' JSON schema; the prompt says what each does):\n"
RESPONSE_OPEN, RESPONSE_CLOSE = "<tool_response>\n", "\n</tool_response>\n"


def _literal(text: str) -> str:
    """A Jinja string literal of ``text``."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def tool_chat_template(eos: str, answer_marker: str) -> str:
    """The template for a tokenizer whose end of turn is ``eos`` and whose answer starts after ``answer_marker``."""
    call_open, call_close = _literal(OPEN + "\n"), _literal("\n" + CLOSE)
    return (
        "{%- if tools -%}{{- " + _literal(TOOLS_HEADER) + " -}}"
        "{%- for t in tools -%}{{- t['function']['name'] + ' ' + (t['function']['parameters'] | tojson) + '\\n' -}}"
        "{%- endfor -%}"
        "{{- " + _literal(f'To call a tool write {OPEN}\n{{"name": ..., "arguments": {{...}}}}\n{CLOSE}\n\n') + " -}}"
        "{%- endif -%}"
        "{%- for m in messages -%}"
        "{%- if m['role'] == 'assistant' -%}"
        "{{- " + _literal(answer_marker) + " -}}"
        "{%- if m['content'] -%}{{- m['content'] -}}{%- endif -%}"
        "{%- if m['tool_calls'] -%}{%- for c in m['tool_calls'] -%}"
        "{%- if m['content'] or not loop.first -%}{{- '\\n' -}}{%- endif -%}"
        "{{- " + call_open + " + ({'name': c['function']['name'], 'arguments': c['function']['arguments']} | tojson) + "
        + call_close + " -}}"
        "{%- endfor -%}{%- endif -%}"
        "{{- " + _literal(eos) + " -}}"
        "{%- elif m['role'] == 'tool' -%}"
        "{{- " + _literal(RESPONSE_OPEN) + " + m['content'] + " + _literal(RESPONSE_CLOSE) + " -}}"
        "{%- else -%}{{- m['content'] -}}{%- endif -%}"
        "{%- endfor -%}"
        "{%- if add_generation_prompt -%}{{- " + _literal(answer_marker) + " -}}{%- endif -%}"
    )


def template_messages(messages: list[dict]) -> list[dict]:
    """A conversation (OpenAI format) as chat templates take it: tool-call arguments as dicts, read by the shared parser."""
    out = []
    for message in messages:
        if message.get("role") == "assistant" and message.get("tool_calls"):
            parsed = parse_action(message)
            out.append({"role": "assistant", "content": parsed.content, "tool_calls": [c.template() for c in parsed.calls]})
        elif message.get("role") == "tool":
            out.append({"role": "tool", "content": str(message.get("content") or ""),
                        **({"name": message["name"]} if message.get("name") else {}),
                        **({"tool_call_id": message["tool_call_id"]} if message.get("tool_call_id") else {})})
        else:
            out.append({"role": message.get("role", "user"), "content": str(message.get("content") or "")})
    return out


def render_conversation(tokenizer: Any, messages: list[dict], tools: list[dict] | None,
                        add_generation_prompt: bool = True, chat_template: str | None = None) -> str:
    """The conversation as the model reads it (``apply_chat_template(tools=...)``)."""
    kwargs = {"chat_template": chat_template} if chat_template else {}
    return tokenizer.apply_chat_template(template_messages(messages), tools=tools or None, tokenize=False,
                                         add_generation_prompt=add_generation_prompt, **kwargs)


def end_of_turn(tokenizer: Any, token_ids: list[int]) -> int:
    """How many of a turn's generated tokens it keeps: all of them, or up to the token that completes the
    first ``</tool_call>`` (the call ends the turn; the env answers it). The HF agent and tool-using GRPO
    both cut here, so training and evaluation read the same text with the same parser."""
    def text(k: int) -> str:
        return tokenizer.decode(token_ids[:k], skip_special_tokens=True)

    if CLOSE not in text(len(token_ids)):
        return len(token_ids)
    lo, hi = 1, len(token_ids)  # the shortest prefix whose text holds the closing tag
    while lo < hi:
        mid = (lo + hi) // 2
        if CLOSE in text(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo
