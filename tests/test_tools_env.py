"""Tool-using episodes in the env: power_flow on every grid family (checked against PYPOWER), check, budgets,
costs, malformed calls; the final answer is scored exactly as without tools."""
from __future__ import annotations

import json
import random

import gymnasium as gym
import numpy as np
import pytest

import feasgym  # noqa: F401
from feasgym.envs.core.family import values_from_solution
from feasgym.envs.tools import parse_action, render_tool_call

GRID_IDS = ["feasgym/ACOPF-case5-v0", "feasgym/PowerFlow-case5-v0", "feasgym/DCOPF-case5-v0",
            "feasgym/ACOPF-case14-ood-relabel-v0", "feasgym/DCOPF-case14-v0", "feasgym/PowerFlow-case14-ood-n1-v0"]
TOOLS = ("power_flow", "check")


def make(env_id, **kwargs):
    return gym.make(env_id, tools=kwargs.pop("tools", TOOLS), **kwargs)


def check_call(answer_text: str) -> str:
    """A check call with the answer object written into it as is (its decimals kept)."""
    return f'<tool_call>\n{{"name": "check", "arguments": {{"answer": {answer_text}}}}}\n</tool_call>'


def reference_setpoints(env) -> dict:
    """Generator setpoints of the reference solution (OPF optimum / the power-flow task's given setpoints)."""
    u = env.unwrapped
    inst, m = u.instance, u.instance.model
    if u.family.name == "PowerFlow":
        p, v = np.nan_to_num(inst.p_set), inst.v_bus[m.gen_bus]
    else:
        ref = values_from_solution(u._solution)
        p = ref["generators"]["p_mw"]
        if u.family.name == "DCOPF":
            return {g: {"p_mw": float(p[i])} for i, g in enumerate(inst.gen_ids)}
        v = ref["buses"]["vm_pu"][m.gen_bus] if "buses" in ref else ref["generators"]["vm_pu"]
    return {g: {"p_mw": float(p[i]), "vm_pu": float(v[i])} for i, g in enumerate(inst.gen_ids)}


@pytest.mark.parametrize("env_id", GRID_IDS)
def test_tool_episode_then_the_final_answer_scores_as_without_tools(env_id):
    env = make(env_id, max_tool_calls=3)
    plain = gym.make(env_id)
    prompt, key = env.reset(seed=1, options={"instance": 2})
    plain_prompt, plain_key = plain.reset(seed=1, options={"instance": 2})
    assert prompt.startswith(plain_prompt) and "Tools:" in prompt and "<tool_call>" in prompt
    assert key["instance"] == plain_key["instance"] and key["skipped_draws"] == plain_key["skipped_draws"]
    schemas = env.unwrapped.tool_schemas
    assert [s["function"]["name"] for s in schemas] == list(TOOLS)
    assert all(s["type"] == "function" and s["function"]["parameters"]["type"] == "object" for s in schemas)

    obs, reward, terminated, truncated, info = env.step(
        render_tool_call("power_flow", {"setpoints": {"generators": reference_setpoints(env)}}))
    assert not terminated and not truncated and reward == 0.0
    result = json.loads(obs)
    assert result["tool"] == "power_flow" and result["converged"] and result["calls_left"] == 2
    assert info["tool_calls"]["total"] == 1 and info["tool_calls"]["by_tool"]["power_flow"] == 1
    assert info["tool_results"][0]["ok"] and "format" not in info  # a tool step scores no answer
    # the reference's own setpoints reproduce the reference state (an optimum satisfies its power flow)
    truth = values_from_solution(env.unwrapped._solution)
    ids = env.unwrapped.instance.bus_ids
    if "buses" in truth:
        field = "va_deg"
        solved = np.array([result["state"]["buses"][b][field] for b in ids])
        np.testing.assert_allclose(solved, truth["buses"][field], atol=2e-3)
    assert result["limits"]["violated"] == 0 or env.unwrapped.family.name == "PowerFlow"

    reference = env.unwrapped.reference_answer()
    obs, reward, terminated, _, info = env.step(check_call(reference))
    checked = json.loads(obs)
    assert not terminated and checked["feasible"] and checked["format"]["score"] == 1.0
    assert "reference_objective" not in obs and "gap" not in checked  # check never reveals the reference

    obs, reward, terminated, _, info = env.step(reference)
    expected = plain.unwrapped.score(reference)
    assert terminated and obs == ""
    assert info["feasibility"] == expected["feasibility"] and info["format"] == expected["format"]
    assert reward == expected["reward"] and info["optimality"] == expected["optimality"]
    assert info["tool_calls"] == {"total": 2, "by_tool": {"power_flow": 1, "check": 1}, "malformed": 0,
                                  "over_budget": 0, "budget": 3, "remaining": 1, "cost": 0.0}


