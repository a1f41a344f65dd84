"""gym.make_vec works for every registered id, sync and async, with distinct instances per sub-env seed."""
import hashlib
import gymnasium as gym
import numpy as np
import pytest

import feasgym  # noqa: F401
from feasgym.envs.registry import ENV_IDS

NUM_ENVS = 8
SMALL = 2  # sub-envs per id in the every-id matrix (72+ ids x 2 modes: the suite must stay fast)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _family_representatives() -> list[str]:
    """The first registered id of each family (ids are ``feasgym/<Family>-...``)."""
    first: dict[str, str] = {}
    for env_id in ENV_IDS:
        first.setdefault(env_id.split("/")[1].split("-")[0], env_id)
    return list(first.values())


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_every_id_vectorizes_sync_and_async(env_id):
    """All sub-envs on one instance (seed 0, instance 0): one reference solve per id, the rest from the cache."""
    seeds = [0] * SMALL
    results = {}
    for mode in ("sync", "async"):
        envs = gym.make_vec(env_id, num_envs=SMALL, vectorization_mode=mode)
        try:
            prompts, info = envs.reset(seed=seeds)
            assert len(prompts) == SMALL and all(isinstance(p, str) and p for p in prompts)
            # What the vector env returns is what the sub-envs rendered (async reads shared memory).
            assert [_hash(p) for p in prompts] == list(info["prompt_hash"])
            _, rewards, terminated, truncated, step_info = envs.step(tuple(["not an answer"] * SMALL))
            assert rewards.shape == (SMALL,) and terminated.all() and not truncated.any()
            assert not np.asarray(step_info["feasibility"]["feasible"]).any()
            results[mode] = (tuple(prompts), rewards.tolist())
        finally:
            envs.close()
    assert results["sync"] == results["async"]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("env_id", _family_representatives())
def test_per_env_seeds_give_distinct_instances(env_id, mode):
    envs = gym.make_vec(env_id, num_envs=NUM_ENVS, vectorization_mode=mode)
    try:
        prompts, info = envs.reset(seed=0)
        assert list(info["seed"]) == list(range(NUM_ENVS))
        assert [_hash(p) for p in prompts] == list(info["prompt_hash"])
        assert len(set(prompts)) == NUM_ENVS
    finally:
        envs.close()


def test_next_step_autoreset_moves_each_stream_on():
    envs = gym.make_vec(ENV_IDS[0], num_envs=2, vectorization_mode="async")
    try:
        prompts, _ = envs.reset(seed=0)
        envs.step(("x", "y"))
        prompts2, rewards, terminated, _, info = envs.step(("x", "y"))  # ignored: this step resets
        assert list(info["instance"]) == [1, 1] and list(info["seed"]) == [0, 1]
        assert [_hash(p) for p in prompts2] == list(info["prompt_hash"])
        assert not set(prompts2) & set(prompts) and not terminated.any() and rewards.tolist() == [0.0, 0.0]
    finally:
        envs.close()
