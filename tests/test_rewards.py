"""TRL reward functions: exactly env.score on each row's instance, chat completions, foreign rows, a real GRPO step."""
import functools

import gymnasium as gym
import numpy as np
import pytest

import feasgym  # noqa: F401
from feasgym.envs.rewards import (REWARD_NAMES, completion_text, feasibility_value, instance_columns,
                                  optimality_value, trl_reward_functions)

ENV_ID = "feasgym/ACOPF-case5-v0"


def _batch(n_instances=2):
    """Rows (columns as a dataset would hold them) with a mix of answers per instance, and env.score of each."""
    env = gym.make(ENV_ID)
    rng = np.random.default_rng(0)
    completions, columns, expected = [], {}, []
    for k in range(n_instances):
        env.reset(seed=0, options={"instance": k})
        unwrapped = env.unwrapped
        answers = [unwrapped.reference_answer(), unwrapped.nominal_answer(), unwrapped.random_answer(rng),
                   "The answer is 42.", "", unwrapped.reference_answer().replace("}", "", 1)]
        for text in answers:
            completions.append(text)
            for key, value in instance_columns(env).items():
                columns.setdefault(key, []).append(value)
            expected.append(unwrapped.score(text))
    return env, completions, columns, expected


def test_rewards_equal_env_score_on_a_batch():
    env, completions, columns, expected = _batch()
    funcs = trl_reward_functions(ENV_ID)
    assert [f.__name__ for f in funcs] == list(REWARD_NAMES)
    fmt, feas, opt = (f(prompts=[""] * len(completions), completions=completions, **columns) for f in funcs)
    scale = env.unwrapped.optimality_scale
    assert fmt == [s["format"]["score"] for s in expected]
    assert feas == [feasibility_value(s) for s in expected]
    assert opt == [optimality_value(s, scale) for s in expected]
    # The oracle answer (first of each instance's group) is feasible and optimal; prose scores zero format.
    assert feas[0] == 1.0 and opt[0] == pytest.approx(1.0, abs=1e-4) and fmt[0] == 1.0 and fmt[3] == 0.0
    assert all(f < 0.5 for f, s in zip(feas, expected) if not s["feasibility"]["feasible"])


def test_chat_completions_and_foreign_rows():
    env, completions, columns, expected = _batch(n_instances=1)
    chats = [[{"role": "assistant", "content": text}] for text in completions]
    columns["env_id"][1] = "feasgym/ACOPF-case14-v0"  # another env's row: not ours to score
    fmt_fn, feas_fn, _ = trl_reward_functions(ENV_ID)
    fmt = fmt_fn(prompts=None, completions=chats, **columns, trainer_state=None, completion_ids=None)
    assert fmt[1] is None
    assert [f for i, f in enumerate(fmt) if i != 1] == [s["format"]["score"] for i, s in enumerate(expected) if i != 1]
    assert completion_text([{"role": "user", "content": "q"}, {"role": "assistant", "content": [{"type": "text", "text": "a"}]}]) == "a"
    assert completion_text(None) == ""


def test_missing_columns_and_wrong_prompt_hash_fail_loudly():
    env, completions, columns, _ = _batch(n_instances=1)
    fmt_fn, *_ = trl_reward_functions(ENV_ID)
    with pytest.raises(ValueError, match="missing: \\['instance'\\]"):
        fmt_fn(prompts=None, completions=completions, **{k: v for k, v in columns.items() if k != "instance"})
    # A dataset exported with other env kwargs (here answer_mode) addresses a different prompt: refuse to score it.
    setpoint_fn, *_ = trl_reward_functions(ENV_ID, answer_mode="setpoints")
    with pytest.raises(ValueError, match="prompt_hash"):
        setpoint_fn(prompts=None, completions=completions, **columns)


def test_optimality_scale_reaches_the_env():
    _, completions, columns, _ = _batch(n_instances=1)
    *_, opt_fn = trl_reward_functions(ENV_ID, optimality_scale=0.2)
    assert opt_fn.scorer.optimality_scale == 0.2
    assert opt_fn(prompts=None, completions=completions[:1], **{k: v[:1] for k, v in columns.items()}) == [pytest.approx(1.0, abs=1e-4)]


def tiny_gpt2(texts):
    """The example's random-init 2-layer GPT-2 and locally trained tokenizer (no hub)."""
    from .helpers import load_example

    return load_example("trl_grpo").tiny_model(texts)


