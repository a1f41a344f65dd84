"""Supervised fine-tuning on oracle demonstrations with TRL's ``SFTTrainer``.

Rows are prompt -> completion pairs (the completion is the env's reference answer), so
TRL computes the loss on the completion only; the tokenizer's EOS is appended, so the
model learns to stop after the JSON. Prompts go through the tokenizer's chat template as
the HF agent sends them (see :func:`.common.model_prompt`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .common import check_context, lora_config, model_prompt, trainer_device_args
from .probe import ProbeSet, probe_callbacks, train_and_save
from .progress import KEY_FIGURES, stage_progress


@dataclass(frozen=True)
class SFTBudget:
    epochs: float = 8.0
    learning_rate: float = 1e-3
    batch_size: int = 8
    grad_accum: int = 1
    warmup_ratio: float = 0.05
    weight_decay: float = 0.0
    max_steps: int = -1
    probe_every: int = 0  # steps between held-out probes; 0: only at start and end
    probe_at_start: bool = True  # the untrained model's probe: slow (it never stops) and the arena has it
    lora: dict | None = None


def run_sft(model_path: str | Path, rows: Sequence[dict], out_dir: str | Path, budget: SFTBudget = SFTBudget(),
            *, seed: int = 0, use_cpu: bool | None = None, probe: ProbeSet | None = None,
            progress: bool = True, desc: str = "SFT") -> dict:
    """Fine-tune ``model_path`` on ``rows`` (``prompt``, ``completion``); save to ``out_dir/model``.

    ``progress``: one bar (``desc``) with the loss and the last probe, instead of the trainer's output."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    if not rows:
        raise ValueError("SFT needs at least one demonstration row")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path)
    data = [{"prompt": model_prompt(tokenizer, r["prompt"]), "completion": r["completion"]} for r in rows]
    check_context(model, tokenizer, [d["prompt"] + d["completion"] for d in data], reserve=1)
    dataset = Dataset.from_list(data)
    config = SFTConfig(
        output_dir=str(out / "trainer"), num_train_epochs=budget.epochs, max_steps=budget.max_steps,
        per_device_train_batch_size=budget.batch_size, gradient_accumulation_steps=budget.grad_accum,
        learning_rate=budget.learning_rate, lr_scheduler_type="cosine", warmup_steps=budget.warmup_ratio,
        weight_decay=budget.weight_decay, logging_steps=1, save_strategy="no", seed=seed, data_seed=seed,
        completion_only_loss=True, max_length=None, disable_tqdm=True,
        **trainer_device_args(use_cpu))
    callbacks = probe_callbacks(probe, budget, out)
    callbacks.append(stage_progress(desc, KEY_FIGURES["sft"], callbacks[0] if callbacks else None, progress))
    trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer,
                         peft_config=lora_config(budget.lora), callbacks=callbacks)
    return train_and_save(trainer, out, budget, len(rows), callbacks)