@pytest.mark.parametrize("case", ["case14", "case30"])
def test_ac_power_flow_matches_pypower_runpf(case):
    from pypower.ppoption import ppoption
    from pypower.runpf import runpf

    from feasgym.envs.grids.case import BUS_TYPE, PG, QG, VA, VG, VM, instance_ppc

    env = make(f"feasgym/ACOPF-{case}-v0", tools=("power_flow",))
    env.reset(seed=4)
    inst = env.unwrapped.instance
    m = inst.model
    rng = np.random.default_rng(0)
    p = m.pmin + (m.pmax - m.pmin) * rng.uniform(0.2, 0.6, m.n_gen)
    v = np.round(rng.uniform(1.0, 1.05, m.n_bus)[m.gen_bus], 5)  # one setpoint per bus
    setpoints = {g: {"p_mw": round(float(p[i]), 3), "vm_pu": float(v[i])} for i, g in enumerate(inst.gen_ids)}
    result = json.loads(env.step(render_tool_call("power_flow", {"setpoints": {"generators": setpoints}}))[0])
    assert result["converged"]

    ppc = instance_ppc(case, inst.pd_mw, inst.qd_mvar, inst.outage)
    ppc["gen"][:, PG] = [setpoints[g]["p_mw"] for g in inst.gen_ids]
    ppc["gen"][:, VG] = v
    ppc["bus"][:, BUS_TYPE] = 1
    ppc["bus"][m.gen_bus, BUS_TYPE] = 2
    ppc["bus"][m.ref, BUS_TYPE] = 3
    solved, ok = runpf(ppc, ppoption(VERBOSE=0, OUT_ALL=0, PF_TOL=1e-10))
    assert ok
    buses = result["state"]["buses"]
    np.testing.assert_allclose([buses[b]["vm_pu"] for b in inst.bus_ids], solved["bus"][:, VM], atol=1e-5)
    va = solved["bus"][:, VA] - solved["bus"][m.ref, VA]
    np.testing.assert_allclose([buses[b]["va_deg"] for b in inst.bus_ids], va, atol=1e-4)
    ref_gens = np.flatnonzero(m.gen_bus == m.ref)
    slack = sum(result["slack"][inst.gen_ids[g]]["p_mw"] for g in ref_gens)
    assert slack == pytest.approx(solved["gen"][ref_gens, PG].sum(), abs=2e-3)
    q_by_bus = {}
    for i, g in enumerate(inst.gen_ids):
        q_by_bus[m.gen_bus[i]] = q_by_bus.get(m.gen_bus[i], 0.0) + result["state"]["generators"][g]["q_mvar"]
    for b, q in q_by_bus.items():
        assert q == pytest.approx(solved["gen"][m.gen_bus == b, QG].sum(), abs=2e-3)
    # the limits it reports are the AC-OPF setpoint checker's rows for this answer
    sp = gym.make(f"feasgym/ACOPF-{case}-v0", answer_mode="setpoints")
    sp.reset(seed=4)
    rows = ", ".join(f'"{g}": {{"p_mw": {s["p_mw"]:.3f}, "vm_pu": {s["vm_pu"]:.5f}}}' for g, s in setpoints.items())
    scored = sp.unwrapped.score('{"generators": {' + rows + "}}")["feasibility"]
    assert scored["total"] == result["limits"]["total"]
    assert scored["total"] - scored["satisfied"] == result["limits"]["violated"]