def test_grpo_trainer_step_logs_the_env_scores(tmp_path):
    """One real GRPOTrainer step: TRL's logged reward means equal env.score of the completions it generated."""
    import torch
    from trl import GRPOConfig, GRPOTrainer

    from feasgym.datasets import export_dataset

    dataset = export_dataset(ENV_ID, n=2, progress=False)
    model, tokenizer = tiny_gpt2(list(dataset["prompt"]) + list(dataset["completion"]))
    seen = []

    def spy(fn):
        @functools.wraps(fn)
        def wrapped(prompts=None, completions=(), **columns):
            out = fn(prompts=prompts, completions=completions, **columns)
            seen.append((fn.__name__, list(completions), {k: columns[k] for k in ("seed", "split", "instance")}, out))
            return out
        return wrapped

    rewards = [spy(f) for f in trl_reward_functions(ENV_ID)]
    before = [p.detach().clone() for p in model.parameters()]
    config = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=4, num_generations=4,
                        max_completion_length=12, max_steps=1, learning_rate=1e-2, logging_steps=1,
                        use_cpu=True, bf16=False, report_to="none", use_vllm=False, save_strategy="no",
                        reward_weights=[0.1, 1.0, 0.3], multi_objective_aggregation="normalize_then_sum",
                        temperature=1.0, seed=0)
    trainer = GRPOTrainer(model=model, reward_funcs=rewards, args=config, train_dataset=dataset,
                          processing_class=tokenizer)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny model: extra threads only contend
    try:
        trainer.train()
    finally:
        torch.set_num_threads(threads)
    assert {name for name, *_ in seen} == set(REWARD_NAMES)
    env = gym.make(ENV_ID)
    logged = trainer.state.log_history[0]
    for name, completions, cols, out in seen:
        scores = []
        for text, seed, split, k in zip(completions, cols["seed"], cols["split"], cols["instance"]):
            env.reset(seed=seed, options={"instance": k})
            scores.append(env.unwrapped.score(text))
        if name == "format_reward":
            assert out == [s["format"]["score"] for s in scores]
        elif name == "feasibility_reward":
            assert out == [feasibility_value(s) for s in scores]
        assert logged[f"rewards/{name}/mean"] == pytest.approx(float(np.mean(out)), abs=1e-6)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert len(before) == len(list(model.parameters()))


def test_only_the_last_assistant_message_is_scored():
    """A trailing user/tool message holding the oracle's answer earns nothing; no assistant message: all 0."""
    env, completions, columns, expected = _batch(n_instances=1)
    oracle, prose = completions[0], completions[3]
    one = {k: v[:1] for k, v in columns.items()}
    chats = [
        [{"role": "assistant", "content": prose}, {"role": "user", "content": oracle}],
        [{"role": "assistant", "content": prose}, {"role": "tool", "content": oracle}],
        [{"role": "user", "content": oracle}],
        [{"role": "system", "content": oracle}, {"role": "assistant", "content": oracle}, {"role": "tool", "content": "ok"}],
        [],
        {"role": "assistant", "content": oracle},
        {"role": "user", "content": oracle},
    ]
    funcs = trl_reward_functions(ENV_ID)
    scores = [[f(prompts=None, completions=[chat], **one)[0] for f in funcs] for chat in chats]
    assert scores[0][:2] == [0.0, 0.0] and scores[1][:2] == [0.0, 0.0]
    assert scores[2] == [0.0, 0.0, 0.0] and scores[4] == [0.0, 0.0, 0.0] and scores[6] == [0.0, 0.0, 0.0]
    assert scores[3][:2] == [1.0, 1.0] and scores[5][:2] == [1.0, 1.0]


def test_content_parts_that_are_not_text_hold_no_text():
    assert completion_text([{"role": "assistant", "content": [{"type": "text", "text": None}, {"type": "text", "text": 5},
                                                             {"type": "image_url", "image_url": {"url": "x"}}, 7, None,
                                                             {"type": "text", "text": "a"}, "b"]}]) == "ab"
    assert completion_text([{"role": "assistant", "content": None}]) == ""
    assert completion_text([{"role": "assistant", "content": 12.5}]) == ""
    assert completion_text([{"role": "assistant", "content": {"text": "x"}}]) == ""


class _Hostile:
    def __str__(self):
        raise RuntimeError("no text")

    def __eq__(self, other):
        raise RuntimeError("no comparison")

    def get(self, *args):
        raise RuntimeError("no get")


@pytest.mark.parametrize("completion", [None, 0, 3.5, b'{"a": 1}', bytearray(b"\xff\xfe"), [None], [1, 2], [[]],
                                        [{"role": None}], [{"role": "assistant"}], [_Hostile()], _Hostile(),
                                        {"content": "x"}, ({"role": "assistant", "content": "t"},), object()])
def test_reward_functions_never_raise_on_any_completion(completion):
    _, _, columns, _ = _batch(n_instances=1)
    one = {k: v[:1] for k, v in columns.items()}
    assert isinstance(completion_text(completion), str)
    for f in trl_reward_functions(ENV_ID):
        out = f(prompts=None, completions=[completion], **one)
        assert len(out) == 1 and isinstance(out[0], float)
