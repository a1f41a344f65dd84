"""``power_flow(setpoints)`` on the grid families: the family's own power-flow code, the family's own limit rows.

AC (AC-OPF, power flow): the setpoint answer mode's Newton-Raphson (lightsim2grid, PYPOWER
fallback) from generator P and voltage setpoints; the reference bus takes up the balance; the
limits it breaks are the rows AC-OPF's setpoint mode checks. DC (DC-OPF): the DC power flow of a
dispatch with the reference bus as slack; the limits are DC-OPF's dispatch rows. Either way the
solved state comes back in the answer layout, at the prompt's decimals.
"""
from __future__ import annotations

import json
import math
import re
from abc import ABC, abstractmethod

import numpy as np

from ..core.schema import AnswerSchema, Section

MAX_LISTED = 10
NOT_CONVERGED = ("the AC power flow did not converge from these setpoints (Newton-Raphson, {it} iterations, "
                 "tolerance {tol:g} p.u.): there is no steady state near them. Try voltage setpoints near 1 p.u. "
                 "and a dispatch that covers the load.")


class SetpointError(ValueError):
    """The arguments do not give usable setpoints (the message says what is wrong)."""


class GridPowerFlow(ABC):
    """Base: argument reading, the result's layout; subclasses solve."""

    name = "power_flow"
    fields: tuple[str, ...] = ()

    def __init__(self, family):
        self.family = family
        self._prepared: tuple = (None, None)

    # ---- schema and prompt ---------------------------------------------------------
    def schema(self, inst) -> dict:
        record = {"type": "object", "properties": {f: {"type": "number"} for f in self.fields},
                  "required": list(self.fields)}
        return {"type": "function", "function": {
            "name": self.name,
            "description": self.description(inst),
            "parameters": {"type": "object", "properties": {"setpoints": {
                "type": "object",
                "description": "generator setpoints in the answer's id layout: {\"generators\": {\"" + inst.gen_ids[0]
                               + "\": {" + ", ".join(f'"{f}": ...' for f in self.fields) + "}, ...}}",
                "properties": {"generators": {"type": "object", "additionalProperties": record}},
                "required": ["generators"]}}, "required": ["setpoints"]}}}

    @abstractmethod
    def description(self, inst) -> str:
        """What the tool does for this instance (the function schema's description)."""

    @abstractmethod
    def run(self, inst, arguments: dict) -> tuple[str, dict]:
        """Solve the power flow of the call's setpoints: the result text and its record."""

    def solved_reply(self, inst, head: list, cost: float, p_out: np.ndarray, state_text: str,
                     flows: np.ndarray, report) -> tuple[str, dict]:
        """The result of a solved flow: cost, slack, state, loadings and the limits it breaks (``head`` goes
        after the tool name and ``converged``)."""
        limits = self.limits(report.result())
        return self.assemble([
            ("tool", '"power_flow"'), ("converged", "true"), *head, ("cost_per_h", f"{cost:.2f}"),
            ("slack", json.dumps(self.slack(inst, p_out))), ("state", self.compact(state_text)),
            ("branch_loading_pct", json.dumps(self.loading(inst, flows))), ("limits", json.dumps(limits)),
        ]), {"converged": True, "limits_violated": limits["violated"]}

    def example_arguments(self, inst) -> str:
        inner = ", ".join(f'"{f}": ...' for f in self.fields)
        return f'{{"setpoints": {{"generators": {{"{inst.gen_ids[0]}": {{{inner}}}, ...}}}}}}'

    # ---- reading -------------------------------------------------------------------
    def read_setpoints(self, inst, arguments: dict) -> dict[str, np.ndarray]:
        setpoints = arguments.get("setpoints")
        if not isinstance(setpoints, dict):
            raise SetpointError('give "setpoints": {"generators": {...}}')
        unknown_top = sorted(set(arguments) - {"setpoints"})
        if unknown_top:
            raise SetpointError(f"unknown argument(s) {unknown_top}; power_flow takes only \"setpoints\"")
        gens = setpoints.get("generators")
        if not isinstance(gens, dict):
            raise SetpointError('setpoints must hold "generators": {generator id: {...}}')
        ids = inst.gen_ids
        index = {g: i for i, g in enumerate(ids)}
        unknown = [g for g in gens if g not in index]
        if unknown:
            raise SetpointError(f"unknown generator id(s) {_names(unknown)}; the ids are {_names(list(ids))}")
        optional = self.optional_p(inst)
        columns = {f: np.full(len(ids), np.nan) for f in self.fields}
        problems: list[str] = []
        for g, i in index.items():
            record = gens.get(g)
            if not isinstance(record, dict):
                problems.append(f"{g} missing")
                continue
            for f in self.fields:
                v = record.get(f)
                if v is None and f == "p_mw" and optional[i]:
                    columns[f][i] = 0.0
                elif isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
                    problems.append(f"{g}.{f} " + ("missing" if v is None else "not a finite number"))
                else:
                    columns[f][i] = float(v)
        if problems:
            raise SetpointError(f"{len(problems)} unusable setpoint(s): {_names(problems)}")
        return columns

    def optional_p(self, inst) -> np.ndarray:
        """Generators whose P the power flow sets (reference bus): their p_mw may be left out."""
        m = inst.model
        return m.gen_bus == m.ref

    # ---- result --------------------------------------------------------------------
    def checker_instance(self, checker, inst):
        """The instance prepared for ``checker``'s rows, built once per instance."""
        if self._prepared[0] is not inst:
            self._prepared = (inst, checker.adopt(inst))
        return self._prepared[1]

    @staticmethod
    def limits(report: dict) -> dict:
        return {"violated": report["total"] - report["satisfied"], "total": report["total"],
                "by_type": {t: e["violated"] for t, e in report["by_type"].items() if e["violated"]},
                "violations": [_violation(v) for v in report["violations"][:MAX_LISTED]]}

    @staticmethod
    def slack(inst, pg: np.ndarray) -> dict:
        m = inst.model
        return {inst.gen_ids[g]: {"p_mw": round(float(pg[g]), 3), "pmin_mw": float(m.pmin[g]), "pmax_mw": float(m.pmax[g])}
                for g in np.flatnonzero(m.gen_bus == m.ref)}

    @staticmethod
    def loading(inst, flow_mva: np.ndarray) -> dict:
        rate = inst.model.rate_mva
        return {inst.branch_ids[l]: (round(float(100 * flow_mva[l] / rate[l]), 1) if np.isfinite(rate[l]) else None)
                for l in range(len(rate))}

    @staticmethod
    def compact(text: str) -> str:
        """The written state on one line (same numbers, same decimals; fewer tokens in a conversation)."""
        return re.sub(r"\n\s*", " ", text)

    @staticmethod
    def assemble(parts: list[tuple[str, str]]) -> str:
        """A JSON object from (key, JSON text) pairs: the state keeps its fixed decimals as written."""
        return "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in parts) + "}"


