"""Settings both trainers share: device choice and the CPU-safe TRL arguments."""
from __future__ import annotations

from pathlib import Path


def default_use_cpu() -> bool:
    import torch

    return not torch.cuda.is_available()


def trainer_device_args(use_cpu: bool | None) -> dict:
    """TRL/transformers arguments for CPU or GPU (on CPU: fp32, no vLLM, no tracker)."""
    cpu = default_use_cpu() if use_cpu is None else bool(use_cpu)
    # TRL turns gradient checkpointing on by default; small models only pay its extra forward pass.
    args = {"use_cpu": cpu, "bf16": False, "fp16": False, "report_to": "none", "dataloader_num_workers": 0,
            "gradient_checkpointing": False}
    if not cpu:
        import torch

        args["bf16"] = bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    return args


def lora_config(lora: dict | None):
    """A peft ``LoraConfig`` from a dict of its fields (``None``: full fine-tuning)."""
    if not lora:
        return None
    from peft import LoraConfig

    fields = {"r": 16, "lora_alpha": 32, "lora_dropout": 0.0, "target_modules": "all-linear",
              "task_type": "CAUSAL_LM", **lora}
    return LoraConfig(**fields)


def save_trained(trainer, out_dir: str | Path) -> Path:
    """Save the trained model as a plain checkpoint (LoRA adapters merged) with its tokenizer."""
    out = Path(out_dir)
    model = trainer.model
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    model.save_pretrained(out)
    trainer.processing_class.save_pretrained(out)
    return out


def check_context(model, tokenizer, texts, reserve: int = 0) -> None:
    """Refuse rows that do not fit the model's context (TRL would truncate or crash mid-run)."""
    limit = getattr(model.config, "max_position_embeddings", None) or getattr(model.config, "n_positions", None)
    if not limit:
        return
    longest = max(len(ids) for ids in tokenizer(list(texts))["input_ids"]) + reserve
    if longest > limit:
        raise ValueError(f"a training row needs {longest} tokens but the model's context is {limit}; "
                         "use a model with a longer context (TinyModelSpec.max_positions) or shorter prompts")


def model_prompt(tokenizer, prompt: str) -> str:
    """The prompt as the model sees it (:func:`feasgym.agents.chat.prompt_text`, as the HF agent sends it)."""
    from feasgym.agents.chat import prompt_text

    return prompt_text(tokenizer, prompt)
