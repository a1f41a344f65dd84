"""``feasgym demo``: make an env, show its prompt, score the oracle, a looks-right answer and garbage."""
from __future__ import annotations

import argparse

NAME = "demo"
HELP = "Show a prompt and how the oracle, a looks-right-but-wrong answer and garbage score."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", default="feasgym/ACOPF-case14-v0", help="env id")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prompt-lines", type=int, default=25, help="how many prompt lines to print")


def run(args: argparse.Namespace) -> int:
    import gymnasium as gym
    import numpy as np

    import feasgym  # noqa: F401

    env = gym.make(args.env)
    prompt, info = env.reset(seed=args.seed)
    lines = prompt.splitlines()
    print(f"== {args.env}, seed {args.seed}, instance {info['instance']} ({len(prompt)} characters of prompt)")
    print("\n".join(lines[: args.prompt_lines]))
    if len(lines) > args.prompt_lines:
        print(f"... ({len(lines) - args.prompt_lines} more lines)")
    unwrapped = env.unwrapped
    answers = {
        "oracle (reference solution)": unwrapped.reference_answer(),
        "looks-right (nominal optimum, not re-solved)": unwrapped.nominal_answer(),
        "random well-formatted values": unwrapped.random_answer(np.random.default_rng(args.seed)),
        "garbage (prose, no JSON)": "I think the generators should run at about half capacity.",
    }
    print(f"\n{'answer':46s} {'format':>6s} {'CSR':>6s} {'feasible':>8s} {'gap':>8s} {'reward':>6s}")
    for name, text in answers.items():
        s = unwrapped.score(text)
        gap = s["optimality"]["gap"]
        print(f"{name:46s} {s['format']['score']:6.2f} {s['feasibility']['score']:6.3f} "
              f"{str(s['feasibility']['feasible']):>8s} {'-' if gap is None else f'{gap:+.2%}':>8s} {s['reward']:6.3f}")
        worst = s["feasibility"]["violations"][:2]
        for v in worst:
            amount = "missing" if v["amount"] is None else f"{v['amount']:.3g} {v['unit']}"
            print(f"    violated: {v['type']} at {v['element']} ({amount})")
    print("\nFormat is cheap; feasibility is physics. CSR = constraint-satisfaction rate.")
    return 0