class ACPowerFlow(GridPowerFlow):
    """AC power flow from generator P and voltage setpoints (AC-OPF and power-flow families)."""

    fields = ("p_mw", "vm_pu")

    def __init__(self, family):
        from ..grids.acopf import ACOPFFamily

        super().__init__(family)
        self._checker = ACOPFFamily(family.case, perturbation=None, answer_mode="setpoints",
                                    tolerances=family.tolerances)

    def description(self, inst) -> str:
        ref = inst.bus_ids[inst.model.ref]
        return ("Solve the AC power flow from generator setpoints (p_mw and voltage setpoint vm_pu for every "
                f"generator; the reference bus {ref} generators' p_mw is ignored: the flow sets it). Returns whether "
                "it converged, the solved state (every generator's p_mw and q_mvar, every bus's vm_pu and va_deg, in "
                "the full-state answer layout), the slack generator's P against its limits, branch loadings in % of "
                "rate_a and every grid limit the state breaks (voltage, generator P/Q, branch flow, angle difference).")

    def run(self, inst, arguments: dict) -> tuple[str, dict]:
        from ..grids.acopf import P_FIELD, Q_FIELD, _bus_setpoints, generator_outputs, setpoint_power_flow, state_fields
        from ..grids.checks import complex_powers
        from ..grids.newton import PF_MAX_ITERATIONS, PF_TOLERANCE_PU

        columns = self.read_setpoints(inst, arguments)
        pg, vset = columns["p_mw"], columns["vm_pu"]
        m = inst.model
        bus_v, _ = _bus_setpoints(m, vset)
        with np.errstate(all="ignore"):
            V, converged = setpoint_power_flow(inst, pg, bus_v)
        if not converged:
            message = NOT_CONVERGED.format(it=PF_MAX_ITERATIONS, tol=PF_TOLERANCE_PU)
            return self.assemble([("tool", '"power_flow"'), ("converged", "false"), ("message", json.dumps(message))]), \
                {"converged": False}
        with np.errstate(all="ignore"):
            p_out, q_out = generator_outputs(inst, V, pg)
            vm, va = np.abs(V), np.rad2deg(np.angle(V))
            ends = np.abs(complex_powers(m, V)[m.n_bus:]) * m.base_mva
            report, _ = self._checker.check(self.checker_instance(self._checker, inst),
                                            {"generators": {"p_mw": pg, "vm_pu": vset}})
        flows = np.maximum(ends[:m.n_branch], ends[m.n_branch:])
        state = AnswerSchema((Section("generators", inst.gen_ids, (P_FIELD, Q_FIELD)),
                              Section("buses", inst.bus_ids, state_fields(inst.model))))
        text = state.write({"generators": {"p_mw": p_out, "q_mvar": q_out}, "buses": {"vm_pu": vm, "va_deg": va}})
        return self.solved_reply(inst, [], m.gen_cost(p_out), p_out, text, flows, report)


