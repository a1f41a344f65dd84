"""Baseline agents and make_agent: calibration on AC-OPF, spec parsing, errors recorded not raised."""
import gymnasium as gym
import pytest

import feasgym  # noqa: F401
from feasgym.agents import Agent, AnswerRequest, make_agent
from feasgym.agents.baselines import LooksRightAgent, OracleAgent, RandomAgent
from feasgym.agents.registry import accepted_kwargs, split_openai_target

ENV_ID = "feasgym/ACOPF-case5-v0"
SEED = 0


@pytest.fixture(scope="module")
def envs():
    out = []
    for k in range(3):
        env = gym.make(ENV_ID, split="test")
        env.reset(seed=SEED, options={"instance": k})
        out.append(env)
    return out


def _scores(agent, envs):
    replies = agent.act([AnswerRequest(e.unwrapped.prompt, e) for e in envs])
    assert len(replies) == len(envs) and all(r.error is None for r in replies)
    return [e.unwrapped.score(r.text) for e, r in zip(envs, replies)]


def test_oracle_is_formatted_and_feasible(envs):
    for s in _scores(make_agent("oracle"), envs):
        assert s["format"]["score"] == 1.0
        assert s["feasibility"]["feasible"] and s["feasibility"]["score"] == 1.0
        assert abs(s["optimality"]["gap"]) < 1e-3


def test_looks_right_is_formatted_but_not_feasible(envs):
    scores = _scores(make_agent("looks-right"), envs)
    assert all(s["format"]["score"] == 1.0 for s in scores)
    assert not any(s["feasibility"]["feasible"] for s in scores)
    # plausible: the box limits hold, the physics (power balance) does not
    for s in scores:
        by_type = s["feasibility"]["by_type"]
        assert by_type["gen_p"]["violated"] == 0 and by_type["bus_vm"]["violated"] == 0
        assert by_type["p_balance"]["violated"] + by_type["q_balance"]["violated"] > 0


def test_random_is_well_typed_reproducible_and_order_free(envs):
    agent = make_agent("random", seed=7)
    first = [r.text for r in agent.act([AnswerRequest("", e) for e in envs])]
    backwards = [r.text for r in agent.act([AnswerRequest("", e) for e in envs[::-1]])][::-1]
    assert first == backwards
    assert first != [r.text for r in RandomAgent(seed=8).act([AnswerRequest("", e) for e in envs])]
    assert len(set(first)) == len(first)
    for s in _scores(agent, envs):
        assert s["format"]["score"] == 1.0 and not s["feasibility"]["feasible"]


def test_baseline_without_env_or_before_reset_records_an_error():
    replies = OracleAgent().act([AnswerRequest("prompt", None), AnswerRequest("p", gym.make(ENV_ID))])
    assert "request.env is None" in replies[0].error
    assert "reset" in replies[1].error and replies[1].text == ""


def test_make_agent_specs_and_errors():
    assert isinstance(make_agent("oracle"), OracleAgent)
    assert isinstance(make_agent("looks-right"), LooksRightAgent)
    assert make_agent("random", seed=3).config == {"kind": "random", "seed": 3}
    agent = make_agent("oracle")
    assert make_agent(agent) is agent and isinstance(agent, Agent)
    api = make_agent("openai:org/model@v2@http://127.0.0.1:9/v1", api_key_env="NOPE_KEY", concurrency=2)
    assert (api.model, api.base_url, api.batch_size) == ("org/model@v2", "http://127.0.0.1:9/v1", 2)
    assert split_openai_target("gpt-4o") == ("gpt-4o", None)
    assert {"max_new_tokens", "batch_size", "do_sample"} <= accepted_kwargs("hf:x")
    with pytest.raises(ValueError, match="unknown agent spec"):
        make_agent("gpt-5")
    with pytest.raises(TypeError, match="does not take"):
        make_agent("oracle", max_new_tokens=5)
    with pytest.raises(ValueError, match="names no model"):
        make_agent("hf:")
    with pytest.raises(ValueError, match="http"):
        make_agent("openai:m", base_url="127.0.0.1:8000")


def test_importing_agents_stays_light():
    import subprocess
    import sys

    code = "import sys, feasgym.agents, feasgym.agents.arena; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
