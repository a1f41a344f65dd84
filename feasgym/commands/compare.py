"""``feasgym compare``: agents head to head on the same instances, with paired statistics."""
from __future__ import annotations

import argparse
import json

from .options import json_or_text

NAME = "compare"
HELP = ("Compare agents on identical instances: per-episode JSONL, summary with bootstrap CIs and paired "
        "tests, report.md and plots.")
DEFAULT_AGENTS = ("oracle=oracle", "looks-right=looks-right", "random=random")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", action="append", metavar="[LABEL=]ENV_ID",
                        help="env id, repeatable; LABEL=ENV_ID keys a variant (e.g. ood=feasgym/ACOPF-case14-v0 "
                             "with --env-kwargs 'ood={\"split\": \"ood\"}')")
    parser.add_argument("--env-kwargs", action="append", default=[], metavar="LABEL=JSON",
                        help="gym.make keyword arguments for the env with this label (or id)")
    parser.add_argument("--agent", action="append", metavar="[NAME=]SPEC",
                        help="repeatable; SPEC is oracle, looks-right, random, tool-user, hf:PATH_OR_HUB_NAME or "
                             f"openai:MODEL[@BASE_URL] (default: {' '.join(DEFAULT_AGENTS)})")
    parser.add_argument("--agent-arg", action="append", default=[], metavar="NAME.KEY=JSON",
                        help="keyword argument for one agent, e.g. base.temperature=0.7 or api.concurrency=4")
    parser.add_argument("--max-new-tokens", type=int, default=None,
                        help="generation budget for model agents (hf: max_new_tokens, openai: max_tokens)")
    parser.add_argument("--batch-size", type=int, default=None, help="batch size of hf agents")
    parser.add_argument("--episodes", type=int, default=50, help="instances per env")
    parser.add_argument("--seed", type=int, default=0, help="instance stream seed")
    parser.add_argument("--split", default="test", choices=("train", "test", "ood"))
    parser.add_argument("--out", default="runs/compare", help="output folder (rerun to resume)")
    parser.add_argument("--redo-errors", action="store_true",
                        help="when resuming, ask again the episodes whose agent reported an error")
    parser.add_argument("--tools", default=None, metavar="TOOL[,TOOL]",
                        help="also play tool-using episodes of the same instances with these tools (power_flow, check): "
                             "every agent that can use tools (hf, openai, tool-user) runs again as NAME+tools")
    parser.add_argument("--max-tool-calls", type=int, default=None, metavar="K",
                        help="tool-call budget per episode with --tools (default 4)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _pairs(items: list[str], what: str) -> list[tuple[str, str]]:
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise SystemExit(f"feasgym compare: {what} must look like NAME=VALUE, got {item!r}")
        out.append((key, value))
    return out


def agent_pairs(items: list[str]) -> list[tuple[str, str]]:
    """``NAME=SPEC`` items; a bare spec (``oracle``, ``hf:org/model``) is its own name."""
    out = []
    for item in items:
        name, sep, spec = item.partition("=")
        if not sep or ":" in name or "/" in name:  # the '=' belongs to the spec (e.g. a URL query)
            name, spec = item, item
        if not name or not spec:
            raise SystemExit(f"feasgym compare: --agent must look like NAME=SPEC or SPEC, got {item!r}")
        out.append((name, spec))
    return out


def agent_kwargs(specs: dict[str, str], args: argparse.Namespace) -> dict[str, dict]:
    """Per-agent keyword arguments from the shared options and ``--agent-arg``."""
    from feasgym.agents.registry import accepted_kwargs

    kwargs: dict[str, dict] = {name: {} for name in specs}
    for name, spec in specs.items():
        accepted = accepted_kwargs(spec)
        if args.max_new_tokens is not None:
            for key in ("max_new_tokens", "max_tokens"):
                if key in accepted:
                    kwargs[name][key] = args.max_new_tokens
        if args.batch_size is not None and spec.startswith("hf:"):
            kwargs[name]["batch_size"] = args.batch_size
    for target, value in _pairs(args.agent_arg, "--agent-arg"):
        name, dot, key = target.partition(".")
        if not dot or name not in specs:
            raise SystemExit(f"feasgym compare: --agent-arg {target!r} names no agent (agents: {sorted(specs)})")
        kwargs[name][key] = json_or_text(value)  # JSON, else a plain string (e.g. a system prompt)
    return kwargs


def run(args: argparse.Namespace) -> int:
    from feasgym.agents import make_agent
    from feasgym.agents.arena import run_arena

    envs = args.env or ["feasgym/ACOPF-case14-v0"]
    extra = {label: json.loads(value) for label, value in _pairs(args.env_kwargs, "--env-kwargs")}
    env_specs = []
    for item in envs:
        label, sep, env_id = item.partition("=")
        label, env_id = (label, env_id) if sep else (item, item)
        env_specs.append((label, env_id, extra.pop(label, {})))
    if extra:
        raise SystemExit(f"feasgym compare: --env-kwargs for unknown env labels {sorted(extra)}")
    tools = [t.strip() for t in args.tools.split(",") if t.strip()] if args.tools else None
    if args.max_tool_calls is not None and not tools:
        raise SystemExit("feasgym compare: --max-tool-calls needs --tools")
    default_agents = list(DEFAULT_AGENTS) + (["tool-user=tool-user"] if tools else [])
    specs = dict(agent_pairs(args.agent or default_agents))
    kwargs = agent_kwargs(specs, args)
    agents = {name: make_agent(spec, **kwargs[name]) for name, spec in specs.items()}
    try:
        try:
            summary = run_arena(env_specs, agents, episodes=args.episodes, seed=args.seed, out_dir=args.out,
                                split=args.split, progress=not args.no_progress, redo_errors=args.redo_errors,
                                tools=tools, max_tool_calls=args.max_tool_calls)
        except ValueError as exc:  # e.g. a tool the env family does not have, or no agent that uses tools
            raise SystemExit(f"feasgym compare: {exc}") from None
    finally:
        for agent in agents.values():
            agent.close()
    print_summary(summary)
    print(f"\nwrote {args.out}/report.md, summary.json, episodes.jsonl, {', '.join(summary['plots'].values())}")
    return 0


def print_summary(summary: dict) -> None:
    for label, section in summary["envs"].items():
        print(f"\n== {label}: {summary['episodes']} instances, seed {summary['seed']}, split {section['split']}")
        tools = any(a.get("tools") for a in section["agents"].values())
        extra = f" {'calls/ep':>8s} {'feas/call':>9s}" if tools else ""
        print(f"{'agent':20s} {'format':>7s} {'CSR':>7s} {'feasible':>9s}  {'95% CI feasible':>15s} {'errors':>6s}{extra}")
        for name, a in section["agents"].items():
            f = a["feasible"]
            t = a.get("tools")
            extra = ""
            if tools:
                per_call = "-" if not t or t["feasible_per_tool_call"] is None else f"{t['feasible_per_tool_call']:.3f}"
                extra = f" {t['calls_per_episode']['mean'] if t else 0:8.2f} {per_call:>9s}"
            print(f"{name:20s} {a['format']['mean']:7.3f} {a['constraint_rate']['mean']:7.3f} {f['mean']:9.3f}  "
                  f"[{f['ci_low']:.2f}, {f['ci_high']:.2f}]{'':>2s} {a['errors']:6d}{extra}")
        for p in section["pairs"]:
            print(f"  {p['a']} vs {p['b']}: feasible {p['feasible_diff']:+.3f} (McNemar p={p['mcnemar_p']:.3g}), "
                  f"CSR {p['constraint_rate_diff']['mean']:+.3f} "
                  f"[{p['constraint_rate_diff']['ci_low']:+.3f}, {p['constraint_rate_diff']['ci_high']:+.3f}]")
    t = summary["timing"]
    print(f"\ntime: generation {t['generation_s']:.2f} s, scoring {t['scoring_s']:.2f} s")
