"""The answer locator and the format checks, on every kind of bad input an LLM can produce."""
from __future__ import annotations

import json

import numpy as np
import pytest

from feasgym.envs.core.answer import MAX_ANSWER_CHARS, coerce_text, locate_answer
from feasgym.envs.core.schema import FORMAT_CHECKS, AnswerSchema, Field, Section

SCHEMA = AnswerSchema((
    Section("generators", ("G1", "G2"), (Field("p_mw", 3), Field("q_mvar", 3))),
    Section("buses", ("1", "2"), (Field("vm_pu", 5),)),
))
GOOD = ('{"generators": {"G1": {"p_mw": 1.000, "q_mvar": 2.000}, "G2": {"p_mw": 3.000, "q_mvar": 4.000}},'
        ' "buses": {"1": {"vm_pu": 1.00000}, "2": {"vm_pu": 0.98000}}}')


def random_edits(text: str, alphabet: str, rng: np.random.Generator, *, count: int, max_edits: int) -> list[str]:
    """``count`` copies of ``text``, each with 1..``max_edits`` characters replaced or inserted from ``alphabet``."""
    out = []
    for _ in range(count):
        chars = list(text)
        for _ in range(int(rng.integers(1, max_edits + 1))):
            i = int(rng.integers(len(chars)))
            chars[i:i + int(rng.integers(0, 2))] = [alphabet[int(rng.integers(len(alphabet)))]]
        out.append("".join(chars))
    return out


def read(text):
    fmt, values = SCHEMA.read(locate_answer(coerce_text(text)))
    checks = {c["name"]: c for c in fmt["checks"]}
    return fmt, checks, values


def test_good_answer_passes_every_check_and_round_trips():
    fmt, checks, values = read(GOOD)
    assert fmt["score"] == 1.0 and all(c["passed"] for c in checks.values())
    assert list(checks) == list(FORMAT_CHECKS)
    np.testing.assert_array_equal(values["generators"]["p_mw"], [1.0, 3.0])
    np.testing.assert_array_equal(values["buses"]["vm_pu"], [1.0, 0.98])
    assert read(SCHEMA.write(values))[0]["score"] == 1.0


UNUSABLE = [
    ("", "answer_found"),
    ("   \n\t ", "answer_found"),
    ("The generators should run at half capacity.", "answer_found"),
    ('{"generators": {"G1": {"p_mw": 1.0', "json_parses"),  # truncated, no complete object
    (GOOD[:-40], "sections_present"),  # truncated: only inner fragments parse
    ("{not json at all}", "json_parses"),
    ("\x00\x01\xff\xfe binary {\x00}", "json_parses"),
    ('{"generators": {}}', "sections_present"),
    ('{"generators": [], "buses": {}}', "sections_present"),
]


@pytest.mark.parametrize("text, failed", UNUSABLE)
def test_unusable_answers_fail_early_checks_and_score_low(text, failed):
    fmt, checks, values = read(text)
    assert not checks[failed]["passed"] and checks[failed]["message"]
    assert fmt["score"] <= 2 / len(FORMAT_CHECKS)
    assert all(np.isnan(col).all() for sec in values.values() for col in sec.values())


def test_huge_answer_is_capped_not_parsed():
    text = GOOD + " " * (MAX_ANSWER_CHARS + 1)
    fmt, checks, _ = read(text)
    assert not checks["answer_found"]["passed"] and "cap" in checks["answer_found"]["message"]


def test_ten_megabytes_of_braces_is_fast_and_safe():
    import time

    t0 = time.perf_counter()
    fmt, _, _ = read("{" * 10_000_000)
    assert fmt["score"] == 0.0 and time.perf_counter() - t0 < 5.0


def test_deeply_nested_arrays_do_not_crash():
    text = '{"generators": ' + "[" * 100_000 + "]" * 100_000 + ', "buses": {}}'
    fmt, checks, _ = read(text)
    assert not checks["json_parses"]["passed"] or not checks["sections_present"]["passed"]


def test_last_json_object_counts():
    first = GOOD.replace("1.000", "9.000", 1)
    fmt, checks, values = read(f"Draft: {first}\nFinal answer:\n```json\n{GOOD}\n```")
    assert values["generators"]["p_mw"][0] == 1.0
    assert "last one counts" in checks["json_parses"]["message"]


