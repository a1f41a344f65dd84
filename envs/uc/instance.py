"""Day-ahead unit-commitment instances: a PGLib-UC RTS-GMLC fleet, a perturbed demand day, a reserve rule.

Drawn from the RNG given (never the global one): the day whose demand shape is used (one of
PGLib's twelve RTS-GMLC days), the peak as a share of the available capacity, per-period
noise, the reserve requirement as a share of demand, how long each unit has been in its
initial status, and the initial output of the units that are on. Every number is rounded to
the decimals the prompt prints before anything uses it, so the prompt states the instance
exactly.

Out-of-distribution variants (``ood=``, split "ood" only):

- ``"peak"``: the peak demand is 84-90% of the available capacity (training: 60-80%);
- ``"outage"``: one unit, drawn, is unavailable for the whole day (it tripped in the last hour);
- ``"relabel"``: random unit ids (training: G1..Gn) and the unit tables' rows shuffled.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..core.constraints import RowBlock
from .data import DAYS, demand_shape, fleet_units

OOD_KINDS = ("peak", "outage", "relabel")
MW_DECIMALS = 2  # demand, reserve, initial output and every answered output, in MW
TRAIN_PEAK = (0.6, 0.8)  # peak demand / available capacity
OOD_PEAK = (0.84, 0.9)
DEMAND_NOISE = 0.02  # per-period multiplicative noise (standard deviation)
RESERVE_SHARE = (0.03, 0.06)  # spinning reserve requirement / demand (RTS-GMLC: 3%)
KEEP_PGLIB_STATUS = 0.5  # chance a unit keeps PGLib's hours in its initial status (else drawn)


def check_ood(kind: str | None) -> str | None:
    if kind is not None and kind not in OOD_KINDS:
        raise ValueError(f"unit-commitment ood must be None or one of {OOD_KINDS}, got {kind!r}")
    return kind


@dataclass
class UCInstance:
    """Everything the prompt prints, as the checker and the reference use it.

    Unit arrays are in answer order (the fleet's order); ``order`` is the order of the
    prompt's unit rows. Periods are 1..T; period 0 is the hour before the horizon.
    """

    fleet: str
    day: str
    unit_ids: tuple[str, ...]
    kinds: tuple[str, ...]
    pmin: np.ndarray
    pmax: np.ndarray
    ramp_up: np.ndarray
    ramp_down: np.ndarray
    startup_limit: np.ndarray
    shutdown_limit: np.ndarray
    min_up: np.ndarray  # int
    min_down: np.ndarray  # int
    on_t0: np.ndarray  # 0/1, status in period 0
    hours_t0: np.ndarray  # int >= 1: periods the unit has been in that status up to period 0
    p_t0: np.ndarray  # output in period 0 (MW)
    cost_mw: tuple[np.ndarray, ...]  # per unit: production cost breakpoints (MW) ...
    cost_usd: tuple[np.ndarray, ...]  # ... and cost there ($/h)
    startup_lag: tuple[np.ndarray, ...]  # per unit: startup tier lags (periods off) ...
    startup_cost: tuple[np.ndarray, ...]  # ... and their costs ($)
    available: np.ndarray  # bool
    demand: np.ndarray  # (T,) MW
    reserve: np.ndarray  # (T,) MW
    order: np.ndarray
    peak_share: float
    reserve_share: float
    rows: RowBlock = field(default_factory=RowBlock, repr=False)  # declared by the family (UCFamily.prepare)

    @property
    def n_units(self) -> int:
        return len(self.unit_ids)

    @property
    def periods(self) -> int:
        return int(self.demand.size)

    @property
    def period_ids(self) -> tuple[str, ...]:
        return tuple(f"t{t:02d}" for t in range(1, self.periods + 1))

    @property
    def schedule_ids(self) -> tuple[str, ...]:
        """Answer ids, unit-major: G1_t01, G1_t02, ..., G2_t01, ..."""
        return tuple(f"{u}_{t}" for u in self.unit_ids for t in self.period_ids)

    @cached_property
    def cost_lines(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(units, segments) base MW, base cost and slope of each production-cost segment (padded by repeating
        the last segment, which leaves the maximum of the lines unchanged)."""
        k = max(m.size for m in self.cost_mw) - 1
        mw, usd, slope = (np.empty((self.n_units, k)) for _ in range(3))
        for g, (m, c) in enumerate(zip(self.cost_mw, self.cost_usd)):
            s = np.diff(c) / np.diff(m)
            pad = k - s.size
            mw[g], usd[g], slope[g] = (np.r_[x, np.repeat(x[-1], pad)] for x in (m[:-1], c[:-1], s))
        return mw, usd, slope

    @cached_property
    def startup_tiers(self) -> tuple[np.ndarray, np.ndarray]:
        """(units, tiers) lags and costs, padded with an unreachable lag."""
        k = max(lag.size for lag in self.startup_lag)
        lags, costs = np.full((self.n_units, k), np.inf), np.zeros((self.n_units, k))
        for g, (lag, cost) in enumerate(zip(self.startup_lag, self.startup_cost)):
            lags[g, :lag.size], costs[g, :cost.size] = lag, cost
        return lags, costs

    @property
    def up_t0(self) -> np.ndarray:
        return np.where(self.on_t0 == 1, self.hours_t0, 0)

    @property
    def down_t0(self) -> np.ndarray:
        return np.where(self.on_t0 == 0, self.hours_t0, 0)


def draw_uc(rng: np.random.Generator, fleet: str, periods: int, ood: str | None = None) -> UCInstance:
    """One instance; every random number comes from ``rng``."""
    check_ood(ood)
    units = fleet_units(fleet)
    n = len(units)
    day = DAYS[int(rng.integers(len(DAYS)))]
    shape = demand_shape(day, periods)
    on_t0 = np.array([u.on_t0 for u in units], dtype=int)
    hours = np.array([u.up_t0 if u.on_t0 else u.down_t0 for u in units], dtype=int)
    redraw = rng.random(n) >= KEEP_PGLIB_STATUS
    spans = np.array([u.min_up + 4 if u.on_t0 else max(u.startup_lag) + 2 for u in units])
    drawn = 1 + np.floor(rng.random(n) * spans).astype(int)
    hours = np.where(redraw, drawn, hours)
    available = np.ones(n, dtype=bool)
    if ood == "outage":
        out = int(rng.integers(n))
        available[out] = False
        on_t0[out], hours[out] = 0, 1  # tripped in the last hour before the horizon
    pmin = np.array([u.pmin for u in units])
    pmax = np.array([u.pmax for u in units])
    capacity = float(pmax[available].sum())
    peak_share = float(rng.uniform(*(OOD_PEAK if ood == "peak" else TRAIN_PEAK)))
    noise = 1.0 + DEMAND_NOISE * rng.standard_normal(periods)
    demand = np.round(peak_share * capacity * shape * noise, MW_DECIMALS)
    reserve_share = float(rng.uniform(*RESERVE_SHARE))
    reserve = np.round(reserve_share * demand, MW_DECIMALS)
    p_t0 = _initial_output(pmin, pmax, on_t0 == 1, float(demand[0]) * float(rng.uniform(0.95, 1.0)))
    if ood == "relabel":
        ids = _random_ids(rng, n)
        order = rng.permutation(n)
    else:
        ids = tuple(f"G{i + 1}" for i in range(n))
        order = np.arange(n)
    return UCInstance(
        fleet=fleet, day=day, unit_ids=ids, kinds=tuple(u.kind for u in units), pmin=pmin, pmax=pmax,
        ramp_up=np.array([u.ramp_up for u in units]), ramp_down=np.array([u.ramp_down for u in units]),
        startup_limit=np.array([u.startup_limit for u in units]),
        shutdown_limit=np.array([u.shutdown_limit for u in units]),
        min_up=np.array([u.min_up for u in units], dtype=int), min_down=np.array([u.min_down for u in units], dtype=int),
        on_t0=on_t0, hours_t0=hours, p_t0=p_t0,
        cost_mw=tuple(np.array(u.cost_mw) for u in units), cost_usd=tuple(np.array(u.cost_usd) for u in units),
        startup_lag=tuple(np.array(u.startup_lag, dtype=int) for u in units),
        startup_cost=tuple(np.array(u.startup_cost) for u in units),
        available=available, demand=demand, reserve=reserve, order=order,
        peak_share=peak_share, reserve_share=reserve_share,
    )


def _initial_output(pmin: np.ndarray, pmax: np.ndarray, on: np.ndarray, total: float) -> np.ndarray:
    """Output of the units on in period 0: the same share of each one's range, summing to ``total`` when it can."""
    low, high = pmin[on].sum(), pmax[on].sum()
    share = 0.0 if high <= low else float(np.clip((total - low) / (high - low), 0.0, 1.0))
    return np.round(np.where(on, pmin + share * (pmax - pmin), 0.0), MW_DECIMALS)


def _random_ids(rng: np.random.Generator, n: int) -> tuple[str, ...]:
    letters = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ"))
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        word = "".join(rng.choice(letters, 2)) + str(int(rng.integers(10)))
        if word not in seen:
            seen.add(word)
            out.append(word)
    return tuple(out)
