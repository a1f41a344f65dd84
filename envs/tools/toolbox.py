"""The tools of one env: their OpenAI schemas, the prompt's tools section, running calls, the budget and costs.

``check(answer)`` scores a draft with the env's own scorer and returns its format faults and
violated constraints (never the reference solution or the gap to it). ``power_flow(setpoints)``
is the grid families' (see :mod:`.grid`). Every call, malformed or not, uses one unit of the
budget ``max_tool_calls``; a call beyond it is not run. Costs per call come from
``reward_weights`` keys ``tool_call`` (any call) and ``tool_call.NAME`` (one tool).
"""
from __future__ import annotations

import json
from typing import Callable

from .calls import CLOSE, OPEN, ParsedAction, ToolCall, raw_argument
from .grid import MAX_LISTED, SetpointError, _violation, power_flow_tool

TOOL_NAMES = ("power_flow", "check")
DEFAULT_MAX_TOOL_CALLS = 4
COST_KEY = "tool_call"


def split_tool_costs(weights: dict | None) -> tuple[dict | None, dict[str, float]]:
    """(reward weights without tool keys, {"tool_call": cost, "tool_call.NAME": cost, ...})."""
    if not weights:
        return weights, {}
    costs = {k: float(v) for k, v in weights.items() if k == COST_KEY or k.startswith(COST_KEY + ".")}
    rest = {k: v for k, v in weights.items() if k not in costs}
    for k, v in costs.items():
        if v < 0:
            raise ValueError(f"reward weight {k!r} is a cost per call and must be >= 0, got {v}")
    return rest, costs


class ToolBox:
    """Tools for one env's family; counters are per episode (:meth:`begin`)."""

    def __init__(self, family, names, max_calls: int | None, costs: dict[str, float] | None = None):
        names = (names,) if isinstance(names, str) else tuple(names)
        if not names:
            raise ValueError("tools must name at least one tool")
        unknown = [n for n in names if n not in TOOL_NAMES]
        if unknown or len(set(names)) != len(names):
            raise ValueError(f"unknown or repeated tool(s) in {list(names)}; known: {list(TOOL_NAMES)}")
        self.power_flow = power_flow_tool(family) if "power_flow" in names else None
        if "power_flow" in names and self.power_flow is None:
            raise ValueError(f"power_flow is a grid-family tool; {family.name} has only 'check'")
        self.names = names
        self.max_calls = DEFAULT_MAX_TOOL_CALLS if max_calls is None else int(max_calls)
        if self.max_calls < 1:
            raise ValueError(f"max_tool_calls must be >= 1 with tools, got {max_calls}")
        self.costs = dict(costs or {})
        unknown_costs = [k for k in self.costs if k != COST_KEY and k.split(".", 1)[1] not in names]
        if unknown_costs:
            raise ValueError(f"reward weight(s) {unknown_costs} name tools this env does not have ({list(names)})")
        self.begin()

    # ---- what the model is told ----------------------------------------------------
    def schemas(self, inst) -> list[dict]:
        """OpenAI function-calling schemas, in the order of ``names``."""
        return [self.power_flow.schema(inst) if n == "power_flow" else _check_schema() for n in self.names]

    def prompt_section(self, inst) -> str:
        lines = [f"Tools: before your final answer you may call these tools, at most {self.max_calls} calls in all "
                 "(every call counts, a malformed one too). To call a tool, reply with only",
                 f'{OPEN}\n{{"name": "TOOL", "arguments": {{...}}}}\n{CLOSE}',
                 "and wait for its result. A reply without a tool call is your final answer and is scored."]
        for n in self.names:
            if n == "power_flow":
                lines.append(f"- power_flow, arguments {self.power_flow.example_arguments(inst)}: "
                             + self.power_flow.description(inst))
            else:
                lines.append('- check, arguments {"answer": {...your complete answer object...}}: ' + CHECK_DESCRIPTION)
        return "\n".join(lines)

    # ---- episode -------------------------------------------------------------------
    def begin(self) -> None:
        self.calls = 0
        self.by_tool = {n: 0 for n in self.names}
        self.malformed = 0
        self.over_budget = 0
        self.cost = 0.0

    @property
    def remaining(self) -> int:
        return self.max_calls - self.calls

    def summary(self) -> dict:
        return {"total": self.calls, "by_tool": dict(self.by_tool), "malformed": self.malformed,
                "over_budget": self.over_budget, "budget": self.max_calls, "remaining": self.remaining,
                "cost": self.cost}

    def run(self, parsed: ParsedAction, inst, score: Callable[[str], dict]) -> tuple[str, list[dict], float]:
        """Run the action's calls in order: (observation, one result per call, cost charged now)."""
        results, charged = [], 0.0
        for call in parsed.calls:
            if self.remaining <= 0:
                self.over_budget += 1
                results.append(self._result(call, False, {"error": f"no tool calls left (budget {self.max_calls}); "
                                                                   "this call was not run"}))
                continue
            self.calls += 1
            cost = self.costs.get(f"{COST_KEY}.{call.name}", self.costs.get(COST_KEY, 0.0))
            charged += cost
            content, ok = self._execute(call, inst, score)
            results.append(self._result(call, ok, content))
        self.cost += charged
        return "\n".join(r["content"] for r in results), results, charged

    def _execute(self, call: ToolCall, inst, score) -> tuple[dict | str, bool]:
        if call.error is not None:
            self.malformed += 1
            return {"error": call.error}, False
        if call.name not in self.names:
            self.malformed += 1
            return {"error": f"unknown tool {call.name!r}; the tools are {list(self.names)}"}, False
        try:
            if call.name == "power_flow":
                content, _ = self.power_flow.run(inst, call.arguments)
            else:
                content = run_check(call, score)
        except SetpointError as exc:
            self.malformed += 1
            return {"error": f"power_flow: {exc}"}, False
        except _ArgumentError as exc:
            self.malformed += 1
            return {"error": f"{call.name}: {exc}"}, False
        self.by_tool[call.name] += 1
        return content, True

    def _result(self, call: ToolCall, ok: bool, content: dict | str) -> dict:
        if isinstance(content, dict):  # an error: name the tool, keep it JSON
            content = json.dumps({"tool": call.name or None, **content})
        left = self.remaining
        note = f'"calls_left": {left}' + (', "note": "no tool calls left: your next reply is scored as your final '
                                          'answer"' if left <= 0 else "")
        content = content[:-1] + ", " + note + "}"
        return {"id": call.id, "name": call.name, "ok": ok, "content": content}


