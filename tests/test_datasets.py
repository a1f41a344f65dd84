"""Dataset export: columns, oracle completions that score as such, disjoint splits, files round trip, workers, CLI."""
import json

import datasets
import gymnasium as gym
import pytest

import feasgym  # noqa: F401
from feasgym.cli import main
from feasgym.commands.export import parse_env_kwargs
from feasgym.datasets import export_dataset, export_records, load_jsonl, save_dataset
from feasgym.envs.rewards import trl_reward_functions

ENV_ID = "feasgym/ACOPF-case5-v0"
N = 3


@pytest.fixture(scope="module")
def train():
    return export_dataset(ENV_ID, n=N, progress=False)


def test_rows_are_instances_with_oracle_completions(train):
    assert len(train) == N
    assert {"prompt", "completion", "messages", "env_id", "seed", "split", "instance", "prompt_hash",
            "reference_objective", "env_kwargs"} <= set(train.column_names)
    env = gym.make(ENV_ID)
    for k, row in enumerate(train):
        prompt, info = env.reset(seed=0, options={"instance": k})
        assert (row["env_id"], row["seed"], row["split"], row["instance"]) == (ENV_ID, 0, "train", k)
        assert row["prompt"] == prompt and row["prompt_hash"] == info["prompt_hash"]
        assert row["completion"] == env.unwrapped.reference_answer()
        assert row["messages"] == [{"role": "user", "content": prompt}, {"role": "assistant", "content": row["completion"]}]
        score = env.unwrapped.score(row["completion"])
        assert score["feasibility"]["feasible"] and row["reference_objective"] == score["optimality"]["reference_objective"]
    # The reward functions read the rows as TRL passes them: the oracle gets full marks.
    fmt, feas, _ = trl_reward_functions(ENV_ID)
    columns = {c: train[c] for c in train.column_names if c != "prompt"}
    assert fmt(prompts=train["prompt"], completions=train["completion"], **columns) == [1.0] * N
    assert feas(prompts=train["prompt"], completions=train["messages"], **columns) == [1.0] * N


def test_splits_never_share_a_prompt(train):
    other = {split: export_dataset(ENV_ID, split=split, n=N, progress=False) for split in ("test", "ood")}
    prompts = {"train": set(train["prompt"]), **{s: set(d["prompt"]) for s, d in other.items()}}
    assert all(len(p) == N for p in prompts.values())
    assert not prompts["train"] & prompts["test"] and not prompts["train"] & prompts["ood"]
    assert not prompts["test"] & prompts["ood"]
    assert set(other["ood"]["split"]) == {"ood"}


def test_jsonl_and_hf_folder_round_trip(train, tmp_path):
    written = save_dataset(train, tmp_path / "case5", fmt="both")
    assert [p.name for p in written] == ["case5", "case5.jsonl"]
    from_disk = datasets.load_from_disk(str(written[0]))
    from_jsonl = load_jsonl(written[1])
    assert from_disk.to_list() == train.to_list()
    assert from_jsonl.to_list() == train.to_list()
    with open(written[1], encoding="utf-8") as fh:
        first = json.loads(fh.readline())
    assert first["completion"] == train[0]["completion"]
    assert save_dataset(train, tmp_path / "only.jsonl") == [tmp_path / "only.jsonl"]
    with pytest.raises(ValueError, match="format must be one of"):
        save_dataset(train, tmp_path / "x", fmt="csv")


def test_parallel_workers_give_the_same_rows_with_a_progress_bar(train, capsys):
    rows = export_records(ENV_ID, n=N, workers=2, progress=True, system_prompt="Be exact.")
    assert "export feasgym/ACOPF-case5-v0 train" in capsys.readouterr().err
    assert [r["prompt"] for r in rows] == list(train["prompt"]) and [r["instance"] for r in rows] == list(range(N))
    assert [r["completion"] for r in rows] == list(train["completion"])
    assert rows[0]["messages"][0] == {"role": "system", "content": "Be exact."}
    with pytest.raises(ValueError, match="workers"):
        export_records(ENV_ID, n=1, workers=0)
    with pytest.raises(ValueError, match="n and start"):
        export_records(ENV_ID, n=-1)


def test_cli_export_with_env_kwargs(tmp_path, capsys):
    out = tmp_path / "sp.jsonl"
    assert main(["export", "--env", ENV_ID, "--n", "2", "--start", "1", "--out", str(out), "--no-progress",
                 "--env-kwarg", "answer_mode=setpoints"]) == 0
    assert f"wrote 2 rows of {ENV_ID} (train) to {out}" in capsys.readouterr().out
    rows = load_jsonl(out)
    assert rows["instance"] == [1, 2] and json.loads(rows[0]["env_kwargs"]) == {"answer_mode": "setpoints"}
    assert '"vm_pu"' in rows[0]["completion"] and '"buses"' not in rows[0]["completion"]
    fmt, *_ = trl_reward_functions(ENV_ID, answer_mode="setpoints")
    assert fmt(prompts=None, completions=rows["completion"], **{c: rows[c] for c in ("seed", "split", "instance", "prompt_hash")}) == [1.0, 1.0]
    assert parse_env_kwargs(["max_turns=2", "answer_mode=full"]) == {"max_turns": 2, "answer_mode": "full"}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_env_kwargs(["answer_mode"])
    # Bad input: a clear message and exit status 2, no traceback.
    assert main(["export", "--env", "feasgym/NoSuch-v0", "--out", str(out)]) == 2
    assert "unknown env id 'feasgym/NoSuch-v0'" in capsys.readouterr().err
    assert main(["export", "--env", ENV_ID, "--out", str(out), "--env-kwarg", "answer_mode=guess"]) == 2
    assert "answer_mode must be one of" in capsys.readouterr().err
    assert main(["export", "--env", ENV_ID, "--out", str(out), "--env-kwarg", "colour=red"]) == 2
    assert "colour" in capsys.readouterr().err
