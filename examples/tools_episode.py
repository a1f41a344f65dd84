"""Tool-using episodes: call power_flow and check before answering. Run: python examples/tools_episode.py [--env ID]

A tool call is a reply holding ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` (or an
OpenAI assistant message with ``tool_calls``); the observation is the tool's result and the episode
goes on; a reply without a call is the final answer, scored exactly as without tools. Then the
scripted tool user and looks-right play the same instances with and without tools in the arena.
``FEASGYM_SMOKE=1`` (or ``--smoke``) runs 2 arena instances instead of 10.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile

import gymnasium as gym

import feasgym  # noqa: F401  (registers the feasgym/... ids)
from feasgym.agents.arena import run_arena
from feasgym.agents.baselines import looks_right_setpoints
from feasgym.envs.tools import render_tool_call


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="feasgym/ACOPF-case5-v0")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="arena output folder (default: a temporary one)")
    parser.add_argument("--smoke", action="store_true", default=os.environ.get("FEASGYM_SMOKE") == "1")
    args = parser.parse_args(argv)

    env = gym.make(args.env, tools=("power_flow", "check"), max_tool_calls=3,
                   reward_weights={"tool_call": 0.01})  # each call costs 0.01 of reward
    prompt, _ = env.reset(seed=args.seed)
    print(prompt[prompt.index("Tools:"):].splitlines()[0])
    print("schemas:", [s["function"]["name"] for s in env.unwrapped.tool_schemas])

    # 1. run the power flow on the looks-right setpoints (the unperturbed case's optimum)
    setpoints = looks_right_setpoints(env.unwrapped)
    obs, reward, terminated, _, info = env.step(render_tool_call("power_flow", {"setpoints": {"generators": setpoints}}))
    result = json.loads(obs)
    print(f"power_flow: converged={result['converged']} slack={result.get('slack')} "
          f"limits broken={result.get('limits', {}).get('violated')} reward {reward:+.2f}")

    # 2. check the solved state as a draft answer (the state comes in the full-state answer layout)
    draft = obs[obs.index('"state": ') + len('"state": '):obs.index(', "branch_loading_pct"')]
    obs, reward, terminated, _, info = env.step(
        f'<tool_call>{{"name": "check", "arguments": {{"answer": {draft}}}}}</tool_call>')
    checked = json.loads(obs)
    print(f"check: feasible={checked['feasible']} violated {checked['violated']} of {checked['total']}, "
          f"worst {checked['violations'][:1]}")

    # 3. a malformed call: an error observation, and it uses the budget
    obs, reward, terminated, _, info = env.step("<tool_call>{not json</tool_call>")
    print("malformed:", json.loads(obs)["error"][:60], "... calls left", json.loads(obs)["calls_left"])

    # 4. the final answer is scored as without tools
    obs, reward, terminated, _, info = env.step(draft)
    print(f"final: terminated={terminated} feasible={info['feasibility']['feasible']} reward {reward:.3f}, "
          f"tool calls {info['tool_calls']}")

    # 5. the arena: the same instances with and without tools
    out = args.out or tempfile.mkdtemp(prefix="feasgym-tools-")
    summary = run_arena([args.env], {"looks-right": "looks-right", "tool-user": "tool-user"},
                        episodes=2 if args.smoke else 10, seed=args.seed, out_dir=out, tools=["power_flow", "check"],
                        max_tool_calls=4, progress=False)
    for name, a in summary["envs"][args.env]["agents"].items():
        calls = a["tools"]["calls_per_episode"]["mean"] if a["tools"] else 0.0
        print(f"{name:16s} feasible {a['feasible']['mean']:.2f}  CSR {a['constraint_rate']['mean']:.3f}  "
              f"tool calls/episode {calls:.2f}")
    print(f"report: {out}/report.md")
    return {"final": info, "summary": summary}


if __name__ == "__main__":
    main()
