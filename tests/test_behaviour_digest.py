"""Every id's prompts and the scores of fixed answers are what the stored digest says (see tests/behaviour_digest.py)."""
from __future__ import annotations

import json

import pytest

from .behaviour_digest import PATH, digest_of

STORED = json.loads(PATH.read_text()) if PATH.exists() else {}


@pytest.mark.parametrize("env_id", sorted(STORED))
def test_behaviour_is_unchanged(env_id):
    assert digest_of(env_id) == STORED[env_id], (
        f"{env_id}: prompts or scores changed; if deliberate, rerun `python -m tests.behaviour_digest`")


def test_the_digest_covers_every_id():
    from feasgym.envs.registry import ENV_IDS

    assert STORED, "tests/data/behaviour_digest.json is missing: run `python -m tests.behaviour_digest`"
    assert sorted(STORED) == sorted(ENV_IDS)
