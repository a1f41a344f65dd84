"""lm-evaluation-harness task folder: lm_eval's hf model on the embedded tiny model (local folder, offline)."""
import json

import gymnasium as gym
import pytest

from feasgym.integrations.lm_eval import METRICS, main, process_results, task_name, write_task_folder

ENV_ID = "feasgym/ACOPF-case5-v0"


def test_task_folder_and_process_results(tmp_path):
    assert main(["--env", ENV_ID, "--split", "test", "--n", "2", "--seed", "4", "--out", str(tmp_path)]) == 0
    name = task_name(ENV_ID, "test")
    assert name == "feasgym_acopf_case5_test"
    yaml = (tmp_path / f"{name}.yaml").read_text()
    assert "process_results: !function utils.process_results" in yaml and "output_type: generate_until" in yaml
    assert "from feasgym.integrations.lm_eval import process_results" in (tmp_path / "utils.py").read_text()
    docs = [json.loads(line) for line in open(tmp_path / f"{name}.jsonl")]
    env = gym.make(ENV_ID, split="test")
    for doc in docs:
        env.reset(seed=4, options={"instance": doc["instance"]})
        oracle = process_results(doc, [doc["completion"]])
        assert (oracle["format"], oracle["constraint_satisfaction"], oracle["feasible"]) == (1.0, 1.0, 1.0)
        assert oracle["optimality"] == pytest.approx(1.0, abs=1e-4)  # the oracle at the prompt's decimals
        nominal = env.unwrapped.nominal_answer()
        want = env.unwrapped.score(nominal)
        got = process_results(doc, [nominal])
        assert got["constraint_satisfaction"] == want["feasibility"]["score"] < 1.0 and got["feasible"] == 0.0
    with pytest.raises(ValueError, match="prompt_hash"):
        process_results({**docs[0], "prompt_hash": "2" * 16}, [docs[0]["completion"]])


@pytest.mark.slow  # lm_eval + transformers imports, a tiny model and two greedy generations: ~40 s here
def test_lm_eval_hf_model_reports_the_three_rates(tmp_path):
    import lm_eval
    from lm_eval.tasks import TaskManager

    from feasgym.agents.training.base_model import TinyModelSpec, build_base_model

    names = write_task_folder(tmp_path / "tasks", [ENV_ID], split="test", n=2, seed=4, max_gen_toks=16)
    docs = [json.loads(line) for line in open(tmp_path / "tasks" / f"{names[0]}.jsonl")]
    model = build_base_model([d["prompt"] for d in docs] + [d["completion"] for d in docs], tmp_path / "model",
                             TinyModelSpec(num_layers=1, hidden_size=32, num_heads=2, max_positions=2048, vocab_size=400))
    out = lm_eval.simple_evaluate(model="hf", model_args=f"pretrained={model},dtype=float32", tasks=["feasgym"],
                                  task_manager=TaskManager(include_path=str(tmp_path / "tasks"), include_defaults=False),
                                  log_samples=True,
                                  device="cpu")
    result = out["results"][names[0]]
    samples = out["samples"][names[0]]
    assert result["sample_len"] == 2 and len(samples) == 2
    env = gym.make(ENV_ID, split="test")
    want = {m: [] for m in METRICS}
    for sample in samples:  # the harness's metrics are env.score of its own generations
        env.reset(seed=4, options={"instance": sample["doc"]["instance"]})
        score = env.unwrapped.score(sample["filtered_resps"][0])
        want["format"].append(score["format"]["score"])
        want["constraint_satisfaction"].append(score["feasibility"]["score"])
        want["feasible"].append(float(score["feasibility"]["feasible"]))
        want["optimality"].append(0.0 if not score["feasibility"]["feasible"] else sample["optimality"])
    for metric in METRICS:
        assert result[f"{metric},none"] == pytest.approx(sum(want[metric]) / 2)
