"""``report.md``: the three verdicts over seeds first, then per-seed rows, the RL trend, tables, plots."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .network import answer_violations, grid_topology, plot_violation_network, violation_shares
from feasgym.agents.arena.report import format_p

from .layout import agent_name, eval_sets, slug as _slug, stage_names
from .plots import plot_format_vs_feasibility, plot_training_curves
from .profiles import StudyProfile
from .questions import QUESTIONS, answer_questions
from .stages import RunFolder


def _num(x: float | None, signed: bool = True) -> str:
    if x is None:
        return "-"
    return f"{x:+.3f}" if signed else f"{x:.3f}"


def _metric_name(metric: str) -> str:
    return {"feasible": "fully-feasible rate", "constraint_rate": "constraint-satisfaction"}.get(metric, metric)


def describe(answer: dict) -> str:
    """One line: verdict, effect over seeds with its CI and width, per-seed effects, CSR, power."""
    e = answer["effect"]
    if e is None:
        return "no paired data"
    seeds = ", ".join(f"{x:+.3f}" for x in e["per_seed"])
    text = (f"**{answer['verdict']}**: {_metric_name(answer['metric'])} {answer['a']} - {answer['b']} = "
            f"{_num(e['mean'])} (95% CI {_num(e['ci_low'])} to {_num(e['ci_high'])}, width "
            f"{e['ci_high'] - e['ci_low']:.3f}; seed x instance bootstrap, {e['n_seeds']} seeds x "
            f"{e['n_instances']} instances); per seed {seeds}"
            + (f" (sd {e['seed_sd']:.3f})" if e["seed_sd"] is not None else ""))
    c = answer.get("constraint_rate_effect")
    if c is not None:
        text += (f"; constraint-satisfaction {_num(c['mean'])} (CI {_num(c['ci_low'])} to {_num(c['ci_high'])}; "
                 f"per seed {', '.join(f'{x:+.3f}' for x in c['per_seed'])})")
    return text + f". Power: {answer['power']}."


def load_evaluations(folder: RunFolder, profile: StudyProfile) -> dict[str, dict]:
    """label -> {"summary": arena summary, "records": {section: {agent: [episode records]}}, "spec": ...}."""
    from feasgym.agents.arena.records import EpisodeStore

    out = {}
    for label, spec in eval_sets(profile).items():
        arena_dir = folder.stage_dir("arena") / _slug(label)
        summary = json.loads((arena_dir / "summary.json").read_text(encoding="utf-8"))
        store = EpisodeStore(arena_dir / "episodes.jsonl")
        records = {section: {agent: list(store.select(section, agent, range(spec["n"])))
                             for agent in summary["agents"]} for section in summary["envs"]}
        out[label] = {"summary": summary, "records": records, "spec": spec}
    return out


def _json(path: Path) -> dict | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def write_study_report(folder: RunFolder, profile: StudyProfile, machine: dict, budget: dict) -> Path:
    from feasgym.agents.arena.report import agents_table, violations_table

    seeds = list(profile.seeds)
    evaluations = load_evaluations(folder, profile)
    runs = {s: {"sft": _json(folder.stage_dir(f"seed-{s}/sft") / "summary.json"),
                "grpo": _json(folder.stage_dir(f"seed-{s}/grpo") / "summary.json")} for s in seeds}
    sections = {f"{label}: {section}": ev["summary"]["envs"][section]
                for label, ev in evaluations.items() for section in ev["summary"]["envs"]}
    plot_format_vs_feasibility(sections, seeds, folder.root / "format_vs_feasibility.png")
    plot_training_curves(runs, folder.root / "training_curves.png")
    networks = _network_plots(folder, profile, evaluations)

    questions = {(label, section): answer_questions(records, seeds)
                 for label, ev in evaluations.items() for section, records in ev["records"].items()}
    base = folder.done("base")["result"]
    lines = [f"# feasgym study ({profile.name}): {len(seeds)} training seeds", "",
             f"Training seeds {seeds}; instances and the base fixed by seed {profile.seed}. Each verdict is the "
             "mean paired effect over seeds x instances with a 95% seed x instance bootstrap CI (training seeds are "
             "the unit of replication); **yes** only when that CI excludes 0. Per-seed effects follow each line.", ""]
    for i, (question, *_rest) in enumerate(QUESTIONS):
        lines.append(f"**{question}**")
        for (label, section), answers in questions.items():
            lines.append(f"- {label} ({section}): {describe(answers[i])}")
        if i == 0:
            lines += _format_reference(evaluations, seeds)
        lines.append("")
    lines += _base_lines(base, evaluations)
    lines += _per_seed_table(folder, evaluations, questions, seeds, runs)
    lines += _rl_lines(folder, seeds)
    lines += _run_lines(folder, profile, machine, budget, base)
    for label, ev in evaluations.items():
        for section, env in ev["summary"]["envs"].items():
            lines += [f"## {label}: {section}", "", f"{ev['summary']['episodes']} instances, split "
                      f"`{env.get('split')}`, seed {ev['summary']['seed']}. Mean [95% bootstrap CI over instances, "
                      "one model each].", ""]
            lines += agents_table(env)
            lines += ["", "Violation rate by constraint type (violated / checked):", ""] + violations_table(env) + [""]
    lines += ["## Plots", "", "![format vs feasibility](format_vs_feasibility.png)", "",
              "Every model is one point; SFT and RL have one point per training seed (marker = seed). Left: "
              "constraint-satisfaction rate, right: fully-feasible rate, both against the format score.", "",
              "![training curves](training_curves.png)", ""]
    for label, file in networks.items():
        lines += [f"![violations on the grid, {label}]({file})", ""]
    if not networks:
        lines += ["(no violation network: the study's envs are not grids, or no model answer had a violation)", ""]
    path = folder.root / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    (folder.root / "questions.json").write_text(json.dumps(
        [{"evaluation": label, "section": section, "answers": answers}
         for (label, section), answers in questions.items()], indent=2, default=float), encoding="utf-8")
    return path


def _format_reference(evaluations: dict, seeds: list[int]) -> list[str]:
    """The looks-right template's format beside base and SFT: what a well-formed wrong answer scores."""
    out = []
    for label, ev in evaluations.items():
        for section, env in ev["summary"]["envs"].items():
            a = env["agents"]
            sft = [a[agent_name("sft", s)]["format"]["mean"] for s in seeds if agent_name("sft", s) in a]
            out.append(f"  - format for reference, {label} ({section}): looks-right template "
                       f"{a['looks-right']['format']['mean']:.3f} (constraint-satisfaction "
                       f"{a['looks-right']['constraint_rate']['mean']:.3f}); base {a['base']['format']['mean']:.3f} "
                       f"(answer found {a['base']['answer_found']['mean']:.3f}); SFT per seed "
                       + ", ".join(f"{x:.3f}" for x in sft))
    return out