class _ArgumentError(ValueError):
    pass


CHECK_DESCRIPTION = ("Score a draft of your final answer without ending the episode: returns its format problems, "
                     "its constraint-satisfaction rate, whether it is feasible, the violated constraints worst first "
                     "and its objective.")


def _check_schema() -> dict:
    return {"type": "function", "function": {
        "name": "check", "description": CHECK_DESCRIPTION,
        "parameters": {"type": "object", "properties": {"answer": {
            "type": "object", "description": "the complete answer object, in the answer layout the task asks for "
                                             "(or that object as a JSON string)"}},
            "required": ["answer"]}}}


def run_check(call: ToolCall, score: Callable[[str], dict]) -> str:
    """The env's own score of the draft, without the reference solution."""
    unknown = sorted(set(call.arguments) - {"answer"})
    if "answer" not in call.arguments or unknown:
        raise _ArgumentError('check takes one argument, "answer" (the complete answer object)'
                             + (f"; unknown: {unknown}" if unknown else ""))
    draft = call.arguments["answer"]
    if isinstance(draft, str):
        text = draft
    else:
        text = raw_argument(call, "answer") or json.dumps(draft)
    result = score(text)
    fmt, feas = result["format"], result["feasibility"]
    objective = result["optimality"]["objective"]
    out = {
        "tool": "check",
        "format": {"score": round(fmt["score"], 4),
                   "failed": [{"name": c["name"], "message": c["message"]} for c in fmt["checks"] if not c["passed"]]},
        "constraint_rate": round(feas["score"], 6),
        "feasible": feas["feasible"],
        "violated": feas["total"] - feas["satisfied"],
        "total": feas["total"],
        "by_type": {t: e["violated"] for t, e in feas["by_type"].items() if e["violated"]},
        "violations": [_violation(v) for v in feas["violations"][:MAX_LISTED]],
        "objective": None if objective is None else round(objective, 4),
    }
    return json.dumps(out)
