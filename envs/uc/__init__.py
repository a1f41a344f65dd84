"""Day-ahead unit commitment (UC) on PGLib-UC RTS-GMLC thermal units: commitment and dispatch per hour.

One folder: data (:mod:`.data`), instances (:mod:`.instance`), the checker's rows and cost
(:mod:`.schedule`), the HiGHS MILP reference (:mod:`.milp`), the prompt (:mod:`.render`) and
the family (:mod:`.family`). Its ids are declared here; the family class loads on first use.
Only the 5-unit fleet is an id; the 10- and 20-unit fleets are family options
(``gym.make("feasgym/UC-rts5-v0", fleet="rts10")``): their reference MILPs take 2-8 s of CPU per
instance, which the contract suite (every id, several instances) cannot afford on a 2-core machine.
"""
from __future__ import annotations

from ..core.registration import register_family

UC_FLEETS = {"rts5": 5}
UC_OOD = {
    "peak": ("peak", "peak demand 84-90% of the available capacity (training 60-80%)"),
    "outage": ("outage", "one unit, drawn, unavailable all day (it tripped in the hour before)"),
    "relabel": ("relabel", "random unit ids, unit table rows shuffled"),
}

register_family(
    "feasgym.envs.uc.family:UCFamily", name="UC",
    ids={f"feasgym/UC-{fleet}-v0": (
        {"fleet": fleet, "periods": 24},
        f"day-ahead unit commitment of {n} PGLib-UC RTS-GMLC thermal units over 24 hours: min up/down, ramps, "
        "startup tiers, spinning reserve, perturbed demand") for fleet, n in UC_FLEETS.items()},
    ood=UC_OOD,
    summary={"answer": "per unit and hour: on (0), p_mw (2)",
             "rows": "demand_balance, reserve, gen_limits, ramp, min_up, min_down, commitment_binary, availability",
             "objective": "production + startup cost $; HiGHS MILP (outputs on the 0.01 MW grid)"},
)
