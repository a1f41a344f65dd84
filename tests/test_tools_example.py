"""examples/tools_episode.py runs in its smoke mode (what CI runs)."""
from .helpers import load_example


def test_tools_example_smoke(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FEASGYM_SMOKE", "1")
    module = load_example("tools_episode")
    result = module.main(["--out", str(tmp_path)])
    calls = result["final"]["tool_calls"]
    assert calls["by_tool"] == {"power_flow": 1, "check": 1} and calls["malformed"] == 1
    assert calls["cost"] == 0.03 and result["final"]["format"]["score"] == 1.0
    agents = result["summary"]["envs"]["feasgym/ACOPF-case5-v0"]["agents"]
    assert agents["tool-user+tools"]["feasible"]["mean"] > agents["looks-right"]["feasible"]["mean"]
    out = capsys.readouterr().out
    assert "power_flow: converged=True" in out and "report:" in out