def test_dc_power_flow_matches_pypower_rundcpf():
    from pypower.ppoption import ppoption
    from pypower.rundcpf import rundcpf

    from feasgym.envs.grids.case import BUS_TYPE, PG, VA, instance_ppc

    env = make("feasgym/DCOPF-case14-v0", tools=("power_flow",))
    env.reset(seed=2)
    inst = env.unwrapped.instance
    m = inst.model
    p = m.pmin + (m.pmax - m.pmin) * 0.3
    setpoints = {g: {"p_mw": round(float(p[i]), 3)} for i, g in enumerate(inst.gen_ids)}
    result = json.loads(env.step(render_tool_call("power_flow", {"setpoints": {"generators": setpoints}}))[0])
    ppc = instance_ppc("case14", inst.pd_mw, inst.qd_mvar, inst.outage)
    ppc["gen"][:, PG] = [setpoints[g]["p_mw"] for g in inst.gen_ids]
    ppc["bus"][:, BUS_TYPE] = 1
    ppc["bus"][m.ref, BUS_TYPE] = 3
    solved, ok = rundcpf(ppc, ppoption(VERBOSE=0, OUT_ALL=0))
    assert ok
    va = solved["bus"][:, VA] - solved["bus"][m.ref, VA]
    np.testing.assert_allclose([result["state"]["buses"][b]["va_deg"] for b in inst.bus_ids], va, atol=1e-4)
    ref_gens = np.flatnonzero(m.gen_bus == m.ref)
    slack = sum(result["slack"][inst.gen_ids[g]]["p_mw"] for g in ref_gens)
    assert slack == pytest.approx(solved["gen"][ref_gens, PG].sum(), abs=2e-3)


def test_non_convergence_is_a_clear_observation():
    env = make("feasgym/ACOPF-case14-v0", max_tool_calls=2)
    env.reset(seed=0)
    gens = {g: {"p_mw": 100.0, "vm_pu": 0.3} for g in env.unwrapped.instance.gen_ids}
    obs, _, terminated, _, info = env.step(render_tool_call("power_flow", {"setpoints": {"generators": gens}}))
    result = json.loads(obs)
    assert not terminated and result["converged"] is False and "did not converge" in result["message"]
    assert info["tool_results"][0]["ok"] and info["tool_calls"]["by_tool"]["power_flow"] == 1


def test_budget_counts_every_call_and_a_call_past_it_is_the_final_answer():
    env = make("feasgym/ACOPF-case5-v0", max_tool_calls=2)
    env.reset(seed=0)
    u = env.unwrapped
    three = "\n".join([check_call(u.nominal_answer())] * 3)
    obs, _, terminated, _, info = env.step(three)
    results = info["tool_results"]
    assert not terminated and [r["ok"] for r in results] == [True, True, False]
    assert "no tool calls left" in results[2]["content"] and "not run" in results[2]["content"]
    assert info["tool_calls"]["total"] == 2 and info["tool_calls"]["over_budget"] == 1
    assert json.loads(results[1]["content"])["note"].startswith("no tool calls left")
    # budget spent: the next reply is scored as the final answer even if it is a tool call
    obs, reward, terminated, _, info = env.step(check_call(u.reference_answer()))
    assert terminated and not info["feasibility"]["feasible"] and info["format"]["score"] < 1.0
    assert info["tool_calls"]["total"] == 2


