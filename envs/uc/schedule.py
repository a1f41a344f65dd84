"""What a schedule does: its constraint rows by type and its cost, computed from (on, p) alone.

The model (the prompt states it in words, the reference MILP in :mod:`feasgym.envs.uc.milp`):
a unit is on in period t when its answered ``on`` is at least 0.5 (``commitment_binary``
flags anything but 0 or 1); it starts in t when off in t-1 and on in t, stops in t when on in
t-1 and off in t; period 0 is the given initial status and output.

- ``demand_balance`` (per period): total output = demand.
- ``reserve`` (per period): sum over committed units of min(pmax - p, ramp_up) >= requirement.
- ``gen_limits`` (two per unit and period): pmin * on <= p <= pmax * on.
- ``ramp`` (two per unit and period): p_t - p_(t-1) <= ramp_up (on in both) or startup_limit
  (starting in t); p_(t-1) - p_t <= ramp_down (on in both) or shutdown_limit (stopping in t).
- ``min_up`` / ``min_down`` (per unit and period), counted as in the MILP: the starts in periods
  t-min_up+1 .. t (the start before the horizon included) are at most on_t; the stops in periods
  t-min_down+1 .. t are at most 1 - on_t.
- ``commitment_binary`` (per unit and period): on is 0 or 1.
- ``availability`` (per unavailable unit and period): on = 0.

Cost ($): sum over committed unit-periods of the convex piecewise-linear production cost at
p (the maximum of its segments' lines, so outputs just outside [pmin, pmax] extend the end
segments), plus each start's cost: the tier with the largest lag <= the periods the unit was
off before the start (the first tier if the unit was off fewer periods than every lag).
Missing values (NaN) make the rows they enter missing, hence violated.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.constraints import RowBlock
from .instance import UCInstance

ROW_TYPES = ("demand_balance", "reserve", "gen_limits", "ramp", "min_up", "min_down", "commitment_binary",
             "availability")


@dataclass(frozen=True)
class UCTolerances:
    """Default tolerances and why (answered outputs and every printed MW number have 2 decimals).

    A sum or difference of numbers written with 2 decimals is itself a multiple of 0.01 MW (up
    to float error ~1e-12), so an exactly feasible schedule exists at the prompt's decimals
    (the reference is solved on that grid) and any real violation is at least 0.01 MW. Half a
    step, 0.005 MW, is therefore the tolerance of every MW row: it absorbs float error only
    and cannot be spent (a schedule at 2 decimals that uses it is exact). Commitment rows are
    counts of 0/1 values: 1e-9.
    """

    balance_mw: float = 0.005
    reserve_mw: float = 0.005
    limit_mw: float = 0.005
    ramp_mw: float = 0.005
    count: float = 1e-9


def declare_rows(inst: UCInstance, tol: UCTolerances) -> RowBlock:
    """Every row type, sized for this instance, in the order :func:`row_values` fills them."""
    n, T = inst.n_units, inst.periods
    periods = inst.period_ids
    cells = [f"{u} {t}" for u in inst.unit_ids for t in periods]
    out = np.flatnonzero(~inst.available)
    block = RowBlock()
    block.residual("demand_balance", size=T, target=inst.demand, tolerance=tol.balance_mw, unit="MW",
                   labels=periods, description="total output = demand in each period")
    block.bounds("reserve", inst.reserve, np.inf, size=T, tolerance=tol.reserve_mw, unit="MW", labels=periods,
                 description="spinning reserve sum over committed units of min(pmax - p, ramp_up) >= requirement")
    block.bounds("gen_limits", np.r_[np.full(n * T, -np.inf), np.zeros(n * T)], np.r_[np.zeros(n * T),
                 np.full(n * T, np.inf)], size=2 * n * T, tolerance=tol.limit_mw, unit="MW",
                 labels=[f"{c} max" for c in cells] + [f"{c} min" for c in cells],
                 description="pmin * on <= p <= pmax * on (excess over the bound)")
    block.bounds("ramp", -np.inf, 0.0, size=2 * n * T, tolerance=tol.ramp_mw, unit="MW",
                 labels=[f"{c} up" for c in cells] + [f"{c} down" for c in cells],
                 description="change from the previous period within ramp_up/ramp_down, startup_limit when "
                 "starting, shutdown_limit before stopping (excess over the limit)")
    block.bounds("min_up", -np.inf, 0.0, size=n * T, tolerance=tol.count, unit="starts", labels=cells,
                 description="a unit started within its last min_up_h periods stays on")
    block.bounds("min_down", -np.inf, 0.0, size=n * T, tolerance=tol.count, unit="stops", labels=cells,
                 description="a unit stopped within its last min_down_h periods stays off")
    block.residual("commitment_binary", size=n * T, tolerance=tol.count, unit="", labels=cells,
                   description="on is 0 or 1 (distance to the nearer)")
    block.residual("availability", size=out.size * T, tolerance=tol.count, unit="", labels=[
        f"{inst.unit_ids[g]} {t}" for g in out for t in periods], description="an unavailable unit stays off")
    assert tuple(t.name for t in block.types) == ROW_TYPES
    return block


def commitment(inst: UCInstance, on: np.ndarray) -> np.ndarray:
    """(units, periods) 1.0 where on >= 0.5, 0.0 below, NaN where missing."""
    on = np.asarray(on, dtype=float).reshape(inst.n_units, inst.periods)
    return np.where(np.isnan(on), np.nan, (on >= 0.5).astype(float))


def row_values(inst: UCInstance, on: np.ndarray, p: np.ndarray) -> dict[str, np.ndarray]:
    """The value of every row, by type (shapes as :func:`declare_rows` declares them)."""
    n, T = inst.n_units, inst.periods
    raw = np.asarray(on, dtype=float).reshape(n, T)
    p = np.asarray(p, dtype=float).reshape(n, T)
    u = commitment(inst, raw)
    u_prev = np.column_stack([inst.on_t0.astype(float), u[:, :-1]])
    p_prev = np.column_stack([inst.p_t0, p[:, :-1]])
    start = np.maximum(u - u_prev, 0.0)
    stop = np.maximum(u_prev - u, 0.0)
    ru, rd = inst.ramp_up[:, None], inst.ramp_down[:, None]
    headroom = np.minimum(inst.pmax[:, None] - p, ru)
    reserve = (u * np.maximum(headroom, 0.0)).sum(axis=0)
    ramp_up = p - p_prev - ru * u_prev - inst.startup_limit[:, None] * start
    ramp_down = p_prev - p - rd * u - inst.shutdown_limit[:, None] * stop
    starts_window = _window_sums(start, inst.min_up, _history_events(inst, inst.on_t0 == 1, inst.hours_t0))
    stops_window = _window_sums(stop, inst.min_down, _history_events(inst, inst.on_t0 == 0, inst.hours_t0))
    return {
        "demand_balance": p.sum(axis=0),
        "reserve": reserve,
        "gen_limits": np.r_[(p - inst.pmax[:, None] * u).ravel(), (p - inst.pmin[:, None] * u).ravel()],
        "ramp": np.r_[ramp_up.ravel(), ramp_down.ravel()],
        "min_up": (starts_window - u).ravel(),
        "min_down": (stops_window - (1.0 - u)).ravel(),
        "commitment_binary": np.minimum(np.abs(raw), np.abs(raw - 1.0)).ravel(),
        "availability": raw[~inst.available].ravel(),
    }


def _history_events(inst: UCInstance, has_event: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """Period (<= 0) of each unit's last start (or stop) before the horizon; a large negative number if none."""
    return np.where(has_event, 1 - hours, -10**6)


