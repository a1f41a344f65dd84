"""verifiers (prime-rl): evaluate a model on feasgym's ``load_environment`` through an OpenAI-compatible server.

Run: python examples/verifiers_eval.py --base-url http://127.0.0.1:8000/v1 --model MODEL [--n 16]
(any vLLM / llama.cpp / hosted endpoint; the key from ``$OPENAI_API_KEY``). ``FEASGYM_SMOKE=1`` (or
``--smoke``, or no ``--base-url``) evaluates two instances against a stand-in server started
here on loopback that answers every prompt with the oracle's answer. The environment,
copy-pasteable::

    from feasgym.integrations.verifiers import load_environment
    env = load_environment("feasgym/ACOPF-case5-v0", n=256, eval_n=32,
                           weights={"format": 0.1, "feasibility": 1.0, "optimality": 0.3})

(prime-rl: ``load_environment`` is the module-level entry point it looks for.)
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics

import gymnasium as gym

from feasgym.integrations.verifiers import load_environment


def oracle_server(env_id: str, split: str, seed: int, n: int):
    """A loopback chat-completions server answering each of the first ``n`` prompts with its oracle answer."""
    from fastapi import FastAPI

    from feasgym.integrations.server import serve_in_background

    env = gym.make(env_id, split=split)
    answers = {}
    for k in range(n):
        prompt, _ = env.reset(seed=seed, options={"instance": k})
        answers[prompt] = env.unwrapped.reference_answer()
    app = FastAPI()

    @app.post("/v1/chat/completions")
    def chat(body: dict) -> dict:
        text = answers.get(body["messages"][-1]["content"], "unknown prompt")
        return {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}}

    return serve_in_background(app)


def main(argv: list[str] | None = None) -> dict:
    from verifiers.types import ClientConfig

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="feasgym/ACOPF-case5-v0")
    parser.add_argument("--base-url", default=None)
    parser.add_argument("--model", default="oracle")
    parser.add_argument("--n", type=int, default=16, help="evaluation instances (test split)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", default=os.environ.get("FEASGYM_SMOKE") == "1")
    args = parser.parse_args(argv)
    if args.smoke:
        args.n, args.base_url = 2, None
    env = load_environment(args.env, n=1, eval_n=args.n, eval_seed=args.seed)
    server = oracle_server(args.env, "test", args.seed, args.n) if args.base_url is None else \
        contextlib.nullcontext(args.base_url.removesuffix("/v1"))
    with server as url:
        os.environ.setdefault("OPENAI_API_KEY", "none")
        client = ClientConfig(api_base_url=f"{url}/v1", api_key_var="OPENAI_API_KEY", max_retries=2)
        results = env.evaluate_sync(client=client, model=args.model, num_examples=args.n, rollouts_per_example=1,
                                    sampling_args={"temperature": 0.0})
    metrics = [row["metrics"] for row in results["outputs"]]
    summary = {name: statistics.mean(m[name] for m in metrics) for name in metrics[0]}
    summary["reward"] = statistics.mean(row["reward"] for row in results["outputs"])
    print(f"{args.env}: {len(metrics)} instances, model {args.model!r}: " +
          ", ".join(f"{k} {v:.3f}" for k, v in summary.items()))
    return summary


if __name__ == "__main__":
    main()