@pytest.mark.parametrize("bad, why", [
    ("<tool_call>{not json}</tool_call>", "not valid JSON"),
    ('<tool_call>{"name": "solve_it", "arguments": {}}</tool_call>', "unknown tool"),
    ('<tool_call>{"arguments": {}}</tool_call>', 'no "name"'),
    ('<tool_call>["power_flow"]</tool_call>', "must be a JSON object"),
    ('<tool_call>{"name": "power_flow", "arguments": [1, 2]}</tool_call>', "must be a JSON object"),
    ('<tool_call>{"name": "power_flow", "arguments": {}}</tool_call>', "setpoints"),
    ('<tool_call>{"name": "power_flow", "arguments": {"setpoints": {"generators": {"G99": {}}}}}</tool_call>',
     "unknown generator id"),
    ('<tool_call>{"name": "power_flow", "arguments": {"setpoints": {"generators": {"G1": {"p_mw": "a"}}}}}'
     "</tool_call>", "unusable setpoint"),
    ('<tool_call>{"name": "check", "arguments": {"draft": {}}}</tool_call>', '"answer"'),
    ('<tool_call>{"name": "check", "arguments": {"answer": {}}', "not closed"),  # truncated inside the JSON
    ({"role": "assistant", "content": None, "tool_calls": [{"id": "x1", "type": "function",
                                                             "function": {"name": "check", "arguments": "{oops"}}]},
     "not valid JSON"),
    ({"role": "assistant", "tool_calls": [{"function": {"arguments": "{}"}}]}, "no name"),
    ({"role": "assistant", "tool_calls": ["junk"]}, "must be an object"),
])
def test_malformed_calls_get_an_error_observation_and_use_the_budget(bad, why):
    env = make("feasgym/ACOPF-case5-v0", max_tool_calls=3)
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(bad)
    assert not terminated and not truncated and reward == 0.0
    assert why in json.loads(obs)["error"], obs
    assert info["tool_calls"]["total"] == 1 and info["tool_calls"]["malformed"] == 1
    assert sum(info["tool_calls"]["by_tool"].values()) == 0 and not info["tool_results"][0]["ok"]
    assert env.observation_space.contains(obs)


def test_openai_message_actions_and_message_lists():
    env = make("feasgym/DCOPF-case5-v0")
    env.reset(seed=0)
    u = env.unwrapped
    setpoints = json.dumps({"setpoints": {"generators": {g: {"p_mw": 50.0} for g in u.instance.gen_ids}}})
    message = {"role": "assistant", "content": "",
               "tool_calls": [{"id": "call_a", "type": "function", "function": {"name": "power_flow", "arguments": setpoints}},
                              {"id": "call_b", "type": "function",
                               "function": {"name": "check", "arguments": json.dumps({"answer": u.reference_answer()})}}]}
    obs, _, terminated, _, info = env.step(message)
    assert not terminated and [r["id"] for r in info["tool_results"]] == ["call_a", "call_b"]
    assert [r["name"] for r in info["tool_results"]] == ["power_flow", "check"]
    assert json.loads(info["tool_results"][1]["content"])["feasible"]  # a string answer is scored as written
    # a final answer as a message list: the last assistant message is scored
    conversation = [{"role": "user", "content": "q"}, {"role": "assistant", "content": u.reference_answer()},
                    {"role": "tool", "content": "ignored"}]
    _, reward, terminated, _, info = env.step(conversation)
    assert terminated and info["feasibility"]["feasible"]


def test_costs_per_call_and_per_tool_come_from_reward_weights():
    env = make("feasgym/ACOPF-case5-v0", max_tool_calls=4,
               reward_weights={"tool_call": 0.01, "tool_call.power_flow": 0.05})
    env.reset(seed=0)
    u = env.unwrapped
    gens = {g: {"p_mw": 50.0, "vm_pu": 1.0} for g in u.instance.gen_ids}
    _, r1, *_ = env.step(render_tool_call("power_flow", {"setpoints": {"generators": gens}}))
    _, r2, *_ = env.step(check_call(u.nominal_answer()) + "\n<tool_call>bad</tool_call>")
    _, r3, terminated, _, info = env.step(u.reference_answer())
    assert (r1, r2) == (pytest.approx(-0.05), pytest.approx(-0.02))
    plain = gym.make("feasgym/ACOPF-case5-v0")
    plain.reset(seed=0)
    assert terminated and r3 == plain.unwrapped.score(u.reference_answer())["reward"]
    assert info["tool_calls"]["cost"] == pytest.approx(0.07) and info["tool_calls"]["total"] == 3
    assert info["reward"] == r3  # the answer's reward is as without tools; the costs were charged at their steps
    with pytest.raises(ValueError, match="tools this env does not have"):
        gym.make("feasgym/ACOPF-case5-v0", tools=("check",), reward_weights={"tool_call.power_flow": 0.1})
    with pytest.raises(ValueError, match="no tools"):
        gym.make("feasgym/ACOPF-case5-v0", reward_weights={"tool_call": 0.1})


