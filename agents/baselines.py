"""Baseline agents that read the env instead of the prompt: they calibrate the scores.

- ``oracle``: the env's reference solution (must score format 1, feasible 1);
- ``looks-right``: the unperturbed case's optimum, perfectly formatted but not re-solved
  for this instance (format 1, feasibility low: the format-vs-feasibility gap);
- ``random``: random well-typed values inside each field's range;
- ``tool-user``: a scripted tool user (calibrates "uses tools well"): ``power_flow`` on the
  looks-right setpoints, then the slack corrected by re-dispatching the other generators and
  the flow run again, then the answer read off the last solved state. Without tools it answers
  as looks-right; on families without ``power_flow`` it calls ``check`` once on that answer.
"""
from __future__ import annotations

import json
import time
from abc import abstractmethod
from typing import Callable, Sequence

import numpy as np

from feasgym.envs.core.text_env import SPLITS
from feasgym.envs.tools.calls import CLOSE, OPEN, parse_action, render_tool_call

from .protocol import Agent, AnswerReply, AnswerRequest


class EnvReadingAgent(Agent):
    """An agent whose answer is a function of the request's env; errors are caught per request."""

    batch_size = 64

    def __init__(self, name: str):
        self.name = name

    @abstractmethod
    def _answer(self, request: AnswerRequest) -> str:
        """The answer text for the request's env (may raise; the error is recorded)."""

    def act(self, requests: Sequence[AnswerRequest]) -> list[AnswerReply]:
        replies = []
        for request in requests:
            start = time.perf_counter()
            if request.env is None:
                replies.append(AnswerReply("", error=f"{self.name} needs the env of each request (request.env is None)"))
                continue
            try:
                text = self._answer(request)
            except Exception as exc:  # an env without this baseline answers nothing, recorded
                replies.append(AnswerReply("", error=f"{type(exc).__name__}: {exc}",
                                           latency_s=time.perf_counter() - start))
                continue
            replies.append(AnswerReply(text, latency_s=time.perf_counter() - start))
        return replies


class OracleAgent(EnvReadingAgent):
    """The env's reference answer at the prompt's decimals."""

    def __init__(self, name: str = "oracle"):
        super().__init__(name)

    @property
    def config(self) -> dict:
        return {"kind": "oracle"}

    def _answer(self, request: AnswerRequest) -> str:
        return request.env.unwrapped.reference_answer()


class LooksRightAgent(EnvReadingAgent):
    """The nominal case's optimum reused on the perturbed instance: formatted, plausible, unsolved."""

    def __init__(self, name: str = "looks-right"):
        super().__init__(name)

    @property
    def config(self) -> dict:
        return {"kind": "looks-right"}

    def _answer(self, request: AnswerRequest) -> str:
        return request.env.unwrapped.nominal_answer()


class RandomAgent(EnvReadingAgent):
    """Uniform random values in each field's range.

    The generator of each answer is derived from (agent seed, instance stream seed, split,
    instance index), so an answer does not depend on batch order and a resumed run
    reproduces the same answers.
    """

    def __init__(self, name: str = "random", seed: int = 0):
        super().__init__(name)
        self.seed = int(seed)

    @property
    def config(self) -> dict:
        return {"kind": "random", "seed": self.seed}

    def _answer(self, request: AnswerRequest) -> str:
        env = request.env.unwrapped
        key = env.instance_key
        entropy = [self.seed, int(key.get("seed", 0)) & 0xFFFFFFFF]
        spawn = (SPLITS.get(key.get("split"), 0), int(key.get("instance", 0)))
        rng = np.random.default_rng(np.random.SeedSequence(entropy=entropy, spawn_key=spawn))
        return env.random_answer(rng)


