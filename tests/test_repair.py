"""Multi-turn repair (max_turns=k) for every family: feedback names violations; a fix ends the episode."""
from __future__ import annotations

import gymnasium as gym
import pytest

import feasgym  # noqa: F401

FAMILY_IDS = ["feasgym/ACOPF-case5-v0", "feasgym/PowerFlow-case5-v0", "feasgym/DCOPF-case5-v0",
              "feasgym/Portfolio-n10-v0", "feasgym/DCOPF-case14-ood-relabel-v0"]


@pytest.mark.parametrize("env_id", FAMILY_IDS)
def test_wrong_then_oracle_is_feasible_on_turn_two(env_id):
    env = gym.make(env_id, max_turns=2)
    env.reset(seed=0)
    u = env.unwrapped
    wrong = u.nominal_answer()
    obs, reward, terminated, truncated, info = env.step(wrong)
    assert not terminated and not truncated and not info["feasibility"]["feasible"]
    assert info["turn"] == 1 and reward < 0.4
    worst = info["feasibility"]["violations"][0]
    assert "turn 1 of 2" in obs and "Violated constraints, worst first:" in obs
    assert f"- {worst['type']} at {worst['element']}:" in obs.splitlines()[2]  # the worst row is named first
    violated = info["feasibility"]["total"] - info["feasibility"]["satisfied"]
    assert f"{violated} of {info['feasibility']['total']} constraints are violated" in obs
    obs, reward, terminated, truncated, info = env.step(u.reference_answer())
    assert terminated and obs == "" and info["feasibility"]["feasible"] and reward > 0.9
    assert [t["feasible"] for t in info["turns"]] == [False, True]
    assert info["turns"][0]["violated"] == violated and info["turns"][1]["violated"] == 0


@pytest.mark.parametrize("env_id", FAMILY_IDS)
def test_unchanged_wrong_answer_stays_infeasible_until_the_last_turn(env_id):
    env = gym.make(env_id, max_turns=3)
    env.reset(seed=1)
    wrong = env.unwrapped.nominal_answer()
    rewards = []
    for turn in (1, 2, 3):
        obs, reward, terminated, truncated, info = env.step(wrong)
        rewards.append(reward)
        assert terminated == (turn == 3) and not info["feasibility"]["feasible"]
        assert (obs == "") == (turn == 3)
    assert len(info["turns"]) == 3 and not any(t["feasible"] for t in info["turns"])
    assert len({t["violated"] for t in info["turns"]}) == 1 and len(set(rewards)) == 1


def test_format_problems_are_fed_back():
    env = gym.make("feasgym/Portfolio-n10-v0", max_turns=2)
    env.reset(seed=0)
    obs, _, terminated, _, info = env.step("I think the answer is to diversify.")
    assert not terminated and "Format problems:" in obs and "answer_found" in obs
    assert "value missing" in obs and "Reply with a corrected, complete JSON answer" in obs


def test_single_turn_is_the_default():
    env = gym.make("feasgym/DCOPF-case5-v0")
    env.reset(seed=0)
    obs, _, terminated, _, info = env.step(env.unwrapped.nominal_answer())
    assert terminated and obs == "" and len(info["turns"]) == 1


def test_reset_starts_a_new_episode():
    env = gym.make("feasgym/PowerFlow-case5-v0", max_turns=2)
    env.reset(seed=0)
    env.step("{}")
    env.reset(seed=0, options={"instance": 1})
    _, _, terminated, _, info = env.step(env.unwrapped.reference_answer())
    assert terminated and info["turn"] == 1 and len(info["turns"]) == 1


def test_max_turns_must_be_positive():
    with pytest.raises(ValueError):
        gym.make("feasgym/PowerFlow-case5-v0", max_turns=0)