def test_nonfinite_numbers_are_named_and_missing():
    for token in ("NaN", "Infinity", "-Infinity", "1e999", "1" + "0" * 400, "-" + "9" * 400):
        fmt, checks, values = read(GOOD.replace("2.000", token))
        assert not checks["numbers_finite"]["passed"], token
        assert "generators.G1.q_mvar" in checks["numbers_finite"]["message"]
        assert np.isnan(values["generators"]["q_mvar"][0])


def test_numbers_as_strings_are_not_numbers():
    fmt, checks, values = read(GOOD.replace("3.000", '"3.000"'))
    assert not checks["numbers_typed"]["passed"] and np.isnan(values["generators"]["p_mw"][1])


def test_duplicate_keys_make_the_value_ambiguous():
    dup = GOOD.replace('"G2": {"p_mw": 3.000', '"G2": {"p_mw": 5.000, "p_mw": 3.000')
    fmt, checks, values = read(dup)
    assert not checks["ids_unique"]["passed"] and np.isnan(values["generators"]["p_mw"][1])
    dup_id = GOOD.replace('"G2": {', '"G1": {"p_mw": 7.000, "q_mvar": 7.000}, "G2": {')
    fmt, checks, values = read(dup_id)
    assert not checks["ids_unique"]["passed"] and np.isnan(values["generators"]["p_mw"][0])


def test_unknown_and_missing_ids():
    fmt, checks, values = read(GOOD.replace('"G2"', '"G7"'))
    assert not checks["ids_valid"]["passed"] and "generators.G7" in checks["ids_valid"]["message"]
    assert not checks["ids_complete"]["passed"] and "generators.G2" in checks["ids_complete"]["message"]
    assert np.isnan(values["generators"]["p_mw"][1])


def test_decimal_places_are_checked_exactly():
    fmt, checks, _ = read(GOOD.replace("1.00000", "1.0"))
    assert not checks["decimals"]["passed"] and "vm_pu (asked 5)" in checks["decimals"]["message"]
    fmt, checks, _ = read(GOOD.replace("1.000,", "1e0,", 1))
    assert not checks["decimals"]["passed"]


def test_non_string_answers_are_coerced():
    assert read(None)[0]["score"] == 0.0
    assert read(GOOD.encode())[0]["score"] == 1.0
    assert read(12345)[0]["score"] == 0.0


@pytest.mark.parametrize("text", [
    GOOD,
    GOOD.replace('"G2": {"p_mw": 3.000', '"G2": {"p_mw": 5.000, "p_mw": 3.000'),  # duplicate key
    GOOD.replace("2.000", "NaN"),  # not strict JSON: orjson refuses, the stdlib reads it
    GOOD.replace("2.000", "1e999"),
    GOOD.replace("3.000", '"3.000"'),
    '{"generators": {"G1": {"p_mw": 1.000, "q_mvar": "a:b{c"}}, "buses": {}}',
])
def test_fast_whole_object_path_agrees_with_the_general_path(text):
    """A bare object takes the orjson fast path; behind a prefix the same object takes the
    stdlib path. Both must give the same checks and values."""
    fast, general = read(text), read("Answer: " + text)
    assert [c["passed"] for c in fast[0]["checks"]] == [c["passed"] for c in general[0]["checks"]]
    for section, fields in fast[2].items():
        for name, col in fields.items():
            np.testing.assert_array_equal(col, general[2][section][name])


def _alternation(decimals: dict[str, int]):
    """The decimals check as one regex alternation: the reference the per-field patterns must agree with.
    A key counts where its opening quote follows '{', ',' or JSON whitespace (not inside a string)."""
    import re

    alternatives = []
    for name, d in decimals.items():
        good = r"-?\d+" + (rf"\.\d{{{d}}}" if d > 0 else "") + r"(?![\d.eE])"
        alternatives.append(rf'(?<![^ \t\n\r{{,])"({re.escape(name)})"\s*:(?!\s*{good})')
    return re.compile("|".join(alternatives))


