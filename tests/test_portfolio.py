"""Portfolio envs: contract, oracle feasibility and optimality, solver re-check, prompt = data, bad input."""
from __future__ import annotations

import json
import re

import gymnasium as gym
import numpy as np
import pytest

import feasgym  # noqa: F401
from feasgym.envs.core.family import values_from_solution
from feasgym.envs.portfolio import family as portfolio_family
from feasgym.envs.portfolio.family import PortfolioFamily, portfolio_variance
from feasgym.envs.portfolio import PORTFOLIO_SIZES
from feasgym.envs.registry import ENV_IDS

from .helpers import oracle_scores
from .test_acopf import BAD_INPUTS

PORTFOLIO_IDS = [f"feasgym/Portfolio-n{n}-v0" for n in PORTFOLIO_SIZES]
ORACLE_SEEDS = {10: 20, 30: 20, 100: 5}


def make(n=10, **kwargs):
    return gym.make(f"feasgym/Portfolio-n{n}-v0", **kwargs)


def test_sizes_are_registered():
    assert set(PORTFOLIO_IDS) <= set(ENV_IDS)


@pytest.mark.parametrize("n", list(ORACLE_SEEDS))
def test_oracle_answer_is_feasible_and_optimal(n):
    for s in oracle_scores(make(n), range(ORACLE_SEEDS[n]), n):
        assert abs(s["optimality"]["gap"]) < 1e-3
        assert s["reward"] == pytest.approx(1.0, abs=1e-2)


def test_reference_is_optimal_against_an_independent_solver():
    """SLSQP on the same problem (turnover via split variables, variance scaled to order 1) agrees."""
    from scipy.optimize import LinearConstraint, minimize

    env = make(10).unwrapped
    for seed in range(3):
        env.reset(seed=seed)
        inst = env.instance
        n, k = inst.n, len(inst.sectors)
        sigma = inst.covariance() / 100
        eye = np.eye(n)
        # x = [w, t] with t >= |w - current|
        budget = LinearConstraint(np.r_[np.ones(n), np.zeros(n)][None, :], 1.0, 1.0)
        A = np.vstack([np.hstack([inst.sector_matrix().toarray(), np.zeros((k, n))]), np.hstack([eye, -eye]),
                       np.hstack([eye, eye]), np.r_[np.zeros(n), np.ones(n)], np.r_[inst.mu, np.zeros(n)]])
        lo = np.r_[np.full(k, -np.inf), np.full(n, -np.inf), inst.current, -np.inf, inst.min_return]
        hi = np.r_[inst.sector_cap, inst.current, np.full(n, np.inf), inst.turnover_limit, np.inf]
        res = minimize(lambda x: x[:n] @ sigma @ x[:n], np.r_[inst.current, np.zeros(n)],
                       jac=lambda x: np.r_[2 * sigma @ x[:n], np.zeros(n)],
                       bounds=[(0, u) for u in inst.max_weight] + [(0, None)] * n,
                       constraints=[budget, LinearConstraint(A, lo, hi)], method="SLSQP",
                       options={"maxiter": 1000, "ftol": 1e-14})
        w_ref = values_from_solution(env._solution)["weights"]["w"]
        assert env._solution["objective"] == pytest.approx(res.fun * 100, rel=1e-6)
        np.testing.assert_allclose(w_ref, res.x[:n], atol=1e-6)


def test_objective_is_the_dense_quadratic_form():
    env = make(30).unwrapped
    env.reset(seed=0)
    w = values_from_solution(env._solution)["weights"]["w"]
    assert portfolio_variance(env.instance, w) == pytest.approx(w @ env.instance.covariance() @ w, rel=1e-12)


def test_solver_answers_are_rechecked_in_the_original_variables(monkeypatch):
    """A solver point that breaks the budget by 7e-4 (inside an answer's tolerance) is not a reference."""
    real = portfolio_family.solve_qp
    family = PortfolioFamily(10)
    inst = family.draw(np.random.default_rng(0), "train")
    assert family.solve(inst) is not None

    def sloppy(*args, **kwargs):
        x = real(*args, **kwargs)
        i = int(np.argmin(x[:10]))
        x[i] += 7e-4
        return x

    monkeypatch.setattr(portfolio_family, "solve_qp", sloppy)
    assert family.solve(inst) is None


