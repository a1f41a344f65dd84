"""examples/tools_episode.py runs in its smoke mode (what CI runs)."""
import importlib.util
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "tools_episode.py"


def test_tools_example_smoke(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FEASGYM_SMOKE", "1")
    spec = importlib.util.spec_from_file_location("example_tools_episode", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(["--out", str(tmp_path)])
    calls = result["final"]["tool_calls"]
    assert calls["by_tool"] == {"power_flow": 1, "check": 1} and calls["malformed"] == 1
    assert calls["cost"] == 0.03 and result["final"]["format"]["score"] == 1.0
    agents = result["summary"]["envs"]["feasgym/ACOPF-case5-v0"]["agents"]
    assert agents["tool-user+tools"]["feasible"]["mean"] > agents["looks-right"]["feasible"]["mean"]
    out = capsys.readouterr().out
    assert "power_flow: converged=True" in out and "report:" in out
