"""Package discovery for the folder layout (pyproject.toml holds everything else).

The import package ``feasgym`` maps three top-level folders: ``feasgym/`` -> ``feasgym``,
``envs/`` -> ``feasgym.envs``, ``agents/`` -> ``feasgym.agents``. setuptools' own ``find`` cannot
prefix a folder's packages with a name, so every folder holding an ``__init__.py`` under those roots
is listed here: a new family folder ships in the wheel without being named anywhere.
"""
from pathlib import Path

from setuptools import setup

ROOTS = {"feasgym": "feasgym", "feasgym.envs": "envs", "feasgym.agents": "agents"}


def discover(name: str, folder: str) -> list[str]:
    root = Path(__file__).parent / folder
    found = []
    for init in sorted(root.rglob("__init__.py")):
        rel = init.parent.relative_to(root).parts
        if "__pycache__" not in rel:
            found.append(".".join((name, *rel)))
    return found


packages = sorted({pkg for name, folder in ROOTS.items() for pkg in discover(name, folder)})
setup(packages=packages, package_dir=ROOTS)