class DCPowerFlow(GridPowerFlow):
    """DC power flow of a dispatch, the reference bus as slack (DC-OPF family)."""

    fields = ("p_mw",)

    def __init__(self, family):
        from ..grids.dcopf import DCOPFFamily

        super().__init__(family)
        self._checker = DCOPFFamily(family.case, perturbation=None, dc_model=family.dc_model, answer_mode="dispatch",
                                    tolerances=family.tolerances)

    def description(self, inst) -> str:
        ref = inst.bus_ids[inst.model.ref]
        return ("Solve the DC power flow of a dispatch (p_mw of every generator; the reference bus "
                f"{ref} generators' p_mw is ignored: they take up the balance). Returns the slack generator's P "
                "against its limits, the solved state (every generator's p_mw, every bus's va_deg), branch "
                "loadings in % of rate_a and every limit the dispatch breaks (generator P, branch flow, angle "
                "difference).")

    def run(self, inst, arguments: dict) -> tuple[str, dict]:
        from ..grids.acopf import P_FIELD
        from ..grids.dcopf import DC_ANGLE_FIELD, dc_state

        pg = self.read_setpoints(inst, arguments)["p_mw"]
        m = inst.model
        at_ref = np.flatnonzero(m.gen_bus == m.ref)
        pg = pg.copy()
        pg[at_ref] = 0.0
        with np.errstate(all="ignore"):
            mismatch, _, _ = dc_state(inst, inst.net, pg)
            pg[at_ref] = -mismatch / len(at_ref)  # lossless: the slack takes the whole imbalance
            _, theta, flows = dc_state(inst, inst.net, pg)
            report, cost = self._checker.check(inst, {"generators": {"p_mw": pg}})
        state = AnswerSchema((Section("generators", inst.gen_ids, (P_FIELD,)),
                              Section("buses", inst.bus_ids, (DC_ANGLE_FIELD,))))
        text = state.write({"generators": {"p_mw": pg}, "buses": {"va_deg": np.rad2deg(theta - theta[m.ref])}})
        return self.solved_reply(inst, [("model", '"DC"')], cost, pg, text, np.abs(flows), report)


def power_flow_tool(family) -> GridPowerFlow | None:
    """The family's power-flow tool, or None when it has none (a non-grid family)."""
    from ..grids.acopf import ACOPFFamily
    from ..grids.dcopf import DCOPFFamily
    from ..grids.power_flow_family import PowerFlowFamily

    if isinstance(family, (ACOPFFamily, PowerFlowFamily)):
        return ACPowerFlow(family)
    if isinstance(family, DCOPFFamily):
        return DCPowerFlow(family)
    return None


def _violation(v: dict) -> dict:
    amount = None if v["amount"] is None else float(f"{v['amount']:.4g}")
    return {"type": v["type"], "element": v["element"], "amount": amount, "unit": v["unit"], "tolerance": v["tolerance"]}


def _names(items: list, shown: int = 8) -> str:
    return ", ".join(map(str, items[:shown])) + (f" (+{len(items) - shown} more)" if len(items) > shown else "")
