"""Training pieces: embedded base model, SFT, GRPO rewards and groups (tiny budgets, offline)."""
import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import feasgym  # noqa: F401
from feasgym.agents.training.base_model import TinyModelSpec, build_base_model
from feasgym.agents.training.common import model_prompt
from feasgym.agents.training.data import InstanceSource, instance_rows, read_rows, write_rows
from feasgym.agents.training.grpo import GRPOBudget, env_reward_functions, run_grpo
from feasgym.agents.training.probe import ProbeSet
from feasgym.agents.training.sft import SFTBudget, run_sft
from feasgym.envs.rewards import feasibility_value
from feasgym.envs.core.weighting import optimality_credit

ENV = "feasgym/ACOPF-case5-v0"
TINY = TinyModelSpec(num_layers=1, hidden_size=32, num_heads=2, max_positions=1024, vocab_size=1500)


@pytest.fixture(scope="module")
def rows():
    return instance_rows(InstanceSource(ENV, "train", 3), 3)


@pytest.fixture(scope="module")
def base(rows, tmp_path_factory):
    texts = [r["prompt"] for r in rows] + [r["completion"] for r in rows]
    return build_base_model(texts, tmp_path_factory.mktemp("base") / "model", TINY)


def test_rows_address_their_instance(rows, tmp_path):
    env = gym.make(ENV, split="train")
    for row in rows:
        prompt, key = env.reset(seed=row["seed"], options={"instance": row["instance"]})
        assert (row["env_id"], row["split"]) == (ENV, "train")
        assert row["prompt"] == prompt and row["completion"] == env.unwrapped.reference_answer()
    assert read_rows(write_rows(rows, tmp_path / "r.jsonl")) == rows
    with pytest.raises(ValueError):
        instance_rows(InstanceSource(ENV), -1)


def test_base_model_is_an_ordinary_checkpoint(base, rows):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base)
    text = rows[0]["prompt"] + rows[0]["completion"]
    ids = tok(text)["input_ids"]
    assert tok.decode(ids) == text  # byte-level: every prompt round-trips exactly
    assert len(ids) < len(text) / 2  # trained on env text, so it compresses it
    pieces = [tok.decode([i]) for i in tok('"q_mvar": -168.290}')["input_ids"]]
    assert [p for p in pieces if any(c.isdigit() for c in p)] == list("168290")  # one token per digit
    assert tok.eos_token_id is not None and tok.pad_token_id is not None and tok.pad_token_id != tok.eos_token_id
    assert model.generation_config.eos_token_id == tok.eos_token_id
    # trainers and the HF agent put the same tokens in front of the answer, ending in one marker
    from feasgym.agents.hf import HFAgent
    from feasgym.agents.training.base_model import ANSWER

    agent = HFAgent(model=model, tokenizer=tok, max_new_tokens=4)
    rendered = model_prompt(tok, rows[0]["prompt"])
    assert agent.encode(rows[0]["prompt"]) == tok(rendered)["input_ids"]
    assert tok(rendered)["input_ids"][-1] == tok.convert_tokens_to_ids(ANSWER)
    assert ANSWER not in tok.decode(tok(rendered)["input_ids"], skip_special_tokens=True)
    meta = json.loads((base / "feasgym_base.json").read_text())
    assert meta["parameters"] == sum(p.numel() for p in model.parameters())
    with pytest.raises(ValueError):
        build_base_model([], base.parent / "empty")


def test_reward_functions_score_a_batch_exactly_like_env_score(rows):
    env = gym.make(ENV, split="train")
    completions, columns, expected = [], {k: [] for k in ("env_id", "seed", "split", "instance")}, []
    rng = np.random.default_rng(0)
    for row in rows:
        env.reset(seed=row["seed"], options={"instance": row["instance"]})
        u = env.unwrapped
        for answer in (u.reference_answer(), u.nominal_answer(), u.random_answer(rng), "no json here", ""):
            s = u.score(answer)
            gap = s["optimality"]["gap"]
            expected.append((s["format"]["score"], feasibility_value(s),
                             optimality_credit(gap) if s["feasibility"]["feasible"] else 0.0))
            completions.append(answer)
            for k in columns:
                columns[k].append(row[k])
    funcs = env_reward_functions({ENV: {}})
    assert [f.__name__ for f in funcs] == ["format_reward", "feasibility_reward", "optimality_reward"]
    got = list(zip(*(f(prompts=[""] * len(completions), completions=completions, **columns) for f in funcs)))
    assert got == expected
    assert any(e[1] == 1.0 for e in expected) and any(e[1] < 0.5 for e in expected)


def test_merged_reward_functions_route_rows_to_their_env(rows):
    other = instance_rows(InstanceSource("feasgym/ACOPF-case14-v0", "train", 3), 1)
    batch = [rows[0], other[0]]
    funcs = env_reward_functions({ENV: {}, "feasgym/ACOPF-case14-v0": {}})
    columns = {k: [r[k] for r in batch] for k in ("env_id", "seed", "split", "instance")}
    # each oracle answer is feasible for its own instance only
    scores = funcs[1](prompts=None, completions=[r["completion"] for r in batch], **columns)
    assert scores == [1.0, 1.0]
    swapped = funcs[1](prompts=None, completions=[batch[1]["completion"], batch[0]["completion"]], **columns)
    assert all(s < 0.5 for s in swapped)
    assert [f.__name__ for f in funcs] == ["format_reward", "feasibility_reward", "optimality_reward"]


