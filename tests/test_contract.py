"""One contract, checked for every registered id of every family (OOD variants included).

A family folder that registers itself is covered here without a line of its own: Gymnasium's
``check_env``; the oracle's answer at the prompt's decimals has format 1 and is feasible on several
instances; a foreign answer (another instance's oracle) is not; bad inputs never raise and never
look feasible; the same seed gives the same prompt in a fresh env; TRL reward functions equal
``score``. Per-family tests keep only what is specific to a family.
"""
from __future__ import annotations

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import feasgym  # noqa: F401
from feasgym.envs.core.registration import FAMILIES
from feasgym.envs.registry import ENV_IDS, ENV_SPECS
from feasgym.envs.rewards import instance_columns, trl_reward_functions

INSTANCES = 3
BAD = ["", "no json", "{}", "[1, 2]", '{"a": ' * 5000, "\x00\xff" * 50, b"\xff\xfe", None, 3.5,
       [{"role": "user", "content": "{}"}]]


def test_every_family_registers_ids_and_every_id_names_its_family():
    assert FAMILIES and set(ENV_IDS) == {i for f in FAMILIES.values() for i in f.env_specs()}
    for env_id in ENV_IDS:
        kwargs = ENV_SPECS[env_id][1]
        assert kwargs["family"] in FAMILIES
        assert ("-ood-" in env_id) == (kwargs.get("split") == "ood")


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_contract(env_id):
    env = gym.make(env_id)
    u = env.unwrapped
    check_env(u, skip_render_check=True)
    answers = []
    for k in range(INSTANCES):
        prompt, info = env.reset(seed=11, options={"instance": k})
        assert env.observation_space.contains(prompt) and info["instance"] == k
        answer = u.reference_answer()
        assert env.action_space.contains(answer)
        s = u.score(answer)
        assert s["format"]["score"] == 1.0, s["format"]["checks"]
        assert s["feasibility"]["feasible"], s["feasibility"]["violations"][:3]
        assert not s["optimality"]["below_reference"]
        answers.append(answer)
    # the last instance's oracle answer is not an answer to the first (the instances differ)
    env.reset(seed=11, options={"instance": 0})
    assert u.prompt != prompt
    assert not u.score(answers[-1])["feasibility"]["feasible"] or answers[-1] == answers[0]
    for bad in BAD:
        s = u.score(bad)
        assert not s["feasibility"]["feasible"] and s["reward"] < 0.4
    obs, reward, terminated, truncated, info = env.step("not an answer")
    assert terminated and not truncated and reward < 0.4 and not info["feasibility"]["feasible"]
    # same seed, same prompt, in a fresh env
    other = gym.make(env_id)
    other.reset(seed=11, options={"instance": 2})
    assert other.unwrapped.prompt == prompt
    # TRL reward functions are views of the same score
    columns = instance_columns(other)
    fmt, feas, opt = trl_reward_functions(env_id)
    batch = {key: [value] for key, value in columns.items()}
    for answer in (answers[-1], answers[0], "{}"):
        s = other.unwrapped.score(answer)
        feasible = s["feasibility"]["feasible"]
        assert fmt(["p"], [answer], **batch) == [pytest.approx(s["format"]["score"])]
        # documented in envs/rewards.py: 1 when feasible, else half the constraint-satisfaction rate
        assert feas(["p"], [answer], **batch) == [pytest.approx(1.0 if feasible else 0.5 * s["feasibility"]["score"])]
        assert opt(["p"], [answer], **batch) == [pytest.approx(s["reward_components"]["optimality"])]
