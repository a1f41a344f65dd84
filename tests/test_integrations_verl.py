"""verl adapter: parquet rows in verl's layout, scored by verl's own reward managers loading compute_score by path."""
import json

import gymnasium as gym
import numpy as np
import pyarrow.parquet as pq
import pytest

from feasgym.datasets import export_records
from feasgym.envs.rewards import trl_reward_functions
from feasgym.integrations.verl import compute_score_batch, write_verl_parquet

ENV_ID = "feasgym/ACOPF-case5-v0"


@pytest.fixture(scope="module")
def verl_rows(tmp_path_factory):
    rows = export_records(ENV_ID, n=3, seed=11, system_prompt="Answer in JSON.", progress=False)
    path = write_verl_parquet(rows, tmp_path_factory.mktemp("verl") / "train.parquet")
    return rows, pq.read_table(path).to_pylist()


def _answers(row):
    env = gym.make(ENV_ID)
    env.reset(seed=row["extra_info"]["seed"], options={"instance": row["extra_info"]["instance"]})
    u = env.unwrapped
    oracle = u.reference_answer()
    return env, [oracle, u.nominal_answer(), u.random_answer(np.random.default_rng(1)), oracle[:-40], "I cannot."]


def test_rows_have_verls_layout(verl_rows):
    rows, table = verl_rows
    assert [r["data_source"] for r in table] == [ENV_ID] * 3 and {r["ability"] for r in table} == {"constrained-optimization"}
    for row, got in zip(rows, table):
        assert got["prompt"] == [{"role": "system", "content": "Answer in JSON."}, {"role": "user", "content": row["prompt"]}]
        assert got["reward_model"]["style"] == "rule"
        truth = json.loads(got["reward_model"]["ground_truth"])
        for col in ("env_id", "seed", "split", "instance", "prompt_hash"):
            assert truth[col] == row[col] == got["extra_info"][col]
        assert got["extra_info"]["reference_objective"] == row["reference_objective"]


def _tokenizer(texts):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=400, special_tokens=["<pad>"], show_progress=False,
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>")


def _data_proto(tokenizer, table, responses):
    """What verl's rollout hands the reward manager: left-padded prompts, right-padded responses, one mask."""
    import torch
    from verl import DataProto

    prompts = [tokenizer(r["prompt"][-1]["content"])["input_ids"] for r in table]
    answers = [tokenizer(t)["input_ids"] for t in responses]
    p_len, r_len = max(map(len, prompts)), max(map(len, answers))
    pad = tokenizer.pad_token_id
    p = torch.tensor([[pad] * (p_len - len(x)) + x for x in prompts])
    r = torch.tensor([x + [pad] * (r_len - len(x)) for x in answers])
    mask = torch.tensor([[0] * (p_len - len(x)) + [1] * len(x) + [1] * len(y) + [0] * (r_len - len(y))
                         for x, y in zip(prompts, answers)])
    non_tensors = {k: np.array([dict(r[k]) if isinstance(r[k], dict) else r[k] for r in table], dtype=object)
                   for k in ("data_source", "reward_model", "extra_info")}
    return DataProto.from_dict(tensors={"prompts": p, "responses": r, "attention_mask": mask}, non_tensors=non_tensors), answers


