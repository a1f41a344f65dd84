"""The embedded default base model: a tokenizer trained on env text and a small causal LM.

No model hub is needed: the tokenizer (byte-level BPE from ``tokenizers``) is trained on
the env's own prompts and answers, so tables and JSON compress well, and the model is a
freshly initialised small Llama config (rotary positions) from ``transformers``. Both are saved as an ordinary HF
checkpoint folder that every trainer and agent loads with ``from_pretrained``.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

from ..tool_template import tool_chat_template

EOS = "<|endoftext|>"
PAD = "<|pad|>"
ANSWER = "<|answer|>"
# The prompt, then one marker token where the answer starts. Measured: without it, a model
# trained on 48 case5 prompts wrote the right answer tokens on its training prompts but began
# held-out answers mid-template, because the prompt's last line also occurs inside the prompt.
# Tools, tool calls and tool results render as feasgym's tool-call parser reads them (one user message
# without tools renders as before: the prompt, then the marker).
CHAT_TEMPLATE = tool_chat_template(EOS, ANSWER)


@dataclass(frozen=True)
class TinyModelSpec:
    """Size of the embedded model (defaults: 4 layers, width 256, ~3-4M parameters)."""

    num_layers: int = 4
    hidden_size: int = 256
    num_heads: int = 4
    max_positions: int = 2048
    vocab_size: int = 2048
    seed: int = 0


def train_tokenizer(texts: Iterable[str], vocab_size: int):
    """A byte-level BPE tokenizer (any byte encodes, so no unknown tokens) fitted to ``texts``."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    # One token per digit: measured on case5 (small Llama, 300 SFT steps), held-out format 0.74
    # vs 0.32 with BPE-merged digit runs, whose variable-length chunks let the model lose count
    # of the decimals and leave a number early. Everything between digits may merge across
    # words, so the repeated prompt text and the answer's JSON punctuation become a few tokens each.
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"[0-9]"), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS, PAD, ANSWER], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(list(texts), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, bos_token=EOS, pad_token=PAD,
                                        unk_token=None, model_max_length=None, additional_special_tokens=[ANSWER])
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_base_model(texts: Iterable[str], out_dir: str | Path, spec: TinyModelSpec = TinyModelSpec()) -> Path:
    """Train the tokenizer on ``texts``, initialise a small Llama of ``spec`` and save both to ``out_dir``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    texts = list(texts)
    if not texts:
        raise ValueError("build_base_model needs at least one text to train the tokenizer on")
    out = Path(out_dir)
    tokenizer = train_tokenizer(texts, spec.vocab_size)
    torch.manual_seed(spec.seed)
    # Rotary positions (Llama), not GPT-2's learned absolute ones: measured, a GPT-2 trained on
    # 48 prompts answered its training prompts but not held-out ones whose length (so the
    # answer's start position) it had not seen; relative positions do not depend on it.
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=spec.hidden_size, intermediate_size=spec.hidden_size * 8 // 3,
                         num_hidden_layers=spec.num_layers, num_attention_heads=spec.num_heads,
                         num_key_value_heads=spec.num_heads, max_position_embeddings=spec.max_positions,
                         bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True)
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "feasgym_base.json").write_text(json.dumps({"spec": asdict(spec), "parameters": count_parameters(model),
                                                        "tokenizer_texts": len(texts)}, indent=2))
    return out


def count_parameters(model) -> int:
    return int(sum(p.numel() for p in model.parameters()))
