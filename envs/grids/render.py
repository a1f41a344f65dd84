"""Prompt tables for grid instances (shared by every grid family).

Rows follow the instance's display order, ids are the instance's ids, so relabelled or
shuffled variants need no special code here. Output is plain ASCII.
"""
from __future__ import annotations

import math

import numpy as np

from .case import GridModel
from .instance import GridInstance

BUS_TYPES = {1: "PQ", 2: "PV", 3: "REF"}


def num(x: float, decimals: int = 6) -> str:
    if not math.isfinite(x):
        return "none"
    text = f"{x:.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def nums(values: np.ndarray, decimals: int = 6) -> list[str]:
    return [num(x, decimals) for x in np.asarray(values, dtype=float).tolist()]


def exact_num(x: float) -> str:
    """The shortest decimal text that parses back to exactly ``x`` (no exponent): case data are shown
    as the checker and the reference solver use them, whatever their digits (PGLib's snem cases have 13)."""
    if not math.isfinite(x):
        return "none"
    text = np.format_float_positional(x, trim="-")
    return "0" if text == "-0" else text


def exact_nums(values: np.ndarray) -> list[str]:
    return [exact_num(x) for x in np.asarray(values, dtype=float).tolist()]


_MODEL_COLUMNS: dict[int, tuple[GridModel, dict[str, list[str]]]] = {}
_MODEL_FIELDS = ("gs_mw", "bs_mvar", "vmin", "vmax", "pmin", "pmax", "qmin", "qmax", "r", "x", "b", "rate_mva",
                 "tap", "shift_deg", "angmin_deg", "angmax_deg")


def model_columns(m: GridModel) -> dict[str, list[str]]:
    """The model's static table cells, formatted once per topology (reset stays fast)."""
    hit = _MODEL_COLUMNS.get(id(m))
    if hit is None or hit[0] is not m:
        cols = {name: exact_nums(getattr(m, name)) for name in _MODEL_FIELDS}
        cols.update({name: exact_nums(m.cost[:, j]) for j, name in enumerate(("c2", "c1", "c0"))})
        hit = _MODEL_COLUMNS[id(m)] = (m, cols)
    return hit[1]


def table(title: str, header: list[str], rows: list[list[str]]) -> str:
    lines = [title, ",".join(header)]
    lines += [",".join(r) for r in rows]
    return "\n".join(lines)


def bus_table(inst: GridInstance, *, loads: bool = True, limits: bool = True) -> str:
    m = inst.model
    c = model_columns(m)
    header = ["bus", "type"] + (["pd_mw", "qd_mvar"] if loads else []) + ["gs_mw", "bs_mvar"] + (
        ["vmin_pu", "vmax_pu"] if limits else [])
    pd, qd = (nums(inst.pd_mw, 3), nums(inst.qd_mvar, 3)) if loads else ((), ())
    rows = []
    for i in inst.bus_order.tolist():
        row = [inst.bus_ids[i], BUS_TYPES.get(int(m.bus_type[i]), "PQ")]
        if loads:
            row += [pd[i], qd[i]]
        row += [c["gs_mw"][i], c["bs_mvar"][i]]
        if limits:
            row += [c["vmin"][i], c["vmax"][i]]
        rows.append(row)
    return table(f"Buses ({m.n_bus}):", header, rows)


def gen_table(inst: GridInstance, *, costs: bool = True, extra: dict[str, np.ndarray] | None = None) -> str:
    m = inst.model
    header = ["gen", "bus", "pmin_mw", "pmax_mw", "qmin_mvar", "qmax_mvar"] + (["c2", "c1", "c0"] if costs else [])
    extra = extra or {}
    header += list(extra)
    c = model_columns(m)
    extra_cells = [nums(col, 5) for col in extra.values()]
    rows = []
    for g in inst.gen_order.tolist():
        row = [inst.gen_ids[g], inst.bus_ids[m.gen_bus[g]], c["pmin"][g], c["pmax"][g], c["qmin"][g], c["qmax"][g]]
        if costs:
            row += [c["c2"][g], c["c1"][g], c["c0"][g]]
        row += [cells[g] for cells in extra_cells]
        rows.append(row)
    return table(f"Generators ({m.n_gen}):", header, rows)


def branch_table(inst: GridInstance) -> str:
    m = inst.model
    header = ["branch", "from_bus", "to_bus", "r_pu", "x_pu", "b_pu", "rate_a_mva", "tap", "shift_deg",
              "angmin_deg", "angmax_deg"]
    c = model_columns(m)
    names = ("r", "x", "b", "rate_mva", "tap", "shift_deg", "angmin_deg", "angmax_deg")
    f, t = m.f.tolist(), m.t.tolist()
    rows = []
    for k in inst.branch_order.tolist():
        rows.append([inst.branch_ids[k], inst.bus_ids[f[k]], inst.bus_ids[t[k]]] + [c[n][k] for n in names])
    title = f"Branches ({m.n_branch}):"
    if inst.outage is not None:
        title = f"Branches ({m.n_branch}; branch L{inst.outage + 1} is out of service and not listed):"
    return table(title, header, rows)


BRANCH_MODEL = (
    "Branch model: standard pi model (MATPOWER convention). Series admittance y = 1/(r + jx), "
    "total line charging b split half at each end, off-nominal tap ratio `tap` and phase shift "
    "`shift_deg` at the from end (tap 1 = no transformer). Shunts gs_mw/bs_mvar are at 1.0 p.u. voltage."
)
