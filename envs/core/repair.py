"""The feedback turn of a multi-turn episode: name what failed, worst first, and ask again."""
from __future__ import annotations

MAX_LISTED = 10


def repair_prompt(result: dict, turn: int, max_turns: int) -> str:
    feas = result["feasibility"]
    lines = [
        f"Your answer (turn {turn} of {max_turns}) is not feasible: "
        f"{feas['total'] - feas['satisfied']} of {feas['total']} constraints are violated."
    ]
    failed_format = [c for c in result["format"]["checks"] if not c["passed"]]
    if failed_format:
        lines.append("Format problems:")
        lines += [f"- {c['name']}: {c['message']}" for c in failed_format[:MAX_LISTED]]
    violations = feas["violations"]
    if violations:
        lines.append("Violated constraints, worst first:")
        for v in violations[:MAX_LISTED]:
            amount = "value missing" if v["amount"] is None else f"off by {v['amount']:.4g} {v['unit']} (tolerance {v['tolerance']:g})"
            lines.append(f"- {v['type']} at {v['element']}: {amount}")
        if len(violations) > MAX_LISTED:
            lines.append(f"- ... and {len(violations) - MAX_LISTED} more")
    lines.append("Reply with a corrected, complete JSON answer in the same format as before.")
    return "\n".join(lines)
