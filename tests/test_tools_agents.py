"""Tool-using agents: the embedded model through the HF agent (chat template with tools, the env's parser),
the scripted tool user, and arena runs with and without tools on the same instances."""
from __future__ import annotations

import json

import gymnasium as gym
import pytest

import feasgym  # noqa: F401
from feasgym.agents import AnswerRequest, make_agent
from feasgym.agents.arena import run_arena
from feasgym.envs.tools import parse_action

from .tool_models import taught_model

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

ENV_ID = "feasgym/DCOPF-case5-v0"
OLD_TEMPLATE = ("{% for m in messages %}{% if m['role'] != 'assistant' %}{{ m['content'] }}{% endif %}{% endfor %}"
                "{% if add_generation_prompt %}<|answer|>{% endif %}")  # the embedded template before tools


def tool_env(**kwargs):
    return gym.make(ENV_ID, split="test", tools=("power_flow", "check"), **kwargs)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    return taught_model(tmp_path_factory.mktemp("embedded"), tool_env())


@pytest.mark.slow
def test_embedded_template_renders_tools_and_is_unchanged_without_them(embedded):
    from transformers import AutoTokenizer

    folder, prompt, call = embedded
    tok = AutoTokenizer.from_pretrained(folder)
    one = [{"role": "user", "content": prompt}]
    assert tok.apply_chat_template(one, tokenize=False, add_generation_prompt=True) == \
        tok.apply_chat_template(one, tokenize=False, add_generation_prompt=True, chat_template=OLD_TEMPLATE)
    env = tool_env()
    env.reset(seed=0, options={"instance": 0})
    agent = make_agent(f"hf:{folder}", max_new_tokens=8, device="cpu")
    with_tools = agent.tokenizer.decode(agent.encode_request(
        AnswerRequest(prompt, messages=one, tools=env.unwrapped.tool_schemas)))
    assert with_tools.startswith("Tools you may call") and "power_flow {" in with_tools and "check {" in with_tools
    assert with_tools.endswith(prompt + "<|answer|>")
    # an assistant tool call renders exactly as the env's parser reads it
    conversation = one + [parse_action(call).assistant_message(), {"role": "tool", "content": '{"tool": "power_flow"}'}]
    rendered = agent.tokenizer.decode(agent.encode_request(AnswerRequest(prompt, messages=conversation, tools=None)))
    assert prompt + "<|answer|>" + call + "<|endoftext|><tool_response>" in rendered
    assert rendered.endswith("</tool_response>\n<|answer|>")


@pytest.mark.slow
def test_hf_agent_plays_a_tool_episode_with_the_embedded_model(embedded, tmp_path):
    folder, prompt, call = embedded
    env = tool_env(max_tool_calls=2)
    env.reset(seed=0, options={"instance": 0})
    agent = make_agent(f"hf:{folder}", max_new_tokens=160, device="cpu")
    reply = agent.act([AnswerRequest(prompt, env=env, messages=[{"role": "user", "content": prompt}],
                                     tools=env.unwrapped.tool_schemas)])[0]
    assert reply.error is None and reply.finish_reason == "tool_calls", reply.text
    assert reply.text == call  # generation stopped at the closing tag
    assert reply.tool_calls == [c.openai() for c in parse_action(call).calls]
    # the arena: the same instance with and without tools, the model's call run by the env
    summary = run_arena([ENV_ID], {"tiny": agent}, episodes=1, seed=0, out_dir=tmp_path, tools=["power_flow", "check"],
                        max_tool_calls=2, progress=False)
    section = summary["envs"][ENV_ID]["agents"]
    assert set(section) == {"tiny", "tiny+tools"} and section["tiny"]["tools"] is None
    tools = section["tiny+tools"]["tools"]
    assert tools["calls_total"] == 2 and tools["by_tool"]["check"] == 2 and tools["malformed"] == 0
    records = [json.loads(line) for line in (tmp_path / "episodes.jsonl").read_text().splitlines()]
    played = next(r for r in records if r["agent"] == "tiny+tools")
    assert played["messages"][0]["tool_calls"][0]["function"]["name"] == "check"
    checked = json.loads(played["messages"][1]["content"])
    assert checked["tool"] == "check" and checked["format"]["score"] < 1 and checked["calls_left"] == 1
    # budget spent after two calls: the third reply (the same call) was scored as the final answer
    assert played["turns"] == 3 and not played["feasible"] and played["format"] < 1
    assert played["prompt_hash"] != next(r for r in records if r["agent"] == "tiny")["prompt_hash"]  # tools section
    assert played["instance"] == 0


