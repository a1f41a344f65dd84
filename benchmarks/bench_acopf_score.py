"""AC-OPF scoring speed: feasgym's score() vs checking the same answer through pandapower.

Prints, for case14 and case118, the median time of
- score() on the oracle answer and on a perturbed (infeasible) answer, full-state mode;
- the pandapower path on the same answer: load its setpoints into a prebuilt pandapower
  net, run pandapower's power flow and read the result tables (PandapowerChecker);
- score() in setpoint mode (runs an AC power flow per answer);
- reset() with a warm reference cache;
and the ratio pandapower / feasgym, all measured in the same run.
Targets (issue 2): full-state score() on case118 <= 0.5 ms and >= 40x faster than pandapower;
setpoint score() <= 2 ms on case118; warm reset() <= 5 ms.
"""
from __future__ import annotations

import json

import gymnasium as gym
import numpy as np

import feasgym  # noqa: F401
from feasgym.envs.core.family import values_from_solution
from feasgym.envs.grids.pandapower_check import PandapowerChecker
from timing import median_us  # benchmarks/timing.py


def perturbed_answer(text: str) -> str:
    data = json.loads(text)
    for record in data["buses"].values():
        record["vm_pu"] = round(record["vm_pu"] + 0.003, 5)
    return json.dumps(data, indent=1).replace(": 1.0,", ": 1.00000,")


def main() -> None:
    print(f"{'case':8s} {'what':34s} {'median':>12s}  notes")
    for case in ("case14", "case118"):
        env = gym.make(f"feasgym/ACOPF-{case}-v0")
        env.reset(seed=0)
        u = env.unwrapped
        oracle = u.reference_answer()
        wrong = perturbed_answer(oracle)
        assert u.score(oracle)["feasibility"]["feasible"] and not u.score(wrong)["feasibility"]["feasible"]
        t_oracle = median_us(lambda: u.score(oracle), 300)
        t_wrong = median_us(lambda: u.score(wrong), 300)
        checker = PandapowerChecker(u.instance)
        vals = values_from_solution(u._solution)
        g, b = vals["generators"], vals["buses"]
        t_pp = median_us(lambda: checker.violations(g["p_mw"], g["q_mvar"], b["vm_pu"], b["va_deg"]), 15)
        print(f"{case:8s} {'score() oracle, full state':34s} {t_oracle:10.0f}us")
        print(f"{case:8s} {'score() perturbed, full state':34s} {t_wrong:10.0f}us")
        print(f"{case:8s} {'pandapower path (runpp + tables)':34s} {t_pp:10.0f}us  "
              f"ratio pandapower/feasgym: {t_pp / t_oracle:.0f}x (oracle), {t_pp / t_wrong:.0f}x (perturbed)")

        env_sp = gym.make(f"feasgym/ACOPF-{case}-v0", answer_mode="setpoints")
        env_sp.reset(seed=0)
        sp = env_sp.unwrapped
        sp_answer = sp.reference_answer()
        t_sp = median_us(lambda: sp.score(sp_answer), 200)
        print(f"{case:8s} {'score() oracle, setpoint mode':34s} {t_sp:10.0f}us  ratio pandapower/feasgym: {t_pp / t_sp:.0f}x")

        for k in range(5):
            env.reset(seed=0, options={"instance": k})  # fill the cache
        fresh = gym.make(f"feasgym/ACOPF-{case}-v0")  # new process-level memory, same disk cache
        ks = iter(range(10**9))
        t_reset = median_us(lambda: fresh.reset(seed=0, options={"instance": next(ks) % 5}), 50)
        print(f"{case:8s} {'reset() with a warm cache':34s} {t_reset:10.0f}us")
    print("numpy", np.__version__)


if __name__ == "__main__":
    main()
