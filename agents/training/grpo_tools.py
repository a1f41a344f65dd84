"""GRPO with tools: TRL's ``GRPOTrainer`` with a rollout function that plays tool-using episodes in the env.

Each completion is one episode: the model writes a turn, the env reads it with its own parser
(:func:`feasgym.envs.tools.parse_action`, the HF agent's too), a tool call's result is appended
as the chat template renders it, and the model goes on until its final answer (or the call
budget, or the completion length, runs out). Tool-result tokens are masked out of the loss
(``env_mask``). The G completions of a group share their prompt, hence their dataset row,
hence their instance: each is played in its own env reset to that instance.

Rewards come from the final answer's score, as the env gives it: ``format_reward``,
``feasibility_reward``, ``optimality_reward`` (the values of :mod:`feasgym.envs.rewards`) and,
when ``reward_weights`` charge tool calls, ``tool_cost_reward`` (minus the cost). TRL logs each
per step (``rewards/<name>/mean``); tool use is logged per step too (``tools/calls``,
``tools/malformed``, ``tools/feasible_per_call``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from feasgym.envs.core.weighting import INSTANCE_COLUMNS as ROW_COLUMNS
from feasgym.envs.core.weighting import REWARD_NAMES  # noqa: F401  (the names TRL logs the rewards under)

from .common import check_context, lora_config, trainer_device_args


@dataclass(frozen=True)
class ToolGRPOBudget:
    max_steps: int = 40
    num_generations: int = 8
    prompts_per_step: int = 2
    learning_rate: float = 5e-5
    max_completion_length: int = 400  # all turns and tool results together
    temperature: float = 1.0
    beta: float = 0.0
    reward_weights: tuple[float, float, float] = (0.0, 1.0, 0.0)  # format, feasibility, optimality
    tools: tuple[str, ...] = ("power_flow", "check")
    max_tool_calls: int = 2
    lora: dict | None = None


class ToolRollout:
    """The rollout function: plays each prompt's episode against its row's instance (see the module docstring)."""

    def __init__(self, tokenizer, rows: Sequence[dict], env_kwargs: dict[str, dict], tools: Sequence[str],
                 max_tool_calls: int, max_completion_length: int):
        self.tokenizer = tokenizer
        self.tools, self.max_tool_calls = tuple(tools), int(max_tool_calls)
        self.max_completion_length = int(max_completion_length)
        self.env_kwargs = env_kwargs
        self._envs: dict[tuple[str, str], list] = {}
        self.rows_by_prompt: dict[str, dict] = {}
        for row in rows:
            self.rows_by_prompt[self.prompt_text(row)] = row

    def env_for(self, row: dict, slot: int):
        import gymnasium as gym

        import feasgym.envs  # noqa: F401  (registers the ids)

        pool = self._envs.setdefault((row["env_id"], row["split"]), [])
        while len(pool) <= slot:
            pool.append(gym.make(row["env_id"], split=row["split"], tools=self.tools, max_tool_calls=self.max_tool_calls,
                                 **self.env_kwargs.get(row["env_id"], {})))
        return pool[slot]

    def prompt_text(self, row: dict) -> str:
        """The first turn as the model reads it: the env's prompt (with its tools section) and the tool schemas."""
        from ..tool_template import render_conversation

        env = self.env_for(row, 0)
        prompt, _ = env.reset(seed=int(row["seed"]), options={"instance": int(row["instance"])})
        return render_conversation(self.tokenizer, [{"role": "user", "content": prompt}], env.unwrapped.tool_schemas)

    def __call__(self, prompts: list[str], trainer) -> dict:
        from feasgym.envs.tools.calls import parse_action

        tok = self.tokenizer
        n = len(prompts)
        envs, convs = [], []
        for i, prompt in enumerate(prompts):
            row = self.rows_by_prompt[prompt]
            env = self.env_for(row, i)
            text, _ = env.reset(seed=int(row["seed"]), options={"instance": int(row["instance"])})
            envs.append(env)
            convs.append([{"role": "user", "content": text}])
        prompt_ids = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
        completion = [[] for _ in range(n)]
        mask = [[] for _ in range(n)]
        finals: list[dict | None] = [None] * n
        last_text = [""] * n
        active = list(range(n))
        config = trainer.generation_config
        budget = config.max_new_tokens
        try:
            while active:
                room = min(self.max_completion_length - len(completion[i]) for i in active)
                config.max_new_tokens = max(1, room)
                new_ids, _ = trainer._generate_single_turn([prompt_ids[i] + completion[i] for i in active],
                                                           None, {}, num_generations=1)
                still = []
                for i, ids in zip(active, new_ids):
                    ids, text = self.read_turn(list(ids))
                    completion[i] += ids
                    mask[i] += [1] * len(ids)
                    last_text[i] = text
                    _, _, terminated, _, info = envs[i].step(text)
                    if terminated:
                        finals[i] = info
                        continue
                    suffix = self.tool_suffix(convs[i], parse_action(text), info, envs[i].unwrapped.tool_schemas)
                    if len(completion[i]) + len(suffix) >= self.max_completion_length:
                        finals[i] = {**envs[i].unwrapped.score(text), "tool_calls": info["tool_calls"],
                                     "cut": "completion length"}
                        continue
                    completion[i] += suffix
                    mask[i] += [0] * len(suffix)
                    still.append(i)
                active = still
        finally:
            config.max_new_tokens = budget
        episodes = [episode_summary(info, envs[i].unwrapped.instance_key) for i, info in enumerate(finals)]
        return {"prompt_ids": prompt_ids, "completion_ids": completion, "logprobs": None, "env_mask": mask,
                "tool_episode": episodes}

    def read_turn(self, ids: list[int]) -> tuple[list[int], str]:
        """A generated turn's kept tokens and text: cut after its first tool call, as the HF agent cuts it."""
        from ..tool_template import end_of_turn

        ids = ids[:end_of_turn(self.tokenizer, ids)]
        return ids, self.tokenizer.decode(ids, skip_special_tokens=True)

    def tool_suffix(self, conversation: list[dict], parsed, info: dict, schemas: list[dict]) -> list[int]:
        """Token ids of the tool results and the next generation prompt, as the chat template renders them."""
        from ..tool_template import render_conversation

        conversation.append(parsed.assistant_message())
        before = render_conversation(self.tokenizer, conversation, schemas, add_generation_prompt=False)
        conversation += [{"role": "tool", "tool_call_id": r["id"], "name": r["name"], "content": r["content"]}
                         for r in info["tool_results"]]
        after = render_conversation(self.tokenizer, conversation, schemas, add_generation_prompt=True)
        if not after.startswith(before):
            raise ValueError("the chat template is not prefix-preserving: tool results cannot be appended")
        return self.tokenizer(after[len(before):], add_special_tokens=False)["input_ids"]


