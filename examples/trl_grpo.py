"""GRPO (TRL) on feasgym prompts with feasgym's reward functions, on a tiny model built here (no hub).

Run: python examples/trl_grpo.py [--steps 20] [--model PATH]. ``FEASGYM_SMOKE=1`` (or ``--smoke``)
runs one step on two instances. Without ``--model`` a random-init 2-layer GPT-2 and a byte-level
BPE tokenizer trained on the prompts are built in a second, so the run shows the wiring (the
rewards TRL logs per function), not learning; pass a real causal LM checkpoint folder to learn.

The three pieces, copy-pasteable:

    dataset = export_dataset("feasgym/ACOPF-case5-v0", split="train", n=64)    # prompt + instance key columns
    rewards = trl_reward_functions("feasgym/ACOPF-case5-v0")                  # format, feasibility, optimality
    GRPOConfig(reward_weights=[0.1, 1.0, 0.3], multi_objective_aggregation="normalize_then_sum", ...)
"""
from __future__ import annotations

import argparse
import os
import tempfile

from feasgym.datasets import export_dataset
from feasgym.envs.rewards import REWARD_NAMES, trl_reward_functions

ENV_ID = "feasgym/ACOPF-case5-v0"


def tiny_model(texts: list[str]):
    """Random-init GPT-2 (2 layers, width 64) and a byte-level BPE tokenizer fitted to ``texts``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=512, special_tokens=["<eos>", "<pad>"],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                       show_progress=False))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", pad_token="<pad>")
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=4096, n_embd=64, n_layer=2, n_head=2,
                        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
                        pad_token_id=tokenizer.pad_token_id)
    return GPT2LMHeadModel(config), tokenizer


def main(argv: list[str] | None = None) -> dict:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default=ENV_ID)
    parser.add_argument("--instances", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--model", default=None, help="local causal LM folder (default: a tiny model built here)")
    parser.add_argument("--out", default=None, help="trainer output folder (default: a temporary one)")
    parser.add_argument("--smoke", action="store_true", default=os.environ.get("FEASGYM_SMOKE") == "1")
    args = parser.parse_args(argv)
    if args.smoke:
        args.instances, args.steps = 2, 1

    dataset = export_dataset(args.env, split="train", n=args.instances, progress=not args.smoke)
    if args.model:
        model, tokenizer = AutoModelForCausalLM.from_pretrained(args.model), AutoTokenizer.from_pretrained(args.model)
    else:
        model, tokenizer = tiny_model(list(dataset["prompt"]) + list(dataset["completion"]))
    rewards = trl_reward_functions(args.env)  # must get the env kwargs the dataset was exported with
    with tempfile.TemporaryDirectory() as tmp:
        config = GRPOConfig(
            output_dir=args.out or tmp, max_steps=args.steps, per_device_train_batch_size=4, num_generations=4,
            max_completion_length=16 if args.smoke else 128, learning_rate=1e-4, logging_steps=1, seed=0,
            reward_weights=[0.1, 1.0, 0.3],                    # format, feasibility, optimality
            multi_objective_aggregation="normalize_then_sum",  # each reward normalized within its group first
            use_cpu=True, bf16=False, use_vllm=False, report_to="none", save_strategy="no",
        )
        trainer = GRPOTrainer(model=model, reward_funcs=rewards, args=config, train_dataset=dataset,
                              processing_class=tokenizer)
        import torch

        threads = torch.get_num_threads()
        if not args.model:
            torch.set_num_threads(1)  # the tiny model: extra threads only contend (1.4x slower measured on 2 cores)
        try:
            trainer.train()
        finally:
            torch.set_num_threads(threads)
    logs = [entry for entry in trainer.state.log_history if f"rewards/{REWARD_NAMES[0]}/mean" in entry]
    summary = {name: [entry[f"rewards/{name}/mean"] for entry in logs] for name in REWARD_NAMES}
    print(f"GRPO on {args.env}: {len(logs)} logged step(s)")
    for name, means in summary.items():
        print(f"  {name:20s} " + " ".join(f"{m:.3f}" for m in means))
    return summary


if __name__ == "__main__":
    main()
