"""Answers written to game the scorer: duplicated keys at every level in every family, escaped keys,
nesting past the depth cap, and the adversarial shapes of the parse benchmark at the size cap."""
from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

import feasgym  # noqa: F401
from feasgym.envs.core.answer import MAX_ANSWER_CHARS, MAX_NESTING_DEPTH, locate_answer
from feasgym.envs.core.json_scan import decide_starts
from feasgym.envs.core.schema import AnswerSchema, Field, Section, _fmt

from .helpers import load_benchmark

FAMILIES = [
    ("feasgym/ACOPF-case5-v0", {}),
    ("feasgym/ACOPF-case5-v0", {"answer_mode": "setpoints"}),
    ("feasgym/PowerFlow-case5-v0", {}),
    ("feasgym/DCOPF-case5-v0", {}),
    ("feasgym/DCOPF-case5-v0", {"answer_mode": "angles"}),
    ("feasgym/Portfolio-n10-v0", {}),
]


def bench_module():
    return load_benchmark("bench_parse_worst")


@pytest.fixture(scope="module", params=FAMILIES, ids=lambda p: p[0].split("/")[1] + "".join(f"-{v}" for v in p[1].values()))
def family_env(request):
    env_id, kwargs = request.param
    env = gym.make(env_id, **kwargs)
    env.reset(seed=0, options={"instance": 0})
    return env.unwrapped


def checks_of(result) -> dict:
    return {c["name"]: c for c in result["format"]["checks"]}


def section_blocks(env, text: str) -> dict[str, str]:
    """The text of each section of a written answer, ``"name": {...}``, as the schema writes it."""
    root = json.loads(text)
    blocks = {}
    for name in root:
        single = AnswerSchema(tuple(s for s in env._schema.sections if s.name == name))
        values = {name: {f: np.array([root[name][i][f] for i in root[name]]) for f in single.sections[0].names}}
        blocks[name] = single.write(values).strip()[1:-1].strip()
    return blocks


def test_duplicated_section_is_ambiguous_in_every_family(family_env):
    """{"sec": {...wrong...}, "sec": {...right...}}: the last copy must not count (and the first neither)."""
    u = family_env
    oracle, wrong = u.reference_answer(), u.random_answer(np.random.default_rng(0))
    assert u.score(oracle)["feasibility"]["feasible"]
    right_blocks, wrong_blocks = section_blocks(u, oracle), section_blocks(u, wrong)
    for name in right_blocks:
        for first, second in ((wrong_blocks, right_blocks), (right_blocks, wrong_blocks)):
            others = [block for other, block in right_blocks.items() if other != name]
            text = "{" + ", ".join([first[name], second[name]] + others) + "}"
            result = u.score(text)
            checks = checks_of(result)
            assert not checks["ids_unique"]["passed"] and name in checks["ids_unique"]["message"], text[:200]
            assert not result["feasibility"]["feasible"] and result["reward"] < u.score(oracle)["reward"]
            assert checks["sections_present"]["passed"] and checks["json_parses"]["passed"]


def test_duplicated_id_and_field_are_ambiguous_in_every_family(family_env):
    u = family_env
    oracle = u.reference_answer()
    section = u._schema.sections[0]
    first_id, field = section.ids[0], section.fields[0]
    record = f'"{first_id}": {{'
    zero = _fmt(0.0, field.decimals)
    assert oracle.count(record) == 1
    dup_id = oracle.replace(record, f'"{first_id}": {{"{field.name}": {zero}}}, ' + record)
    dup_field = oracle.replace(record, record + f'"{field.name}": {zero}, ')
    escaped = field.name.replace("_", "\\u005f") if "_" in field.name else "\\u00" + format(ord(field.name[0]), "x") + field.name[1:]
    dup_escaped = oracle.replace(record, record + f'"{escaped}": {zero}, ')
    for text, path in ((dup_id, f"{section.name}.{first_id}"), (dup_field, f"{section.name}.{first_id}.{field.name}"),
                       (dup_escaped, f"{section.name}.{first_id}.{field.name}")):
        result = u.score(text)
        checks = checks_of(result)
        assert not checks["ids_unique"]["passed"] and path in checks["ids_unique"]["message"], path
        assert not result["feasibility"]["feasible"]


SCHEMA = AnswerSchema((Section("generators", ("G1", "G2"), (Field("p_mw", 3), Field("q_mvar", 3))),))
GOOD = '{"generators": {"G1": {"p_mw": 1.000, "q_mvar": 2.000}, "G2": {"p_mw": 3.000, "q_mvar": 4.000}}}'


def read(text):
    fmt, values = SCHEMA.read(locate_answer(text))
    return {c["name"]: c for c in fmt["checks"]}, values


def test_escaped_keys_are_read_and_checked_as_parsed():
    checks, values = read(GOOD.replace('"p_mw": 1.000', '"p\\u005fmw": 40'))
    assert not checks["decimals"]["passed"] and "p_mw (asked 3)" in checks["decimals"]["message"]
    assert values["generators"]["p_mw"][0] == 40.0 and checks["ids_complete"]["passed"]
    checks, values = read(GOOD.replace('"p_mw": 1.000', '"p\\u005fmw": 40.000'))
    assert all(c["passed"] for c in checks.values()) and values["generators"]["p_mw"][0] == 40.0
    checks, _ = read(GOOD.replace('"q_mvar": 4.000', '"\\u0071_mvar": 4'))
    assert not checks["decimals"]["passed"] and "q_mvar" in checks["decimals"]["message"]
    # Text inside a string that looks like a key is not a key: no decimals fault from it.
    checks, values = read(GOOD.replace('{"generators"', '{"note": "x\\"p_mw\\": 1, \\"p_mw\\": 2", "generators"'))
    assert all(c["passed"] for c in checks.values())
    checks, values = read(GOOD.replace('{"generators"', '{"a \\"p_mw": 1, "generators"'))
    assert all(c["passed"] for c in checks.values())