def test_per_field_decimal_patterns_agree_with_one_alternation():
    """Names that prefix one another, keys without a colon, values that are strings, all whitespace, and
    random edits of a well-formed answer: the merged per-field matches are the alternation's, in order."""
    from feasgym.envs.core.schema import _bad_decimal_fields, _bad_decimals_patterns

    decimals = {"p": 2, "p_mw": 3, "mw": 0, "vm_pu": 5}
    schema = AnswerSchema((Section("s", ("a", "b", "c"), tuple(Field(n, d) for n, d in decimals.items())),))
    rng = np.random.default_rng(0)
    written = schema.write({"s": {n: rng.normal(size=3) * 100 for n in decimals}})
    texts = [written, GOOD, '"p_mw"p_mw": 1.000', '"p": "p_mw" : 1.0, "mw"\n:\t7, "mw": 7.', '{"p":1.00e1,"p":-0.00}',
             '"vm_pu": 1.00000.5, "vm_pu": 1.000001, "vm_pu":1.00000E1, "vm_pu" :  -0.00000}', '"mw": "p": 1.50']
    texts += [text for text, _ in UNUSABLE]
    # The patterns' classes are ASCII: on parsed JSON (all they are run on) Unicode digits and spaces
    # can sit only inside strings, never where a key's value is read.
    unicode_json = ['{"s": {"a \\"vm_pu": "\u0661.\u0660\u0660\u0660\u0660\u0660", "vm_pu": 1.00000}}',
                    '{"vm_pu": "\u0661.\u0660\u0660\u0660\u0660\u0660", "p": "\u00a0\u2003", "mw": 7}',
                    '{"p\u00a0": 1.00, "p": "x\u00a0\\"p\\": 1.0", "vm_pu":\t\r\n-0.12345}']
    assert all(isinstance(json.loads(text), dict) for text in unicode_json)
    texts += unicode_json
    texts += random_edits(written, '"{}:, \n.-0123456789eEpmw_', rng, count=400, max_edits=5)
    reference, patterns = _alternation(decimals), _bad_decimals_patterns(decimals)
    for text in texts:
        assert _bad_decimal_fields(patterns, text) == [m.group(m.lastindex) for m in reference.finditer(text)], text
    assert any(_bad_decimal_fields(patterns, text) for text in texts) and not _bad_decimal_fields(patterns, written)


def test_values_known_as_floats_from_the_decimals_check_read_as_when_checked(monkeypatch):
    """When the decimals check passes on a text without backslashes, value types are not checked again:
    on good answers and random edits (escapes, integers, strings, exponents) the format checks and
    values must be those of the path that checks every value's type."""
    from feasgym.envs.core import schema as schema_module

    schema = AnswerSchema((Section("g", ("a", "b", "c"), (Field("p_mw", 3), Field("q_mvar", 2))),
                           Section("b", ("1", "2"), (Field("vm_pu", 5),))))
    rng = np.random.default_rng(3)
    written = schema.write({"g": {"p_mw": rng.normal(size=3) * 100, "q_mvar": rng.normal(size=3)},
                            "b": {"vm_pu": rng.normal(size=2)}})
    texts = [written, written.replace('"p_mw"', '"p\\u005fmw"', 1), written.replace('"vm_pu"', '"vm_pu\\""', 1),
             written.replace(": ", ': "', 1), written.replace('"a"', '"x\\"a"')]
    texts += [text for text, _ in UNUSABLE]
    texts += random_edits(written, '"{}:, \n.-0123456789eE\\ntu', rng, count=600, max_edits=3)
    located = [locate_answer(text) for text in texts]
    fast = [schema.read(loc) for loc in located]
    monkeypatch.setattr(schema_module, "_values_are_floats", lambda bad, span: False)
    checked = [schema.read(loc) for loc in located]
    assert sum(f[0]["score"] == 1.0 for f in fast) >= 2 and any(f[0]["score"] < 1.0 for f in fast)
    for text, (fmt, values), (fmt_checked, values_checked) in zip(texts, fast, checked):
        assert fmt == fmt_checked, text
        for section, fields in values.items():
            for name, col in fields.items():
                np.testing.assert_array_equal(col, values_checked[section][name], err_msg=text)
