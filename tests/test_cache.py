"""The reference cache trusts only files that prove they belong to their key; anything else is re-solved with a warning."""
import json
import warnings

import gymnasium as gym
import pytest

import feasgym  # noqa: F401
from feasgym.envs.core.cache import (CACHE_FORMAT, MEMORY_ENTRIES, Namespace, ReferenceCache, ReferenceCacheWarning,
                                     checksum, iter_records, record_problem, solution_problem, store_record)

ENV_ID = "feasgym/ACOPF-case5-v0"
K = 2  # the instance whose file is spoiled
OTHER = 1  # another instance, whose file is copied over K's


@pytest.fixture(scope="module")
def truth():
    """Instance K solved without any cache: the reference every spoiled file must give way to."""
    env = gym.make(ENV_ID, cache_dir=False)
    env.reset(seed=0, options={"instance": K})
    return env.unwrapped.reference_answer(), env.unwrapped.score(env.unwrapped.reference_answer())["optimality"]["reference_objective"]


def _cached_env(tmp_path):
    env = gym.make(ENV_ID, cache_dir=tmp_path)
    env.reset(seed=0, options={"instance": OTHER})
    env.reset(seed=0, options={"instance": K})
    path = env.unwrapped._cache.path(f"train-0-{K}")
    assert path.exists()
    return env, path


def _resealed(record):
    """A record edited after solving, with its checksum recomputed (so only the shape check can catch it)."""
    record["checksum"] = checksum(record["key"], record["solution"])
    return record


def _short_lists(record, other):
    record["solution"]["values"]["generators"]["p_mw"].pop()
    return json.dumps(_resealed(record))


def _wrong_types(record, other):
    record["solution"]["values"]["buses"]["vm_pu"][0] = "1.02"
    return json.dumps(_resealed(record))


def _string_objective(record, other):
    record["solution"]["objective"] = "17552"
    return json.dumps(_resealed(record))


def _tampered(record, other):
    record["solution"]["objective"] *= 0.5  # checksum left as it was
    return json.dumps(record)


def _no_solution(record, other):
    del record["solution"]
    return json.dumps(record)


def _old_layout(record, other):
    return json.dumps({"attempt": record["key"]["attempt"], "solution": record["solution"]})


SPOILERS = {
    "another instance's file": lambda record, other: json.dumps(other),
    "empty object": lambda record, other: "{}",
    "a list": lambda record, other: "[1, 2, 3]",
    "missing solution": _no_solution,
    "short value lists": _short_lists,
    "wrong value types": _wrong_types,
    "objective not a number": _string_objective,
    "checksum mismatch": _tampered,
    "truncated write": lambda record, other: json.dumps(record)[:200],
    "empty file": lambda record, other: "",
    "layout before checksums": _old_layout,
}
REASONS = {
    "another instance's file": "belongs to another key: instance=1 (expected 2)",
    "empty object": "is not a feasgym reference record",
    "a list": "holds a JSON list",
    "missing solution": "has no solution",
    "short value lists": "values.generators.p_mw has 4 entries, the instance has 5 generators",
    "wrong value types": "values.buses.vm_pu holds a value that is not a finite number",
    "objective not a number": "objective is '17552'",
    "checksum mismatch": "checksum does not match",
    "truncated write": "is not valid JSON",
    "empty file": "is not valid JSON",
    "layout before checksums": "is not a feasgym reference record",
}


@pytest.mark.parametrize("case", sorted(SPOILERS))
def test_a_spoiled_file_is_resolved_rewritten_and_named_once(case, truth, tmp_path):
    env, path = _cached_env(tmp_path)
    record = json.loads(path.read_text())
    other = json.loads(path.with_name(f"train-0-{OTHER}.json").read_text())
    path.write_text(SPOILERS[case](record, other))

    fresh = gym.make(ENV_ID, cache_dir=tmp_path)  # a new process would start with an empty memory
    with pytest.warns(ReferenceCacheWarning) as caught:
        fresh.reset(seed=0, options={"instance": K})
        score = fresh.unwrapped.score(truth[0])
    ours = [w for w in caught if issubclass(w.category, ReferenceCacheWarning)]
    assert len(ours) == 1
    message = str(ours[0].message)
    assert str(path) in message and REASONS[case] in message, message
    # The reference is instance K's own: the independent solve's answer scores as the reference.
    assert fresh.unwrapped.reference_answer() == truth[0]
    assert score["optimality"]["reference_objective"] == truth[1]
    assert score["feasibility"]["feasible"] and score["format"]["score"] == 1.0
    # ...and the file was rewritten: the next reader trusts it without a warning.
    assert record_problem(json.loads(path.read_text()), fresh.unwrapped.reference_record["key"] | {}) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReferenceCacheWarning)
        again = gym.make(ENV_ID, cache_dir=tmp_path)
        again.reset(seed=0, options={"instance": K})
    assert again.unwrapped.reference_answer() == truth[0]