def test_duplicated_top_level_key_outside_the_schema_is_named():
    checks, values = read(GOOD[:-1] + ', "note": 1, "note": 2}')
    assert not checks["ids_unique"]["passed"] and "note" in checks["ids_unique"]["message"]
    assert not np.isnan(values["generators"]["p_mw"]).any()  # the sections themselves are unambiguous


def nested(depth: int, inner: str = "1") -> str:
    """An object ``depth`` containers deep (objects and arrays alternating)."""
    text = inner
    for level in range(depth - 1):
        text = f'{{"a": {text}}}' if level % 2 else f"[{text}]"
    return '{"x": ' + text + "}"


@pytest.mark.parametrize("deep", [nested(MAX_NESTING_DEPTH + 1), '{"a":' * 1000 + "1" + "}" * 1000,
                                  '{"b": 1, "b": 2, "c": ' + "[" * 1000 + "]" * 1000 + "}",  # needs the exact parse
                                  "{\"c\": " + "[" * 1000, '{"a":' * 5000, GOOD[:-1] + ', "d": ' + "[" * 2000 + "]" * 2000 + "}"])
def test_nesting_past_the_cap_is_refused_by_name(deep):
    for text in (deep, "prose " + deep, deep + " " + GOOD, GOOD + " " + deep):
        located = locate_answer(text)
        refused = f"nested deeper than {MAX_NESTING_DEPTH} levels" in located.message
        if text.startswith(GOOD):  # a parsed answer first: deep JSON after it is its own top-level start
            assert refused
        checks, values = read(text)
        assert not checks["json_parses"]["passed"] and "nested deeper" in checks["json_parses"]["message"], text[:80]
        assert np.isnan(values["generators"]["p_mw"]).all()


def test_nesting_at_the_cap_parses():
    located = locate_answer(nested(MAX_NESTING_DEPTH))
    assert located.root is not None and "x" in located.root
    assert locate_answer("Answer: " + nested(MAX_NESTING_DEPTH) + " done").root is not None
    assert locate_answer(nested(MAX_NESTING_DEPTH + 1)).root is None


def test_deep_json_inside_a_string_of_the_answer_is_not_refused():
    text = GOOD[:-1] + ', "note": "' + '{\\"a\\":' * 500 + '"}'
    checks, values = read(text)
    assert all(c["passed"] for c in checks.values())


def test_last_top_level_object_counts():
    """Several objects: the last that parses and does not begin inside an earlier one that parses."""
    draft = GOOD.replace("1.000", "9.000")
    for text, expected in ((f"{draft} then {GOOD}", 1.0), (f"{GOOD} then {draft}", 9.0),
                           (f"{draft}\n{GOOD}\n{{broken", 1.0), (f'{GOOD} {{"generators": 5', 1.0),
                           (f"{draft} {{ {GOOD}", 1.0), (GOOD[:-1] + ', "n": ' + json.dumps(draft) + "}", 1.0)):
        _, values = read(text)
        assert values["generators"]["p_mw"][0] == expected, text
    assert "3 JSON objects found" in locate_answer("{} {} " + GOOD).message


@pytest.mark.parametrize("name", list(bench_module().shapes(GOOD)))
def test_adversarial_shapes_at_the_cap_score_without_raising(name):
    env = gym.make("feasgym/ACOPF-case5-v0")
    env.reset(seed=0)
    u = env.unwrapped
    text = bench_module().shapes(u.reference_answer())[name]
    assert len(text) <= MAX_ANSWER_CHARS
    for answer in (text, text.encode("utf-8"), text[: len(text) // 3]):
        result = u.score(answer)
        assert 0.0 <= result["format"]["score"] <= 1.0
        if result["feasibility"]["feasible"]:  # only shapes that end with the oracle's answer
            assert name in ("long think block", "drafts then the answer")


def stdlib_outcome(text: str, pos: int) -> int:
    """End of the object the stdlib decoder parses from ``pos``, or -1."""
    try:
        obj, end = json.JSONDecoder().raw_decode(text, pos)
    except (ValueError, RecursionError):
        return -1
    return end if isinstance(obj, dict) else -1


@pytest.mark.parametrize("text", [GOOD, 'a {"k": "{\\"", "v": [1, {"w": {}}]} {"x": 01} {"y": -0.5e+3}',
                                  '{"a": "\\ud800", "b": "\\u12"} {"c": "\t"} {"d": NaN, "e": -Infinity}',
                                  '{"a":"{"}":1} {"s": "}{"} "{"z": 1}', '{"a": 1' + "1" * 5000 + "}",
                                  '{"a": [tru, true]} {"b": [1,]} {"c": {,}} {"d" 1} {"e": 1 "f": 2}'])
def test_scan_decides_every_start_as_the_stdlib_decoder(text):
    start, end, parses, _ = decide_starts(text, 10**6)
    assert start.tolist() == [i for i, c in enumerate(text) if c == "{"]
    for p, e, ok in zip(start.tolist(), end.tolist(), parses.tolist()):
        assert (e if ok else -1) == stdlib_outcome(text, p), (text, p)
