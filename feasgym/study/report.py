"""``report.md``: the three questions first, then tables, plots, violations and training curves."""
from __future__ import annotations

import json
from pathlib import Path

from .pipeline import STAGES, _slug, eval_sets
from .plots import plot_format_vs_feasibility, plot_training_curves
from .profiles import StudyProfile
from .questions import QUESTIONS, answer_questions
from .stages import RunFolder


def _num(x: float | None, signed: bool = True) -> str:
    if x is None:
        return "-"
    return f"{x:+.3f}" if signed else f"{x:.3f}"


def _p(p: float | None) -> str:
    if p is None:
        return "-"
    return f"{p:.2g}" if p < 0.001 else f"{p:.3f}"


def describe(answer: dict) -> str:
    d = answer["diff"]
    if d["n"] == 0:
        return "no paired data"
    text = (f"**{answer['verdict']}**: {answer['metric'].replace('feasible', 'fully-feasible rate')} "
            f"{answer['a']} - {answer['b']} = {_num(d['mean'])} (95% CI {_num(d['ci_low'])} to "
            f"{_num(d['ci_high'])}, p = {_p(d['p'])}, {d['test']}, n = {d['n']})")
    c = answer["constraint_rate_diff"]
    if c is not None and c["n"]:
        text += (f"; constraint-satisfaction {_num(c['mean'])} (CI {_num(c['ci_low'])} to {_num(c['ci_high'])}, "
                 f"p = {_p(c['p'])})")
    return text


def load_evaluations(folder: RunFolder, profile: StudyProfile) -> dict[str, dict]:
    """label -> {"summary": arena summary, "records": {section label: {agent: [episode records]}}}."""
    from feasgym.agents.arena.records import EpisodeStore

    out = {}
    for label, spec in eval_sets(profile).items():
        arena_dir = folder.stage_dir("arena") / _slug(label)
        summary = json.loads((arena_dir / "summary.json").read_text(encoding="utf-8"))
        store = EpisodeStore(arena_dir / "episodes.jsonl")
        records = {section: {agent: list(store.select(section, agent, range(spec["n"])))
                             for agent in summary["agents"]} for section in summary["envs"]}
        out[label] = {"summary": summary, "records": records}
    return out


def _training_summary(folder: RunFolder, stage: str) -> dict | None:
    path = folder.stage_dir(stage) / "summary.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def write_study_report(folder: RunFolder, profile: StudyProfile, machine: dict) -> Path:
    from feasgym.agents.arena.report import agents_table, pairs_table, violations_table

    evaluations = load_evaluations(folder, profile)
    sft, grpo = _training_summary(folder, "sft"), _training_summary(folder, "grpo")
    sections = {f"{label}: {section}": ev["summary"]["envs"][section]
                for label, ev in evaluations.items() for section in ev["summary"]["envs"]}
    plot_format_vs_feasibility(sections, folder.root / "format_vs_feasibility.png")
    plot_training_curves(sft, grpo, folder.root / "training_curves.png")

    questions = {}
    for label, ev in evaluations.items():
        for section, records in ev["records"].items():
            questions[(label, section)] = answer_questions(records)
    lines = [f"# feasgym study ({profile.name})", ""]
    for i, (question, *_rest) in enumerate(QUESTIONS):
        lines.append(f"**{question}**")
        for (label, section), answers in questions.items():
            lines.append(f"- {label} ({section}): {describe(answers[i])}")
        lines.append("")
    lines += _run_lines(folder, profile, machine, sft, grpo)
    for label, ev in evaluations.items():
        for section, env in ev["summary"]["envs"].items():
            lines += [f"## {label}: {section}", "", f"{ev['summary']['episodes']} instances, split "
                      f"`{ev['summary']['split']}`, seed {ev['summary']['seed']}. Mean [95% bootstrap CI].", ""]
            lines += agents_table(env) + ["", "Paired differences (a - b):", ""] + pairs_table(env)
            lines += ["", "Violation rate by constraint type (violated / checked):", ""] + violations_table(env) + [""]
    lines += ["## Plots", "", "![format vs feasibility](format_vs_feasibility.png)", "",
              "Filled: mean constraint-satisfaction rate; hollow: fully-feasible rate; bars: 95% CIs.", "",
              "![training curves](training_curves.png)", ""]
    path = folder.root / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    (folder.root / "questions.json").write_text(json.dumps(
        [{"evaluation": label, "section": section, "answers": answers}
         for (label, section), answers in questions.items()], indent=2), encoding="utf-8")
    return path


def _run_lines(folder: RunFolder, profile: StudyProfile, machine: dict, sft: dict | None, grpo: dict | None) -> list[str]:
    times = folder.stage_times([s for s in STAGES if s != "report"])
    base = folder.done("base")["result"]
    meta_path = Path(base["model"]) / "feasgym_base.json"
    params = json.loads(meta_path.read_text())["parameters"] if meta_path.exists() else None
    lines = ["## Run", "",
             f"- envs: {', '.join(profile.env_ids)}; train {profile.n_train}, probe {profile.n_probe}, "
             f"test {profile.n_test}, OOD {profile.n_ood} instances (OOD: {profile.ood_label})",
             f"- base model: {base['model']}" + (f" (built here, {params:,} parameters)" if params else ""),
             "- stage wall times (s): " + ", ".join(f"{k} {v:.0f}" for k, v in times.items())
             + f"; total {sum(times.values()):.0f} s before the report",
             f"- machine: {machine.get('cpu_model', machine.get('processor'))}, {machine.get('cpu_count')} CPUs, "
             f"torch {machine.get('torch')} with {machine.get('torch_threads')} threads, GPU: {machine.get('gpu') or 'none'}"]
    for name, summary in (("SFT", sft), ("GRPO", grpo)):
        if summary and summary["probe"]:
            last = summary["probe"][-1]
            lines.append(f"- {name}: {summary['steps']} steps; held-out probe at the end (greedy, {last['n']} prompts): "
                         f"format {last['format']:.3f}, constraint-satisfaction {last['constraint_rate']:.3f}, "
                         f"fully feasible {last['feasible']:.3f}")
    if sft and sft["probe"] and sft["probe"][-1]["format"] < 0.9:
        lines.append(f"- note: SFT's held-out format score {sft['probe'][-1]['format']:.3f} is under 0.9; the "
                     "form-vs-feasibility comparison is weaker than intended (train longer or use the gpu profile)")
    return lines + [""]
