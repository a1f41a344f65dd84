"""verifiers adapter: load_environment, evaluated by verifiers against an OpenAI-compatible server on loopback."""
import gymnasium as gym
import pytest

from feasgym.envs.rewards import completion_text
from feasgym.integrations.verifiers import load_environment

from .openai_server import LoopbackChatServer

ENV_ID = "feasgym/ACOPF-case5-v0"


def test_verifiers_evaluate_against_a_local_server(monkeypatch):
    from verifiers.types import ClientConfig

    env = load_environment(ENV_ID, n=2, seed=3, eval_n=3, eval_seed=5, weights={"feasibility": 1.0, "format": 0.5},
                           system_prompt="Reply with JSON only.")
    check = gym.make(ENV_ID, split="test")
    by_prompt = {}
    for k in range(3):  # instance 0: the oracle, 1: the unperturbed optimum (infeasible here), 2: prose
        prompt, _ = check.reset(seed=5, options={"instance": k})
        u = check.unwrapped
        by_prompt[prompt] = (k, [u.reference_answer(), u.nominal_answer(), "I would rather not."][k])
    monkeypatch.setenv("FEASGYM_TEST_KEY", "test-key")
    with LoopbackChatServer(lambda request: by_prompt[request.prompt][1]) as server:
        client = ClientConfig(api_base_url=server.url, api_key_var="FEASGYM_TEST_KEY", max_retries=0, timeout=60)
        out = env.evaluate_sync(client=client, model="tiny", num_examples=3, rollouts_per_example=1,
                                sampling_args={"temperature": 0.0, "max_tokens": 512})
    assert len(server.bodies) == 3 and server.bodies[0]["messages"][0] == {"role": "system",
                                                                           "content": "Reply with JSON only."}
    rows = out["outputs"]
    assert len(rows) == 3
    for row in rows:
        metrics, reward = row["metrics"], row["reward"]
        k, answer = by_prompt[row["prompt"][-1]["content"]]
        check.reset(seed=5, options={"instance": k})
        want = check.unwrapped.score(answer)
        feas = 1.0 if want["feasibility"]["feasible"] else 0.5 * want["feasibility"]["score"]
        assert metrics["format_reward"] == want["format"]["score"]
        assert metrics["feasibility_reward"] == feas
        assert metrics["constraint_rate"] == want["feasibility"]["score"]
        assert metrics["feasible"] == float(want["feasibility"]["feasible"])
        assert reward == pytest.approx(0.5 * want["format"]["score"] + feas)  # optimality logged at weight 0
    assert sorted(r["metrics"]["feasible"] for r in rows) == [0, 0, 1]


def test_load_environment_checks_rows_and_weights():
    from feasgym.datasets import export_dataset

    rows = export_dataset(ENV_ID, n=1, seed=3, progress=False)
    bad = rows.map(lambda r: {"prompt_hash": "3" * 16})
    with pytest.raises(ValueError, match="prompt_hash"):
        load_environment(ENV_ID, dataset=bad, eval_n=0)
    with pytest.raises(ValueError, match="weights"):
        load_environment(ENV_ID, dataset=rows, eval_n=0, weights={"speed": 1.0})
    chat = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "A"}, {"role": "user", "content": "B"}]
    assert completion_text(chat) == "A" and completion_text([]) == ""  # the text the rubric scores