def test_tool_user_fixes_the_slack_and_beats_looks_right_on_the_same_instances(tmp_path):
    envs = [("opf", "feasgym/ACOPF-case5-v0", {"answer_mode": "setpoints"}), ("dc", "feasgym/DCOPF-case5-v0", {}),
            ("pf", "feasgym/PowerFlow-case5-v0", {}), ("pm", "feasgym/Portfolio-n10-v0", {})]
    summary = run_arena(envs[:3], {"looks-right": "looks-right", "tool-user": "tool-user"}, episodes=6, seed=0,
                        out_dir=tmp_path / "grid", tools=["power_flow", "check"], progress=False)
    for label in ("opf", "dc", "pf"):
        agents = summary["envs"][label]["agents"]
        assert set(agents) == {"looks-right", "tool-user", "tool-user+tools"}  # only the tool user plays with tools
        assert agents["tool-user"]["feasible"]["mean"] == agents["looks-right"]["feasible"]["mean"]
        assert agents["tool-user+tools"]["feasible"]["mean"] > agents["looks-right"]["feasible"]["mean"]
        t = agents["tool-user+tools"]["tools"]
        assert t["malformed"] == 0 and t["by_tool"]["power_flow"] == t["calls_total"] >= 6
        pair = next(p for p in summary["envs"][label]["pairs"] if (p["a"], p["b"]) == ("tool-user", "tool-user+tools"))
        assert pair["feasible_diff_tools_minus_plain"] > 0 and pair["feasible_gain_per_tool_call"] > 0
    assert summary["envs"]["pf"]["agents"]["tool-user+tools"]["feasible"]["mean"] == 1.0  # one call solves it
    records = [json.loads(x) for x in (tmp_path / "grid" / "episodes.jsonl").read_text().splitlines()]
    corrected = [r for r in records if r["agent"] == "tool-user+tools" and r["env"] != "pf" and r["tool_calls"] > 1]
    assert corrected  # at least one instance needed the slack moved back inside its limits
    report = (tmp_path / "grid" / "report.md").read_text()
    assert "### Tools" in report and "feasible gain per tool call" in report
    # a family without power_flow: the tool user checks its draft once, nothing more
    summary = run_arena(envs[3:], {"tool-user": "tool-user"}, episodes=2, seed=0, out_dir=tmp_path / "pm",
                        tools=["check"], progress=False)
    t = summary["envs"]["pm"]["agents"]["tool-user+tools"]["tools"]
    assert t["by_tool"] == {"check": 2}


def test_arena_refuses_tools_without_a_tool_user(tmp_path):
    with pytest.raises(ValueError, match="no agent uses tools"):
        run_arena([ENV_ID], {"oracle": "oracle"}, episodes=1, out_dir=tmp_path, tools=["check"], progress=False)


def test_compare_cli_with_tools(tmp_path, capsys):
    import argparse

    from feasgym.commands import compare

    parser = argparse.ArgumentParser()
    compare.add_arguments(parser)
    args = parser.parse_args(["--env", "feasgym/PowerFlow-case5-v0", "--agent", "looks-right", "--agent", "tool-user",
                              "--tools", "power_flow,check", "--max-tool-calls", "2", "--episodes", "2",
                              "--out", str(tmp_path), "--no-progress"])
    assert compare.run(args) == 0
    out = capsys.readouterr().out
    assert "calls/ep" in out and "tool-user+tools" in out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["tools"] == {"tools": ["power_flow", "check"], "max_tool_calls": 2}
    assert summary["agents"]["tool-user+tools"]["max_tool_calls"] == 2