def _base_lines(base: dict, evaluations: dict) -> list[str]:
    found = [env["agents"]["base"]["answer_found"]["mean"] for ev in evaluations.values()
             for env in ev["summary"]["envs"].values()]
    if base["built"]:
        text = (f"**Base.** Embedded model ({base['parameters']:,} parameters) pretrained for {base['steps']} steps on "
                f"{base['pretrain_rows']} demonstrations of other tasks ({', '.join(base['pretrain_envs'])}), "
                "never the target env; shared by every training seed.")
    else:
        text = f"**Base.** `{base['model']}` ({base['parameters']:,} parameters), shared by every training seed."
    fmt = [env["agents"]["base"]["format"]["mean"] for ev in evaluations.values() for env in ev["summary"]["envs"].values()]
    text += (f" On the target's evaluation prompts an answer is found in {min(found):.3f}-{max(found):.3f} of them "
             f"(format {min(fmt):.3f}-{max(fmt):.3f}).")
    if min(found) < 0.8:
        text += (" Note: under 0.8, so the base does not yet stand in for a model that answers; "
                 "'did SFT raise format' then partly measures learning to answer at all.")
    return [text, ""]


def _per_seed_table(folder: RunFolder, evaluations: dict, questions: dict, seeds: list[int], runs: dict) -> list[str]:
    lines = ["## Per seed", "",
             "| evaluation | seed | SFT format | SFT CSR | SFT feasible | RL format | RL CSR | RL feasible "
             "| SFT-base format | SFT-base feasible (McNemar p) | RL-SFT feasible (McNemar p) | RL-SFT CSR (Wilcoxon p) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for (label, section), answers in questions.items():
        env = evaluations[label]["summary"]["envs"][section]["agents"]
        for k, s in enumerate(seeds):
            sft, rl = env[agent_name("sft", s)], env[agent_name("rl", s)]
            cells = [f"{sft['format']['mean']:.3f}", f"{sft['constraint_rate']['mean']:.3f}",
                     f"{sft['feasible']['mean']:.3f}", f"{rl['format']['mean']:.3f}",
                     f"{rl['constraint_rate']['mean']:.3f}", f"{rl['feasible']['mean']:.3f}"]
            q1, q2, q3 = (a["per_seed"][k] if a.get("per_seed") else None for a in answers)
            cells.append(_num(q1["diff"]["mean"]) if q1 else "-")
            cells.append(f"{_num(q2['diff']['mean'])} ({format_p(q2['diff']['p'])})" if q2 else "-")
            cells.append(f"{_num(q3['diff']['mean'])} ({format_p(q3['diff']['p'])})" if q3 else "-")
            c3 = q3.get("constraint_rate_diff") if q3 else None
            cells.append(f"{_num(c3['mean'])} ({format_p(c3['p'])})" if c3 else "-")
            lines.append(f"| {label} ({section}) | {s} | " + " | ".join(cells) + " |")
    lines += ["", "Per-seed p-values describe one checkpoint on these instances (detail, not the verdict).", ""]
    return lines


def _rl_lines(folder: RunFolder, seeds: list[int]) -> list[str]:
    lines = ["## RL stage: did the sampled reward move?", "",
             "Slope of the sampled feasibility reward (per GRPO generation batch, each instance's mean removed, so "
             "instance difficulty does not hide the trend), 95% CI by bootstrap over instances; "
             "change over the run = slope x steps.", "",
             "| seed | steps | prompts (instances) | visits per instance | slope per step [95% CI] "
             "| change over the run | groups with identical rewards | sampled reward first / last 8 steps |",
             "|---:|---:|---:|---:|---|---:|---:|---|"]
    for s in seeds:
        done = folder.done(f"seed-{s}/grpo")
        summary = _json(folder.stage_dir(f"seed-{s}/grpo") / "summary.json")
        if done is None or summary is None:
            continue
        r = done["result"]
        t = r.get("reward_trend")
        history = [h for h in summary["log_history"] if "rewards/feasibility_reward/mean" in h]
        rewards = [h["rewards/feasibility_reward/mean"] for h in history]
        flat = [h.get("frac_reward_zero_std") for h in history if h.get("frac_reward_zero_std") is not None]
        if t:
            slope = f"{t['slope']:+.5f} [{t['ci_low']:+.5f}, {t['ci_high']:+.5f}]"
            change = f"{t['slope'] * r['steps']:+.3f}"
            visits = f"{t['visits_per_instance']:.1f}"
        else:
            slope, change, visits = "-", "-", "-"
        ends = (f"{np.mean(rewards[:8]):.3f} / {np.mean(rewards[-8:]):.3f}" if rewards else "-")
        lines.append(f"| {s} | {r['steps']} | {r['prompts']} | {visits} | {slope} | {change} "
                     f"| {np.mean(flat):.2f} | {ends} |" if flat else
                     f"| {s} | {r['steps']} | {r['prompts']} | {visits} | {slope} | {change} | - | {ends} |")
    return lines + [""]


def _run_lines(folder: RunFolder, profile: StudyProfile, machine: dict, budget: dict, base: dict) -> list[str]:
    stages = [s for s in stage_names(profile) if s != "report"]
    times = folder.stage_times(stages)
    loads = folder.stage_loads(stages)
    stage_text = ", ".join(f"{k} {v:.0f} s" + (f" (load {loads[k]:.1f})" if loads.get(k) is not None else "")
                           for k, v in times.items())
    lines = ["## Run", "",
             f"- envs: {', '.join(profile.env_ids)}; train {profile.n_train} (GRPO prompts from the first "
             f"{profile.n_grpo or profile.n_train}), probe {profile.n_probe}, test {profile.n_test}, OOD "
             f"{profile.n_ood} instances (OOD: "
             + "; ".join(f"{e}: {profile.ood_for(e)[1]}" for e in profile.env_ids) + ")",
             f"- base model: {base['model']} ({base['parameters']:,} parameters"
             + (", pretrained here on other tasks)" if base["built"] else ")"),
             f"- token budget: longest oracle answer {budget['longest_answer']} tokens + margin {budget['margin']} "
             f"= {budget['needed']}; generation and GRPO completion limit {budget['max_new_tokens']}"
             + (f" (given: {budget['user_limit']})" if budget.get("user_limit") else " (derived)")
             + f"; longest prompt {budget['longest_prompt']} tokens, context {budget['context']}",
             f"- stage wall times (1-min load average at the stage's end): {stage_text}; total "
             f"{sum(times.values()):.0f} s before the report",
             f"- machine: {machine.get('cpu_model', machine.get('processor'))}, {machine.get('cpu_count')} CPUs, "
             f"torch {machine.get('torch')} pinned to {profile.threads} threads (recorded in settings.json; "
             f"OMP_WAIT_POLICY {machine.get('omp_wait_policy') or 'unset'}), "
             f"GPU: {machine.get('gpu') or 'none'}; load average at the report "
             + (", ".join(f"{x:.2f}" for x in machine["load_avg_at_report"]) if machine.get("load_avg_at_report")
                else "unknown"),
             "- reproducibility: same machine, same thread count, same settings give bit-identical models; another "
             "thread count or CPU gives other floating-point sums, so other models (that is what the seeds' spread "
             "measures)"]
    return lines + [""]


def _network_plots(folder: RunFolder, profile: StudyProfile, evaluations: dict) -> dict[str, str]:
    """Violation shares on the grid for SFT and RL (all seeds pooled), in-distribution and OOD."""
    out = {}
    for label, ev in evaluations.items():
        for (section, env_id, kwargs) in ev["spec"]["envs"]:
            topology = grid_topology(env_id, kwargs, ev["spec"]["split"], profile.seed)
            if topology is None:
                continue
            records = ev["records"][section]
            shares = {}
            for kind in ("sft", "rl"):
                answers = [r for s in profile.seeds for r in records.get(agent_name(kind, s), [])]
                shares[kind.upper()] = violation_shares(topology, answer_violations(answers, env_id, kwargs))
            file = f"violations_{_slug(label)}_{_slug(env_id)}.png"
            plot_violation_network(topology, shares, f"{label}: {section}", folder.root / file)
            out[f"{label}: {section}"] = file
    return out
