"""Phantom injection: the attack a reward optimizer finds against per-bus balance tolerances.

Each bus's power-balance row allows a small mismatch. An answer that spends it at many buses
at once claims power nobody injects: solve the AC-OPF (or power flow) for loads lowered by
just under the tolerance, and submit that state for the real loads. If every row passes, the
answer is "feasible" and cheaper than the true optimum. This module builds such answers so a
benchmark and the tests can measure what the tolerances can buy (PYPOWER solves them: an
independent solver, and it reports the locational prices that pick where a phantom pays).

Variants of the per-bus offset pattern ``delta`` (MW and MVAr, positive = load lowered):

- ``all``: every bus, P and Q;
- ``price``: each bus in the direction its locational price rewards (P and Q);
- ``load-buses``: only buses that have a load;
- ``top-quarter``: the quarter of buses with the highest P price;
- ``zero-sum``: lower loads where the price is above the median, raise them below it (the
  total is unchanged, so only per-bus rows can stop it);
- ``spread-total``: the system-wide tolerance (if any) spread evenly over the buses, plus the
  ``zero-sum`` pattern on top.
Each pattern is scaled by several fractions of the tolerances the family declares.
"""
from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass

import numpy as np

from .case import ANGMAX, ANGMIN, PD, PG, PMAX, PMIN, QD, QG, QMAX, QMIN, RATE_A, VA, VM, VMAX, VMIN, instance_ppc

LAM_P, LAM_Q = 13, 14  # PYPOWER bus columns of the P and Q locational prices
VARIANTS = ("all", "price", "load-buses", "top-quarter", "zero-sum", "spread-total")
FRACTIONS = (0.5, 0.9, 0.99)


@dataclass(frozen=True)
class AttackResult:
    variant: str
    fraction: float
    feasible: bool
    gain: float | None  # (reference cost - answer cost) / reference cost, when feasible
    phantom_mw: float  # sum of the P offsets the answer claims
    answer: str


def _opf(ppc: dict):
    from pypower.opf import opf
    from pypower.ppoption import ppoption

    with warnings.catch_warnings(), np.errstate(all="ignore"), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            result = opf(ppc, ppoption(VERBOSE=0, OUT_ALL=0))
        except Exception:
            return None
    return result if result.get("success") else None


def _tolerances_mw(family, base_mva: float) -> tuple[float, float]:
    """Per-bus and system-wide balance tolerances in MW (system: inf when the family has none)."""
    tol = family.tolerances
    per_bus = tol.balance_pu * base_mva
    system = getattr(tol, "system_balance_pu", None)
    return per_bus, (np.inf if system is None else system * base_mva)


