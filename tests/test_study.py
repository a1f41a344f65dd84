"""``feasgym study`` in miniature: every artifact over two training seeds, the seed-level
statistics against hand-computed cases, validation before writing, token budgets, Portfolio."""
import json
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `feasgym study` does (effective if torch is not loaded yet)

import numpy as np
import pytest

from feasgym.agents.training.base_model import TinyModelSpec, build_base_model
from feasgym.agents.training.grpo import GRPOBudget
from feasgym.agents.training.sft import SFTBudget
from feasgym.study import PROFILES, StudyError, run_study
from feasgym.study.pipeline import stage_names
from feasgym.study.questions import effect_matrix, paired_difference, signed_rank_p
from feasgym.study.stats import experiment_effect, linear_trend, seed_instance_bootstrap, verdict, within_instance_trend

TINY = TinyModelSpec(num_layers=1, hidden_size=32, num_heads=2, max_positions=2048, vocab_size=1200)
MINI = PROFILES["cpu-quick"].with_overrides(
    name="mini", seeds=(0, 1), n_train=3, n_probe=2, n_test=3, n_ood=3, n_grpo=2, data_workers=1,
    # two entries share the generic id (distinct files); the last is the target's family and grid (dropped)
    pretrain_envs=(("feasgym/DCOPF-case5-v0", 3, {}), ("feasgym/DCOPF-v0", 2, {"case": "case3_lmbd"}),
                   ("feasgym/DCOPF-v0", 2, {"case": "case14_ieee"}),
                   ("feasgym/ACOPF-v0", 2, {"case": "case5_pjm", "answer_mode": "full"})),
    pretrain=SFTBudget(epochs=1, batch_size=3, probe_at_start=False), model=TINY,
    sft=SFTBudget(epochs=1, batch_size=1, probe_at_start=False),  # 3 steps: the order differs by seed
    grpo=GRPOBudget(max_steps=2, num_generations=2, prompts_per_step=1, temperature=0.3, probe_at_start=False),
    max_new_tokens=None, eval_batch_size=8)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study") / "run"
    logs = []
    report = run_study(MINI, out, progress=False, log=logs.append)
    return out, report, logs


