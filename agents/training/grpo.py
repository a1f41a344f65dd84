"""GRPO with TRL's ``GRPOTrainer``, rewarded by the env's own scores.

The reward functions are :func:`feasgym.envs.rewards.trl_reward_functions` (format,
feasibility, optimality), one set per env id, merged so each keeps its stable name and
TRL logs every component per step. TRL repeats each prompt ``num_generations`` times,
so a group's completions carry the same row columns and are scored against the same
instance.

Default weights (0, 1, 0): reward feasibility only. A missing or unparseable value
already counts as a violated constraint, so feasibility pays for format where format
matters; a separate format reward could be farmed by a well-formed wrong answer.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from feasgym.envs.core.weighting import REWARD_NAMES as REWARD_ORDER

from .common import check_context, lora_config, model_prompt, trainer_device_args
from .probe import ProbeSet, probe_callbacks, train_and_save
from .progress import KEY_FIGURES, stage_progress


@dataclass(frozen=True)
class GRPOBudget:
    max_steps: int = 40
    num_generations: int = 8
    prompts_per_step: int = 2
    learning_rate: float = 5e-5
    max_completion_length: int = 160
    temperature: float = 1.0
    beta: float = 0.0
    reward_weights: tuple[float, float, float] = (0.0, 1.0, 0.0)
    probe_every: int = 0
    probe_at_start: bool = True  # off when the previous stage's last probe already shows step 0
    lora: dict | None = None


def env_reward_functions(env_kwargs: dict[str, dict]) -> list[Callable]:
    """``[format_reward, feasibility_reward, optimality_reward]`` over several env ids.

    Each row is scored by its own env id's functions (each returns None for other ids),
    so one batch may mix envs.
    """
    from feasgym.envs.rewards import trl_reward_functions

    if not env_kwargs:
        raise ValueError("need at least one env id")
    per_env = [trl_reward_functions(env_id, **(kwargs or {})) for env_id, kwargs in env_kwargs.items()]
    if len(per_env) == 1:
        return per_env[0]

    def merged(position: int) -> Callable:
        def reward(prompts=None, completions=(), **columns):
            out: list = [None] * len(completions)
            for funcs in per_env:
                for i, value in enumerate(funcs[position](prompts, completions, **columns)):
                    if value is not None:
                        out[i] = value
            return out

        reward.__name__ = REWARD_ORDER[position]
        return reward

    return [merged(i) for i in range(3)]


def run_grpo(model_path: str | Path, rows: Sequence[dict], out_dir: str | Path, budget: GRPOBudget = GRPOBudget(),
             *, env_kwargs: dict[str, dict] | None = None, seed: int = 0, use_cpu: bool | None = None,
             reward_funcs: list[Callable] | None = None, probe: ProbeSet | None = None,
             progress: bool = True, desc: str = "GRPO") -> dict:
    """GRPO from ``model_path`` on ``rows`` (``prompt`` + instance columns); save to ``out_dir/model``.

    The summary's ``reward_trace`` holds every sampled completion's feasibility reward as
    ``[generation batch, env_id, instance, reward]``, so a trend can be measured within instances."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    if not rows:
        raise ValueError("GRPO needs at least one prompt row")
    if budget.num_generations < 2:
        raise ValueError("GRPO needs num_generations >= 2 (advantages are relative within a group)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    columns = ("env_id", "seed", "split", "instance")
    if reward_funcs is None:
        ids = sorted({r["env_id"] for r in rows})
        reward_funcs = env_reward_functions({eid: (env_kwargs or {}).get(eid, {}) for eid in ids})
    trace: list = []
    reward_funcs = [_traced(f, trace) if getattr(f, "__name__", "") == "feasibility_reward" else f
                    for f in reward_funcs]
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(model_path)
    data = [{"prompt": model_prompt(tokenizer, r["prompt"]), **{c: r[c] for c in columns}} for r in rows]
    check_context(model, tokenizer, [d["prompt"] for d in data], reserve=budget.max_completion_length)
    dataset = Dataset.from_list(data)
    batch = budget.num_generations * budget.prompts_per_step
    config = GRPOConfig(
        output_dir=str(out / "trainer"), max_steps=budget.max_steps, per_device_train_batch_size=batch,
        num_generations=budget.num_generations, max_completion_length=budget.max_completion_length,
        temperature=budget.temperature, learning_rate=budget.learning_rate, beta=budget.beta,
        reward_weights=list(budget.reward_weights), multi_objective_aggregation="normalize_then_sum",
        logging_steps=1, save_strategy="no", seed=seed, data_seed=seed, use_vllm=False,
        disable_tqdm=True, **trainer_device_args(use_cpu))
    callbacks = probe_callbacks(probe, budget, out)
    callbacks.append(stage_progress(desc, KEY_FIGURES["grpo"], callbacks[0] if callbacks else None, progress))
    trainer = GRPOTrainer(model=model, reward_funcs=reward_funcs, args=config, train_dataset=dataset,
                          processing_class=tokenizer, peft_config=lora_config(budget.lora), callbacks=callbacks)
    return train_and_save(trainer, out, budget, len(rows), callbacks, extra={"reward_trace": trace})


def _traced(func: Callable, trace: list) -> Callable:
    """``func`` (the feasibility reward) recording each value with its batch number and instance."""
    calls = [0]

    def reward(prompts=None, completions=(), **columns):
        values = func(prompts=prompts, completions=completions, **columns)
        for i, value in enumerate(values):
            if value is not None:
                trace.append([calls[0], columns["env_id"][i], int(columns["instance"][i]), float(value)])
        calls[0] += 1
        return values

    reward.__name__ = func.__name__
    return reward
