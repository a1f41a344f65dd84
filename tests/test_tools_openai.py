"""The OpenAI-compatible agent in tool-using episodes, against a chat-completions server on 127.0.0.1 that
speaks OpenAI tool calls (``tools`` in, ``tool_calls`` out, ``tool`` messages back)."""
from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

import feasgym  # noqa: F401
from feasgym.agents import AnswerRequest, make_agent
from feasgym.agents.arena import run_arena
from feasgym.envs.core.family import values_from_solution

from .openai_server import Completion, LoopbackChatServer, Raw, tool_call

pytest.importorskip("openai")
ENV_ID = "feasgym/DCOPF-case5-v0"
TOOLS = ["power_flow", "check"]


def tool_player(setpoints_by_prompt: dict[str, dict]):
    """A "model" that calls power_flow with the setpoints it was given for the prompt (plus one call with
    broken arguments), then answers with the dispatch of the solved state the tool returned."""

    def respond(request):
        messages = request.body["messages"]
        results = [json.loads(m["content"]) for m in messages if m["role"] == "tool"]
        if messages[0]["content"] not in setpoints_by_prompt:  # asked without tools: it cannot answer
            return Raw(400, b'{"error": {"message": "this test model only plays with tools"}}')
        if not results:
            setpoints = setpoints_by_prompt[messages[0]["content"]]
            return Completion(tool_calls=[tool_call("call_pf", "power_flow", {"setpoints": {"generators": setpoints}}),
                                          tool_call("call_bad", "check", "{broken")], completion_tokens=5)
        state = next(r for r in results if r.get("tool") == "power_flow")["state"]
        rows = ", ".join(f'"{g}": {{"p_mw": {v["p_mw"]:.3f}}}' for g, v in state["generators"].items())
        return Completion('{"generators": {' + rows + "}}", completion_tokens=5)

    return respond


def reference_setpoints(n: int) -> dict[str, dict]:
    """The prompt of instances 0..n-1 (as the arena asks them, with tools) -> the reference dispatch."""
    env = gym.make(ENV_ID, split="test", tools=TOOLS, max_tool_calls=3)
    out = {}
    for k in range(n):
        prompt, _ = env.reset(seed=0, options={"instance": k})
        p = values_from_solution(env.unwrapped._solution)["generators"]["p_mw"]
        out[prompt] = {g: {"p_mw": round(float(p[i]), 3)} for i, g in enumerate(env.unwrapped.instance.gen_ids)}
    return out


@pytest.fixture
def server():
    with LoopbackChatServer(tool_player(reference_setpoints(2))) as s:
        yield s


def test_openai_agent_sends_tools_and_reads_tool_calls(server):
    agent = make_agent(f"openai:tool-model@{server.url}", api_key_env="FEASGYM_UNSET_KEY_FOR_TEST", max_retries=0)
    env = gym.make(ENV_ID, split="test", tools=TOOLS, max_tool_calls=3)
    prompt, _ = env.reset(seed=0, options={"instance": 0})
    reply = agent.act([AnswerRequest(prompt, env=env, messages=[{"role": "user", "content": prompt}],
                                     tools=env.unwrapped.tool_schemas)])[0]
    agent.close()
    assert reply.error is None and reply.finish_reason == "tool_calls" and reply.text == ""
    assert [c["id"] for c in reply.tool_calls] == ["call_pf", "call_bad"]
    assert reply.tool_calls[0]["function"]["name"] == "power_flow"
    sent = server.bodies[0]
    assert [t["function"]["name"] for t in sent["tools"]] == TOOLS and sent["tools"] == env.unwrapped.tool_schemas


def test_tool_episodes_over_http_in_the_arena(server, tmp_path):
    agent = make_agent(f"openai:tool-model@{server.url}", api_key_env="FEASGYM_UNSET_KEY_FOR_TEST", max_retries=0,
                       concurrency=2)
    try:
        summary = run_arena([ENV_ID], {"api": agent}, episodes=2, seed=0, out_dir=tmp_path, tools=TOOLS,
                            max_tool_calls=3, progress=False)
    finally:
        agent.close()
    agents = summary["envs"][ENV_ID]["agents"]
    # without tools the server is never asked with tools (and this "model" cannot answer then)
    assert agents["api"]["tools"] is None and agents["api"]["errors"] == 2
    tools = agents["api+tools"]["tools"]
    assert agents["api+tools"]["feasible"]["mean"] == 1.0 and agents["api+tools"]["errors"] == 0
    assert tools["calls_total"] == 4 and tools["by_tool"] == {"power_flow": 2, "check": 0} and tools["malformed"] == 2
    assert tools["feasible_per_tool_call"] == pytest.approx(0.5)
    # the second request carries the assistant's calls and one tool message per call, ids matched
    followups = [b for b in server.bodies if any(m["role"] == "tool" for m in b["messages"])]
    assert len(followups) == 2
    messages = followups[0]["messages"]
    assert messages[1]["role"] == "assistant" and [c["id"] for c in messages[1]["tool_calls"]] == ["call_pf", "call_bad"]
    tool_messages = [m for m in messages if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == ["call_pf", "call_bad"]
    assert json.loads(tool_messages[0]["content"])["converged"] is True
    assert "not valid JSON" in json.loads(tool_messages[1]["content"])["error"]
    # the final answer is scored by the env as it would be without tools
    records = [json.loads(x) for x in (tmp_path / "episodes.jsonl").read_text().splitlines()]
    final = next(r for r in records if r["agent"] == "api+tools" and r["instance"] == 0)
    env = gym.make(ENV_ID, split="test")
    env.reset(seed=0, options={"instance": 0})
    expected = env.unwrapped.score(final["answer"])
    assert final["feasible"] == expected["feasibility"]["feasible"] and final["reward"] == expected["reward"]
    assert np.isclose(final["constraint_rate"], expected["feasibility"]["score"]) and final["turns"] == 2