def test_sft_trains_saves_and_probes(base, rows, tmp_path):
    probe = ProbeSet(rows[:2], max_new_tokens=8, batch_size=2)
    summary = run_sft(base, rows, tmp_path / "sft", SFTBudget(epochs=1, batch_size=2, probe_every=1),
                      probe=probe, progress=False)
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(summary["checkpoint"])
    losses = [h["loss"] for h in summary["log_history"] if "loss" in h]
    assert len(losses) == summary["steps"] == 2 and all(np.isfinite(losses))
    assert [r["step"] for r in summary["probe"]] == [0, 1, 2]
    assert all(0.0 <= r["format"] <= 1.0 and r["n"] == 2 for r in summary["probe"])
    with pytest.raises(ValueError):
        run_sft(base, [], tmp_path / "none")
    short = build_base_model([rows[0]["prompt"]], tmp_path / "short", TinyModelSpec(num_layers=1, hidden_size=16, num_heads=2,
                                                                                     max_positions=64, vocab_size=400))
    with pytest.raises(ValueError, match="context"):
        run_sft(short, rows, tmp_path / "too-long")


def test_grpo_groups_share_the_instance_and_log_every_reward(base, rows, tmp_path):
    calls = []
    inner = env_reward_functions({ENV: {}})

    def recorded(func):
        def reward(prompts=None, completions=(), **columns):
            if func.__name__ == "format_reward":
                calls.append((list(prompts), {k: list(columns[k]) for k in ("seed", "split", "instance")}))
            return func(prompts=prompts, completions=completions, **columns)

        reward.__name__ = func.__name__
        return reward

    budget = GRPOBudget(max_steps=2, num_generations=3, prompts_per_step=2, max_completion_length=8)
    summary = run_grpo(base, rows, tmp_path / "grpo", budget, reward_funcs=[recorded(f) for f in inner],
                       progress=False)
    assert summary["steps"] == 2 and len(calls) == 2
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(base)
    by_instance = {r["instance"]: model_prompt(tok, r["prompt"]) for r in rows}
    for prompts, cols in calls:
        assert len(prompts) == 6
        for g in range(0, 6, 3):
            keys = {(cols["seed"][i], cols["split"][i], cols["instance"][i]) for i in range(g, g + 3)}
            assert len(keys) == 1  # one group, one instance
            assert all(prompts[i] == by_instance[cols["instance"][i]] for i in range(g, g + 3))
    logged = [h for h in summary["log_history"] if "rewards/feasibility_reward/mean" in h]
    assert len(logged) == 2
    assert all(f"rewards/{n}/mean" in h for h in logged for n in ("format_reward", "optimality_reward"))
    with pytest.raises(ValueError):
        run_grpo(base, rows, tmp_path / "g1", GRPOBudget(num_generations=1))


def test_token_budget_is_the_longest_oracle_answer_plus_a_margin(base, rows):
    from transformers import AutoTokenizer

    from feasgym.agents.training.budgets import BudgetError, token_budget

    tok = AutoTokenizer.from_pretrained(base)
    longest = max(len(tok(r["completion"], add_special_tokens=False)["input_ids"]) for r in rows) + 1  # + EOS
    margin = max(16, -(-longest // 10))
    budget = token_budget(tok, rows)
    assert (budget.longest_answer, budget.margin, budget.max_new_tokens) == (longest, margin, longest + margin)
    assert token_budget(tok, rows, user_limit=longest + margin + 5).max_new_tokens == longest + margin + 5
    with pytest.raises(BudgetError, match=f"--max-new-tokens {longest} is below .* rerun with --max-new-tokens "
                                          f"{longest + margin} or more"):
        token_budget(tok, rows, user_limit=longest)
    with pytest.raises(BudgetError, match="context"):
        token_budget(tok, rows, context=budget.longest_prompt + 10)


def test_training_shows_one_bar_with_its_key_figure_not_the_trainer_dicts(base, rows, tmp_path, capsys):
    run_sft(base, rows, tmp_path / "sft-bar", SFTBudget(epochs=1, batch_size=1, probe_at_start=False),
            progress=True, desc="SFT seed 7")
    captured = capsys.readouterr()
    assert "SFT seed 7" in captured.err and "loss=" in captured.err
    assert "{'loss'" not in captured.out + captured.err and "'learning_rate'" not in captured.out + captured.err


def test_same_seed_and_threads_give_bit_identical_models(base, rows, tmp_path):
    import torch
    from safetensors.numpy import load_file

    budget = SFTBudget(epochs=2, batch_size=1, probe_at_start=False)  # 6 steps over 3 rows in seeded orders
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        paths = [run_sft(base, rows, tmp_path / name, budget, seed=seed, progress=False)["checkpoint"]
                 for name, seed in (("a", 0), ("b", 0), ("c", 1))]
    finally:
        torch.set_num_threads(threads)
    a, b, c = (load_file(Path(p) / "model.safetensors") for p in paths)
    assert all(np.array_equal(a[k], b[k]) for k in a)  # same seed, same threads: bit for bit
    assert any(not np.array_equal(a[k], c[k]) for k in a)  # another seed: another batch order, another model