def episode_summary(info: dict, key: dict) -> dict:
    """What the reward functions need from a finished episode (its final answer's score and its tool use)."""
    calls = info.get("tool_calls") or {}
    return {"format": float(info["format"]["score"]), "feasible": bool(info["feasibility"]["feasible"]),
            "constraint_rate": float(info["feasibility"]["score"]), "gap": info["optimality"]["gap"],
            "tool_calls": int(calls.get("total", 0)), "malformed": int(calls.get("malformed", 0)),
            "tool_cost": float(calls.get("cost", 0.0)), "seed": key["seed"], "instance": key["instance"],
            "prompt_hash": key["prompt_hash"]}


def tool_reward_functions(optimality_scale: float = 0.05, charge_tools: bool = False) -> list[Callable]:
    """Reward functions over the rollout's ``tool_episode`` column; tool use is logged per step as metrics."""
    from feasgym.envs.core.weighting import feasibility_reward_value, optimality_reward_value

    def format_reward(prompts=None, completions=(), tool_episode=(), **kwargs):
        return [e["format"] for e in tool_episode]

    def feasibility_reward(prompts=None, completions=(), tool_episode=(), log_metric=None, **kwargs):
        if log_metric is not None and tool_episode:
            calls = sum(e["tool_calls"] for e in tool_episode)
            log_metric("tools/calls", calls / len(tool_episode))
            log_metric("tools/malformed", sum(e["malformed"] for e in tool_episode) / len(tool_episode))
            log_metric("tools/feasible", sum(e["feasible"] for e in tool_episode) / len(tool_episode))
            if calls:
                log_metric("tools/feasible_per_call", sum(e["feasible"] for e in tool_episode) / calls)
        return [feasibility_reward_value(e["feasible"], e["constraint_rate"]) for e in tool_episode]

    def optimality_reward(prompts=None, completions=(), tool_episode=(), **kwargs):
        return [optimality_reward_value(e["feasible"], e["gap"], optimality_scale) for e in tool_episode]

    def tool_cost_reward(prompts=None, completions=(), tool_episode=(), **kwargs):
        return [-e["tool_cost"] for e in tool_episode]

    funcs = [format_reward, feasibility_reward, optimality_reward]
    return funcs + [tool_cost_reward] if charge_tools else funcs


