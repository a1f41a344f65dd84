"""Property tests (hypothesis) over generated answers.

- The linear scan decides every '{' exactly as the stdlib decoder does (parses, and where it ends).
- ``score`` never raises and returns within a generous time bound, on mutations of the oracle's
  answer, random JSON, compositions of the adversarial shapes, and raw bytes.
- Every answer ``score`` marks feasible is re-checked by the independent pandapower cross-checker
  (its own network model and Newton power flow) and is feasible there too.
"""
from __future__ import annotations

import functools
import json
import re
import time

import gymnasium as gym
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import feasgym  # noqa: F401
from feasgym.envs.core.answer import coerce_text, locate_answer
from feasgym.envs.core.json_scan import decide_starts
from feasgym.envs.grids.pandapower_check import PandapowerChecker

from .helpers import load_benchmark

TIME_BOUND_S = 2.0  # generous: the benchmark measures the real worst case (benchmarks/bench_parse_worst.py)
FAST = settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet='ab{}[]":,\\ \u00e9', max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(alphabet='ab"{:\\_', max_size=4), inner, max_size=4),
    max_leaves=12,
)
json_texts = json_values.map(lambda v: json.dumps({"k": v}))
PUNCT = '{}[]:,"\\ 0123456789.eE-+ntrufalsNIy\t\n\x01\u00e9'


@st.composite
def edited(draw, base: st.SearchStrategy, alphabet: str = PUNCT, max_edits: int = 6):
    """``base`` with a few characters replaced, inserted or deleted."""
    chars = list(draw(base))
    for _ in range(draw(st.integers(0, max_edits))):
        i = draw(st.integers(0, len(chars)))
        op = draw(st.sampled_from(("replace", "insert", "delete")))
        c = draw(st.sampled_from(alphabet))
        if op == "insert" or i == len(chars):
            chars.insert(i, c)
        elif op == "replace":
            chars[i] = c
        else:
            del chars[i]
    return "".join(chars)


def stdlib_end(text: str, pos: int) -> int:
    try:
        obj, end = json.JSONDecoder().raw_decode(text, pos)
    except (ValueError, RecursionError):
        return -1
    return end if isinstance(obj, dict) else -1


def depth_of(value) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    return 0


@FAST
@given(text=st.one_of(edited(json_texts), st.text(alphabet=PUNCT, max_size=40), edited(json_texts.map(lambda t: t + " " + t))),
       max_depth=st.integers(1, 5))
def test_scan_decides_every_start_as_the_stdlib_decoder(text, max_depth):
    start, end, parses, too_deep = decide_starts(text, max_depth)
    assert start.tolist() == [i for i, c in enumerate(text) if c == "{"]
    for p, e, ok, deep in zip(start.tolist(), end.tolist(), parses.tolist(), too_deep.tolist()):
        assert (e if ok else -1) == stdlib_end(text, p), (text, p)
        if ok:
            assert deep == (depth_of(json.JSONDecoder().raw_decode(text, p)[0]) > max_depth), (text, p)


@pytest.fixture(scope="module")
def acopf():
    env = gym.make("feasgym/ACOPF-case14-v0")
    env.reset(seed=0, options={"instance": 0})
    u = env.unwrapped
    return u, u.reference_answer(), PandapowerChecker(u.instance)


@functools.lru_cache(maxsize=4)
def bench_shapes(answer: str) -> list[str]:
    return list(load_benchmark("bench_parse_worst").shapes(answer, cap=20_000).values())


_NUMBER = re.compile(r"-?\d+\.\d+")


