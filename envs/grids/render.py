"""Prompt tables for grid instances (shared by every grid family).

Rows follow the instance's display order, ids are the instance's ids, so relabelled or
shuffled variants need no special code here. Output is plain ASCII.
"""
from __future__ import annotations

import numpy as np

from .instance import GridInstance

BUS_TYPES = {1: "PQ", 2: "PV", 3: "REF"}


def num(x: float, decimals: int = 6) -> str:
    if not np.isfinite(x):
        return "none"
    text = f"{x:.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def table(title: str, header: list[str], rows: list[list[str]]) -> str:
    lines = [title, ",".join(header)]
    lines += [",".join(r) for r in rows]
    return "\n".join(lines)


def bus_table(inst: GridInstance, *, loads: bool = True, limits: bool = True) -> str:
    m = inst.model
    header = ["bus", "type"] + (["pd_mw", "qd_mvar"] if loads else []) + ["gs_mw", "bs_mvar"] + (
        ["vmin_pu", "vmax_pu"] if limits else [])
    rows = []
    for i in inst.bus_order:
        row = [inst.bus_ids[i], BUS_TYPES.get(int(m.bus_type[i]), "PQ")]
        if loads:
            row += [num(inst.pd_mw[i], 3), num(inst.qd_mvar[i], 3)]
        row += [num(m.gs_mw[i]), num(m.bs_mvar[i])]
        if limits:
            row += [num(m.vmin[i]), num(m.vmax[i])]
        rows.append(row)
    return table(f"Buses ({m.n_bus}):", header, rows)


def gen_table(inst: GridInstance, *, costs: bool = True, extra: dict[str, np.ndarray] | None = None) -> str:
    m = inst.model
    header = ["gen", "bus", "pmin_mw", "pmax_mw", "qmin_mvar", "qmax_mvar"] + (["c2", "c1", "c0"] if costs else [])
    extra = extra or {}
    header += list(extra)
    rows = []
    for g in inst.gen_order:
        row = [inst.gen_ids[g], inst.bus_ids[m.gen_bus[g]], num(m.pmin[g]), num(m.pmax[g]), num(m.qmin[g]), num(m.qmax[g])]
        if costs:
            row += [num(c) for c in m.cost[g]]
        row += [num(col[g], 5) for col in extra.values()]
        rows.append(row)
    return table(f"Generators ({m.n_gen}):", header, rows)


def branch_table(inst: GridInstance) -> str:
    m = inst.model
    header = ["branch", "from_bus", "to_bus", "r_pu", "x_pu", "b_pu", "rate_a_mva", "tap", "shift_deg",
              "angmin_deg", "angmax_deg"]
    rows = []
    for k in inst.branch_order:
        rows.append([inst.branch_ids[k], inst.bus_ids[m.f[k]], inst.bus_ids[m.t[k]], num(m.r[k]), num(m.x[k]),
                     num(m.b[k]), num(m.rate_mva[k]), num(m.tap[k]), num(m.shift_deg[k]), num(m.angmin_deg[k]),
                     num(m.angmax_deg[k])])
    title = f"Branches ({m.n_branch}):"
    if inst.outage is not None:
        title = f"Branches ({m.n_branch}; branch L{inst.outage + 1} is out of service and not listed):"
    return table(title, header, rows)


BRANCH_MODEL = (
    "Branch model: standard pi model (MATPOWER convention). Series admittance y = 1/(r + jx), "
    "total line charging b split half at each end, off-nominal tap ratio `tap` and phase shift "
    "`shift_deg` at the from end (tap 1 = no transformer). Shunts gs_mw/bs_mvar are at 1.0 p.u. voltage."
)
