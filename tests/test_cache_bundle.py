"""Reference bundles: solved instances shipped as one file; a node that imports them solves nothing (envs, TRL rewards, arena, export)."""
import gzip
import json

import gymnasium as gym
import pytest

import feasgym  # noqa: F401
from feasgym.cli import main
from feasgym.envs.core.bundle import export_bundle, import_bundle, read_bundle
from feasgym.envs.core.cache import iter_records

ENV_ID = "feasgym/ACOPF-case5-v0"
SEED, N = 11, 3  # test-split instances of a seed no other test uses


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    """A "cluster" cache with N test-split instances (and the nominal solution), and its bundle."""
    source = tmp_path_factory.mktemp("cluster-cache")
    from feasgym.datasets import export_records

    rows = export_records(ENV_ID, split="test", seed=SEED, n=N, env_kwargs={"cache_dir": str(source)}, progress=False)
    env = gym.make(ENV_ID, cache_dir=source, split="test")
    env.reset(seed=SEED)
    env.unwrapped.nominal_answer()
    bundle = tmp_path_factory.mktemp("ship") / "refs.jsonl.gz"
    report = export_bundle(bundle, source)
    assert report.written == N + 1 and not report.problems
    return source, bundle, rows


def _no_solving(monkeypatch):
    family = type(gym.make(ENV_ID).unwrapped.family)
    monkeypatch.setattr(family, "solve", lambda self, inst: pytest.fail("solved on the training node"))


def test_imported_references_are_read_by_envs_rewards_arena_and_export(solved, tmp_path, monkeypatch):
    source, bundle, rows = solved
    node = tmp_path / "node-cache"
    report = import_bundle(bundle, node)
    assert report.written == N + 1 and report.complete and not report.problems
    assert sorted(p.name for p, rec, _ in iter_records(node) if rec) == sorted(p.name for p, rec, _ in iter_records(source) if rec)
    monkeypatch.setenv("FEASGYM_CACHE", str(node))  # the node's default cache: what every env reads
    _no_solving(monkeypatch)

    env = gym.make(ENV_ID, split="test")
    for row in rows:
        prompt, info = env.reset(seed=SEED, options={"instance": row["instance"]})
        assert prompt == row["prompt"] and env.unwrapped.reference_answer() == row["completion"]
    assert env.unwrapped.nominal_answer()

    from feasgym.envs.rewards import trl_reward_functions

    fmt, feas, opt = trl_reward_functions(ENV_ID)
    columns = {c: [r[c] for r in rows] for c in ("env_id", "seed", "split", "instance", "prompt_hash")}
    assert feas(completions=[r["completion"] for r in rows], **columns) == [1.0] * N

    from feasgym.agents.arena import run_arena

    summary = run_arena([ENV_ID], {"oracle": "oracle"}, episodes=N, seed=SEED, split="test",
                        out_dir=tmp_path / "arena", progress=False)
    assert json.dumps(summary)  # ran every episode without a solve

    from feasgym.datasets import export_records

    again = export_records(ENV_ID, split="test", seed=SEED, n=N, executor="serial", progress=False)
    strip = lambda rs: [{k: v for k, v in r.items() if k != "env_kwargs"} for r in rs]  # noqa: E731 (cache_dir differs)
    assert strip(again) == strip(rows)


def test_cli_cache_export_import_and_check(solved, tmp_path, capsys):
    source, _, _ = solved
    out = tmp_path / "only-test.jsonl"
    assert main(["cache", "export", str(out), "--cache-dir", str(source), "--env", ENV_ID, "--split", "test",
                 "--seed", str(SEED)]) == 0
    assert f"wrote {N + 1} references from {source} to {out}" in capsys.readouterr().out
    assert main(["cache", "export", str(tmp_path / "none.jsonl"), "--cache-dir", str(source), "--env", ENV_ID,
                 "--env-kwarg", "answer_mode=setpoints"]) == 0  # another configuration: another namespace
    assert "wrote 0 references" in capsys.readouterr().out
    node = tmp_path / "node"
    assert main(["cache", "import", str(out), "--cache-dir", str(node)]) == 0
    assert f"imported {N + 1} references" in capsys.readouterr().out
    assert main(["cache", "check", "--cache-dir", str(node)]) == 0
    assert f"{N + 1} good, 0 bad" in capsys.readouterr().out
    assert main(["cache", "import", str(tmp_path / "missing.jsonl")]) == 2
    assert "no reference bundle at" in capsys.readouterr().err
    (tmp_path / "notes.jsonl").write_text('{"hello": 1}\n')
    assert main(["cache", "import", str(tmp_path / "notes.jsonl"), "--cache-dir", str(node)]) == 2
    assert "is not a feasgym reference bundle" in capsys.readouterr().err
    # A bad file in the cache is listed by check.
    victim = next(p for p, rec, _ in iter_records(node) if rec)
    victim.write_text("{}")
    assert main(["cache", "check", "--cache-dir", str(node)]) == 1
    assert f"{victim} is not a feasgym reference record" in capsys.readouterr().out


def test_tampered_and_truncated_bundles_import_only_verified_records(solved, tmp_path, capsys):
    _, bundle, _ = solved
    with gzip.open(bundle, "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    assert json.loads(lines[0])["feasgym_bundle"] == 1 and json.loads(lines[-1]) == {"feasgym_bundle_end": N + 1}
    tampered = json.loads(lines[1])
    tampered["solution"]["objective"] += 1.0  # checksum left as it was
    bad = tmp_path / "tampered.jsonl"
    bad.write_text("\n".join([lines[0], json.dumps(tampered)] + lines[2:]) + "\n")
    report = import_bundle(bad, tmp_path / "a")
    assert report.written == N and report.complete
    assert report.problems == [f"{bad}:2 checksum does not match its key and solution"]
    cut = tmp_path / "cut.jsonl"
    cut.write_text("\n".join(lines[:3]) + "\n" + lines[3][:50])  # the copy stopped mid-record
    report = import_bundle(cut, tmp_path / "b")
    assert report.written == 2 and not report.complete
    assert any("is truncated" in p for p in report.problems)
    assert main(["cache", "import", str(cut), "--cache-dir", str(tmp_path / "c")]) == 1
    assert "the bundle is truncated: re-copy it" in capsys.readouterr().out
    cut_gz = tmp_path / "cut.jsonl.gz"
    cut_gz.write_bytes(bundle.read_bytes()[:-40])
    outcome = list(read_bundle(cut_gz))
    assert outcome[-1][2] is True and sum(1 for rec, _, _ in outcome if rec) <= N + 1


def test_export_writes_a_bundle_of_its_rows(tmp_path, capsys):
    out, bundle = tmp_path / "rows.jsonl", tmp_path / "rows-refs.jsonl"
    assert main(["export", "--env", ENV_ID, "--n", "2", "--out", str(out), "--bundle", str(bundle), "--no-progress"]) == 0
    assert f"wrote 2 references to {bundle}" in capsys.readouterr().out
    records = [rec for rec, _, _ in read_bundle(bundle)]
    assert [r["key"]["instance"] for r in records] == [0, 1]
    node = tmp_path / "node"
    assert import_bundle(bundle, node).written == 2
    env = gym.make(ENV_ID, cache_dir=node)
    env.reset(seed=0, options={"instance": 1})
    assert env.unwrapped.reference_answer() == json.loads(out.read_text().splitlines()[1])["completion"]
