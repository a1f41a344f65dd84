"""Reference AC-OPF solves with PYPOWER's interior-point OPF (reproduces PGLib baselines).

pandapower's ``runopp`` fails on PGLib case30/57/300; PYPOWER's ``opf`` matches the PGLib
BASELINE AC costs to ~1e-5 relative (tested).
"""
from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np

from .case import GEN_BUS, PG, QG, VA, VM


def solve_acopf(ppc: dict) -> dict | None:
    """Solve the AC-OPF; returns state arrays in case order, or None when the solve fails."""
    from pypower.opf import opf
    from pypower.ppoption import ppoption

    opt = ppoption(VERBOSE=0, OUT_ALL=0)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            result = opf(ppc, opt)
    except Exception:  # numerical failures inside the solver mean "no reference"
        return None
    if not result.get("success"):
        return None
    bus, gen = result["bus"], result["gen"]
    return {
        "vm_pu": bus[:, VM].copy(),
        "va_deg": bus[:, VA].copy(),
        "p_mw": gen[:, PG].copy(),
        "q_mvar": gen[:, QG].copy(),
        "gen_bus": gen[:, GEN_BUS].copy(),
        "objective": float(result["f"]),
    }