def _window_sums(events: np.ndarray, window: np.ndarray, history: np.ndarray) -> np.ndarray:
    """For each unit and period t: events in periods t-window+1 .. t, the one before the horizon included.

    A missing event (NaN) makes every window that holds it missing, and only those.
    """
    n, T = events.shape
    missing = np.isnan(events)
    zero = np.zeros((n, 1))
    total = np.concatenate([zero, np.cumsum(np.where(missing, 0.0, events), axis=1)], axis=1)
    holes = np.concatenate([zero, np.cumsum(missing, axis=1)], axis=1)
    t = np.arange(1, T + 1)[None, :]
    start = np.maximum(t - window[:, None], 0)  # the window's events are total[t] - total[start]
    sums = total[:, 1:] - np.take_along_axis(total, start, axis=1)
    sums[(holes[:, 1:] - np.take_along_axis(holes, start, axis=1)) > 0] = np.nan
    return sums + (history[:, None] >= t - window[:, None] + 1)


def production_cost(inst: UCInstance, u: np.ndarray, p: np.ndarray) -> np.ndarray:
    """(units, periods) $ of running: the convex piecewise-linear cost at p where committed, 0 where off."""
    mw, usd, slope = inst.cost_lines
    lines = usd[:, :, None] + slope[:, :, None] * (p[:, None, :] - mw[:, :, None])
    return np.where(u > 0, lines.max(axis=1), 0.0)


def startup_costs(inst: UCInstance, u: np.ndarray) -> np.ndarray:
    """(units, periods) $ of each start, by how many periods the unit had been off before it."""
    n, T = u.shape
    off_before = np.empty((n, T))
    run = np.where(inst.on_t0 == 0, inst.hours_t0, 0).astype(float)
    for t in range(T):
        off_before[:, t] = run
        run = np.where(u[:, t] == 0, run + 1, 0.0)
    lags, costs = inst.startup_tiers
    tier = np.maximum((lags[:, None, :] <= off_before[:, :, None]).sum(axis=2) - 1, 0)
    starts = np.diff(np.column_stack([inst.on_t0, u]), axis=1) > 0
    return np.where(starts, np.take_along_axis(costs, tier, axis=1), 0.0)


def schedule_cost(inst: UCInstance, on: np.ndarray, p: np.ndarray) -> float | None:
    """Total cost ($) of the schedule; None when a value is missing or not finite."""
    on = np.asarray(on, dtype=float).reshape(inst.n_units, inst.periods)
    p = np.asarray(p, dtype=float).reshape(inst.n_units, inst.periods)
    if not (np.all(np.isfinite(on)) and np.all(np.isfinite(p))):
        return None
    u = commitment(inst, on)
    return float(production_cost(inst, u, p).sum() + startup_costs(inst, u).sum())
