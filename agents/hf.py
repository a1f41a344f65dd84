"""A Hugging Face transformers agent: any causal LM by local path or hub name, batched generation.

Prompts go through the tokenizer's chat template when it has one (as one user message,
after an optional system prompt), else as plain text. Batches are left-padded and
generated together; decoding is greedy unless ``do_sample=True``. A prompt longer than
the model's context minus ``max_new_tokens`` is cut explicitly (``truncation="left"``
keeps the end, where the answer layout is; ``"error"`` refuses) and every reply says so.
A folder with ``adapter_config.json`` is loaded as a PEFT adapter on its base model.

Tool-using episodes: a request with ``messages``/``tools`` is rendered by the chat template with
``apply_chat_template(messages, tools=...)`` (a tokenizer without a template gets feasgym's
:mod:`.tool_template`); generation stops after a ``</tool_call>``, and the reply's tool calls
are read by the env's own parser (:func:`feasgym.envs.tools.parse_action`). A conversation
that does not fit the context is an error reply (it is not cut).

torch/transformers/peft are imported here only, when the agent is built.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Sequence

from feasgym.envs.tools.calls import CLOSE, parse_action

from .chat import prompt_text
from .protocol import Agent, AnswerReply, AnswerRequest, error_replies
from .tool_template import end_of_turn, render_conversation, tool_chat_template

TRUNCATION_POLICIES = ("left", "error")


def resolve_device(device: str = "auto") -> str:
    """``auto`` means CUDA when present, else CPU."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _resolve_dtype(dtype: str, device: str):
    import torch

    if dtype == "auto":
        if device.startswith("cuda") and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    if not hasattr(torch, dtype):
        raise ValueError(f"unknown torch dtype {dtype!r}")
    return getattr(torch, dtype)


def is_adapter_dir(path: str | os.PathLike) -> bool:
    return (Path(path) / "adapter_config.json").is_file()


