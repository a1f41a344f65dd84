"""Constraint accounting: a RowBlock measures rows exactly as types declared one by one; violations come worst first."""
from __future__ import annotations

import numpy as np
import pytest
from feasgym.envs.core.constraints import ConstraintReport, RowBlock

INF = np.inf


def _random_rows(rng: np.random.Generator) -> list[tuple]:
    """(name, values, lower, upper, tolerance): residual rows have lower None; some values NaN or infinite."""
    rows = []
    for k in range(int(rng.integers(1, 8))):
        n = int(rng.integers(0, 12))
        values = rng.normal(size=n) * rng.choice([1e-3, 1.0, 100.0])
        values[rng.random(n) < 0.15] = np.nan
        values[rng.random(n) < 0.05] = rng.choice([INF, -INF])
        tolerance = float(rng.choice([0.0, 1e-4, 0.5, 2.0]))
        name = f"type{k}"  # a block's types have distinct names (its rows are given by name)
        if rng.random() < 0.4:
            rows.append((name, values, None, rng.choice([0.0, 0.3]) * rng.normal(size=n), tolerance))
        else:
            lower = rng.choice([-INF, -1.0]) if rng.random() < 0.5 else rng.normal(size=n) - 1
            upper = rng.choice([INF, 1.0]) if rng.random() < 0.5 else rng.normal(size=n) + 1
            rows.append((name, values, lower, upper, tolerance))
    return rows


def test_block_rows_measure_as_rows_declared_one_type_at_a_time():
    rng = np.random.default_rng(0)
    for _ in range(300):
        rows = _random_rows(rng)
        one_by_one, block = ConstraintReport(), RowBlock()
        for name, values, lower, upper, tol in rows:
            labels = tuple(f"{name}[{i}]" for i in range(values.size))
            if lower is None:  # target in ``upper``
                one_by_one.residual(name, values - upper, tolerance=tol, unit="u", labels=labels)
                block.residual(name, size=values.size, target=upper, tolerance=tol, unit="u", labels=labels)
            else:
                one_by_one.bounds(name, values, lower, upper, tolerance=tol, unit="u", labels=labels)
                block.bounds(name, lower, upper, size=values.size, tolerance=tol, unit="u", labels=labels)
        blocked = ConstraintReport()
        with np.errstate(invalid="ignore"):  # as score() runs checkers: inf - inf at an infinite bound
            blocked.add_block(block, {r[0]: r[1] for r in rows})
        assert repr(blocked.result()) == repr(one_by_one.result())
        again = ConstraintReport()  # a second report of the block reuses its layout
        with np.errstate(invalid="ignore"):
            again.add_block(block, {r[0]: r[1] for r in rows})
        assert repr(again.result()) == repr(one_by_one.result())


def test_violations_are_every_violated_row_worst_first():
    """As building one dict per violated row in row order and sorting them by severity (a stable sort,
    missing values first, then amount / tolerance) gives: the one vectorized sort must agree."""
    def severity(v: dict) -> float:
        if v["amount"] is None:
            return INF
        return v["amount"] / v["tolerance"] if v["tolerance"] > 0 else v["amount"]

    rng = np.random.default_rng(1)
    for _ in range(300):
        report, expected = ConstraintReport(), []
        for name, values, lower, upper, tol in _random_rows(rng):
            values = np.round(values, 1)  # ties in severity must keep row order
            labels = [f"{name}[{i}]" for i in range(values.size)]
            if lower is None:
                report.residual(name, values, tolerance=tol, unit="u", labels=labels)
                lower = upper = 0.0
            else:
                report.bounds(name, values, lower, upper, tolerance=tol, unit="u", labels=labels)
            with np.errstate(invalid="ignore"):
                violation = np.maximum(np.maximum(lower - values, values - upper), 0.0)
            expected += [{"type": name, "element": labels[i], "amount": None if np.isnan(a) else float(a),
                          "unit": "u", "tolerance": tol} for i, a in enumerate(violation) if not a <= tol]
        result = report.result()
        assert result["violations"] == sorted(expected, key=severity, reverse=True)
        assert len(expected) == result["total"] - result["satisfied"]
        assert sum(e["violated"] for e in result["by_type"].values()) == len(expected)


def test_block_rows_are_given_by_name_and_checked_against_the_declaration():
    from feasgym.envs.core.constraints import ConstraintReport, RowBlock

    block = RowBlock()
    block.residual("balance", size=2, tolerance=0.1, unit="MW", labels=("bus 1", "bus 2"))
    block.bounds("limit", 0.0, 1.0, size=1, tolerance=0.0, unit="p.u.", labels=("gen 1",))
    report = ConstraintReport()
    report.add_block(block, {"limit": [2.0], "balance": [0.05, -0.3]})  # any order: matched by name
    result = report.result()
    assert result["by_type"]["balance"]["violated"] == 1 and result["by_type"]["limit"]["violated"] == 1
    assert result["by_type"]["limit"]["max_violation"] == pytest.approx(1.0)  # 2.0 - upper bound 1.0
    with pytest.raises(ValueError, match=r"missing \['limit'\]"):
        ConstraintReport().add_block(block, {"balance": [0.0, 0.0]})
    with pytest.raises(ValueError, match=r"undeclared \['extra'\]"):
        ConstraintReport().add_block(block, {"balance": [0.0, 0.0], "limit": [0.5], "extra": [1.0]})
    with pytest.raises(ValueError, match="'balance' declared 2 rows, got 3"):
        ConstraintReport().add_block(block, {"balance": [0.0, 0.0, 0.0], "limit": [0.5]})
    with pytest.raises(TypeError, match="by type name"):
        ConstraintReport().add_block(block, np.zeros(3))
    with pytest.raises(ValueError, match="declared twice"):
        block.residual("balance", size=1, tolerance=0.1, unit="MW", labels=("x",))
