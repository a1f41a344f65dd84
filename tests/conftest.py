"""Shared test setup: an isolated reference cache per test session, offline HF libraries."""
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory):
    """Tests share one reference cache (so solves are done once) that is not the user's."""
    if "FEASGYM_CACHE" not in os.environ:
        os.environ["FEASGYM_CACHE"] = str(tmp_path_factory.mktemp("feasgym-cache"))
    yield