def test_a_spoiled_nominal_file_is_resolved(tmp_path):
    env = gym.make(ENV_ID, cache_dir=tmp_path)
    env.reset(seed=0, options={"instance": 0})
    expected = env.unwrapped.nominal_answer()
    path = env.unwrapped._cache.path("nominal")
    record = json.loads(path.read_text())
    record["solution"]["values"]["buses"]["va_deg"] = record["solution"]["values"]["buses"]["va_deg"][:2]
    path.write_text(json.dumps(_resealed(record)))
    fresh = gym.make(ENV_ID, cache_dir=tmp_path)
    fresh.reset(seed=0, options={"instance": 0})
    with pytest.warns(ReferenceCacheWarning, match="nominal.json solution values.buses.va_deg has 2 entries"):
        assert fresh.unwrapped.nominal_answer() == expected


def test_good_files_are_read_without_solving_and_records_carry_their_full_key(tmp_path, monkeypatch):
    env, path = _cached_env(tmp_path)
    record = json.loads(path.read_text())
    assert record["feasgym_reference"] == CACHE_FORMAT and record["checksum"].startswith("sha256:")
    assert {k: record["key"][k] for k in ("family", "split", "seed", "instance", "attempt", "version")} == {
        "family": "ACOPF", "split": "train", "seed": 0, "instance": K, "attempt": record["key"]["attempt"],
        "version": feasgym.__version__}
    assert "pglib_opf_case5_pjm" in record["key"]["config"]
    fresh = gym.make(ENV_ID, cache_dir=tmp_path)
    monkeypatch.setattr(type(fresh.unwrapped.family), "solve", lambda self, inst: pytest.fail("solved again"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReferenceCacheWarning)
        fresh.reset(seed=0, options={"instance": K})
    assert fresh.unwrapped.reference_record == record
    # The scan used by bundles sees both files, and flags a file copied under another name.
    assert sorted(p.name for p, rec, problem in iter_records(tmp_path) if rec) == ["train-0-1.json", "train-0-2.json"]
    path.with_name("train-0-9.json").write_text(path.read_text())
    flagged = {p.name: problem for p, rec, problem in iter_records(tmp_path) if problem}
    assert list(flagged) == ["train-0-9.json"] and "holds the record of" in flagged["train-0-9.json"]


def test_record_and_solution_checks_directly():
    ns = Namespace("X", "cfg", "0")
    cache = ReferenceCache(ns, cache_dir=False)
    key = cache.key("train", 0, 3)
    good = {"values": {"s": {"f": [1.0, 2]}}, "objective": 3.5}
    record = cache.put("train-0-3", key, 0, good)
    assert record_problem(record, key) is None and cache.get("train-0-3", key) is record
    assert "belongs to another key: seed=0 (expected 1)" in record_problem(record, cache.key("train", 1, 3))
    assert solution_problem({"values": {"s": {"f": [1.0, float("nan")]}}, "objective": 1.0})
    assert solution_problem({"values": {"s": {"f": [True]}}, "objective": 1.0})
    assert solution_problem({"values": {}, "objective": 1.0}) == "solution has no values"
    assert "not a count" in record_problem({**record, "key": {**record["key"], "attempt": -1}})
    with pytest.raises(ValueError, match="checksum"):
        store_record({**record, "solution": {**good, "objective": 4.0}}, cache_dir=False)
    with pytest.raises(TypeError, match="Namespace"):
        ReferenceCache("X|cfg|0")
    # Memory is bounded: a long export does not keep every solution alive.
    for i in range(MEMORY_ENTRIES + 10):
        cache.put(f"train-0-{i}", cache.key("train", 0, i), 0, good)
    assert len(cache._memory) == MEMORY_ENTRIES
