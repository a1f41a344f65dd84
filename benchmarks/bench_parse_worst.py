"""Worst-case answer parsing: score() on adversarial texts at the 200,000-character cap vs the oracle.

Each shape is a text an optimizer could emit to stall scoring (deep nesting, many short objects,
many '{' in prose, a long <think> block, several objects, strings and escapes that change what is
inside a string). For each, score() on the ACOPF case118 env (full state) is timed, interleaved
with score() on the oracle answer, repeated; printed: the shape's time range (min-max over the
repeats), the oracle's range in the same run, and their ratio. Target (issue 10): every shape
<= 50 ms. Run: ``python benchmarks/bench_parse_worst.py``.
"""
from __future__ import annotations

import time

CAP = 200_000


def shapes(answer: str, cap: int = CAP) -> dict[str, str]:
    """Adversarial texts (each cut to ``cap`` characters); ``answer`` is a well-formed answer to embed."""
    raw = {
        "nested arrays in objects": ('{"a":[' + "[[]]," * 6) * 6666,
        "objects in flat arrays": ('{"a":[' + "0," * 10) * 10000,
        "deep objects": '{"x": 1, "b": ' + '{"a":' * 40000,
        "deep arrays": '{"x": 1, "b": ' + "[" * cap,
        "deep objects, duplicate key": '{"x": 1, "x": 2, "b": ' + '{"a":' * 1000 + "1" + "}" * 1000 + "}",
        "deep, then the answer": '{"b": ' + "[" * 5000 + "]" * 5000 + "} " + answer,
        "many short objects": '{"a": 1}' * 25000,
        "many empty objects": "{}" * (cap // 2),
        "keys without commas": '{"a":1 ' * (cap // 7),
        "braces in prose": "{ " * (cap // 2),
        "set notation in prose": "Let {x} be in {y, z}. " * (cap // 22),
        "long think block": "<think>" + "Consider {p_mw} and {vm_pu}: " * ((cap - len(answer)) // 30) + "</think>" + answer,
        "drafts then the answer": (answer[: len(answer) // 2] + "\n") * ((cap - len(answer)) // (len(answer) // 2 + 1)) + answer,
        "quotes around braces": '"{' * (cap // 2),
        "strings opening objects": '{"a":"' + '{"b":"' * (cap // 6),
        "escapes": '{"a":"\\n\\u12' * (cap // 12),
        "unterminated string": '{"a": "' + "x" * cap,
        "numbers": "[" + "1234567890," * (cap // 11),
    }
    return {name: text[:cap] for name, text in raw.items()}


def main() -> None:
    import gymnasium as gym

    import feasgym  # noqa: F401

    env = gym.make("feasgym/ACOPF-case118-v0")
    env.reset(seed=0)
    u = env.unwrapped
    oracle = u.reference_answer()
    assert u.score(oracle)["feasibility"]["feasible"]
    texts = shapes(oracle)
    repeats = 7
    times = {name: [] for name in texts}
    cpu = {name: [] for name in texts}
    oracle_times = []
    for _ in range(repeats):  # interleaved: every shape, then the oracle, in each round
        for name, text in texts.items():
            t0, c0 = time.perf_counter(), time.thread_time()
            u.score(text)
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.thread_time() - c0)
            t0 = time.perf_counter()
            u.score(oracle)
            oracle_times.append(time.perf_counter() - t0)
    o_lo, o_hi = min(oracle_times) * 1e3, max(oracle_times) * 1e3
    o_med = sorted(oracle_times)[len(oracle_times) // 2] * 1e3
    print(f"score() on case118 (full state), {repeats} interleaved rounds; oracle answer: "
          f"{o_lo:.2f}-{o_hi:.2f} ms (median {o_med:.2f} ms)")
    print(f"{'shape':32s} {'chars':>7s} {'wall min-max ms':>16s} {'CPU ms':>7s} {'median/oracle':>14s}  format")
    worst, worst_cpu = ("", 0.0), ("", 0.0)
    for name, text in texts.items():
        ts, cs = sorted(times[name]), sorted(cpu[name])
        med, med_cpu = ts[len(ts) // 2] * 1e3, cs[len(cs) // 2] * 1e3
        fmt = u.score(text)["format"]["score"]
        print(f"{name:32s} {len(text):7d} {ts[0] * 1e3:7.1f}-{ts[-1] * 1e3:7.1f} {med_cpu:7.1f} {med / o_med:13.0f}x  {fmt:.2f}")
        worst = max(worst, (name, med), key=lambda w: w[1])
        worst_cpu = max(worst_cpu, (name, med_cpu), key=lambda w: w[1])
    print(f"worst median wall time: {worst[1]:.1f} ms ({worst[0]}); worst median CPU time: {worst_cpu[1]:.1f} ms "
          f"({worst_cpu[0]}); target <= 50 ms: {'met' if worst[1] <= 50 else 'NOT met'} (wall), "
          f"{'met' if worst_cpu[1] <= 50 else 'NOT met'} (CPU)")


if __name__ == "__main__":
    main()
