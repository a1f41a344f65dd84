"""``report.md``: the arena summary as Markdown tables, one section per env."""
from __future__ import annotations

from pathlib import Path


def _ci(stat: dict | None, pct: bool = False) -> str:
    if stat is None:
        return "-"
    if pct:
        return f"{stat['mean']:+.3%} [{stat['ci_low']:+.3%}, {stat['ci_high']:+.3%}]"
    return f"{stat['mean']:.3f} [{stat['ci_low']:.3f}, {stat['ci_high']:.3f}]"


def _p(p: float) -> str:
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
                     f"| {_p(p['mcnemar_p'])} ({d['a_only']} / {d['b_only']}) "
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
                "### Paired comparisons", "", *pairs_table(section), "",
                "### Violated share of constraint rows, by type", "", *violations_table(section), ""]
    plots = summary.get("plots") or {}
    if plots:
        out += ["## Plots", ""] + [f"![{name}]({file})" for name, file in plots.items()] + [""]
    return "\n".join(out)


def write_report(summary: dict, path: Path) -> Path:
    path.write_text(render_report(summary), encoding="utf-8")
    return path