def test_miniature_multi_seed_study_writes_every_artifact(study):
    out, report, logs = study
    assert report == out / "report.md" and report.exists()
    for stage in stage_names(MINI):
        assert (out / stage / "DONE.json").exists(), stage
    for path in ("base/pretrain/model/config.json", "seed-0/sft/model/config.json", "seed-1/grpo/model/config.json",
                 "seed-0/sft/summary.json", "seed-1/grpo/summary.json", "seed-0/grpo/probe.jsonl",
                 "arena/in-distribution/summary.json", "arena/ood/summary.json", "arena/in-distribution/episodes.jsonl",
                 "format_vs_feasibility.png", "training_curves.png", "questions.json", "settings.json", "budget.json",
                 "violations_in-distribution_feasgym_ACOPF-case5-v0.png", "violations_ood_feasgym_ACOPF-case5-v0.png"):
        assert (out / path).is_file(), path
    settings = json.loads((out / "settings.json").read_text())
    assert settings["threads"] == 2 and settings["seeds"] == [0, 1]
    text = report.read_text()
    lines = text.splitlines()
    assert lines[0].startswith("# feasgym study (mini): 2 training seeds")
    verdicts = [i for i, line in enumerate(lines) if line.startswith("**Did ")]
    assert [lines[i] for i in verdicts] == ["**Did SFT raise format?**", "**Did SFT raise feasibility?**",
                                            "**Did RL raise feasibility beyond SFT?**"]
    assert verdicts[-1] < lines.index("## Per seed")  # verdicts first, then per-seed rows
    assert "seed x instance bootstrap, 2 seeds x 3 instances" in lines[verdicts[0] + 1]
    assert "per seed" in lines[verdicts[0] + 1] and "Power:" in lines[verdicts[0] + 1]
    assert "looks-right template" in text
    for heading in ("## RL stage", "## Run", "token budget: longest oracle answer", "pinned to 2 threads",
                    "Violation rate by constraint type", "![violations on the grid"):
        assert heading in text, heading
    per_seed = [line for line in lines if line.startswith("| in-distribution (") or line.startswith("| ood (")]
    assert len(per_seed) == 4  # 2 evaluations x 2 seeds
    summary = json.loads((out / "arena" / "in-distribution" / "summary.json").read_text())
    assert set(summary["agents"]) == {"base", "sft-s0", "rl-s0", "sft-s1", "rl-s1", "oracle", "looks-right"}
    grpo = json.loads((out / "seed-0" / "grpo" / "summary.json").read_text())
    budget = json.loads((out / "budget.json").read_text())
    assert grpo["budget"]["max_completion_length"] == budget["max_new_tokens"] == budget["needed"]
    assert len(grpo["reward_trace"]) == 2 * 2  # steps x generations
    done = json.loads((out / "seed-0" / "grpo" / "DONE.json").read_text())
    assert done["result"]["reward_trend"]["samples"] == 4
    base = json.loads((out / "base" / "DONE.json").read_text())["result"]
    assert base["built"] and base["pretrain_envs"] == ["feasgym/DCOPF-case5-v0", "feasgym/DCOPF-v0 (case=case3_lmbd)",
                                                       "feasgym/DCOPF-v0 (case=case14_ieee)"]
    assert base["pretrain_rows"] == 3 + 2 + 2
    rows = [json.loads(line) for line in (out / "data" / "pretrain.2.feasgym_DCOPF-v0.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all("Buses (14)" in r["prompt"] for r in rows)


def test_a_pretraining_env_on_the_targets_family_and_grid_is_not_pretrained_on():
    from feasgym.study.layout import pretrain_tasks

    profile = PROFILES["cpu-quick"].with_overrides(pretrain_envs=(
        ("feasgym/ACOPF-v0", 4, {"case": "case5_pjm", "answer_mode": "full"}),  # the target's grid, other answers
        ("feasgym/ACOPF-case5-v0", 4, {}),                                      # the target id itself
        ("feasgym/ACOPF-v0", 4, {"case": "case3_lmbd", "answer_mode": "setpoints"}),  # another grid
        ("feasgym/DCOPF-case5-v0", 4, {}),                                      # another family on the grid
        ("feasgym/DCOPF-case14-v0", 0, {})))                                    # no instances
    assert [(e, kw) for e, _n, kw in pretrain_tasks(profile)] == [
        ("feasgym/ACOPF-v0", {"case": "case3_lmbd", "answer_mode": "setpoints"}), ("feasgym/DCOPF-case5-v0", {})]


def test_seeds_train_different_models_on_the_same_instances(study):
    out = study[0]
    from safetensors.numpy import load_file

    a = load_file(out / "seed-0" / "sft" / "model" / "model.safetensors")
    b = load_file(out / "seed-1" / "sft" / "model" / "model.safetensors")
    assert any(not np.array_equal(a[k], b[k]) for k in a)  # batch order differs by seed
    from feasgym.agents.arena.records import EpisodeStore

    store = EpisodeStore(out / "arena" / "in-distribution" / "episodes.jsonl")
    keys = {(r["agent"], r["instance"], r["prompt_hash"]) for r in store.records.values()}
    by_agent = {}
    for agent, inst, h in keys:
        by_agent.setdefault(agent, set()).add((inst, h))
    assert len({frozenset(v) for v in by_agent.values()}) == 1  # every model answered the same prompts


def test_seed_instance_bootstrap_matches_a_hand_computed_case():
    # Seed 0 improves every instance by 1, seed 1 by 0: resampling 2 seeds gives mean 0, 0.5 or 1 with
    # probabilities 1/4, 1/2, 1/4 whatever the instances, so the 95% CI is [0, 1] and the verdict is not "yes",
    # although a per-instance test that pools the 2 x 4 differences would call it clearly positive.
    d = np.array([[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    means = seed_instance_bootstrap(d, n_boot=20000, rng=np.random.default_rng(1))
    values, counts = np.unique(means, return_counts=True)
    assert values.tolist() == [0.0, 0.5, 1.0]
    assert counts / counts.sum() == pytest.approx([0.25, 0.5, 0.25], abs=0.01)
    effect = experiment_effect(d)
    assert (effect["mean"], effect["ci_low"], effect["ci_high"]) == (0.5, 0.0, 1.0)
    assert effect["per_seed"] == [1.0, 0.0] and verdict(effect) == "no clear change"
    # SE of the mean of two seeds drawn with replacement from {1, 0}: sd({0, .5, 1} w.p. 1/4, 1/2, 1/4) = sqrt(1/8)
    assert effect["se"] == pytest.approx(np.sqrt(1 / 8), rel=0.03)
    # Instance resampling only: both seeds identical, instances {0, 1}: a 2 x 2 block mean over 2 resampled
    # instances is 0, 0.5, 1 w.p. 1/4, 1/2, 1/4 as well.
    d2 = np.array([[0.0, 1.0], [0.0, 1.0]])
    means2 = seed_instance_bootstrap(d2, n_boot=20000, rng=np.random.default_rng(2))
    assert np.mean(means2 == 0.5) == pytest.approx(0.5, abs=0.01)
    # Every seed and instance positive: the CI excludes 0
    positive = experiment_effect(np.array([[0.2, 0.4, 0.3], [0.5, 0.1, 0.2], [0.3, 0.3, 0.4]]))
    assert positive["ci_low"] > 0 and verdict(positive) == "yes"
    point = experiment_effect(np.zeros((3, 4)))
    assert point["se"] == 0 and verdict(point) == "no clear change"


def test_effect_matrix_pairs_each_seed_with_its_own_models():
    rec = lambda vals: [{"instance": i, "feasible": v, "constraint_rate": v} for i, v in enumerate(vals)]  # noqa: E731
    records = {"base": rec([0, 0, 0]), "sft-s0": rec([1, 0, 0]), "rl-s0": rec([1, 1, 0]),
               "sft-s1": rec([0, 0, 0]), "rl-s1": rec([0, 0, 1])}
    assert effect_matrix(records, "rl", "sft", "feasible", [0, 1]).tolist() == [[0, 1, 0], [0, 0, 1]]
    assert effect_matrix(records, "sft", "base", "feasible", [0, 1]).tolist() == [[1, 0, 0], [0, 0, 0]]


def test_trend_statistics_against_hand_computed_fits():
    fit = linear_trend([0, 1, 2, 3], [1, 3, 5, 7])
    assert fit["slope"] == pytest.approx(2.0) and fit["ci_low"] == pytest.approx(2.0)
    # two instances, each rising by 0.1 per batch around its own level: within-instance slope exactly 0.1
    trace = [[b, "E", 0, 0.2 + 0.1 * b] for b in range(4)] + [[b, "E", 1, 0.9 + 0.1 * b] for b in range(4)]
    trend = within_instance_trend(trace)
    assert trend["slope"] == pytest.approx(0.1) and trend["ci_low"] == pytest.approx(0.1)
    assert trend["instances"] == 2 and trend["visits_per_instance"] == 4


def test_signed_rank_and_paired_difference_detail():
    assert signed_rank_p([0, 0, 0]) == 1.0
    assert signed_rank_p([1.0] * 12) < 0.01
    a = [{"instance": i, "feasible": v} for i, v in enumerate([1, 1, 1, 0])]
    b = [{"instance": i, "feasible": 0} for i in range(4)]
    d = paired_difference(a, b, "feasible")
    assert d["mean"] == 0.75 and d["p"] == pytest.approx(0.25)  # exact McNemar 3 vs 0: 2 * 0.5**3


def test_resume_skips_done_stages_and_accepts_changes_no_finished_stage_depends_on(study):
    out = study[0]
    sft_mtime = (out / "seed-0" / "sft" / "model" / "model.safetensors").stat().st_mtime_ns
    logs = []
    run_study(MINI, out, progress=False, log=logs.append)
    assert len([line for line in logs if "skipped" in line]) == len(stage_names(MINI))
    (out / "report" / "DONE.json").unlink()
    (out / "report.md").unlink()
    logs = []
    run_study(MINI, out, progress=False, log=logs.append)
    assert "[report] running" in logs and "[seed-0/sft] running" not in logs
    assert (out / "report.md").exists()
    assert (out / "seed-0" / "sft" / "model" / "model.safetensors").stat().st_mtime_ns == sft_mtime
    with pytest.raises(StudyError, match="other settings.*data"):
        run_study(MINI.with_overrides(n_test=4), out, progress=False, log=lambda s: None)
    with pytest.raises(StudyError, match="depend on them: base, seed-0/sft"):
        run_study(MINI.with_overrides(threads=1), out, progress=False, log=lambda s: None)


def test_misspelled_id_writes_nothing_and_the_folder_stays_reusable(tmp_path, capsys):
    from feasgym.cli import main

    out = tmp_path / "bad"
    code = main(["study", "--env", "feasgym/ACOPF-case5-v9", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1
    assert "unknown target env id 'feasgym/ACOPF-case5-v9'" in err and "did you mean feasgym/ACOPF-case5-v0" in err
    assert "nothing was written" in err and not out.exists()
    code = main(["study", "--env-option", "answer_mode=sideways", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and "answer_mode must be one of" in err and not out.exists()
    # the corrected settings then start cleanly in the same folder (validated, then adopted)
    from feasgym.study.pipeline import DERIVED_STAGES, stage_deps, study_settings
    from feasgym.study.stages import RunFolder
    from feasgym.study.validate import validate_profile

    validate_profile(MINI)
    RunFolder(out).open(study_settings(MINI, None), stage_names(MINI), stage_deps, DERIVED_STAGES)
    assert json.loads((out / "settings.json").read_text())["seeds"] == [0, 1]


def test_env_options_are_read_like_the_export_env_kwargs(tmp_path, capsys):
    from feasgym.cli import main
    from feasgym.commands.export import parse_env_kwargs

    assert parse_env_kwargs(["answer_mode=full"]) == {"answer_mode": "full"}
    assert parse_env_kwargs(["perturbation={\"scale\": [0.9, 1.0]}"]) == {"perturbation": {"scale": [0.9, 1.0]}}
    assert main(["study", "--env-option", "answer_mode", "--out", str(tmp_path / "x"), "--no-progress"]) == 2
    assert "--env-option expects KEY=VALUE" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_other_validation_errors_name_the_fix():
    from feasgym.study.validate import validate_profile

    with pytest.raises(StudyError, match="no OOD variant defined for family 'ACOPF'"):
        validate_profile(MINI.with_overrides(ood={}))
    with pytest.raises(StudyError, match="seeds repeat"):
        validate_profile(MINI.with_overrides(seeds=(0, 0)))
    with pytest.raises(StudyError, match="pretraining demonstrations of tasks that are not the target"):
        validate_profile(MINI.with_overrides(env_ids=("feasgym/DCOPF-case5-v0",), env_kwargs={}, pretrain_envs=(
            ("feasgym/DCOPF-case5-v0", 2, {}), ("feasgym/DCOPF-v0", 2, {"case": "case5_pjm"}))))
    with pytest.raises(StudyError, match="--base-model 'no/such-local-model' cannot be loaded"):
        validate_profile(MINI, base_model="no/such-local-model")


@pytest.fixture(scope="module")
def local_model(tmp_path_factory):
    """A local model whose tokenizer knows little of the env text (so answers are long in tokens)."""
    path = tmp_path_factory.mktemp("hub") / "tiny-lm"
    return build_base_model(["generic text, nothing about grids"] * 4, path,
                            TinyModelSpec(num_layers=1, hidden_size=16, num_heads=2, max_positions=4096, vocab_size=300))


def test_base_model_limit_below_the_oracle_answer_stops_before_training(tmp_path, local_model, capsys):
    from feasgym.cli import main

    out = tmp_path / "limit"
    code = main(["study", "--base-model", str(local_model), "--max-new-tokens", "40", "--seeds", "0",
                 "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1
    assert "--max-new-tokens 40 is below what the task's answers need: the longest oracle answer is" in err
    assert "rerun with --max-new-tokens" in err
    assert not (out / "seed-0" / "sft").exists()  # no training started
    assert (out / "data" / "DONE.json").exists() and not (out / "base" / "DONE.json").exists()
    # with the limit the message names, the same folder goes on (its data are kept)
    needed = int(err.split("rerun with --max-new-tokens ")[1].split()[0])
    tokens = len(__import__("transformers").AutoTokenizer.from_pretrained(local_model)(
        json.loads((out / "data" / "feasgym_ACOPF-case5-v0.test.jsonl").read_text().splitlines()[0])["completion"],
        add_special_tokens=False)["input_ids"])
    assert needed > tokens  # the oracle answer (plus EOS and margin) in this model's own tokens


def test_base_model_whose_context_cannot_hold_the_answer_stops_with_a_clear_error(tmp_path):
    short = build_base_model(["generic text"] * 4, tmp_path / "short-lm",
                             TinyModelSpec(num_layers=1, hidden_size=16, num_heads=2, max_positions=512, vocab_size=300))
    with pytest.raises(StudyError, match=r"the model's context \(512 tokens\) cannot hold the longest prompt"):
        run_study(MINI.with_overrides(seeds=(0,)), tmp_path / "ctx", base_model=str(short), progress=False,
                  log=lambda s: None)


def test_portfolio_works_as_a_study_env(tmp_path):  # a whole tiny study: 13 s (45 s at load ~12) here
    profile = MINI.with_overrides(seeds=(0,), env_ids=("feasgym/Portfolio-n10-v0",), env_kwargs={}, n_train=2,
                                  n_probe=1, n_test=2, n_ood=2, n_grpo=1)
    report = run_study(profile, tmp_path / "pf", progress=False, log=lambda s: None)
    text = report.read_text()
    assert "feasgym/Portfolio-n10-v0 OOD (ood=return" in text
    ood = json.loads((tmp_path / "pf" / "arena" / "ood" / "summary.json").read_text())
    section = next(iter(ood["envs"].values()))
    assert section["split"] == "ood" and section["agents"]["oracle"]["feasible"]["mean"] == 1.0
    assert "no violation network" in text  # not a grid


@pytest.mark.slow  # a whole (tiny) study on case14: untrained models generate up to the full budget
def test_gpu_profile_trains_lora_adapters_on_a_local_base_model(tmp_path):
    """The gpu profile's path at CPU scale: --base-model, LoRA (threshold lowered to this tiny model), case14.

    Setpoint answers keep the untrained models' generations short (the full-state answer is ~570 tokens
    in this tokenizer: the same code path, several minutes of generation on a shared 2-core machine)."""
    from feasgym.agents.training.data import InstanceSource, instance_rows

    rows = instance_rows(InstanceSource("feasgym/DCOPF-case14-v0", "train", 5), 2)
    local = build_base_model([r["prompt"] for r in rows] + [r["completion"] for r in rows], tmp_path / "local-lm",
                             TinyModelSpec(num_layers=1, hidden_size=32, num_heads=2, max_positions=4096, vocab_size=1200))
    profile = PROFILES["gpu"].with_overrides(
        env_ids=("feasgym/ACOPF-case14-v0",), env_kwargs={"feasgym/ACOPF-case14-v0": {"answer_mode": "setpoints"}},
        seeds=(0,), threads=2, n_train=2, n_probe=1, n_test=1, n_ood=1,
        n_grpo=1, data_workers=1, lora_above_params=0, sft=SFTBudget(epochs=1, batch_size=2, probe_at_start=False),
        grpo=GRPOBudget(max_steps=1, num_generations=2, prompts_per_step=1, probe_at_start=False), eval_batch_size=4)
    report = run_study(profile, tmp_path / "gpu", base_model=str(local), progress=False, log=lambda s: None)
    sft = json.loads((tmp_path / "gpu" / "seed-0" / "sft" / "summary.json").read_text())
    assert sft["budget"]["lora"] == {"r": 16, "lora_alpha": 32}
    text = report.read_text()
    assert "feasgym/ACOPF-case14-v0 OOD (ood=load" in text and f"base model: {local}" in text
    budget = json.loads((tmp_path / "gpu" / "budget.json").read_text())
    assert budget["longest_answer"] > 50 and budget["max_new_tokens"] == budget["needed"]


def test_violation_shares_map_elements_onto_the_network():
    from feasgym.study.network import violation_shares

    topology = {"buses": ["1", "2", "3"], "gens": ["G1"], "gen_bus": [1], "branches": ["L1", "L2"],
                "from": [0, 1], "to": [1, 2]}
    answers = [[{"element": "bus 1"}, {"element": "generator G1"}, {"element": "bus 1"}],
               [{"element": "branch L2 (from end)"}, {"element": "system"}], []]
    shares = violation_shares(topology, answers)
    assert shares["bus"] == pytest.approx([1 / 3, 1 / 3, 0.0])  # G1 sits at bus "2"; bus 1 counted once
    assert shares["branch"] == pytest.approx([0.0, 1 / 3])
    assert shares["answers"] == 3 and shares["unplaced"] == 1


def test_tools_rerun_adds_tool_episodes_on_the_same_instances(study, tmp_path):
    """``--tools`` changes only the arena: a rerun keeps the trained models and plays every model and
    the scripted tool user again with tools, as NAME+tools, on the same instances."""
    import shutil

    out = tmp_path / "run"
    shutil.copytree(study[0], out)
    logs = []
    run_study(MINI.with_overrides(tools=("power_flow", "check"), max_tool_calls=1), out, progress=False,
              log=logs.append)
    assert any("seed-0/sft" in line and "skipped" in line for line in logs)  # trained stages kept
    summary = json.loads((out / "arena" / "in-distribution" / "summary.json").read_text())
    agents = set(summary["agents"])
    assert {"tool-user", "tool-user+tools", "sft-s0+tools", "rl-s1+tools"} <= agents
    records = [json.loads(line) for line in (out / "arena" / "in-distribution" / "episodes.jsonl").open()]
    plain = {r["instance"]: r["prompt_hash"] for r in records if r["agent"] == "sft-s0"}
    tooled = {r["instance"]: r["prompt_hash"] for r in records if r["agent"] == "sft-s0+tools"}
    assert plain.keys() == tooled.keys() and len(plain) == MINI.n_test
    settings = json.loads((out / "settings.json").read_text())
    assert settings["tools"] == ["power_flow", "check"] and settings["max_tool_calls"] == 1


def test_tools_a_family_cannot_use_are_refused_before_anything_is_written(tmp_path):
    from feasgym.study import StudyError

    out = tmp_path / "run"
    with pytest.raises(StudyError, match="tool-using"):
        run_study(MINI.with_overrides(env_ids=("feasgym/Portfolio-n10-v0",), tools=("power_flow",)), out,
                  progress=False)
    assert not out.exists() or not any(out.iterdir())
