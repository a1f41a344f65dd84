"""The adapters' shared scorer: instance keys from rows, JSON and numpy values; the store's limits and threads."""
import threading

import gymnasium as gym
import numpy as np
import pytest

from feasgym.envs.rewards import instance_columns
from feasgym.integrations.scoring import InstanceKey, InstanceStore, UnknownInstance, parse_key, weighted_score

ENV_ID = "feasgym/ACOPF-case5-v0"


def test_keys_from_rows_json_and_numpy():
    key = InstanceKey.from_mapping({"env_id": ENV_ID, "seed": np.int64(3), "split": "test", "instance": np.int32(2),
                                    "prompt_hash": "ab" * 8, "extra": 1})
    assert key == InstanceKey(ENV_ID, 3, "test", 2, "ab" * 8)
    assert parse_key(key.to_json()) == key and parse_key(key.columns()) == key
    assert InstanceKey.from_mapping({"seed": 1, "split": "train", "instance": 0}, env_id=ENV_ID).env_id == ENV_ID
    for bad, words in [({"env_id": ENV_ID, "seed": True, "split": "train", "instance": 0}, "seed must be"),
                       ({"env_id": ENV_ID, "seed": 1.5, "split": "train", "instance": 0}, "seed must be"),
                       ({"env_id": ENV_ID, "seed": 1, "split": "train", "instance": -1}, ">= 0"),
                       ({"env_id": ENV_ID, "seed": 1, "split": "train"}, "lacks ['instance']"),
                       ({"env_id": ENV_ID, "seed": 1, "split": "train", "instance": 0, "prompt_hash": 5}, "string")]:
        with pytest.raises(ValueError, match=words.replace("[", r"\[").replace("]", r"\]")):
            InstanceKey.from_mapping(bad)
    with pytest.raises(ValueError, match="not JSON"):
        parse_key("{broken")
    with pytest.raises(ValueError, match="weights are"):
        weighted_score({"format": 1, "feasibility": 1, "optimality": 1, "reward": 1}, [1, 2])


def test_store_threads_cap_and_unknown_ids():
    store = InstanceStore(lazy=True, max_instances=3)
    envs = []
    for k in range(3):
        env = gym.make(ENV_ID)
        env.reset(seed=0, options={"instance": k})
        envs.append(env)
    keys = [InstanceKey.from_mapping({"env_id": ENV_ID, **instance_columns(e)}) for e in envs]
    answers = [e.unwrapped.reference_answer() for e in envs]
    out = [[] for _ in range(6)]

    def work(i):  # threads load instances lazily and score interleaved keys
        for j in range(30):
            k = (i + j) % 3
            a = (k + j) % 3
            out[i].append((k, a, store.score(keys[k], answers[a])["constraint_rate"]))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store) == 3
    rates = {(k, a): envs[k].unwrapped.score(answers[a])["feasibility"]["score"] for k in range(3) for a in range(3)}
    assert len(set(rates.values())) > 1  # answers of other instances score differently
    for results in out:
        assert all(rate == rates[(k, a)] for k, a, rate in results)
    more = InstanceKey(ENV_ID, 0, "train", 7)
    assert "maximum of 3" in store.score_item(more, "x")["error"]
    with pytest.raises(UnknownInstance):
        store.score(more, "x")
    assert "unknown env id" in store.score_item({"env_id": "feasgym/Nope-v0", "seed": 0, "split": "train",
                                                 "instance": 0}, "x")["error"]
