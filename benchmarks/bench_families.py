"""Scoring speed of the power-flow, DC-OPF and portfolio families on their largest registered size.

For each family, the median time of score() on the oracle answer and on a wrong (looks-right)
answer, against a library path that checks the same answer, measured in the same run:
- PowerFlow-case118: pandapower's AC power flow from the answer's setpoints plus its result
  tables (the lead's PandapowerChecker, as in bench_acopf_score.py);
- DCOPF-case118: pandapower's DC power flow (rundcpp) of the answered dispatch plus its
  line/transformer result tables;
- Portfolio-n100: json.loads of the answer and every constraint re-evaluated as plain numpy
  expressions on the dense covariance (what a user would write by hand).
Target (issue 3): every score() <= 1 ms. Also printed: the family's own checker time (check +
answer_errors on parsed values), to separate it from the shared parsing and reporting.

    python benchmarks/bench_families.py
"""
from __future__ import annotations

import json
import warnings

import gymnasium as gym
import numpy as np

import feasgym  # noqa: F401
from feasgym.envs.core.family import values_from_solution
from feasgym.envs.grids.pandapower_check import PandapowerChecker
from timing import median_us  # benchmarks/timing.py

TARGET_US = 1000.0


def powerflow_library_path(env):
    checker = PandapowerChecker(env.instance)
    vals = values_from_solution(env._solution)
    g, b = vals["generators"], vals["buses"]
    return lambda: checker.violations(g["p_mw"], g["q_mvar"], b["vm_pu"], b["va_deg"])


def dcopf_library_path(env):
    import pandapower as pp

    checker = PandapowerChecker(env.instance)
    net, lookup = checker.net, checker.gen_lookup
    pg = values_from_solution(env._solution)["generators"]["p_mw"]

    def run():
        for g, (element, kind) in enumerate(lookup):
            if kind in ("gen", "sgen"):
                getattr(net, kind).at[element, "p_mw"] = pg[g]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pp.rundcpp(net)
        flows = np.r_[net.res_line["p_from_mw"].to_numpy(), net.res_trafo["p_hv_mw"].to_numpy()]
        return net.res_ext_grid["p_mw"].to_numpy(), flows
    return run


def portfolio_library_path(env):
    inst = env.instance
    sigma = inst.covariance()
    answer = env.reference_answer()
    index = {t: i for i, t in enumerate(inst.tickers)}
    sectors = inst.sector_matrix().toarray()

    def run():
        data = json.loads(answer)["weights"]
        w = np.zeros(inst.n)
        for ticker, record in data.items():
            w[index[ticker]] = record["w"]
        return (abs(w.sum() - 1), np.maximum(w - inst.max_weight, 0).max(), np.maximum(-w, 0).max(),
                np.maximum(sectors @ w - inst.sector_cap, 0).max(),
                max(np.abs(w - inst.current).sum() - inst.turnover_limit, 0), max(inst.min_return - inst.mu @ w, 0),
                w @ sigma @ w)
    return run


CASES = (
    ("feasgym/PowerFlow-case118-v0", "pandapower runpp + tables", powerflow_library_path, 15),
    ("feasgym/DCOPF-case118-v0", "pandapower rundcpp + tables", dcopf_library_path, 30),
    ("feasgym/Portfolio-n100-v0", "json + numpy dense re-check", portfolio_library_path, 300),
)


def main() -> None:
    print(f"{'env id':32s} {'what':30s} {'median':>10s}  notes")
    worst = 0.0
    for env_id, library, make_path, repeat in CASES:
        env = gym.make(env_id).unwrapped
        env.reset(seed=0)
        oracle, wrong = env.reference_answer(), env.nominal_answer()
        assert env.score(oracle)["feasibility"]["feasible"] and not env.score(wrong)["feasibility"]["feasible"]
        t_oracle = median_us(lambda: env.score(oracle), 300)
        t_wrong = median_us(lambda: env.score(wrong), 300)
        t_lib = median_us(make_path(env), repeat)
        values = values_from_solution(env._solution)
        t_family = median_us(lambda: (env.family.check(env.instance, values),
                                      env.family.answer_errors(env.instance, values, env._solution)), 300)
        worst = max(worst, t_oracle, t_wrong)
        print(f"{env_id:32s} {'score() oracle':30s} {t_oracle:8.0f}us  target <= {TARGET_US:.0f}us: "
              f"{'ok' if t_oracle <= TARGET_US else 'MISSED'}")
        print(f"{env_id:32s} {'score() looks-right (wrong)':30s} {t_wrong:8.0f}us  target <= {TARGET_US:.0f}us: "
              f"{'ok' if t_wrong <= TARGET_US else 'MISSED'}")
        print(f"{env_id:32s} {'  of which the family checker':30s} {t_family:8.0f}us  "
              "(the rest: shared JSON location, format checks, constraint report)")
        print(f"{env_id:32s} {library:30s} {t_lib:8.0f}us  ratio library/feasgym: {t_lib / t_oracle:.1f}x")
    print(f"slowest score(): {worst:.0f}us ({'all within' if worst <= TARGET_US else 'over'} the 1 ms target); "
          f"numpy {np.__version__}")


if __name__ == "__main__":
    main()