@st.composite
def oracle_mutations(draw, oracle: str):
    """The oracle's answer with numbers nudged in their last digits, text around it, drafts before it, or edits."""
    text = oracle
    kind = draw(st.sampled_from(("nudge", "wrap", "draft", "edit", "nudge+wrap")))
    if "nudge" in kind:
        numbers = list(_NUMBER.finditer(text))
        for _ in range(draw(st.integers(1, 4))):
            m = numbers[draw(st.integers(0, len(numbers) - 1))]
            digits = m.group()
            step = draw(st.integers(-3, 3))
            decimals = len(digits.split(".")[1])
            nudged = f"{float(digits) + step * 10.0 ** -decimals:.{decimals}f}"
            text = text[:m.start()] + nudged + text[m.end():]
            numbers = list(_NUMBER.finditer(text))
    if "wrap" in kind:
        text = draw(st.sampled_from(("", "Answer:\n", "<think>{x} {y}</think>", "```json\n"))) + text + draw(
            st.sampled_from(("", "\n```", " done.", " {")))
    if kind == "draft":
        text = draw(edited(st.just(oracle), max_edits=3)) + "\nFinal:\n" + text
    if kind == "edit":
        text = draw(edited(st.just(oracle), alphabet='{}[]:,"\\ 0123456789.-eE', max_edits=3))
    return text


def assert_scores_and_cross_checks(u, checker, answer):
    t0 = time.perf_counter()
    result = u.score(answer)
    assert time.perf_counter() - t0 < TIME_BOUND_S
    assert 0.0 <= result["format"]["score"] <= 1.0 and 0.0 <= result["feasibility"]["score"] <= 1.0
    if result["feasibility"]["feasible"]:
        _, values = u._schema.read(locate_answer(coerce_text(answer)))
        g, b = values["generators"], values["buses"]
        found = checker.violations(g["p_mw"], g["q_mvar"], b["vm_pu"], b["va_deg"])
        assert not any(found.values()), {k: sorted(v) for k, v in found.items() if v}
    return result


@SLOW
@given(data=st.data())
def test_oracle_mutations_score_and_feasible_ones_are_feasible_in_pandapower(acopf, data):
    u, oracle, checker = acopf
    answer = data.draw(oracle_mutations(oracle))
    assert_scores_and_cross_checks(u, checker, answer)


def test_the_oracle_itself_is_feasible_in_both(acopf):
    u, oracle, checker = acopf
    assert assert_scores_and_cross_checks(u, checker, oracle)["feasibility"]["feasible"]


@FAST
@given(answer=st.one_of(json_texts, edited(json_texts), st.binary(max_size=300), st.text(max_size=200),
                        st.lists(st.integers(0, 17), min_size=1, max_size=4), st.integers(0, 3)))
def test_score_never_raises_on_random_json_bytes_and_shapes(acopf, answer):
    u, oracle, checker = acopf
    if isinstance(answer, list):  # a composition of adversarial shapes (each cut short)
        shapes = bench_shapes(oracle)
        answer = "".join(shapes[i % len(shapes)][:5000] for i in answer)
    elif isinstance(answer, int):  # a shape at full length with the oracle's answer embedded
        answer = bench_shapes(oracle)[[0, 7, 13, 16][answer]]
    assert_scores_and_cross_checks(u, checker, answer)


def reference_last_object(text: str) -> tuple[int, str | None]:
    """The documented rule, by brute force with the stdlib decoder: the objects that parse from each '{',
    those not beginning inside an earlier one that parses, and the last of them (count, its text)."""
    spans, reach = [], -1
    for pos in (i for i, c in enumerate(text) if c == "{"):
        end = stdlib_end(text, pos)
        if end < 0:
            continue
        if pos >= reach:
            spans.append(text[pos:end])
        reach = max(reach, end)
    return len(spans), (spans[-1] if spans else None)


def plain(value):
    """A located root as plain JSON values: objects below records may come as key-value pair tuples."""
    if isinstance(value, tuple):
        value = dict(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


@FAST
@given(text=st.one_of(
    edited(json_texts.map(lambda t: "Draft " + t + " final " + t)),
    st.lists(st.one_of(json_texts, st.sampled_from(["{", "}", " x ", '"', "{}", '{"a":', "\n"])), max_size=6).map("".join),
    edited(json_texts, max_edits=2)))
def test_locate_answer_follows_the_documented_rule(text):
    count, span = reference_last_object(text)
    located = locate_answer(text)
    if span is None:
        assert located.root is None
    else:
        assert located.span == span and plain(located.root) == json.loads(span), text
        assert ("last one counts" in located.message) == (count > 1)
