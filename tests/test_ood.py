"""Out-of-distribution ids: contract, each variant differs from its base as documented, the oracle still passes."""
from __future__ import annotations

import dataclasses
import re

import gymnasium as gym
import numpy as np
import pytest

import feasgym  # noqa: F401
from feasgym.envs.grids.case import base_loads
from feasgym.envs.grids.instance import default_ids
from feasgym.envs.portfolio.instance import default_sector_count, max_return
from feasgym.envs.registry import ENV_IDS, ENV_SPECS


OOD_IDS = [i for i in ENV_IDS if "-ood-" in i]
# check_env, the oracle and bad inputs of every OOD id: tests/test_contract.py


def test_every_base_id_has_its_ood_variants():
    """The variants the README's OOD table promises per family (written out here, not read from the registry)."""
    promised = {"ACOPF": ("load", "n1", "relabel"), "PowerFlow": ("load", "n1", "relabel"),
                "DCOPF": ("load", "n1", "relabel"), "Portfolio": ("return", "sectors", "relabel"),
                "UC": ("peak", "outage", "relabel")}
    bases = [i for i in ENV_IDS if "-ood-" not in i]
    expected = {b.replace("-v0", f"-ood-{k}-v0") for b in bases for k in promised[ENV_SPECS[b][1]["family"]]}
    assert set(OOD_IDS) == expected
    for env_id in OOD_IDS:
        kwargs = ENV_SPECS[env_id][1]
        assert kwargs["split"] == "ood" and kwargs["ood"] in (
            "load", "n-1", "relabel", "return", "sectors", "peak", "outage")


@pytest.mark.parametrize("family", ["ACOPF", "PowerFlow", "DCOPF", "Portfolio"])
def test_ood_variants_change_only_the_ood_split(family):
    size = "n10" if family == "Portfolio" else "case5"
    kind = "return" if family == "Portfolio" else "load"
    base, ood = f"feasgym/{family}-{size}-v0", f"feasgym/{family}-{size}-ood-{kind}-v0"
    for split in ("train", "test"):
        assert gym.make(ood, split=split).reset(seed=3)[0] == gym.make(base, split=split).reset(seed=3)[0]
    assert gym.make(ood).reset(seed=3)[0] != gym.make(base, split="ood").reset(seed=3)[0]


def test_split_streams_are_disjoint():
    env = gym.make("feasgym/PowerFlow-case5-v0").unwrapped
    hashes = {}
    for split in ("train", "test", "ood"):
        env.split = split
        hashes[split] = {env.reset(seed=0, options={"instance": k})[1]["prompt_hash"] for k in range(10)}
    assert all(len(h) == 10 for h in hashes.values())
    assert not (hashes["train"] & hashes["test"]) and not (hashes["train"] & hashes["ood"]) and not (hashes["test"] & hashes["ood"])


@pytest.mark.parametrize("family", ["PowerFlow", "DCOPF", "ACOPF"])
def test_load_shift_is_below_the_training_range(family):
    pd0 = base_loads("case14")[0].sum()
    ratios = {}
    for split, env_id in (("train", f"feasgym/{family}-case14-v0"), ("ood", f"feasgym/{family}-case14-ood-load-v0")):
        env = gym.make(env_id).unwrapped
        ratios[split] = []
        for k in range(4):
            env.reset(seed=0, options={"instance": k})
            ratios[split].append(env.instance.pd_mw.sum() / pd0)
    # total load = global factor (train U[0.8, 1.1], ood U[0.6, 0.8]) x a load-weighted mean of
    # per-load factors U[0.9, 1.1], which stays within a few percent of 1
    assert max(ratios["ood"]) < 0.8 * 1.06 and min(ratios["train"]) > 0.8 * 0.94
    assert np.mean(ratios["ood"]) < np.mean(ratios["train"])


@pytest.mark.parametrize("family", ["PowerFlow", "DCOPF", "ACOPF"])
def test_n_minus_1_removes_a_branch(family):
    env = gym.make(f"feasgym/{family}-case14-ood-n1-v0").unwrapped
    outages = set()
    for k in range(3):
        prompt, _ = env.reset(seed=0, options={"instance": k})
        inst = env.instance
        assert inst.outage is not None and inst.model.n_branch == 19
        assert f"L{inst.outage + 1} is out of service" in prompt
        assert env.score(env.reference_answer())["feasibility"]["feasible"]
        outages.add(inst.outage)
    assert len(outages) > 1