def run_grpo_tools(model_path: str | Path, rows: Sequence[dict], out_dir: str | Path,
                   budget: ToolGRPOBudget = ToolGRPOBudget(), *, env_kwargs: dict[str, dict] | None = None,
                   seed: int = 0, use_cpu: bool | None = None, progress: bool = True) -> dict:
    """GRPO with tools from ``model_path`` on instance ``rows`` (``env_id``, ``seed``, ``split``, ``instance``);
    the model is saved to ``out_dir/model``. Returns the trainer's log history and where the model is."""
    import os

    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    if not rows:
        raise ValueError("GRPO needs at least one instance row")
    if budget.num_generations < 2:
        raise ValueError("GRPO needs num_generations >= 2 (advantages are relative within a group)")
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    env_kwargs = dict(env_kwargs or {})
    charge = any(k.startswith("tool_call") for kw in env_kwargs.values() for k in (kw.get("reward_weights") or {}))
    out = Path(out_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(model_path)
    rollout = ToolRollout(tokenizer, rows, env_kwargs, budget.tools, budget.max_tool_calls, budget.max_completion_length)
    data = [{"prompt": rollout.prompt_text(r), **{c: r[c] for c in ROW_COLUMNS}} for r in rows]
    check_context(model, tokenizer, [d["prompt"] for d in data], reserve=budget.max_completion_length)
    batch = budget.num_generations * budget.prompts_per_step
    weights = list(budget.reward_weights) + ([1.0] if charge else [])
    config = GRPOConfig(
        output_dir=str(out / "trainer"), max_steps=budget.max_steps, per_device_train_batch_size=batch,
        num_generations=budget.num_generations, max_completion_length=budget.max_completion_length,
        temperature=budget.temperature, learning_rate=budget.learning_rate, beta=budget.beta,
        reward_weights=weights, multi_objective_aggregation="normalize_then_sum", logging_steps=1,
        save_strategy="no", seed=seed, data_seed=seed, use_vllm=False, disable_tqdm=not progress,
        **trainer_device_args(use_cpu))
    trainer = GRPOTrainer(model=model, reward_funcs=tool_reward_functions(charge_tools=charge), args=config,
                          train_dataset=Dataset.from_list(data), processing_class=tokenizer,
                          peft_config=lora_config(budget.lora), rollout_func=rollout)
    trainer.train()
    model_dir = out / "model"
    trained = trainer.model.merge_and_unload() if hasattr(trainer.model, "merge_and_unload") else trainer.model
    trained.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    return {"model": str(model_dir), "log_history": trainer.state.log_history, "rows": len(rows)}
