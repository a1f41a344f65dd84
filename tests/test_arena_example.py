"""examples/compare.py runs in its smoke mode (what CI runs) and calibrates the baselines."""
from .helpers import load_example


def test_example_compare_smoke(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FEASGYM_SMOKE", "1")
    module = load_example("compare")
    summary = module.main(["--out", str(tmp_path)])
    assert list(summary["envs"]) == ["feasgym/ACOPF-case5-v0", "N-1 (one branch out)"]
    for section in summary["envs"].values():
        agents = section["agents"]
        assert agents["oracle"]["feasible"]["mean"] == 1.0 and agents["looks-right"]["feasible"]["mean"] == 0.0
        assert agents["looks-right"]["format"]["mean"] == 1.0 and agents["oracle"]["n"] == 3
    assert "report:" in capsys.readouterr().out
    assert (tmp_path / "report.md").read_text().count("## ") >= 2 and (tmp_path / "gap.png").stat().st_size > 0
