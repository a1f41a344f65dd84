"""The wheel ships every module: build it, install it in a fresh venv, import each module from there.

The fresh venv takes the dependencies from this test environment's site-packages through a path
file (its .pth files are not run, so this checkout's editable install does not leak in); feasgym
itself must come from the wheel, and every module under its three folders must import.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _modules() -> list[str]:
    names = []
    for name, folder in {"feasgym": "feasgym", "feasgym.envs": "envs", "feasgym.agents": "agents"}.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "__pycache__" in path.parts or not (path.parent / "__init__.py").exists():
                continue
            rel = path.relative_to(ROOT / folder).with_suffix("").parts
            rel = rel[:-1] if rel[-1] == "__init__" else rel
            names.append(".".join((name, *rel)))
    return names


@pytest.mark.slow
def test_wheel_installs_every_module(tmp_path):
    wheel_dir, source = tmp_path / "wheel", tmp_path / "source"
    # built from a copy, so the build leaves no build/ or egg-info behind in the checkout
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "runs", ".feasgym-cache", "build",
                                                                 "*.egg-info", "__pycache__", ".pytest_cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(wheel_dir), str(source)], check=True, cwd=tmp_path)
    wheel = next(wheel_dir.glob("feasgym-*.whl"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    py = env_dir / "bin" / "python"
    site = Path(subprocess.check_output([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        text=True).strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, cwd=tmp_path)
    modules = _modules()
    assert "feasgym.envs.core.registration" in modules and "feasgym.agents.arena.runner" in modules
    script = ("import importlib, sys, feasgym\n"
              f"assert feasgym.__file__.startswith({str(site)!r}), feasgym.__file__\n"
              f"failed = []\n"
              f"for name in {modules!r}:\n"
              "    try:\n        importlib.import_module(name)\n"
              "    except Exception as exc:\n        failed.append(f'{name}: {exc!r}')\n"
              "print('\\n'.join(failed)); sys.exit(1 if failed else 0)\n")
    result = subprocess.run([str(py), "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