def load_model_and_tokenizer(model_name_or_path: str, *, device: str = "auto", dtype: str = "auto",
                             merge_adapter: bool = True, trust_remote_code: bool = False):
    """Load a causal LM (or a PEFT adapter on its base) and its tokenizer, in eval mode on ``device``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = resolve_device(device)
    torch_dtype = _resolve_dtype(dtype, device)
    tokenizer_source = model_name_or_path
    if is_adapter_dir(model_name_or_path):
        from peft import AutoPeftModelForCausalLM

        model = AutoPeftModelForCausalLM.from_pretrained(model_name_or_path, dtype=torch_dtype,
                                                         trust_remote_code=trust_remote_code)
        if merge_adapter:
            model = model.merge_and_unload()
        if not any((Path(model_name_or_path) / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json")):
            with open(Path(model_name_or_path) / "adapter_config.json", encoding="utf-8") as fh:
                tokenizer_source = json.load(fh)["base_model_name_or_path"]
    else:
        model = AutoModelForCausalLM.from_pretrained(model_name_or_path, dtype=torch_dtype,
                                                     trust_remote_code=trust_remote_code)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source, trust_remote_code=trust_remote_code)
    model.to(device)
    model.eval()
    return model, tokenizer


def model_context_length(model: Any, tokenizer: Any) -> int | None:
    """The longest sequence the model takes: its position limit, else a sane tokenizer limit."""
    config = getattr(model, "config", None)
    for attr in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < 10**7:
        return limit
    return None


class PromptTooLong(ValueError):
    pass


class HFAgent(Agent):
    """Batched generation with a transformers causal LM (see the module docstring)."""

    uses_tools = True

    def __init__(self, model_name_or_path: str | None = None, *, name: str | None = None,
                 model: Any = None, tokenizer: Any = None, max_new_tokens: int = 512, batch_size: int = 16,
                 do_sample: bool = False, temperature: float = 1.0, top_p: float = 1.0, top_k: int = 0,
                 seed: int = 0, device: str = "auto", dtype: str = "auto", system_prompt: str | None = None,
                 use_chat_template: bool | None = None, truncation: str = "left",
                 max_context_tokens: int | None = None, merge_adapter: bool = True,
                 trust_remote_code: bool = False):
        import torch

        if truncation not in TRUNCATION_POLICIES:
            raise ValueError(f"truncation must be one of {TRUNCATION_POLICIES}, got {truncation!r}")
        if int(max_new_tokens) < 1 or int(batch_size) < 1:
            raise ValueError("max_new_tokens and batch_size must be >= 1")
        if model is None:
            if model_name_or_path is None:
                raise ValueError("give model_name_or_path, or a loaded model and tokenizer")
            model, tokenizer = load_model_and_tokenizer(model_name_or_path, device=device, dtype=dtype,
                                                        merge_adapter=merge_adapter,
                                                        trust_remote_code=trust_remote_code)
        elif tokenizer is None:
            raise ValueError("a loaded model needs its tokenizer")
        self.model, self.tokenizer = model, tokenizer
        self.source = model_name_or_path or getattr(model.config, "_name_or_path", "") or type(model).__name__
        self.name = name or f"hf:{self.source}"
        self.device = str(next(model.parameters()).device)
        self.max_new_tokens = int(max_new_tokens)
        self.batch_size = int(batch_size)
        self.do_sample = bool(do_sample)
        self.temperature, self.top_p, self.top_k = float(temperature), float(top_p), int(top_k)
        self.seed = int(seed)
        self.system_prompt = system_prompt
        has_template = bool(getattr(tokenizer, "chat_template", None))
        if use_chat_template and not has_template:
            raise ValueError("use_chat_template=True but the tokenizer has no chat template")
        self.use_chat_template = has_template if use_chat_template is None else bool(use_chat_template)
        self.truncation = truncation
        self.context_tokens = max_context_tokens or model_context_length(model, tokenizer)
        if self.context_tokens is not None and self.context_tokens <= self.max_new_tokens:
            raise ValueError(f"max_new_tokens={self.max_new_tokens} leaves no room for a prompt in the "
                             f"model's context of {self.context_tokens} tokens")
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        if self.pad_id is None:
            raise ValueError("the tokenizer has neither a pad nor an eos token; set tokenizer.pad_token")
        eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
        if eos is None:
            eos = tokenizer.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, (list, tuple)) else [] if eos is None else [eos])
        self._calls = 0
        self._torch = torch

    @property
    def config(self) -> dict:
        return {"kind": "hf", "model": str(self.source), "max_new_tokens": self.max_new_tokens,
                "batch_size": self.batch_size, "do_sample": self.do_sample, "temperature": self.temperature,
                "top_p": self.top_p, "top_k": self.top_k, "seed": self.seed, "chat_template": self.use_chat_template,
                "system_prompt": self.system_prompt, "truncation": self.truncation,
                "context_tokens": self.context_tokens, "device": self.device,
                "dtype": str(next(self.model.parameters()).dtype).replace("torch.", "")}

    # ---- prompts ---------------------------------------------------------------------
    def encode(self, prompt: str) -> list[int]:
        """Token ids of the prompt as the model sees it (chat template or plain text: :func:`.chat.prompt_text`,
        the text training uses too)."""
        text = prompt_text(self.tokenizer, prompt, system_prompt=self.system_prompt,
                           use_chat_template=self.use_chat_template)
        return list(self.tokenizer(text, add_special_tokens=not self.use_chat_template)["input_ids"])

    def encode_request(self, request: AnswerRequest) -> list[int]:
        """Token ids of a request: its prompt, or its conversation and tools through the chat template."""
        if request.messages is None and not request.tools:
            return self.encode(request.prompt)
        messages = list(request.messages or [{"role": "user", "content": request.prompt}])
        if self.system_prompt:
            messages = [{"role": "system", "content": self.system_prompt}] + messages
        template = None if self.use_chat_template else tool_chat_template(self.tokenizer.eos_token or "", "\n")
        text = render_conversation(self.tokenizer, messages, request.tools, chat_template=template)
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def fit_request(self, request: AnswerRequest) -> tuple[list[int], int]:
        """Ids of a request that fit the context (a conversation is never cut: too long is an error)."""
        if request.messages is None and not request.tools:
            return self.fit_prompt(request.prompt)
        ids = self.encode_request(request)
        if self.context_tokens is not None and len(ids) > self.context_tokens - self.max_new_tokens:
            raise PromptTooLong(f"the conversation has {len(ids)} tokens, over the "
                                f"{self.context_tokens - self.max_new_tokens} that fit (context {self.context_tokens} "
                                f"- max_new_tokens {self.max_new_tokens})")
        return ids, 0

    def fit_prompt(self, prompt: str) -> tuple[list[int], int]:
        """Ids that fit the context and how many prompt tokens were dropped to get there."""
        ids = self.encode(prompt)
        if self.context_tokens is None:
            return ids, 0
        limit = self.context_tokens - self.max_new_tokens
        if len(ids) <= limit:
            return ids, 0
        if self.truncation == "error":
            raise PromptTooLong(f"prompt has {len(ids)} tokens, over the {limit} that fit "
                                f"(context {self.context_tokens} - max_new_tokens {self.max_new_tokens})")
        # Cut the start of the prompt text itself, so chat-template tokens around it survive.
        content = list(self.tokenizer(prompt, add_special_tokens=False)["input_ids"])
        keep = limit - (len(ids) - len(content))
        for _ in range(4):
            if keep <= 0:
                break
            fitted = self.encode(self.tokenizer.decode(content[-keep:]))
            if len(fitted) <= limit:
                return fitted, len(ids) - len(fitted)
            keep -= len(fitted) - limit
        if self.use_chat_template:
            raise PromptTooLong(f"the chat template alone leaves no room for the prompt within {limit} tokens")
        return ids[-limit:], len(ids) - limit

    # ---- generation ------------------------------------------------------------------
    def act(self, requests: Sequence[AnswerRequest]) -> list[AnswerReply]:
        replies: list[AnswerReply | None] = [None] * len(requests)
        fitted: list[tuple[int, list[int], int]] = []
        for i, request in enumerate(requests):
            try:
                ids, dropped = self.fit_request(request)
            except PromptTooLong as exc:
                replies[i] = AnswerReply("", error=str(exc), truncated_prompt=True)
                continue
            fitted.append((i, ids, dropped))
        fitted.sort(key=lambda item: len(item[1]))  # similar lengths together: less padding
        for start in range(0, len(fitted), self.batch_size):
            chunk = fitted[start:start + self.batch_size]
            stop_at_call = any(requests[i].tools for i, _, _ in chunk)
            for (i, _, _), reply in zip(chunk, self._generate(chunk, stop_at_call)):
                replies[i] = reply
        return replies  # type: ignore[return-value]

    def _generate(self, chunk: list[tuple[int, list[int], int]], stop_at_call: bool = False) -> list[AnswerReply]:
        torch = self._torch
        width = max(len(ids) for _, ids, _ in chunk)
        input_ids = torch.full((len(chunk), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, (_, ids, _) in enumerate(chunk):
            input_ids[row, width - len(ids):] = torch.tensor(ids, dtype=torch.long)
            attention[row, width - len(ids):] = 1
        # use_cache: a model handed over from training may have the KV cache switched off in its config
        kwargs: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "pad_token_id": self.pad_id,
                                  "do_sample": self.do_sample, "use_cache": True}
        if stop_at_call:  # a tool call ends the turn: the env answers it
            kwargs.update(stop_strings=[CLOSE], tokenizer=self.tokenizer)
        if self.do_sample:
            kwargs.update(temperature=self.temperature, top_p=self.top_p, top_k=self.top_k)
            # transformers samples from torch's generator; seed it per call for reproducible runs
            torch.manual_seed(self.seed + self._calls)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        self._calls += 1
        start = time.perf_counter()
        try:
            with torch.inference_mode():
                output = self.model.generate(input_ids=input_ids.to(self.device),
                                             attention_mask=attention.to(self.device), **kwargs)
        except Exception as exc:  # e.g. out of memory: this batch has no answers, the run goes on
            return error_replies(len(chunk), f"generation failed: {type(exc).__name__}: {exc}",
                                 time.perf_counter() - start)
        latency = time.perf_counter() - start
        new_tokens = output[:, width:].tolist()
        replies = []
        for (_, ids, dropped), tokens in zip(chunk, new_tokens):
            n, finish = len(tokens), "length"
            for j, tok in enumerate(tokens):
                if tok in self.eos_ids:
                    n, finish = j + 1, "stop"
                    break
            n, text, calls = self.read_turn(tokens[:n], stop_at_call)
            finish = "tool_calls" if calls else finish
            extra = {"prompt_tokens_dropped": dropped} if dropped else {}
            replies.append(AnswerReply(text, prompt_tokens=len(ids), completion_tokens=n, latency_s=latency,
                                       truncated_prompt=dropped > 0, finish_reason=finish, extra=extra,
                                       tool_calls=calls))
        return replies

    def read_turn(self, tokens: list[int], tools: bool) -> tuple[int, str, list[dict] | None]:
        """(tokens kept, text, tool calls in OpenAI format or None) of one generated turn; with tools the
        turn ends at its first call and the calls are read by the env's parser (as tool-using GRPO does)."""
        if not tools:
            return len(tokens), self.tokenizer.decode(tokens, skip_special_tokens=True), None
        n = end_of_turn(self.tokenizer, tokens)
        text = self.tokenizer.decode(tokens[:n], skip_special_tokens=True)
        parsed = parse_action(text)
        return n, text, [c.openai() for c in parsed.calls] if parsed.is_tool_call else None

    def close(self) -> None:
        self.model = None