def test_check_on_every_family_and_power_flow_only_on_grids():
    env = gym.make("feasgym/Portfolio-n10-v0", tools=("check",), max_tool_calls=1)
    env.reset(seed=0)
    u = env.unwrapped
    obs, _, terminated, _, _ = env.step(check_call(u.nominal_answer()))
    checked = json.loads(obs)
    expected = u.score(u.nominal_answer())["feasibility"]
    assert not terminated and checked["violated"] == expected["total"] - expected["satisfied"]
    assert [v["type"] for v in checked["violations"]] == [v["type"] for v in expected["violations"][:10]]
    with pytest.raises(ValueError, match="grid-family tool"):
        gym.make("feasgym/Portfolio-n10-v0", tools=("power_flow",))
    with pytest.raises(ValueError, match="unknown or repeated"):
        gym.make("feasgym/ACOPF-case5-v0", tools=("simulate",))
    with pytest.raises(ValueError, match="max_tool_calls must be >= 1"):
        gym.make("feasgym/ACOPF-case5-v0", tools=("check",), max_tool_calls=0)
    with pytest.raises(ValueError, match="needs tools"):
        gym.make("feasgym/ACOPF-case5-v0", max_tool_calls=2)


def test_without_tools_nothing_changes():
    env = gym.make("feasgym/ACOPF-case5-v0")
    prompt, _ = env.reset(seed=0)
    assert "Tools:" not in prompt and env.unwrapped.toolbox is None and env.unwrapped.tool_schemas == []
    _, _, terminated, _, info = env.step(check_call(env.unwrapped.reference_answer()))
    assert terminated and "tool_calls" not in info  # a tool call is just (bad) answer text here


def test_step_never_raises_on_mutated_tool_calls():
    env = make("feasgym/ACOPF-case5-v0", max_tool_calls=1000)
    env.reset(seed=0)
    gens = {g: {"p_mw": 50.0, "vm_pu": 1.0} for g in env.unwrapped.instance.gen_ids}
    good = render_tool_call("power_flow", {"setpoints": {"generators": gens}})
    rng = random.Random(0)
    pieces = ["<tool_call>", "</tool_call>", "{", "}", '"', ":", "NaN", "1e999", "-", "\x00", "\u00e9", "[", "]"]
    for _ in range(300):
        text = list(good)
        for _ in range(rng.randint(1, 6)):
            i = rng.randrange(len(text))
            text[i:i + rng.randint(0, 5)] = rng.choice(pieces)
        action = "".join(text)
        obs, _, terminated, _, info = env.step(action if rng.random() < 0.8 else action.encode("utf-8", "replace"))
        assert env.observation_space.contains(obs)
        if terminated:
            env.reset(seed=0)


def test_gymnasium_env_checker_passes_with_tools():
    from gymnasium.utils.env_checker import check_env

    check_env(gym.make("feasgym/DCOPF-case5-v0", tools=TOOLS).unwrapped, skip_render_check=True)


def test_a_whole_call_without_its_closing_tag_counts():
    # servers that stop generation at "</tool_call>" drop the stop string
    parsed = parse_action('thinking...\n<tool_call>\n{"name": "check", "arguments": {"answer": {}}}\n')
    assert parsed.calls[0].error is None and parsed.calls[0].name == "check" and parsed.content == "thinking..."


def test_parse_action_reads_text_and_messages_alike():
    text = render_tool_call("check", {"answer": {"x": 1.50}})
    from_text = parse_action(text)
    from_message = parse_action(from_text.assistant_message())
    assert [(c.name, c.arguments) for c in from_text.calls] == [(c.name, c.arguments) for c in from_message.calls]
    assert parse_action("just an answer {}").calls == [] and parse_action(None).text == ""
    assert parse_action(b"<tool_call>{}</tool_call>").calls[0].error is not None
