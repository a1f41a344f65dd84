"""OpenRLHF adapter, called by OpenRLHF's own SingleTurnAgentExecutor: the reward file by path and the HTTP endpoint."""
import asyncio
import json
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest

import feasgym.integrations.openrlhf as orl
from feasgym.datasets import export_records
from feasgym.envs.rewards import trl_reward_functions
from feasgym.integrations.scoring import InstanceKey, InstanceStore
from feasgym.integrations.server import create_app, serve_in_background
from tests.test_integrations_verl import _tokenizer

ENV_ID = "feasgym/ACOPF-case5-v0"


@pytest.fixture(scope="module")
def cases():
    rows = export_records(ENV_ID, n=2, seed=21, progress=False)
    out = []
    for row in rows:
        env = gym.make(ENV_ID)
        env.reset(seed=row["seed"], options={"instance": row["instance"]})
        u = env.unwrapped
        answers = [u.reference_answer(), u.nominal_answer(), u.random_answer(np.random.default_rng(2)), "no idea"]
        out += [(row, a, u.score(a)) for a in answers]
    tokenizer = _tokenizer([r["prompt"] for r, _, _ in out] + [a for _, a, _ in out])
    return out, tokenizer


class Engine:
    """Stands in for vLLM: ``generate`` returns the given answer's tokens (what the executor awaits)."""

    def __init__(self, tokenizer, answer):
        self.ids = tokenizer(answer, add_special_tokens=False)["input_ids"]

    async def generate(self, prompt_token_ids, params, multi_modal_data=None):
        return SimpleNamespace(outputs=[SimpleNamespace(token_ids=list(self.ids), finish_reason="stop", logprobs=None)])


def _run(executor, cases):
    rows, tokenizer = cases
    params = SimpleNamespace(max_tokens=4096, logprobs=None)

    async def all_of():
        return await asyncio.gather(*(executor.execute(row["prompt"], orl.openrlhf_label(row), params, 16384,
                                                       tokenizer, Engine(tokenizer, answer))
                                      for row, answer, _ in rows))

    return asyncio.run(all_of())


def _trl(rows):
    columns = {c: [r[c] for r, _, _ in rows] for c in ("env_id", "seed", "split", "instance", "prompt_hash")}
    return [f(completions=[a for _, a, _ in rows], **columns) for f in trl_reward_functions(ENV_ID)]


def test_openrlhf_loads_the_reward_file_by_path(cases, monkeypatch):
    from openrlhf.utils.agent import SingleTurnAgentExecutor

    rows, _ = cases
    outputs = _run(SingleTurnAgentExecutor(remote_rm_url=orl.__file__), cases)
    assert [float(o["reward"][0]) for o in outputs] == pytest.approx([w["reward"] for _, _, w in rows], abs=1e-6)
    fmt, feas, opt = _trl(rows)
    logs = [o["extra_logs"] for o in outputs]
    assert [float(x["format"][0]) for x in logs] == pytest.approx(fmt)
    assert [float(x["feasibility"][0]) for x in logs] == pytest.approx(feas)
    assert [float(x["optimality"][0]) for x in logs] == pytest.approx(opt)
    assert [float(x["feasible"][0]) for x in logs] == [float(w["feasibility"]["feasible"]) for _, _, w in rows]

    monkeypatch.setenv(orl.WEIGHTS_ENV, "0.1,1,0.3")
    outputs = _run(SingleTurnAgentExecutor(remote_rm_url=orl.__file__), cases)
    want = [0.1 * a + b + 0.3 * c for a, b, c in zip(fmt, feas, opt)]
    assert [float(o["reward"][0]) for o in outputs] == pytest.approx(want, abs=1e-6)


def test_openrlhf_remote_reward_over_http(cases):
    from openrlhf.utils.agent import SingleTurnAgentExecutor

    rows, _ = cases
    store = InstanceStore(lazy=False)
    store.preload({InstanceKey.from_mapping(r) for r, _, _ in rows})
    with serve_in_background(create_app(store)) as url:
        outputs = _run(SingleTurnAgentExecutor(remote_rm_url=f"{url}/openrlhf"), cases)
        import urllib.error
        import urllib.request

        bad = json.dumps({"query": ["x"], "prompts": ["x"], "labels": ["{}"]}).encode()
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(urllib.request.Request(f"{url}/openrlhf", data=bad), timeout=10)
        assert err.value.code == 422 and "env_id" in json.loads(err.value.read())["error"]
    # each rollout is one request of one sample: JSON lists of length 1
    assert [o["reward"][0] for o in outputs] == pytest.approx([w["reward"] for _, _, w in rows], abs=1e-12)
    assert [o["extra_logs"]["constraint_rate"] for o in outputs] == [[w["feasibility"]["score"]] for _, _, w in rows]


def test_response_text_and_label_guard(cases):
    rows, _ = cases
    row, answer, want = rows[0]
    assert orl.response_text(row["prompt"] + answer, row["prompt"]) == answer
    templated = "<s>[INST]" + row["prompt"] + "[/INST]"  # decoding may respace the special tokens at the start
    assert orl.response_text("<s> [INST]" + row["prompt"] + "[/INST]" + answer, templated) == answer
    out = orl.reward_func(["<s>" + row["prompt"] + answer], [row["prompt"]], [orl.openrlhf_label(row)])
    assert float(out["rewards"][0]) == pytest.approx(want["reward"])
    label = json.loads(orl.openrlhf_label(row))
    label["prompt_hash"] = "1" * 16
    with pytest.raises(ValueError, match="prompt_hash"):
        orl.reward_func([row["prompt"] + answer], [row["prompt"]], [json.dumps(label)])
    with pytest.raises(ValueError, match="differ in length"):
        orl.reward_func(["a", "b"], ["a"], [orl.openrlhf_label(row)])
