"""``feasgym study`` end to end in miniature: every artifact, the questions, resume, failures."""
import json

import pytest

from feasgym.agents.training.base_model import TinyModelSpec
from feasgym.agents.training.grpo import GRPOBudget
from feasgym.agents.training.sft import SFTBudget
from feasgym.study import PROFILES, STAGES, StudyError, run_study
from feasgym.study.questions import paired_difference, signed_rank_p, verdict

MINI = PROFILES["cpu-quick"].with_overrides(
    name="mini", n_train=3, n_probe=2, n_test=3, n_ood=3, data_workers=1,
    model=TinyModelSpec(n_layer=1, n_embd=32, n_head=2, n_positions=1024, vocab_size=1200),
    sft=SFTBudget(epochs=1, batch_size=3, probe_every=0),
    grpo=GRPOBudget(max_steps=1, num_generations=2, prompts_per_step=1, max_completion_length=8),
    max_new_tokens=8, eval_batch_size=8)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study") / "run"
    logs = []
    report = run_study(MINI, out, progress=False, log=logs.append)
    return out, report, logs


def test_miniature_study_writes_every_artifact(study):
    out, report, logs = study
    assert report == out / "report.md" and report.exists()
    for stage in STAGES:
        assert (out / stage / "DONE.json").exists(), stage
    for path in ("base/model/config.json", "sft/model/config.json", "grpo/model/config.json",
                 "sft/summary.json", "grpo/summary.json", "sft/probe.jsonl", "grpo/probe.jsonl",
                 "arena/in-distribution/summary.json", "arena/ood/summary.json",
                 "arena/in-distribution/episodes.jsonl", "format_vs_feasibility.png", "training_curves.png",
                 "questions.json", "settings.json"):
        assert (out / path).is_file(), path
    text = report.read_text()
    lines = text.splitlines()
    assert lines[2] == "**Did SFT raise format?**"
    assert "**Did SFT raise feasibility?**" in lines[:12] and "**Did RL raise feasibility beyond SFT?**" in lines[:18]
    assert text.count("- in-distribution (feasgym/ACOPF-case5-v0):") == 3
    assert text.count("- ood (feasgym/ACOPF-case5-v0 OOD") == 3
    assert "95% CI" in lines[3] and "p = " in lines[3]
    for heading in ("## Run", "Violation rate by constraint type", "![format vs feasibility]", "![training curves]"):
        assert heading in text
    grpo = json.loads((out / "grpo" / "summary.json").read_text())
    assert any("rewards/feasibility_reward/mean" in h for h in grpo["log_history"])


def test_questions_match_the_arena_pairs_and_baselines(study):
    out = study[0]
    from feasgym.agents.arena.records import EpisodeStore

    summary = json.loads((out / "arena" / "in-distribution" / "summary.json").read_text())
    section_label, section = next(iter(summary["envs"].items()))
    store = EpisodeStore(out / "arena" / "in-distribution" / "episodes.jsonl")
    records = {a: list(store.select(section_label, a, range(3))) for a in summary["agents"]}
    pair = next(p for p in section["pairs"] if {p["a"], p["b"]} == {"base", "sft"})
    assert pair["a"] == "base"  # agents' order; the study's question is oriented sft - base
    ours = paired_difference(records["sft"], records["base"], "format")
    assert ours["mean"] == pytest.approx(-pair["format_diff"]["mean"])
    ours = paired_difference(records["sft"], records["base"], "feasible")
    assert ours["mean"] == pytest.approx(-pair["feasible_diff"]) and ours["p"] == pytest.approx(pair["mcnemar_p"])
    oracle_vs_looks = paired_difference(records["oracle"], records["looks-right"], "feasible")
    assert oracle_vs_looks["mean"] > 0  # the oracle is feasible on every instance, the template is not
    assert section["agents"]["oracle"]["feasible"]["mean"] == 1.0


def test_signed_rank_and_verdicts():
    assert signed_rank_p([0, 0, 0]) == 1.0
    assert signed_rank_p([1.0] * 12) < 0.01
    assert verdict({"n": 10, "mean": 0.5, "ci_low": 0.3, "ci_high": 0.7, "p": 0.001}) == "yes"
    assert verdict({"n": 10, "mean": -0.5, "ci_low": -0.7, "ci_high": -0.3, "p": 0.001}) == "no, it lowered it"
    assert verdict({"n": 10, "mean": 0.1, "ci_low": -0.1, "ci_high": 0.3, "p": 0.4}) == "no clear change"


def test_resume_skips_done_stages_and_reruns_unfinished_ones(study):
    out = study[0]
    sft_mtime = (out / "sft" / "model" / "model.safetensors").stat().st_mtime_ns
    logs = []
    run_study(MINI, out, progress=False, log=logs.append)
    assert [line for line in logs if "skipped" in line] == [l for l in logs if l.startswith("[")]
    assert len([line for line in logs if "skipped" in line]) == len(STAGES)
    (out / "report" / "DONE.json").unlink()
    (out / "report.md").unlink()
    logs = []
    run_study(MINI, out, progress=False, log=logs.append)
    assert "[report] running" in logs and "[sft] running" not in logs
    assert (out / "report.md").exists()
    assert (out / "sft" / "model" / "model.safetensors").stat().st_mtime_ns == sft_mtime
    with pytest.raises(StudyError, match="other settings"):
        run_study(MINI.with_overrides(n_test=4), out, progress=False, log=lambda s: None)


def test_failed_stage_exits_non_zero_with_a_clear_message(tmp_path, capsys):
    from feasgym.cli import main

    out = tmp_path / "bad"
    code = main(["study", "--env", "feasgym/NoSuchEnv-v0", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1
    assert "stage 'data' failed" in err and "rerun the same command to resume" in err
    assert (out / "settings.json").exists() and not (out / "data" / "DONE.json").exists()


def test_env_options_are_read_like_the_export_env_kwargs(tmp_path, capsys):
    from feasgym.cli import main
    from feasgym.commands.export import parse_env_kwargs

    assert parse_env_kwargs(["answer_mode=full"]) == {"answer_mode": "full"}
    assert parse_env_kwargs(["perturbation=null"]) == {"perturbation": None}
    assert parse_env_kwargs(["perturbation={\"scale\": [0.9, 1.0]}"]) == {"perturbation": {"scale": [0.9, 1.0]}}
    assert main(["study", "--env-option", "answer_mode", "--out", str(tmp_path / "x"), "--no-progress"]) == 2
    assert "--env-option expects KEY=VALUE" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_env_option_overrides_the_profile_and_is_used_by_the_run(tmp_path, capsys):
    from feasgym.cli import main

    out = tmp_path / "opt"
    # an invalid option value fails the data stage with the env's own message, so the option was applied
    code = main(["study", "--env-option", "answer_mode=sideways", "--out", str(out), "--no-progress"])
    assert code == 1 and "answer_mode must be one of" in capsys.readouterr().err
    settings = json.loads((out / "settings.json").read_text())
    assert settings["profile"]["env_kwargs"] == {"feasgym/ACOPF-case5-v0": {"answer_mode": "sideways"}}