@pytest.mark.slow  # importing verl (torch, ray, transformers) takes ~13 s here
def test_verls_reward_managers_load_compute_score_by_path(verl_rows):
    from omegaconf import OmegaConf
    from verl.trainer.ppo.reward import get_custom_reward_fn
    from verl.workers.reward_manager.batch import BatchRewardManager
    from verl.workers.reward_manager.naive import NaiveRewardManager

    rows, table = verl_rows
    items = [(row, text) for row in table for text in _answers(row)[1]]  # 3 instances x 5 answers
    batch_table, texts = [r for r, _ in items], [t for _, t in items]
    tokenizer = _tokenizer(texts + [r["prompt"][-1]["content"] for r in table])
    data, answers = _data_proto(tokenizer, batch_table, texts)
    envs = {r["extra_info"]["instance"]: _answers(r)[0] for r in table}
    want = [envs[r["extra_info"]["instance"]].unwrapped.score(t) for r, t in items]
    fmt, feas, opt = (f(completions=texts, **{c: [r["extra_info"][c] for r in batch_table]
                                               for c in ("env_id", "seed", "split", "instance", "prompt_hash")})
                      for f in trl_reward_functions(ENV_ID))

    config = OmegaConf.create({"reward": {"custom_reward_function": {
        "path": "pkg://feasgym.integrations.verl", "name": "compute_score", "reward_kwargs": {}}}})
    naive = NaiveRewardManager(tokenizer, num_examine=0, compute_score=get_custom_reward_fn(config))
    out = naive(data, return_dict=True)
    ends = [len(a) - 1 for a in answers]
    rewards = [float(out["reward_tensor"][i, e]) for i, e in enumerate(ends)]
    assert rewards == pytest.approx([w["reward"] for w in want], abs=1e-6)  # float32 tensor
    assert float(out["reward_tensor"].sum()) == pytest.approx(sum(rewards), abs=1e-5)  # nothing elsewhere
    extra = out["reward_extra_info"]
    assert extra["format"] == fmt and extra["feasibility"] == feas and extra["optimality"] == opt
    assert extra["feasible"] == [float(w["feasibility"]["feasible"]) for w in want] and sum(extra["feasible"]) >= 3

    config.reward.custom_reward_function.name = "compute_score_batch"
    config.reward.custom_reward_function.reward_kwargs = {"weights": [0.1, 1.0, 0.3]}
    batch = BatchRewardManager(tokenizer, num_examine=0, compute_score=get_custom_reward_fn(config))
    out = batch(data, return_dict=True)
    weighted = [0.1 * a + b + 0.3 * c for a, b, c in zip(fmt, feas, opt)]
    assert [float(out["reward_tensor"][i, e]) for i, e in enumerate(ends)] == pytest.approx(weighted, abs=1e-6)


def test_prompt_hash_guard_and_the_server_path(verl_rows):
    from feasgym.integrations.scoring import InstanceKey, InstanceStore
    from feasgym.integrations.server import create_app, serve_in_background

    _, table = verl_rows
    env, texts = _answers(table[0])
    n = len(texts)
    args = ([ENV_ID] * n, texts, [table[0]["reward_model"]["ground_truth"]] * n, [dict(table[0]["extra_info"])] * n)
    local = compute_score_batch(*args)
    assert [r["score"] for r in local] == [env.unwrapped.score(t)["reward"] for t in texts]
    no_extra = compute_score_batch(*args[:3], [None] * n)  # the key from ground_truth alone
    assert no_extra == local
    store = InstanceStore(lazy=False)
    store.preload([InstanceKey.from_mapping(table[0]["extra_info"])])
    with serve_in_background(create_app(store)) as url:
        assert compute_score_batch(*args, server_url=url) == local
    bad = dict(table[0]["extra_info"], prompt_hash="0" * 16)
    with pytest.raises(ValueError, match="prompt_hash"):
        compute_score_batch([ENV_ID], [texts[0]], [None], [bad])
    with pytest.raises(ValueError, match="names env id"):
        compute_score_batch(["other/source"], [texts[0]], [None], [dict(table[0]["extra_info"])])


def test_export_format_verl(tmp_path, verl_rows):
    from feasgym.cli import main

    out = tmp_path / "rows.parquet"
    assert main(["export", "--env", ENV_ID, "--n", "3", "--seed", "11", "--format", "verl", "--out", str(out),
                 "--system-prompt", "Answer in JSON.", "--no-progress"]) == 0
    _, table = verl_rows
    assert pq.read_table(out).to_pylist() == table  # the CLI's streamed rows equal write_verl_parquet's
