"""``report.md``: the arena summary as Markdown tables, one section per env."""
from __future__ import annotations

from pathlib import Path


def _ci(stat: dict | None, pct: bool = False) -> str:
    if stat is None:
        return "-"
    if pct:
        return f"{stat['mean']:+.3%} [{stat['ci_low']:+.3%}, {stat['ci_high']:+.3%}]"
    return f"{stat['mean']:.3f} [{stat['ci_low']:.3f}, {stat['ci_high']:.3f}]"


def format_p(p: float | None) -> str:
    """A p-value for a table: 2 significant digits below 0.001, else 3 decimals; "-" when there is none."""
    if p is None:
        return "-"
    return f"{p:.2g}" if p < 0.001 else f"{p:.3f}"


def agents_table(section: dict) -> list[str]:
    lines = ["| agent | n | answer found | format | constraint-satisfaction | fully feasible | gap on feasible "
             "| form-feasibility gap | errors | truncated prompts |",
             "|---|---:|---|---|---|---|---|---|---:|---:|"]
    for name, a in section["agents"].items():
        lines.append(f"| {name} | {a['n']} | {_ci(a['answer_found'])} | {_ci(a['format'])} "
                     f"| {_ci(a['constraint_rate'])} | {_ci(a['feasible'])} | {_ci(a['gap_feasible'], pct=True)} "
                     f"| {_ci(a['form_feasibility_gap'])} | {a['errors']} | {a['truncated_prompts']} |")
    return lines


def pairs_table(section: dict) -> list[str]:
    if not section["pairs"]:
        return ["(one agent: no pairs)"]
    lines = ["| a vs b | pairs | feasible a - b | McNemar exact p (a only / b only) "
             "| constraint-satisfaction a - b | format a - b |",
             "|---|---:|---:|---|---|---|"]
    for p in section["pairs"]:
        d = p["n_discordant"]
        lines.append(f"| {p['a']} vs {p['b']} | {p['n_pairs']} | {p['feasible_diff']:+.3f} "
                     f"| {format_p(p['mcnemar_p'])} ({d['a_only']} / {d['b_only']}) "
                     f"| {_ci(p['constraint_rate_diff'])} | {_ci(p['format_diff'])} |")
    return lines


def violations_table(section: dict) -> list[str]:
    types: list[str] = []
    for a in section["agents"].values():
        types += [t for t in a["violations_by_type"] if t not in types]
    if not types:
        return ["(no constraint rows)"]
    lines = ["| agent | " + " | ".join(types) + " |", "|---|" + "---:|" * len(types)]
    for name, a in section["agents"].items():
        cells = []
        for t in types:
            e = a["violations_by_type"].get(t)
            cells.append("-" if e is None else f"{e['rate']:.3f} ({e['violated']}/{e['total']})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def tools_table(section: dict) -> list[str]:
    """Tool use per agent and, for each agent with and without tools, what a call bought (empty without tools)."""
    users = {name: a for name, a in section["agents"].items() if a.get("tools")}
    if not users:
        return []
    lines = ["### Tools", "",
             "| agent | tool calls per episode | calls by tool | malformed calls | fully feasible | feasible per tool call |",
             "|---|---|---|---:|---|---:|"]
    for name, a in users.items():
        t = a["tools"]
        by_tool = ", ".join(f"{k} {v}" for k, v in t["by_tool"].items()) or "-"
        per_call = "-" if t["feasible_per_tool_call"] is None else f"{t['feasible_per_tool_call']:.3f}"
        lines.append(f"| {name} | {_ci(t['calls_per_episode'])} | {by_tool} | {t['malformed']} | {_ci(a['feasible'])} "
                     f"| {per_call} |")
    gains = [p for p in section["pairs"] if p.get("feasible_diff_tools_minus_plain") is not None]
    if gains:
        lines += ["", "| a vs b (one with tools) | feasible, with tools - without | McNemar exact p (a only / b only) "
                  "| feasible gain per tool call |", "|---|---:|---|---:|"]
        for p in gains:
            d = p["n_discordant"]
            gain = "-" if p["feasible_gain_per_tool_call"] is None else f"{p['feasible_gain_per_tool_call']:+.3f}"
            lines.append(f"| {p['a']} vs {p['b']} | {p['feasible_diff_tools_minus_plain']:+.3f} | {format_p(p['mcnemar_p'])} "
                         f"({d['a_only']} / {d['b_only']}) | {gain} |")
    lines += ["", "Feasible per tool call = fully feasible episodes / tool calls made; feasible gain per tool call = "
                  "(feasible rate with tools - without) / mean tool calls with tools.", ""]
    return lines


def render_report(summary: dict) -> str:
    t = summary["timing"]
    total = t["generation_s"] + t["scoring_s"]
    share = t["scoring_s"] / total if total > 0 else 0.0
    out = ["# Arena report", "",
           f"{summary['episodes']} instances per env (seed {summary['seed']}); every agent "
           "answers the same instances. Means with 95% percentile-bootstrap CIs; pairs use the exact McNemar "
           "test on fully-feasible outcomes and paired bootstrap CIs.", "",
           f"Time: generation {t['generation_s']:.2f} s, scoring {t['scoring_s']:.2f} s "
           f"(scoring {share:.1%} of the two).", ""]
    for label, section in summary["envs"].items():
        out += [f"## {label}", "", f"Env id `{section['env_id']}`, split `{section.get('split')}`.", "", *agents_table(section), "",
                "Form-feasibility gap = format score minus constraint-satisfaction rate, per episode.", "",
                *tools_table(section),
                "### Paired comparisons", "", *pairs_table(section), "",
                "### Violated share of constraint rows, by type", "", *violations_table(section), ""]
    plots = summary.get("plots") or {}
    if plots:
        out += ["## Plots", ""] + [f"![{name}]({file})" for name, file in plots.items()] + [""]
    return "\n".join(out)


def write_report(summary: dict, path: Path) -> Path:
    path.write_text(render_report(summary), encoding="utf-8")
    return path
