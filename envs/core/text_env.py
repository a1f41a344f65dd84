"""The one text env every problem family runs in: reset renders, step parses and scores."""
from __future__ import annotations

import hashlib
import math
from typing import Any

import gymnasium as gym
import numpy as np

from .answer import MAX_ANSWER_CHARS, coerce_text, locate_answer
from .cache import NOMINAL, Namespace, ReferenceCache, entry_name, solution_problem
from .family import ProblemFamily, values_from_solution
from .repair import repair_prompt
from .weighting import DEFAULT_OPTIMALITY_SCALE, REFERENCE_RTOL, combine, objective_gap, validate_weights
from ..tools.calls import parse_action
from ..tools.toolbox import ToolBox, split_tool_costs
from .spaces import text_space

SPLITS = {"train": 0, "test": 1, "ood": 2}
"""Instance streams: instance k of split s draws from SeedSequence(seed, spawn_key=(s, k, attempt)),
so the streams of different splits are independent and never share a draw."""

MAX_DRAWS = 64
MAX_PROMPT_CHARS = 2_000_000


class FeasTextEnv(gym.Env):
    """Single- or multi-turn text env over a :class:`ProblemFamily`.

    ``reset(seed=s, options={"instance": k})`` gives instance ``k`` of the stream seeded by
    ``s`` (same prompt in any process); without ``instance`` the stream advances by one.
    ``step(answer_text)`` never raises: it returns format, feasibility and optimality in
    ``info`` and a weighted reward (see :mod:`feasgym.envs.core.weighting`).
    With ``tools=("power_flow", "check")`` an action may instead call tools (see
    :mod:`feasgym.envs.tools`): the observation is their results, the episode goes on, the
    reward is minus their cost, and the final answer is scored as without tools.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(
        self,
        family: ProblemFamily,
        *,
        split: str = "train",
        max_turns: int = 1,
        reward_weights: dict | None = None,
        optimality_scale: float = DEFAULT_OPTIMALITY_SCALE,
        max_answer_chars: int = MAX_ANSWER_CHARS,
        cache_dir: Any = None,
        render_mode: str | None = None,
        tools: Any = (),
        max_tool_calls: int | None = None,
    ):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
        if int(max_turns) < 1:
            raise ValueError("max_turns must be >= 1")
        if render_mode not in (None, "ansi"):
            raise ValueError("render_mode must be None or 'ansi'")
        self.family = family
        self.split = split
        self.max_turns = int(max_turns)
        reward_weights, tool_costs = split_tool_costs(reward_weights)
        self.reward_weights = validate_weights(reward_weights)
        if max_tool_calls is not None and not tools:
            raise ValueError("max_tool_calls needs tools=(...), e.g. tools=('power_flow', 'check')")
        if tool_costs and not tools:
            raise ValueError(f"reward weight(s) {sorted(tool_costs)} charge tool calls, but the env has no tools")
        self.toolbox = ToolBox(family, tools, max_tool_calls, tool_costs) if tools else None
        self.optimality_scale = float(optimality_scale)
        self.max_answer_chars = int(max_answer_chars)
        self.render_mode = render_mode
        self.observation_space = text_space(MAX_PROMPT_CHARS)
        self.action_space = text_space(self.max_answer_chars)
        from .. import __version__ as envs_version

        self._cache = ReferenceCache(Namespace(family.name, family.cache_key(), envs_version), cache_dir)
        self._stream_seed: int | None = None
        self._next_instance = 0
        self._instance = None
        self._key: dict = {}

    # ---- episode -------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._stream_seed, self._next_instance = int(seed), 0
        elif self._stream_seed is None:
            self._stream_seed = int(self.np_random.integers(0, 2**31 - 1))
        k = (options or {}).get("instance")
        k = self._next_instance if k is None else int(k)
        if k < 0:
            raise ValueError(f"instance index must be >= 0, got {k}")
        self._next_instance = k + 1
        self._load(k)
        self._turn = 0
        self._history: list[dict] = []
        if self.toolbox is not None:
            self.toolbox.begin()
            self._tool_steps = 0
        return self._prompt, dict(self._key)

    def step(self, action: Any):
        if self._instance is None:
            raise RuntimeError("call reset() before step()")
        if self.toolbox is not None:
            parsed = parse_action(action)
            if parsed.is_tool_call and self.toolbox.remaining > 0:
                return self._tool_step(parsed)
            action = parsed.text  # a final answer (past the budget, a tool call is scored as one)
        result = self.score(action)
        self._turn += 1
        feasible = result["feasibility"]["feasible"]
        self._history.append(_turn_summary(self._turn, result))
        terminated = feasible or self._turn >= self.max_turns
        observation = "" if terminated else repair_prompt(result, self._turn, self.max_turns)
        info = dict(self._key)
        info.update(result)
        info["turn"] = self._turn
        info["turns"] = list(self._history)
        if self.toolbox is not None:
            info["tool_calls"] = self.toolbox.summary()
        return observation, result["reward"], terminated, False, info

    def _tool_step(self, parsed):
        """Run the action's tool calls: the observation is their results, the reward minus their cost."""
        observation, results, cost = self.toolbox.run(parsed, self._instance, self.score)
        self._tool_steps += 1
        info = dict(self._key)
        info.update({"turn": self._turn, "tool_step": self._tool_steps, "tool_results": results,
                     "tool_calls": self.toolbox.summary(), "turns": list(self._history)})
        return observation, -cost, False, False, info

    @property
    def tool_schemas(self) -> list[dict]:
        """The tools as OpenAI function-calling schemas (empty without tools)."""
        self._require_instance()
        return [] if self.toolbox is None else self.toolbox.schemas(self._instance)

    def render(self) -> str | None:
        return self._prompt if self.render_mode == "ansi" and self._instance is not None else None

    # ---- scoring -------------------------------------------------------------------
    def score(self, answer: Any) -> dict:
        """Score an answer for the current instance without stepping (never raises)."""
        if self._instance is None:
            raise RuntimeError("call reset() before score()")
        text = coerce_text(answer)
        fmt, values = self._schema.read(locate_answer(text, self.max_answer_chars))
        with np.errstate(all="ignore"):
            report, objective = self.family.check(self._instance, values)
            errors = self.family.answer_errors(self._instance, values, self._solution)
        feas = report.result()
        ref = self._solution["objective"]
        objective = None if objective is None or not math.isfinite(objective) else float(objective)
        info = self.family.objective_info()
        gap = objective_gap(objective, ref, info.get("sense", "min")) if feas["feasible"] else None
        below = gap is not None and gap < -float(info.get("reference_rtol", REFERENCE_RTOL))
        optimality = {"objective": objective, "reference_objective": ref, "gap": gap, "below_reference": below, **info}
        if errors is not None:
            optimality["errors"] = errors
        reward, components = combine(fmt["score"], feas["score"], feas["feasible"], gap,
                                     self.reward_weights, self.optimality_scale)
        return {"format": fmt, "feasibility": feas, "optimality": optimality,
                "reward": reward, "reward_components": components}

    def reference_answer(self) -> str:
        """The oracle's answer for the current instance, written at the prompt's decimals."""
        self._require_instance()
        return self._schema.write(values_from_solution(self._solution))

    def nominal_answer(self) -> str:
        """A "looks-right" answer: the unperturbed case's optimum, well formatted, not re-solved."""
        self._require_instance()
        key = self._cache.key(None, None, NOMINAL)
        record = self._cache.get(NOMINAL, key)
        if record is not None:
            problem = solution_problem(record["solution"], self.family.schema(self.family.nominal()))
            if problem:
                self._cache.reject(NOMINAL, problem)
                record = None
        if record is None:
            solution = self.family.solve(self.family.nominal())
            if solution is None:
                raise RuntimeError(f"{self.family.name}: the nominal instance has no reference solution")
            record = self._cache.put(NOMINAL, key, 0, solution)
        nominal = record["solution"]
        return self._schema.write(values_from_solution(nominal))  # values in model order: any ids fit

    def random_answer(self, rng: np.random.Generator) -> str:
        """Well-formatted random values inside each field's range."""
        self._require_instance()
        return self._schema.write(self.family.random_values(self._instance, rng))

    @property
    def instance(self) -> Any:
        return self._instance

    @property
    def cache_namespace(self) -> Namespace:
        """What this env's references depend on (family, configuration, version): its cache folder."""
        return self._cache.namespace

    @property
    def reference_record(self) -> dict:
        """The current instance's verified cache record (key, attempt, solution, checksum); read-only.

        What a remote worker sends back so the caller can store it (:func:`~feasgym.envs.core.cache.store_record`).
        """
        self._require_instance()
        return self._record

    @property
    def instance_key(self) -> dict:
        """Columns that address the current instance: seed, split, instance index."""
        return dict(self._key)

    @property
    def prompt(self) -> str:
        self._require_instance()
        return self._prompt

    # ---- internals -----------------------------------------------------------------
    def _require_instance(self) -> None:
        if self._instance is None:
            raise RuntimeError("call reset() first")

    def _rng(self, k: int, attempt: int) -> np.random.Generator:
        seq = np.random.SeedSequence(entropy=self._stream_seed, spawn_key=(SPLITS[self.split], k, attempt))
        return np.random.default_rng(seq)

    def _load(self, k: int) -> None:
        name = entry_name(self.split, self._stream_seed, k)
        key = self._cache.key(self.split, self._stream_seed, k)
        record = self._cache.get(name, key)  # verified key, checksum and layout
        if record is not None:
            attempt = record["key"]["attempt"]
            instance = self.family.draw(self._rng(k, attempt), self.split)
            schema = self.family.schema(instance)
            problem = solution_problem(record["solution"], schema)  # one value per id of this instance
            if problem:
                self._cache.reject(name, problem)
                record = None
        if record is None:
            for attempt in range(MAX_DRAWS):
                instance = self.family.draw(self._rng(k, attempt), self.split)
                solution = self.family.solve(instance)
                if solution is not None:
                    break
            else:
                raise RuntimeError(
                    f"{self.family.name}: {MAX_DRAWS} draws in a row had no reference solution; "
                    "the instance configuration is likely infeasible (e.g. loads scaled too far)"
                )
            schema = self.family.schema(instance)
            record = self._cache.put(name, key, attempt, solution)
        self._instance, self._solution, self._record = instance, record["solution"], record
        self._schema = schema
        self._prompt = self.family.render(instance)
        if self.toolbox is not None:
            self._prompt += "\n" + self.toolbox.prompt_section(instance) + "\n"
        self._key = {
            "seed": self._stream_seed,
            "split": self.split,
            "instance": k,
            "skipped_draws": attempt,
            "prompt_hash": hashlib.sha256(self._prompt.encode()).hexdigest()[:16],
        }


def _turn_summary(turn: int, result: dict) -> dict:
    return {
        "turn": turn,
        "format": result["format"]["score"],
        "constraint_rate": result["feasibility"]["score"],
        "feasible": result["feasibility"]["feasible"],
        "violated": result["feasibility"]["total"] - result["feasibility"]["satisfied"],
        "gap": result["optimality"]["gap"],
        "reward": result["reward"],
    }
