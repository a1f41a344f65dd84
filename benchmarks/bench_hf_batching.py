"""HF agent speed: batched (16) vs one prompt at a time on a tiny local GPT-2, and the arena's time split.

Builds the project's embedded base model offline (byte-level BPE trained on AC-OPF prompts,
random-init GPT-2 of DESIGN.md's size: 4 layers, width 256), then generates for the same 16
real prompts both ways (interleaved rounds, best of each) and prints completion tokens/s and
the ratio (target >= 4x). Finally runs a small arena with that agent and prints the
generation vs scoring time split.

    python benchmarks/bench_hf_batching.py [--prompts 16] [--max-new-tokens 128] [--device auto] [--threads N]

``--save-prompts FILE`` writes the prompts as JSON and ``--prompts-file FILE`` reads them, so
the generation part also runs where the grid solvers are not installed (no arena then).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import gymnasium as gym

import feasgym  # noqa: F401
from feasgym.agents import AnswerRequest
from feasgym.agents.arena import run_arena
from feasgym.agents.hf import HFAgent

ENV_ID = "feasgym/ACOPF-case5-v0"


def build_model(folder: Path, texts: list[str], n_layer: int, n_embd: int) -> Path:
    """The project's embedded base model (tokenizer trained on env text, random-init GPT-2)."""
    from transformers import GenerationConfig

    from feasgym.agents.training.base_model import TinyModelSpec, build_base_model

    build_base_model(texts, folder, TinyModelSpec(num_layers=n_layer, hidden_size=n_embd))
    # no end-of-sequence: every reply runs to max_new_tokens, so both modes do the same work
    config = GenerationConfig.from_pretrained(folder)
    config.eos_token_id = None
    config.save_pretrained(folder)
    return folder


def timed_generation(agent: HFAgent, requests: list[AnswerRequest]) -> tuple[float, int]:
    start = time.perf_counter()
    replies = agent.act(requests)
    elapsed = time.perf_counter() - start
    errors = [r.error for r in replies if r.error]
    if errors:
        raise RuntimeError(f"generation failed: {errors[0]}")
    return elapsed, sum(r.completion_tokens for r in replies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=128,
                        help="a case5 oracle answer is ~100 tokens with the embedded tokenizer")
    parser.add_argument("--repeats", type=int, default=2, help="timed rounds per mode (best one counts)")
    parser.add_argument("--n-layer", type=int, default=4)
    parser.add_argument("--n-embd", type=int, default=256)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--arena-episodes", type=int, default=16, help="0: no arena run")
    parser.add_argument("--prompts-file", help="read prompts (JSON list) instead of making them; no arena")
    parser.add_argument("--save-prompts", help="write the prompts (JSON list) here and stop")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    if args.prompts_file:
        prompts = json.loads(Path(args.prompts_file).read_text())[: args.prompts]
        args.arena_episodes = 0
    else:
        env = gym.make(ENV_ID, split="test")
        prompts = [env.reset(seed=0, options={"instance": k})[0] for k in range(args.prompts)]
    if args.save_prompts:
        Path(args.save_prompts).write_text(json.dumps(prompts))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_model(Path(tmp) / "tiny", prompts, args.n_layer, args.n_embd)
        common = dict(max_new_tokens=args.max_new_tokens, device=args.device)
        batched = HFAgent(str(folder), batch_size=args.batch_size, **common)
        single = HFAgent(str(folder), batch_size=1, **common)
        requests = [AnswerRequest(p) for p in prompts]
        prompt_tokens = sum(len(batched.encode(p)) for p in prompts) / len(prompts)
        print(f"model: Llama {args.n_layer} layers x {args.n_embd}, "
              f"{sum(p.numel() for p in batched.model.parameters()) / 1e6:.1f}M parameters, device {batched.device}; "
              f"{len(prompts)} AC-OPF {ENV_ID} prompts of {prompt_tokens:.0f} tokens on average, "
              f"{args.max_new_tokens} new tokens each")
        # Warm-up at both batch shapes. On CUDA the first generation of a shape also grows the caching
        # allocator step by step (slow cudaMalloc calls), which a long arena run pays once: warm up at
        # full length there. On CPU a short warm-up does.
        warm_tokens = args.max_new_tokens if batched.device.startswith("cuda") else 2
        for size in (args.batch_size, 1):
            warm = HFAgent(model=batched.model, tokenizer=batched.tokenizer, max_new_tokens=warm_tokens,
                           batch_size=size)
            timed_generation(warm, requests[:size])
        t_single = t_batched = float("inf")
        for _ in range(max(1, args.repeats)):  # interleaved rounds, best of each: robust to a busy machine
            t, n_single = timed_generation(single, requests)
            t_single = min(t_single, t)
            t, n_batched = timed_generation(batched, requests)
            t_batched = min(t_batched, t)
        rate_single, rate_batched = n_single / t_single, n_batched / t_batched
        print(f"one at a time : {n_single} tokens in {t_single:6.2f} s = {rate_single:8.1f} tokens/s")
        print(f"batch of {args.batch_size:<4d} : {n_batched} tokens in {t_batched:6.2f} s = {rate_batched:8.1f} tokens/s")
        print(f"ratio batched / one at a time: {rate_batched / rate_single:.2f}x (target >= 4x)")
        if args.arena_episodes <= 0:
            return
        with tempfile.TemporaryDirectory() as out:
            summary = run_arena([ENV_ID], {"tiny": batched, "oracle": "oracle"}, episodes=args.arena_episodes,
                                seed=0, out_dir=out, progress=False)
        t = summary["timing"]
        share = t["scoring_s"] / (t["generation_s"] + t["scoring_s"])
        n = args.arena_episodes * 2
        print(f"arena ({args.arena_episodes} instances x 2 agents): generation {t['generation_s']:.2f} s, "
              f"scoring {t['scoring_s']:.3f} s ({1e3 * t['scoring_s'] / n:.2f} ms per answer, "
              f"{share:.1%} of the total)")


if __name__ == "__main__":
    main()