class ToolUserAgent(EnvReadingAgent):
    """The scripted tool user (see the module docstring); it reads tool results from the conversation only.

    Slack correction: when the reference-bus generators' solved P is outside their limits, the
    difference to their looks-right P (kept ``margin`` of their range inside the limits) is
    moved onto the other generators in proportion to their headroom, and the flow is run
    again, at most ``max_corrections`` times and within the env's call budget.
    """

    uses_tools = True

    def __init__(self, name: str = "tool-user", max_corrections: int = 3, margin: float = 0.05):
        super().__init__(name)
        self.max_corrections, self.margin = int(max_corrections), float(margin)

    @property
    def config(self) -> dict:
        return {"kind": "tool-user", "max_corrections": self.max_corrections, "margin": self.margin}

    def _answer(self, request: AnswerRequest) -> str:
        env = request.env.unwrapped
        names = {t["function"]["name"] for t in request.tools or []}
        results = tool_results(request.messages or [])
        if "power_flow" not in names:
            if "check" in names and not results:
                return f'{OPEN}\n{{"name": "check", "arguments": {{"answer": {env.nominal_answer()}}}}}\n{CLOSE}'
            return env.nominal_answer()
        flows = [r for r in results if r.get("tool") == "power_flow"]
        if not flows:
            return _power_flow_call(looks_right_setpoints(env))
        last = flows[-1]
        if not last.get("converged"):
            return env.nominal_answer()
        setpoints = last_power_flow_setpoints(request.messages)
        corrected = None
        if env.family.name != "PowerFlow" and len(flows) <= self.max_corrections and last.get("calls_left", 0) > 0:
            corrected = self.correct_slack(env, setpoints, last["slack"])
        if corrected is not None:
            return _power_flow_call(corrected)
        return answer_from_state(env, last["state"], setpoints)

    def correct_slack(self, env, setpoints: dict, slack: dict) -> dict | None:
        """New setpoints that move the slack back inside its limits, or None when it is inside already."""
        m = env.instance.model
        ids = env.instance.gen_ids
        at_ref = [ids[g] for g in np.flatnonzero(m.gen_bus == m.ref)]
        p = sum(slack[g]["p_mw"] for g in at_ref)
        lo, hi = sum(slack[g]["pmin_mw"] for g in at_ref), sum(slack[g]["pmax_mw"] for g in at_ref)
        tol = 1.0  # MW: the setpoint checker's allowance for power-flow-set generators (derived_gen_pu x 100 MVA)
        if lo - tol <= p <= hi + tol:
            return None
        nominal = looks_right_setpoints(env)
        inner = self.margin * (hi - lo)
        target = float(np.clip(sum(nominal[g]["p_mw"] for g in at_ref), lo + inner, hi - inner))
        delta = p - target  # > 0: the others must produce this much more
        others = [g for g in range(m.n_gen) if ids[g] not in at_ref]
        pg = np.array([setpoints[ids[g]]["p_mw"] for g in others])
        room = (m.pmax[others] - pg) if delta > 0 else (pg - m.pmin[others])
        room = np.maximum(room, 0.0)
        if room.sum() <= 0:
            return None
        pg = pg + np.sign(delta) * room * min(1.0, abs(delta) / room.sum())
        new = {g: dict(v) for g, v in setpoints.items()}
        for g, value in zip(others, pg):
            new[ids[g]]["p_mw"] = round(float(value), 3)
        return new


def tool_results(messages: Sequence[dict]) -> list[dict]:
    """The JSON results of the conversation's tool messages, in order (unreadable ones skipped)."""
    out = []
    for message in messages:
        if isinstance(message, dict) and message.get("role") == "tool":
            try:
                out.append(json.loads(message.get("content") or ""))
            except ValueError:
                continue
    return out


def last_power_flow_setpoints(messages: Sequence[dict]) -> dict:
    """The generator setpoints of the conversation's last power_flow call (read with the shared parser)."""
    for message in reversed(messages or []):
        if isinstance(message, dict) and message.get("role") == "assistant":
            for call in reversed(parse_action(message).calls):
                if call.name == "power_flow" and call.arguments:
                    return call.arguments["setpoints"]["generators"]
    raise ValueError("no power_flow call in the conversation")


def looks_right_setpoints(env) -> dict[str, dict]:
    """Setpoints of the looks-right answer: the nominal optimum's P and generator-bus voltages
    (power flow: the setpoints the prompt gives)."""
    inst = env.instance
    m = inst.model
    dc = env.family.name == "DCOPF"
    if env.family.name == "PowerFlow":
        p = np.nan_to_num(inst.p_set)
        v = inst.v_bus[m.gen_bus]
    else:
        nominal = json.loads(env.nominal_answer())
        gens = nominal["generators"]
        p = np.array([gens[g]["p_mw"] for g in inst.gen_ids])
        if dc:
            v = None
        elif "vm_pu" in gens[inst.gen_ids[0]]:
            v = np.array([gens[g]["vm_pu"] for g in inst.gen_ids])
        else:
            v = np.array([nominal["buses"][inst.bus_ids[b]]["vm_pu"] for b in m.gen_bus])
    out = {}
    for i, g in enumerate(inst.gen_ids):
        out[g] = {"p_mw": round(float(p[i]), 3)} if dc else {"p_mw": round(float(p[i]), 3), "vm_pu": round(float(v[i]), 5)}
    return out


def answer_from_state(env, state: dict, setpoints: dict) -> str:
    """The env's answer layout filled from a solved state (and the setpoints for fields the state lacks)."""
    schema = env.family.schema(env.instance)
    values = {}
    for section in schema.sections:
        rows = state.get(section.name, {})
        values[section.name] = {
            f.name: np.array([rows.get(i, {}).get(f.name, setpoints.get(i, {}).get(f.name, np.nan)) for i in section.ids],
                             dtype=float)
            for f in section.fields}
    return schema.write(values)


def _power_flow_call(setpoints: dict) -> str:
    return render_tool_call("power_flow", {"setpoints": {"generators": setpoints}})


BASELINES: dict[str, Callable[..., Agent]] = {
    "oracle": OracleAgent,
    "looks-right": LooksRightAgent,
    "random": RandomAgent,
    "tool-user": ToolUserAgent,
}