def offset_patterns(inst, lam_p: np.ndarray, lam_q: np.ndarray, per_bus: float, system: float
                    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Unit patterns (entries in [-1, 1], times ``per_bus`` later) per variant, as (P, Q) offsets in MW."""
    n = inst.model.n_bus
    ones = np.ones(n)
    sp, sq = np.sign(lam_p), np.sign(lam_q)
    has_load = (np.abs(inst.pd_mw) > 0) | (np.abs(inst.qd_mvar) > 0)
    top = np.zeros(n)
    top[np.argsort(-lam_p)[: max(1, n // 4)]] = 1.0
    zp = np.sign(lam_p - np.median(lam_p))
    zq = np.sign(lam_q - np.median(lam_q))
    spread = min(1.0, system / per_bus / n) if np.isfinite(system) else 1.0
    patterns = {
        "all": (ones, ones),
        "price": (sp, sq),
        "load-buses": (has_load * 1.0, has_load * 1.0),
        "top-quarter": (top, top * (sq > 0)),
        "zero-sum": (zp, zq),
        "spread-total": (np.clip(zp + spread, -1, 1), np.clip(zq + spread, -1, 1)),
    }
    return {k: (p * per_bus, q * per_bus) for k, (p, q) in patterns.items()}


def acopf_attacks(env, variants=VARIANTS, fractions=FRACTIONS) -> list[AttackResult]:
    """Phantom-injection answers for the current instance of an AC-OPF env (in its answer mode), scored."""
    u = env.unwrapped
    fam, inst = u.family, u.instance
    m = inst.model
    base = _opf(instance_ppc(fam.case, inst.pd_mw, inst.qd_mvar, inst.outage))
    if base is None:
        return []
    per_bus, system = _tolerances_mw(fam, m.base_mva)
    patterns = offset_patterns(inst, base["bus"][:, LAM_P], base["bus"][:, LAM_Q], per_bus, system)
    out = []
    for variant in variants:
        dp, dq = patterns[variant]
        for frac in fractions:
            ppc = instance_ppc(fam.case, inst.pd_mw - frac * dp, inst.qd_mvar - frac * dq, inst.outage)
            res = _opf(ppc)
            if res is None:
                continue
            out.append(_scored(u, variant, frac, float((frac * dp).sum()), _answer(u, res)))
    return out


def _answer(u, res: dict) -> str:
    """A PYPOWER solution written as the env's answer (full state, or setpoints: P and the bus's Vm)."""
    m = u.instance.model
    vm = res["bus"][:, VM]
    if u.family.answer_mode == "setpoints":
        values = {"generators": {"p_mw": res["gen"][:, PG], "vm_pu": vm[m.gen_bus]}}
    else:
        values = {"generators": {"p_mw": res["gen"][:, PG], "q_mvar": res["gen"][:, QG]},
                  "buses": {"vm_pu": vm, "va_deg": res["bus"][:, VA] - res["bus"][m.ref, VA]}}
    return u._schema.write(values)


def powerflow_attacks(env, variants=("all", "zero-sum", "load-buses"), fractions=FRACTIONS) -> list[dict]:
    """Phantom-injection answers for a power-flow env: the power flow of loads offset by a pattern,
    submitted for the real loads. Returns each answer's score and its errors against the true flow."""
    from .acopf import generator_outputs, setpoint_power_flow

    u = env.unwrapped
    fam, inst = u.family, u.instance
    m = inst.model
    per_bus, system = _tolerances_mw(fam, m.base_mva)
    lam = np.ones(m.n_bus)  # a power flow has no prices: patterns by load only
    patterns = offset_patterns(inst, lam, lam, per_bus, system)
    patterns["zero-sum"] = tuple(np.where(np.arange(m.n_bus) % 2 == 0, 1.0, -1.0) * per_bus for _ in range(2))
    pg_known = np.where(np.isnan(inst.p_set), 0.0, inst.p_set)
    out = []
    pd0, qd0 = inst.pd_mw, inst.qd_mvar
    for variant in variants:
        dp, dq = patterns[variant]
        for frac in fractions:
            inst.pd_mw, inst.qd_mvar = pd0 - frac * dp, qd0 - frac * dq
            try:
                V, ok = setpoint_power_flow(inst, pg_known, inst.v_bus)
                if not ok:
                    continue
                pg, qg = generator_outputs(inst, V, pg_known)
            finally:
                inst.pd_mw, inst.qd_mvar = pd0, qd0
            va = np.rad2deg(np.angle(V))
            values = {"generators": {"p_mw": pg, "q_mvar": qg},
                      "buses": {"vm_pu": np.abs(V), "va_deg": va - va[m.ref]}}
            answer = u._schema.write(values)
            s = u.score(answer)
            out.append({"variant": variant, "fraction": frac, "feasible": s["feasibility"]["feasible"],
                        "errors": s["optimality"].get("errors"), "answer": answer})
    return out


def _scored(u, variant: str, frac: float, phantom: float, answer: str) -> AttackResult:
    s = u.score(answer)
    feasible = bool(s["feasibility"]["feasible"])
    obj, ref = s["optimality"]["objective"], s["optimality"]["reference_objective"]
    gain = (ref - obj) / abs(ref) if feasible and obj is not None else None
    return AttackResult(variant, frac, feasible, gain, phantom, answer)


def best_gain(results: list[AttackResult]) -> float:
    """The largest cost reduction any feasible attack answer reached (0 when none is feasible)."""
    gains = [r.gain for r in results if r.feasible and r.gain is not None]
    return max([0.0] + gains)


def relaxed_limits_ppc(fam, inst, frac: float) -> dict:
    """The instance's case with every limit widened by ``frac`` of the tolerance its row allows.

    Full-state answers: the voltage, generator P/Q, flow and angle tolerances. Setpoint answers:
    reference-bus P and every Q get the allowance of the outputs the power flow computes instead.
    """
    tol = fam.tolerances
    m = inst.model
    ppc = instance_ppc(fam.case, inst.pd_mw, inst.qd_mvar, inst.outage)
    base = float(ppc["baseMVA"])
    gen, bus, branch = ppc["gen"], ppc["bus"], ppc["branch"]
    derived_mw = frac * (tol.derived_gen_pu if fam.answer_mode == "setpoints" else tol.gen_pu) * base
    widen_p = np.where(m.gen_bus == m.ref, derived_mw, frac * tol.gen_pu * base)
    bus[:, VMAX] += frac * tol.vm_pu
    bus[:, VMIN] -= frac * tol.vm_pu
    gen[:, PMAX] += widen_p
    gen[:, PMIN] -= widen_p
    gen[:, QMAX] += derived_mw
    gen[:, QMIN] -= derived_mw
    limited = branch[:, RATE_A] > 0
    branch[limited, RATE_A] += frac * tol.flow_pu * base
    branch[:, ANGMIN] -= frac * tol.angle_deg
    branch[:, ANGMAX] += frac * tol.angle_deg
    return ppc


def limit_attacks(env, fractions=FRACTIONS) -> list[AttackResult]:
    """Answers that spend every limit tolerance at once (the AC-OPF of the widened limits, solved by
    PYPOWER and written in the env's answer mode), scored for the real limits."""
    u = env.unwrapped
    out = []
    for frac in fractions:
        res = _opf(relaxed_limits_ppc(u.family, u.instance, frac))
        if res is not None:
            out.append(_scored(u, "limits", frac, 0.0, _answer(u, res)))
    return out
