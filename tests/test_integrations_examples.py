"""The integration examples (serve, verl, OpenRLHF, verifiers, lm-eval) run in their smoke modes, as CI runs them."""
import pytest

from .helpers import load_example as _load


@pytest.fixture(autouse=True)
def _smoke(monkeypatch):
    monkeypatch.setenv("FEASGYM_SMOKE", "1")
    monkeypatch.setenv("OPENAI_API_KEY", "none")


def test_serve_scores(capsys):
    body = _load("serve_scores").main([])
    assert body["n"] == 6 and body["errors"] == 0
    assert [r["feasible"] for r in body["results"]] == [True, False, False] * 2
    assert "POST http://127.0.0.1:" in capsys.readouterr().out


def test_verl_rewards(tmp_path, capsys):
    summary = _load("verl_rewards").main(["--out", str(tmp_path)])
    assert (tmp_path / "train.parquet").exists() and (tmp_path / "test.parquet").exists()
    assert summary["oracle"]["feasible"] == 1.0 and summary["empty"]["score"] == 0.0
    assert 0.0 < summary["looks right"]["constraint_rate"] < 1.0
    assert "compute_score(" in capsys.readouterr().out


def test_openrlhf_rewards(tmp_path):
    out = _load("openrlhf_rewards").main(["--out", str(tmp_path / "prompts.jsonl")])
    assert out["rewards"][0] > 0.99 and out["rewards"][1] == 0.0
    assert len((tmp_path / "prompts.jsonl").read_text().splitlines()) == 2


def test_verifiers_eval():
    summary = _load("verifiers_eval").main([])
    assert summary["feasible"] == 1.0 and summary["format_reward"] == 1.0
    assert summary["reward"] == pytest.approx(0.1 + 1.0 + 0.3 * summary["optimality_reward"])


def test_lm_eval_tasks(tmp_path):
    summary = _load("lm_eval_tasks").main(["--out", str(tmp_path)])
    assert summary["feasgym_acopf_case5_test"]["feasible"] == 1.0
    assert (tmp_path / "feasgym_acopf_case5_test.yaml").exists() and (tmp_path / "utils.py").exists()
