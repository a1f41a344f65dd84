"""examples/quickstart.py, sb3_ppo.py and trl_grpo.py run in their smoke modes (what CI runs)."""
import pytest

from .helpers import load_example as _load


@pytest.fixture(autouse=True)
def _smoke(monkeypatch):
    monkeypatch.setenv("FEASGYM_SMOKE", "1")


def test_quickstart(capsys):
    summary = _load("quickstart").main([])
    assert summary["oracle"]["feasible"] and summary["oracle"]["reward"] > 0.99
    assert summary["looks right"]["format"] == 1.0 and not summary["looks right"]["feasible"]
    assert summary["prose"]["format"] == 0.0 and summary["prose"]["reward"] == 0.0
    assert "violated:" in capsys.readouterr().out


def test_sb3_ppo(capsys):
    results = _load("sb3_ppo").main([])
    assert set(results) == {"ppo", "random", "midpoint"}
    for r in results.values():
        assert 0.0 <= r["reward"] <= 1.0 and 0.0 <= r["constraint_rate"] <= 1.0
    assert "mean reward" in capsys.readouterr().out


def test_trl_grpo(capsys):
    summary = _load("trl_grpo").main([])
    assert list(summary) == ["format_reward", "feasibility_reward", "optimality_reward"]
    assert all(len(means) == 1 and 0.0 <= means[0] <= 1.0 for means in summary.values())
    assert "GRPO on feasgym/ACOPF-case5-v0: 1 logged step(s)" in capsys.readouterr().out