@pytest.mark.parametrize("family", ["PowerFlow", "DCOPF", "ACOPF"])
def test_relabel_breaks_a_memorized_template_but_not_a_solver(family):
    env = gym.make(f"feasgym/{family}-case14-ood-relabel-v0").unwrapped
    prompt, _ = env.reset(seed=0)
    inst = env.instance
    old_buses, old_gens, old_branches = default_ids(inst.model)
    assert not set(inst.bus_ids) & set(old_buses) and not set(inst.gen_ids) & set(old_gens)
    assert not set(inst.branch_ids) & set(old_branches)
    assert not np.array_equal(inst.bus_order, np.arange(14)) and not np.array_equal(inst.branch_order, np.arange(20))
    bus_rows = prompt.split("Buses (14):\n")[1].splitlines()[1:15]
    assert [r.split(",")[0] for r in bus_rows] == [inst.bus_ids[i] for i in inst.bus_order]
    assert f"Reference bus {inst.bus_ids[inst.model.ref]}" in prompt or f"reference bus {inst.bus_ids[inst.model.ref]}" in prompt
    # The right numbers under the case's usual ids (a memorized layout) fail; the solver's answer passes.
    template_inst = dataclasses.replace(inst, bus_ids=old_buses, gen_ids=old_gens, branch_ids=old_branches)
    from feasgym.envs.core.family import values_from_solution

    template = env.family.schema(template_inst).write(values_from_solution(env._solution))
    s = env.score(template)
    checks = {c["name"]: c["passed"] for c in s["format"]["checks"]}
    assert not checks["ids_valid"] and not checks["ids_complete"] and not s["feasibility"]["feasible"]
    assert env.score(env.reference_answer())["feasibility"]["feasible"]


def test_portfolio_return_shift_raises_the_floor_and_the_risk():
    train = gym.make("feasgym/Portfolio-n30-v0").unwrapped
    ood = gym.make("feasgym/Portfolio-n30-ood-return-v0").unwrapped
    for k in range(3):
        fractions = {}
        for name, env in (("train", train), ("ood", ood)):
            env.reset(seed=0, options={"instance": k})
            inst = env.instance
            base = inst.mu @ inst.current
            fractions[name] = (inst.min_return - base) / (max_return(inst) - base)
            assert env.score(env.reference_answer())["feasibility"]["feasible"]
        assert 0.2 - 0.01 <= fractions["train"] <= 0.6 and 0.8 - 0.01 <= fractions["ood"] <= 0.95
        assert ood.instance.factor_cov[0, 0] > (16 * 0.85 * 1.5) ** 2 - 1 > (16 * 1.15) ** 2 + 1 > train.instance.factor_cov[0, 0]


def test_portfolio_sector_structure_differs():
    env = gym.make("feasgym/Portfolio-n30-ood-sectors-v0").unwrapped
    base = gym.make("feasgym/Portfolio-n30-v0").unwrapped
    for k in range(3):
        env.reset(seed=0, options={"instance": k})
        base.reset(seed=0, options={"instance": k})
        assert len(base.instance.sectors) == default_sector_count(30) == 4
        assert len(env.instance.sectors) == 8
        assert env.score(env.reference_answer())["feasibility"]["feasible"]


def test_portfolio_relabel_uses_new_ticker_style_and_shuffles_rows():
    env = gym.make("feasgym/Portfolio-n30-ood-relabel-v0").unwrapped
    base = gym.make("feasgym/Portfolio-n30-v0").unwrapped
    prompt, _ = env.reset(seed=0)
    base.reset(seed=0)
    inst = env.instance
    assert all(re.fullmatch(r"[A-Z]{5}", t) for t in inst.tickers)
    assert all(re.fullmatch(r"[A-Z]{3,4}", t) for t in base.instance.tickers)
    grouped = base.instance.sector_of[base.instance.order]
    assert np.all(np.diff(grouped) >= 0)  # training prompts list assets by sector
    assert np.any(np.diff(inst.sector_of[inst.order]) < 0)
    assert env.score(env.reference_answer())["feasibility"]["feasible"]


def test_readme_lists_every_registered_id_once():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    rows = re.findall(r"^\| `(feasgym/[^`]+)` \|", readme, flags=re.M)
    assert sorted(rows) == sorted(ENV_IDS)
