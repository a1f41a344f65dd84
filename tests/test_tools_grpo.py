"""GRPO with tools (a rollout function that plays tool episodes) on a tiny local model, and proof that
training and evaluation cut and parse a generated turn identically."""
from __future__ import annotations

import json

import gymnasium as gym
import pytest

import feasgym  # noqa: F401
from feasgym.envs.tools import parse_action, render_tool_call

from .tool_models import taught_model

pytest.importorskip("trl")
ENV_ID = "feasgym/DCOPF-case5-v0"
TOOLS = ("power_flow", "check")


@pytest.fixture(scope="module")
def taught(tmp_path_factory):
    return taught_model(tmp_path_factory.mktemp("taught"), gym.make(ENV_ID, split="test", tools=TOOLS))


def rows(n=1):
    return [{"env_id": ENV_ID, "seed": 0, "split": "test", "instance": k} for k in range(n)]


@pytest.mark.slow
def test_training_and_evaluation_read_a_turn_identically(taught):
    from feasgym.agents import make_agent
    from feasgym.agents.training.grpo_tools import ToolRollout

    folder, prompt, call = taught
    agent = make_agent(f"hf:{folder}", max_new_tokens=8, device="cpu")
    rollout = ToolRollout(agent.tokenizer, rows(), {}, TOOLS, 3, 400)
    gens = {g: {"p_mw": 40.0} for g in ("G1", "G2", "G3", "G4", "G5")}
    flow = render_tool_call("power_flow", {"setpoints": {"generators": gens}})
    texts = [call, call + " and then more words", "let me check\n" + call + "\n" + flow, flow[:-5],
             "<tool_call>{broken</tool_call>", '{"generators": {"G1": {"p_mw": 1.000}}}', "", call[:-12]]
    for text in texts:
        ids = agent.tokenizer(text, add_special_tokens=False)["input_ids"] + [agent.tokenizer.eos_token_id]
        n, eval_text, calls = agent.read_turn(ids, tools=True)
        train_ids, train_text = rollout.read_turn(ids)
        assert train_ids == ids[:n] and train_text == eval_text, text
        a, b = parse_action(eval_text), parse_action(train_text)
        assert [(c.name, c.arguments, c.error) for c in a.calls] == [(c.name, c.arguments, c.error) for c in b.calls]
        assert (calls is None) == (not a.calls)
        # and the env answers both the same way
        observations = []
        for t in (eval_text, train_text):
            env = gym.make(ENV_ID, split="test", tools=TOOLS, max_tool_calls=3)
            env.reset(seed=0, options={"instance": 0})
            obs, reward, terminated, _, info = env.step(t)
            observations.append((obs, reward, terminated, json.dumps(info.get("tool_calls"), sort_keys=True)))
        assert observations[0] == observations[1]
    # the first prompt training sees is the conversation the HF agent sends
    from feasgym.agents import AnswerRequest

    env = gym.make(ENV_ID, split="test", tools=TOOLS, max_tool_calls=3)
    prompt, _ = env.reset(seed=0, options={"instance": 0})
    request = AnswerRequest(prompt, messages=[{"role": "user", "content": prompt}], tools=env.unwrapped.tool_schemas)
    assert agent.tokenizer.decode(agent.encode_request(request)) == rollout.prompt_text(rows()[0])


@pytest.mark.slow
def test_tiny_grpo_run_with_tools(taught, tmp_path):
    from feasgym.agents.training.grpo_tools import ToolGRPOBudget, ToolRollout, run_grpo_tools

    folder, _, _ = taught
    played: list[dict] = []
    original = ToolRollout.__call__

    def recording(self, prompts, trainer):
        out = original(self, prompts, trainer)
        played.append({"prompts": prompts, **out})
        return out

    ToolRollout.__call__ = recording
    try:
        budget = ToolGRPOBudget(max_steps=2, num_generations=3, prompts_per_step=1, max_completion_length=300,
                                max_tool_calls=1, temperature=1.0, learning_rate=1e-4)
        result = run_grpo_tools(folder, rows(2), tmp_path, budget, use_cpu=True, progress=False,
                                env_kwargs={ENV_ID: {"reward_weights": {"tool_call": 0.05}}})
    finally:
        ToolRollout.__call__ = original
    assert (tmp_path / "model" / "config.json").is_file()
    steps = [h for h in result["log_history"] if "rewards/feasibility_reward/mean" in h]
    assert len(steps) == 2
    for h in steps:  # every reward component and the tool use, per step
        for key in ("rewards/format_reward/mean", "rewards/optimality_reward/mean", "rewards/tool_cost_reward/mean",
                    "tools/calls", "tools/malformed", "tools/feasible"):
            assert key in h, (key, sorted(h))
    assert len(played) == 2
    for batch in played:
        episodes = batch["tool_episode"]
        assert len(episodes) == 3 and len(set(batch["prompts"])) == 1  # one group: one prompt, one instance
        assert len({(e["seed"], e["instance"], e["prompt_hash"]) for e in episodes}) == 1
        for ids, mask, e in zip(batch["completion_ids"], batch["env_mask"], episodes):
            assert len(ids) == len(mask) and set(mask) <= {0, 1}
            if e["tool_calls"]:  # the call's result was appended to the completion and masked out of the loss
                assert 0 in mask and e["tool_cost"] == pytest.approx(0.05 * e["tool_calls"])
    assert any(e["tool_calls"] >= 1 for b in played for e in b["tool_episode"])  # the taught model calls check
    cost = [h["rewards/tool_cost_reward/mean"] for h in steps]
    assert all(c <= 0 for c in cost) and any(c < 0 for c in cost)
