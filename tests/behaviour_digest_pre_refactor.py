"""The behaviour digest of the code as it was *before* the family-registration refactor (issue 11).

tests/data/behaviour_digest.json was written after the refactor began, so it cannot show that the
refactor left behaviour alone. This script computes the same digest (the very ``digest_of`` of
tests/behaviour_digest.py, loaded by path) on the tree of ``BASE``, the parent of 0d3a3c0 ("Families
register themselves from their folder"), and writes tests/data/behaviour_digest_pre_refactor.json:

- ``digests``: every id ``BASE`` registers and can score, as committed. It checks ``BASE`` out in a
  git worktree and builds an import root where ``feasgym.envs``/``feasgym.agents`` are that tree's
  envs/ and agents/ (its pyproject's package-dir mapping; the editable install in .venv maps the
  current tree, and a path entry is found before the editable finder), with a cache of its own.
- ``unscorable``: ids whose ``score`` raises at ``BASE`` (ACOPF: f2b715d committed the system-wide
  balance rows in checks.py while acopf.py's matching edits stayed in the working tree until
  702ebe7, so every ACOPF answer fails with "a block of N rows got values of shape (N-2,)").
- ``reconstructed``: every id on ``BASE`` plus what 702ebe7 brought to the AC families (its
  case.py, opf_solver.py and acopf_ipopt.py, and tests/data/pre_refactor_acopf.patch: 702ebe7's
  acopf.py edits with the rows kept positional and ACOPFEnv kept, as the pre-refactor code had
  them), so the ACOPF ids have a pre-refactor baseline too.
- ``explained``: ids whose digest a later, deliberate commit changed (id -> commit and reason);
  they are findings, kept from the existing file, not output of this script.

    .venv/bin/python tests/behaviour_digest_pre_refactor.py   # a few minutes on 2 cores
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

BASE = "6b2839c"
AC_COMMIT = "702ebe7"
AC_FILES = ("envs/grids/case.py", "envs/grids/opf_solver.py", "envs/grids/acopf_ipopt.py")
REPO = Path(__file__).resolve().parents[1]
PATH = REPO / "tests" / "data" / "behaviour_digest_pre_refactor.json"
PATCH = REPO / "tests" / "data" / "pre_refactor_acopf.patch"
CHILD = """
import importlib.util, json, os, sys
import feasgym.envs
tree = os.path.realpath(feasgym.envs.__file__)
assert tree.startswith(os.path.realpath(sys.argv[2]) + os.sep), f"feasgym.envs comes from {tree}, not the old tree"
spec = importlib.util.spec_from_file_location("behaviour_digest", sys.argv[1])
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
digests, errors = {}, {}
for env_id in mod.ENV_IDS:
    try:
        digests[env_id] = mod.digest_of(env_id)
    except Exception as e:
        errors[env_id] = f"{type(e).__name__}: {e}"
print(json.dumps({"digests": digests, "errors": errors}))
"""


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *args], check=True, capture_output=True, text=True).stdout.strip()


def _import_root(tree: Path, root: Path) -> None:
    """root/feasgym = the old feasgym/ with envs/ and agents/ linked in, as the old package-dir maps them."""
    pkg = root / "feasgym"
    pkg.mkdir(parents=True)
    for entry in (tree / "feasgym").iterdir():
        (pkg / entry.name).symlink_to(entry)
    (pkg / "envs").symlink_to(tree / "envs")
    (pkg / "agents").symlink_to(tree / "agents")


def _digests(tree: Path, work: Path) -> dict:
    """Every id's digest on ``tree`` (and the error of each id that cannot be scored), in a fresh process and cache."""
    root, cache = work / "root", work / "cache"
    _import_root(tree, root)
    env = {**os.environ, "PYTHONPATH": str(root), "FEASGYM_CACHE": str(cache)}
    out = subprocess.run([sys.executable, "-c", CHILD, str(REPO / "tests" / "behaviour_digest.py"), str(tree)],
                         cwd=work, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    base = _git("rev-parse", BASE)
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp, "tree")
        _git("worktree", "add", "--detach", str(tree), base)
        try:
            committed = _digests(tree, Path(tmp, "committed"))
            subprocess.run(["git", "-C", str(tree), "checkout", AC_COMMIT, "--", *AC_FILES], check=True)
            subprocess.run(["git", "-C", str(tree), "apply", str(PATCH)], check=True)
            reconstructed = _digests(tree, Path(tmp, "reconstructed"))
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], check=False)
            subprocess.run(["git", "-C", str(REPO), "worktree", "prune"], check=False)
    if reconstructed["errors"]:
        raise SystemExit(f"the reconstructed tree cannot score {sorted(reconstructed['errors'])}")
    old = json.loads(PATH.read_text()) if PATH.exists() else {}
    PATH.write_text(json.dumps({
        "produced_by": {
            "commit": base,
            "how": "tests/behaviour_digest_pre_refactor.py: digest_of of tests/behaviour_digest.py (seed 7, instances "
                   "0 and 1; reference, nominal, random(rng(k)) and '{}' answers) run on a git worktree of this "
                   "commit, imported through a root mapping its envs/ and agents/ to feasgym.envs/feasgym.agents, "
                   "with a fresh FEASGYM_CACHE",
        },
        "digests": committed["digests"],
        "unscorable": committed["errors"],
        "reconstructed": {
            "tree": f"{base[:7]} + {AC_COMMIT}'s {', '.join(AC_FILES)} + tests/data/pre_refactor_acopf.patch "
                    f"({AC_COMMIT}'s acopf.py edits with positional rows and ACOPFEnv kept)",
            "digests": reconstructed["digests"],
        },
        "explained": old.get("explained", {}),
    }, indent=1, sort_keys=True) + "\n")
    print(f"wrote {PATH}")


if __name__ == "__main__":
    main()
