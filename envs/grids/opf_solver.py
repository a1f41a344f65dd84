"""Reference AC-OPF solves: the compiled CasADi + Ipopt model (default) or PYPOWER's interior point.

pandapower's ``runopp`` fails on PGLib case30/57/300; PYPOWER's ``opf`` matches the PGLib
BASELINE AC costs to ~1e-5 relative (tested) but spends ~220 ms a solve in Python derivative
code. :mod:`.acopf_ipopt` solves the same model 10-50x faster; PYPOWER stays selectable
(``reference_solver="pypower"``) and is the cross-check in the tests.
"""
from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np

from .case import GEN_BUS, PG, QG, VA, VM, instance_ppc

REFERENCE_SOLVERS = ("casadi", "pypower")


def check_reference_solver(name: str) -> str:
    if name not in REFERENCE_SOLVERS:
        raise ValueError(f"reference_solver must be one of {REFERENCE_SOLVERS}, got {name!r}")
    return name


def solve_reference(case: str, pd_mw: np.ndarray, qd_mvar: np.ndarray, outage: int | None,
                    solver: str = "casadi") -> dict | None:
    """The reference AC-OPF state of one instance by ``solver``; None when it has none.

    Both return the same dict: ``vm_pu``, ``va_deg`` (not shifted), ``p_mw``, ``q_mvar`` in case
    order, ``gen_bus`` (PGLib bus numbers) and ``objective`` ($/h).
    """
    if check_reference_solver(solver) == "casadi":
        from .acopf_ipopt import solve_acopf_ipopt

        return solve_acopf_ipopt(case, pd_mw, qd_mvar, outage)
    return solve_acopf(instance_ppc(case, pd_mw, qd_mvar, outage))


def solve_acopf(ppc: dict) -> dict | None:
    """Solve the AC-OPF with PYPOWER; returns state arrays in case order, or None when the solve fails."""
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
