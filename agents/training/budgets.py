"""Token budgets from the tokenizer: how many new tokens an answer of this task needs.

A completion limit below the oracle's answer cuts every answer short: format is lost,
GRPO's rewards are all equal and its gradient is zero, silently. So the limit is derived
from the longest oracle answer of the run's instances (in the model's own tokens) plus a
margin, and a limit given by the user that is below it is refused before any training.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

from .common import model_prompt


class BudgetError(ValueError):
    """A token limit or the model's context cannot hold the task's answers."""


@dataclass(frozen=True)
class TokenBudget:
    longest_answer: int      # tokens of the longest oracle answer (+ EOS)
    longest_prompt: int      # tokens of the longest prompt as the model sees it
    margin: int
    needed: int              # longest_answer + margin
    max_new_tokens: int      # the limit used for generation and GRPO completions
    context: int | None      # the model's context (None: unknown)
    user_limit: int | None

    def as_dict(self) -> dict:
        return asdict(self)


def answer_margin(longest: int, fraction: float = 0.1, minimum: int = 16) -> int:
    return max(int(minimum), int(math.ceil(fraction * longest)))


def token_budget(tokenizer, rows: Sequence[dict], *, user_limit: int | None = None, context: int | None = None,
                 margin_fraction: float = 0.1, margin_min: int = 16, flag: str = "--max-new-tokens") -> TokenBudget:
    """The generation budget for ``rows`` (``prompt`` + oracle ``completion``); raises :class:`BudgetError`."""
    if not rows:
        raise BudgetError("no rows to size the token budget from")
    answers = tokenizer([r["completion"] for r in rows], add_special_tokens=False)["input_ids"]
    longest_answer = max(len(ids) for ids in answers) + 1  # the EOS that ends it
    prompts = tokenizer([model_prompt(tokenizer, r["prompt"]) for r in rows], add_special_tokens=False)["input_ids"]
    longest_prompt = max(len(ids) for ids in prompts)
    margin = answer_margin(longest_answer, margin_fraction, margin_min)
    needed = longest_answer + margin
    if user_limit is not None and int(user_limit) < needed:
        raise BudgetError(
            f"{flag} {int(user_limit)} is below what the task's answers need: the longest oracle answer is "
            f"{longest_answer} tokens in this model's tokenizer, plus a margin of {margin} = {needed}; "
            f"rerun with {flag} {needed} or more (or leave it out to use {needed})")
    limit = int(user_limit) if user_limit is not None else needed
    if context is not None and longest_prompt + limit > context:
        raise BudgetError(
            f"the model's context ({context} tokens) cannot hold the longest prompt ({longest_prompt} tokens) plus "
            f"{limit} new tokens; use a model with a longer context (for the embedded model: "
            "TinyModelSpec.max_positions), or fewer/smaller instances")
    return TokenBudget(longest_answer, longest_prompt, margin, needed, limit, context, user_limit)


def model_context(config) -> int | None:
    """The context length a transformers config declares, if any."""
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None
