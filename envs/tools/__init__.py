"""Tool-using episodes: the tool-call format (:mod:`.calls`), the grid power flow (:mod:`.grid`), the budget (:mod:`.toolbox`)."""
from .calls import CLOSE, OPEN, ParsedAction, ToolCall, parse_action, parse_text, render_tool_call
from .toolbox import DEFAULT_MAX_TOOL_CALLS, TOOL_NAMES, ToolBox, split_tool_costs

__all__ = ["CLOSE", "OPEN", "ParsedAction", "ToolCall", "parse_action", "parse_text", "render_tool_call",
           "DEFAULT_MAX_TOOL_CALLS", "TOOL_NAMES", "ToolBox", "split_tool_costs"]
