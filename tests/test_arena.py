"""The arena end to end on AC-OPF case5: paired rows, summary contract, resume, errors, outputs, CLI."""
import json

import pytest

from feasgym.agents import Agent, AnswerReply, make_agent
from feasgym.agents.arena import run_arena
from feasgym.agents.arena.records import EpisodeStore
from feasgym.cli import main

ENV_ID = "feasgym/ACOPF-case5-v0"
STATS = {"mean", "ci_low", "ci_high", "n"}


class CountingOracle(Agent):
    """The oracle, counting which instances it was asked."""

    name = "counting"
    batch_size = 2

    def __init__(self):
        self.asked: list[int] = []
        self.inner = make_agent("oracle")

    @property
    def config(self):
        return {"kind": "counting-oracle"}

    def act(self, requests):
        self.asked += [r.env.unwrapped.instance_key["instance"] for r in requests]
        return self.inner.act(requests)


class Crashing(Agent):
    name = "crash"
    config = {"kind": "crash"}

    def act(self, requests):
        raise RuntimeError("model fell over")


class Miscounting(Agent):
    name = "miscount"
    config = {"kind": "miscount"}
    batch_size = 3

    def act(self, requests):
        return [AnswerReply("{}")]


@pytest.fixture(scope="module")
def arena(tmp_path_factory):
    out = tmp_path_factory.mktemp("arena")
    summary = run_arena([ENV_ID], {"oracle": "oracle", "looks-right": "looks-right", "random": make_agent("random")},
                        episodes=3, seed=0, out_dir=out, progress=False)
    return out, summary


def test_summary_follows_the_contract_and_calibrates(arena):
    _, summary = arena
    section = summary["envs"][ENV_ID]
    assert list(section["agents"]) == ["oracle", "looks-right", "random"]
    for a in section["agents"].values():
        assert a["n"] == 3 and a["errors"] == 0
        for metric in ("answer_found", "format", "constraint_rate", "feasible", "form_feasibility_gap"):
            assert set(a[metric]) == STATS and a[metric]["ci_low"] <= a[metric]["mean"] <= a[metric]["ci_high"]
        assert {"violated", "total", "rate"} <= set(a["violations_by_type"]["p_balance"])
    oracle, looks, rand = (section["agents"][n] for n in ("oracle", "looks-right", "random"))
    assert oracle["format"]["mean"] == 1.0 and oracle["feasible"]["mean"] == 1.0
    assert abs(oracle["gap_feasible"]["mean"]) < 1e-3
    assert looks["format"]["mean"] == 1.0 and looks["feasible"]["mean"] == 0.0 and looks["gap_feasible"] is None
    assert 0.5 < looks["constraint_rate"]["mean"] < 1.0
    assert looks["form_feasibility_gap"]["mean"] == pytest.approx(1.0 - looks["constraint_rate"]["mean"])
    assert rand["constraint_rate"]["mean"] < looks["constraint_rate"]["mean"]
    pairs = {(p["a"], p["b"]): p for p in section["pairs"]}
    assert list(pairs) == [("oracle", "looks-right"), ("oracle", "random"), ("looks-right", "random")]
    p = pairs[("oracle", "looks-right")]
    assert p["feasible_diff"] == 1.0 and p["n_discordant"] == {"a_only": 3, "b_only": 0}
    assert p["mcnemar_p"] == pytest.approx(0.25)  # 2 * 0.5^3
    assert set(p["constraint_rate_diff"]) == STATS and p["constraint_rate_diff"]["mean"] > 0
    assert p["format_diff"]["mean"] == 0.0
    assert set(summary["timing"]) >= {"generation_s", "scoring_s"} and section["split"] == "test"


def test_episodes_are_paired_and_complete(arena):
    out, _ = arena
    rows = [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]
    assert len(rows) == 9
    by_instance = {}
    for r in rows:
        by_instance.setdefault(r["instance"], set()).add(r["prompt_hash"])
        for key in ("answer", "format", "constraint_rate", "feasible", "gap", "violations_by_type",
                    "completion_tokens", "latency_s", "seed", "split", "error"):
            assert key in r
    assert sorted(by_instance) == [0, 1, 2]
    assert all(len(hashes) == 1 for hashes in by_instance.values())  # every agent saw the same prompt


