"""Day-ahead unit commitment on PGLib-UC RTS-GMLC units: the problem family.

The answer is, for every unit and hourly period, its commitment ``on`` (0 or 1) and output
``p_mw`` (2 decimals). The checker (:mod:`feasgym.envs.uc.schedule`) computes every row from
those values and the printed data; the reference is the HiGHS MILP of
:mod:`feasgym.envs.uc.milp`, re-checked in the original variables (every row satisfied with
no violation at all, its cost recomputed by the checker equal to HiGHS's objective) before
it is used; a draw without such a reference (infeasible or unproved) is skipped.
"""
from __future__ import annotations

import numpy as np

from ..core.constraints import ConstraintReport
from ..core.family import ProblemFamily, solution_record
from ..core.schema import AnswerSchema, Field, Section, Values
from .data import FLEETS
from .instance import MW_DECIMALS, UCInstance, check_ood, draw_uc
from .milp import GRID, solve_uc
from .schedule import UCTolerances, declare_rows, row_values, schedule_cost

ON_FIELD = Field("on", 0, "", "1 if the unit is on (committed) in the period, 0 if it is off.")
P_FIELD = Field("p_mw", MW_DECIMALS, "MW", "the unit's output in the period (0 when off).")
NOMINAL_SEED = 20261201  # the fixed draw used as the "looks-right" template instance
MIN_PERIODS, MAX_PERIODS = 6, 48
COST_RTOL = 1e-7  # the checker's cost of the reference schedule must equal HiGHS's objective this closely


class UCFamily(ProblemFamily):
    """``UCFamily("rts10", periods=24, ood=None)``: commit and dispatch a fleet of PGLib-UC units for a day."""

    name = "UC"

    def __init__(self, fleet: str = "rts10", *, periods: int = 24, tolerances: UCTolerances | None = None,
                 ood: str | None = None):
        if fleet not in FLEETS:
            raise ValueError(f"fleet must be one of {sorted(FLEETS)}, got {fleet!r}")
        periods = int(periods)
        if not MIN_PERIODS <= periods <= MAX_PERIODS:
            raise ValueError(f"periods must be in [{MIN_PERIODS}, {MAX_PERIODS}], got {periods}")
        self.fleet = fleet
        self.periods = periods
        self.tolerances = tolerances or UCTolerances()
        self.ood = check_ood(ood)

    def cache_key(self) -> str:
        return f"fleet={self.fleet}|periods={self.periods}|ood={self.ood}|{self.tolerances}|model=1"

    # ---- generator -----------------------------------------------------------------
    def draw(self, rng: np.random.Generator, split: str) -> UCInstance:
        return self.prepare(draw_uc(rng, self.fleet, self.periods, self.ood if split == "ood" else None))

    def nominal(self) -> UCInstance:
        return self.prepare(draw_uc(np.random.default_rng(NOMINAL_SEED), self.fleet, self.periods))

    def prepare(self, inst: UCInstance) -> UCInstance:
        """Declare the instance's rows (sizes and labels fixed per instance); for instances built by hand too."""
        inst.rows = declare_rows(inst, self.tolerances)
        return inst

    def solve(self, inst: UCInstance) -> dict | None:
        # Continuous outputs first (all data lie on the 0.01 MW grid, so HiGHS's vertices almost always do
        # too, and this is 3-5x faster); outputs on the grid are required, else the grid MILP is solved.
        for integer_output in (False, True):
            result = solve_uc(inst, integer_output=integer_output)
            if result is None:
                return None
            steps = result.p * GRID
            if integer_output or np.abs(steps - np.round(steps)).max() < 1e-6:
                break
        on, p = result.on, np.round(result.p * GRID) / GRID + 0.0
        report, cost = self.check(inst, {"schedule": {"on": on.ravel(), "p_mw": p.ravel()}})
        feas = report.result()
        if not feas["feasible"] or any(t["max_violation"] > 1e-6 for t in feas["by_type"].values()):
            return None
        if cost is None or abs(cost - result.objective) > COST_RTOL * max(abs(cost), 1.0):
            return None
        return solution_record({"schedule": {"on": on.ravel(), "p_mw": p.ravel()}}, cost,
                               mip_gap=result.mip_gap, nodes=result.nodes)

    # ---- schema and prompt ---------------------------------------------------------
    def schema(self, inst: UCInstance) -> AnswerSchema:
        return AnswerSchema((Section("schedule", inst.schedule_ids, (ON_FIELD, P_FIELD)),))

    def render(self, inst: UCInstance) -> str:
        from .render import render_prompt

        return render_prompt(inst, self.tolerances, self.schema(inst))

    # ---- checker -------------------------------------------------------------------
    def check(self, inst: UCInstance, values: Values) -> tuple[ConstraintReport, float | None]:
        on, p = values["schedule"]["on"], values["schedule"]["p_mw"]
        report = ConstraintReport()
        report.add_block(inst.rows, row_values(inst, on, p))
        return report, schedule_cost(inst, on, p)

    def objective_info(self) -> dict:
        return {"unit": "$", "sense": "min",
                "description": "production cost (piecewise linear, while on) plus startup costs over the horizon"}

    def features(self, inst: UCInstance) -> np.ndarray:
        """Per unit (answer order): pmin/pmax, pmax/100, ramp_up/pmax, min up and down /24, status and hours in
        it (/24, at most 2) in period 0, p_t0/pmax, available, cost per MWh at pmax /100; then demand and
        reserve per period as shares of the fleet's capacity."""
        cap = float(inst.pmax.sum())
        per_unit = [inst.pmin / inst.pmax, inst.pmax / 100, inst.ramp_up / inst.pmax, inst.min_up / 24,
                    inst.min_down / 24, inst.on_t0.astype(float), np.minimum(inst.hours_t0 / 24, 2.0),
                    inst.p_t0 / inst.pmax, inst.available.astype(float),
                    np.array([c[-1] / m[-1] / 100 for c, m in zip(inst.cost_usd, inst.cost_mw)])]
        return np.concatenate(per_unit + [inst.demand / cap, inst.reserve / cap])

    def value_bounds(self, inst: UCInstance) -> dict:
        T = inst.periods
        size = inst.n_units * T
        return {"schedule": {"on": (np.zeros(size), np.ones(size)), "p_mw": (np.zeros(size), np.repeat(inst.pmax, T))}}
