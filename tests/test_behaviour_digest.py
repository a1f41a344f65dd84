"""Every id's prompts and the scores of fixed answers are what the stored digest says (see tests/behaviour_digest.py),
and what they were before the family-registration refactor (see tests/behaviour_digest_pre_refactor.py)."""
from __future__ import annotations

import functools
import json

import pytest

from .behaviour_digest import PATH, digest_of
from .behaviour_digest_pre_refactor import PATH as PRE_PATH

STORED = json.loads(PATH.read_text()) if PATH.exists() else {}
PRE = json.loads(PRE_PATH.read_text())
_digest = functools.cache(digest_of)  # the pre-refactor tests reuse the digests the per-id tests computed


@pytest.mark.parametrize("env_id", sorted(STORED))
def test_behaviour_is_unchanged(env_id):
    assert _digest(env_id) == STORED[env_id], (
        f"{env_id}: prompts or scores changed; if deliberate, rerun `python -m tests.behaviour_digest`")


def test_the_digest_covers_every_id():
    from feasgym.envs.registry import ENV_IDS

    assert STORED, "tests/data/behaviour_digest.json is missing: run `python -m tests.behaviour_digest`"
    assert sorted(STORED) == sorted(ENV_IDS)


def test_only_the_explained_ids_changed_since_before_the_refactor():
    """Digests made on 6b2839c (before 0d3a3c0) equal today's except where a deliberate later commit is recorded."""
    changed = {i for i, d in PRE["digests"].items() if _digest(i) != d}
    unexplained, stale = changed - set(PRE["explained"]), set(PRE["explained"]) - changed
    assert not unexplained, f"behaviour changed since {PRE['produced_by']['commit'][:7]} with no recorded cause " \
        f"(bisect, then record commit and reason under 'explained' in {PRE_PATH.name}): {sorted(unexplained)}"
    assert not stale, f"recorded as changed but now as before the refactor: {sorted(stale)}"


def test_the_reconstructed_pre_refactor_tree_behaves_as_today():
    """The ids the base commit cannot score (ACOPF) have a baseline: the base tree plus 702ebe7's AC-OPF edits."""
    rebuilt = PRE["reconstructed"]["digests"]
    assert set(PRE["unscorable"]) <= set(rebuilt)
    assert sorted(i for i, d in rebuilt.items() if _digest(i) != d) == []


def test_every_pre_refactor_id_is_still_registered():
    from feasgym.envs.registry import ENV_IDS

    before = set(PRE["digests"]) | set(PRE["unscorable"])
    assert len(before) == 72 and set(PRE["explained"]) <= set(PRE["digests"])
    assert before <= set(ENV_IDS), sorted(before - set(ENV_IDS))