def test_prompt_states_the_instance_exactly():
    env = make(10).unwrapped
    prompt, _ = env.reset(seed=4)
    inst = env.instance
    rows = {line.split(",")[0]: line.split(",") for line in prompt.split("Assets (10):\n")[1].splitlines()[1:11]}
    assert set(rows) == set(inst.tickers)
    for i, ticker in enumerate(inst.tickers):
        row = rows[ticker]
        assert row[1] == inst.sectors[inst.sector_of[i]]
        np.testing.assert_array_equal(np.array(row[2:], dtype=float),
                                      np.r_[inst.mu[i], inst.idio_vol[i], inst.betas[i], inst.current[i], inst.max_weight[i]])
    assert f"at most {inst.turnover_limit:g} " in prompt and f"at least {inst.min_return:g} %" in prompt
    assert all(re.fullmatch(r"[A-Z]{3,4}", t) for t in inst.tickers) and len(set(inst.tickers)) == 10
    again, _ = make(10).reset(seed=4)
    assert again == prompt


def test_wrong_answers_are_infeasible_and_named():
    env = make(30).unwrapped
    env.reset(seed=1)
    inst = env.instance
    w = values_from_solution(env._solution)["weights"]["w"]

    def score(weights):
        return env.score(env._schema.write({"weights": {"w": weights}}))

    assert inst.min_return > inst.mu @ inst.current + env.family.tolerances.return_pct
    s = score(inst.current)  # staying put misses the return floor
    assert s["feasibility"]["by_type"]["min_return"]["violated"] == 1 and not s["feasibility"]["feasible"]
    s = score(w * 1.01)
    assert s["feasibility"]["by_type"]["budget"]["violated"] == 1
    bad = w.copy()
    bad[0], bad[1] = -0.01, bad[1] + 0.01 + bad[0]
    s = score(bad)
    assert s["feasibility"]["violations"][0]["element"] == inst.tickers[0]
    s = score(np.full(inst.n, 1.0 / inst.n))
    assert not s["feasibility"]["feasible"] and s["optimality"]["gap"] is None


def test_looks_right_answer_is_infeasible():
    env = make(30).unwrapped
    for seed in range(5):
        env.reset(seed=seed)
        s = env.score(env.nominal_answer())
        assert s["format"]["score"] == 1.0 and not s["feasibility"]["feasible"] and s["reward"] < 0.4


def test_bad_inputs_never_raise_and_never_look_feasible():
    env = make(10).unwrapped
    env.reset(seed=0)
    ticker = env.instance.tickers[0]
    extra = ['{"weights": {"%s": 1.0}}' % ticker, '{"weights": []}', '{"weights": {"%s": {"w": "0.5"}}}' % ticker,
             '{"weights": {"%s": {"w": 1e400}}}' % ticker]
    for text in BAD_INPUTS + extra + [None, b"\xff\xfe", 3.5]:
        s = env.score(text)
        assert 0.0 <= s["format"]["score"] < 1.0 and not s["feasibility"]["feasible"]
        assert s["optimality"]["gap"] is None and 0.0 <= s["feasibility"]["score"] < 1.0
        json.dumps(s)


def test_features_have_a_fixed_length_per_size():
    env = make(30).unwrapped
    lengths = set()
    for k in range(3):
        env.reset(seed=0, options={"instance": k})
        lengths.add(len(env.family.features(env.instance)))
    ood = gym.make("feasgym/Portfolio-n30-ood-sectors-v0").unwrapped
    ood.reset(seed=0)
    lengths.add(len(ood.family.features(ood.instance)))
    assert lengths == {30 * 8 + 2 + 9}


def test_invalid_size_is_rejected():
    with pytest.raises(ValueError):
        make(10, n_assets=2)