def test_report_and_plots_are_written(arena):
    out, summary = arena
    report = (out / "report.md").read_text()
    assert "oracle vs looks-right" in report and "p_balance" in report and "![gap](gap.png)" in report
    for name in summary["plots"].values():
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert json.loads((out / "summary.json").read_text())["envs"][ENV_ID]["agents"]["oracle"]["n"] == 3


def test_resume_skips_finished_episodes_and_checks_settings(tmp_path):
    agent = CountingOracle()
    run_arena([ENV_ID], {"o": agent}, episodes=2, out_dir=tmp_path, progress=False)
    assert agent.asked == [0, 1]
    # an interrupted write leaves half a line: it is dropped, the rest is kept
    with open(tmp_path / "episodes.jsonl", "a") as fh:
        fh.write('{"env": "cut')
    summary = run_arena([ENV_ID], {"o": agent}, episodes=4, out_dir=tmp_path, progress=False)
    assert agent.asked == [0, 1, 2, 3]
    assert summary["envs"][ENV_ID]["agents"]["o"]["n"] == 4
    assert len(EpisodeStore(tmp_path / "episodes.jsonl").records) == 4
    run_arena([ENV_ID], {"o": agent}, episodes=3, out_dir=tmp_path, progress=False)
    assert agent.asked == [0, 1, 2, 3]  # nothing left to do
    with pytest.raises(ValueError, match="other settings"):
        run_arena([ENV_ID], {"o": agent}, episodes=2, seed=1, out_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="agent 'o'"):
        run_arena([ENV_ID], {"o": "random"}, episodes=2, out_dir=tmp_path, progress=False)


def test_agent_failures_are_recorded_and_sections_keyed_by_label(tmp_path):
    # a registered OOD id keeps its own split; a section's kwargs set one explicitly
    summary = run_arena([("ood", "feasgym/ACOPF-case5-ood-load-v0", {}), ("train", ENV_ID, {"split": "train"})],
                        {"crash": Crashing(), "miscount": Miscounting(), "oracle": "oracle"},
                        episodes=2, out_dir=tmp_path, progress=False)
    assert list(summary["envs"]) == ["ood", "train"]
    assert summary["envs"]["ood"]["split"] == "ood" and summary["envs"]["train"]["split"] == "train"
    for label in ("ood", "train"):
        agents = summary["envs"][label]["agents"]
        assert agents["crash"]["errors"] == 2 and agents["crash"]["format"]["mean"] == 0.0
        assert agents["miscount"]["errors"] == 2 and agents["oracle"]["feasible"]["mean"] == 1.0
    rows = [json.loads(line) for line in (tmp_path / "episodes.jsonl").read_text().splitlines()]
    assert {r["split"] for r in rows if r["env"] == "train"} == {"train"}
    assert any("model fell over" in (r["error"] or "") for r in rows)
    assert {r["split"] for r in rows if r["env"] == "ood"} == {"ood"}
    test_hashes = {r["prompt_hash"] for r in rows if r["env"] == "ood"}
    assert test_hashes.isdisjoint({r["prompt_hash"] for r in rows if r["env"] == "train"})


def test_bad_arguments_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unique labels"):
        run_arena([ENV_ID, ENV_ID], {"o": "oracle"}, episodes=1, out_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="episodes"):
        run_arena([ENV_ID], {"o": "oracle"}, episodes=0, out_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="agent"):
        run_arena([ENV_ID], {}, episodes=1, out_dir=tmp_path, progress=False)


def test_cli_compare(tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(["compare", "--env", f"case5={ENV_ID}", "--agent", "oracle", "--agent", "lr=looks-right",
                 "--agent-arg", "rnd.seed=5", "--agent", "rnd=random", "--episodes", "2", "--out", str(out),
                 "--no-progress"])
    assert code == 0
    text = capsys.readouterr().out
    assert "oracle vs lr" in text and "McNemar" in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["envs"]["case5"]["env_id"] == ENV_ID and (out / "report.md").stat().st_size > 500
    assert summary["agents"]["rnd"] == {"kind": "random", "seed": 5}
    with pytest.raises(SystemExit, match="names no agent"):
        main(["compare", "--env", ENV_ID, "--agent", "oracle", "--agent-arg", "nobody.seed=1", "--out", str(out)])
    with pytest.raises(SystemExit, match="--env-kwargs"):
        main(["compare", "--env", ENV_ID, "--env-kwargs", "other={}", "--out", str(out)])
