"""The unit-commitment prompt: the model in words, the data tables exactly as the checker uses them."""
from __future__ import annotations

from ..core.schema import AnswerSchema
from .instance import UCInstance
from .schedule import UCTolerances

KIND_NAMES = {"steam": "steam", "cc": "combined-cycle", "ct": "combustion turbine"}


def fmt(x: float) -> str:
    """A number as printed (at most 2 decimals, trailing zeros dropped); every data value has at most 2."""
    text = f"{float(x):.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def table(title: str, header: list[str], rows: list[list[str]]) -> str:
    return "\n".join([title, ",".join(header)] + [",".join(r) for r in rows])


def render_prompt(inst: UCInstance, tol: UCTolerances, schema: AnswerSchema) -> str:
    T, n = inst.periods, inst.n_units
    first, last = inst.period_ids[0], inst.period_ids[-1]
    rules = [
        f"- Demand: in every period, the sum of p_mw over all units equals demand_mw (tolerance {tol.balance_mw:g} MW).",
        "- Spinning reserve: in every period, the sum over the units that are on of min(pmax_mw - p_mw, ramp_up_mw) "
        f"is at least reserve_mw (tolerance {tol.reserve_mw:g} MW).",
        "- Output limits: a unit that is on has pmin_mw <= p_mw <= pmax_mw; a unit that is off has p_mw = 0 "
        f"(tolerance {tol.limit_mw:g} MW).",
        "- Ramping (period 0 is the hour before the horizon, with status_t0 and p_t0_mw): if a unit is on in t-1 and "
        "t, p(t) - p(t-1) <= ramp_up_mw and p(t-1) - p(t) <= ramp_down_mw; if it starts in t, p(t) <= startup_mw; "
        "if it stops in t, p(t-1) <= shutdown_mw "
        f"(tolerance {tol.ramp_mw:g} MW).",
        "- Minimum up time: a unit that starts in period s stays on in periods s .. s + min_up_h - 1. A unit on in "
        "period 0 has been on for hours_t0 periods, i.e. it started in period 1 - hours_t0.",
        "- Minimum down time: a unit that stops in period s stays off in periods s .. s + min_down_h - 1. A unit off "
        "in period 0 has been off for hours_t0 periods, i.e. it stopped in period 1 - hours_t0.",
        "- on is exactly 0 or 1.",
        "- A unit with available = 0 stays off in every period.",
    ]
    cost = [
        "Cost (minimize the total, $): for every period a unit is on, its production cost at p_mw, the linear "
        "interpolation between its cost points (MW:$/h, convex; the first point is pmin_mw, the last pmax_mw); plus "
        "for every start, the startup cost of the tier with the largest off_h that is <= the number of periods the "
        "unit had been off just before the start (a unit off in period 0 had already been off hours_t0 periods).",
    ]
    order = inst.order.tolist()
    units = table(
        f"Units ({n}):",
        ["unit", "type", "pmin_mw", "pmax_mw", "ramp_up_mw", "ramp_down_mw", "startup_mw", "shutdown_mw", "min_up_h",
         "min_down_h", "status_t0", "hours_t0", "p_t0_mw", "available"],
        [[inst.unit_ids[g], KIND_NAMES[inst.kinds[g]], fmt(inst.pmin[g]), fmt(inst.pmax[g]), fmt(inst.ramp_up[g]),
          fmt(inst.ramp_down[g]), fmt(inst.startup_limit[g]), fmt(inst.shutdown_limit[g]), str(int(inst.min_up[g])),
          str(int(inst.min_down[g])), "on" if inst.on_t0[g] else "off", str(int(inst.hours_t0[g])),
          fmt(inst.p_t0[g]), "1" if inst.available[g] else "0"] for g in order],
    )
    costs = table(
        "Production cost points (MW:$/h) and startup cost tiers (off_h:$):",
        ["unit", "cost_points", "startup_tiers"],
        [[inst.unit_ids[g], " ".join(f"{fmt(m)}:{fmt(c)}" for m, c in zip(inst.cost_mw[g], inst.cost_usd[g])),
          " ".join(f"{int(lag)}:{fmt(c)}" for lag, c in zip(inst.startup_lag[g], inst.startup_cost[g]))]
         for g in order],
    )
    periods = table(f"Periods ({T}, one hour each):", ["period", "demand_mw", "reserve_mw"],
                    [[pid, fmt(d), fmt(r)] for pid, d, r in zip(inst.period_ids, inst.demand.tolist(),
                                                                inst.reserve.tolist())])
    ids = (f"Answer ids: one per unit and period, unit id + '_' + period id, e.g. {inst.unit_ids[0]}_{first} .. "
           f"{inst.unit_ids[0]}_{last}; {n * T} in all.")
    parts = [
        f"Task: day-ahead unit commitment. For each of the {n} thermal units below and each hourly period "
        f"{first}..{last}, decide whether the unit is on (1) or off (0) and its output p_mw, so that every "
        "constraint holds, at minimum total cost.",
        "Data: thermal units of PGLib-UC RTS-GMLC; demand shaped like an RTS-GMLC day. All MW numbers have at most "
        "2 decimals. A unit starts in period t when it is off in t-1 and on in t, and stops in t when on in t-1 "
        "and off in t.",
        "Constraints:\n" + "\n".join(rules),
        "\n".join(cost),
        units,
        costs,
        periods,
        ids,
        schema.instructions(),
    ]
    return "\n\n".join(parts) + "\n"
