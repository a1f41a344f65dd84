"""lm-evaluation-harness: write a feasgym task folder and evaluate a local HF model on it.

Run: python examples/lm_eval_tasks.py --model PATH [--env ID ...] [--n 20] [--out tasks/]
(``PATH``: a local causal LM folder). ``FEASGYM_SMOKE=1`` (or ``--smoke``) writes two instances
and scores the oracle's answers with the folder's ``process_results`` instead of running a
model. The same from the shell (copy-pasteable)::

    python -m feasgym.integrations.lm_eval --env feasgym/ACOPF-case5-v0 --split test --n 50 --out tasks/
    lm_eval --model hf --model_args pretrained=PATH --include_path tasks/ --tasks feasgym

Each task reports ``format``, ``constraint_satisfaction``, ``feasible`` (rate) and ``optimality``.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from feasgym.integrations.lm_eval import GROUP, process_results, write_task_folder


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", action="append", default=None)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--model", default=None, help="local HF causal LM folder to evaluate")
    parser.add_argument("--max-gen-toks", type=int, default=1024)
    parser.add_argument("--out", default=None, help="task folder (default: temporary)")
    parser.add_argument("--smoke", action="store_true", default=os.environ.get("FEASGYM_SMOKE") == "1")
    args = parser.parse_args(argv)
    env_ids = args.env or ["feasgym/ACOPF-case5-v0"]
    if args.smoke:
        args.n = 2
    out = Path(args.out or tempfile.mkdtemp(prefix="feasgym-lm-eval-"))
    names = write_task_folder(out, env_ids, split="test", n=args.n, max_gen_toks=args.max_gen_toks)
    print(f"task folder {out}: {', '.join(names)} (tag {GROUP!r})")
    if args.model is None or args.smoke:
        summary = {}
        for name in names:
            docs = [json.loads(line) for line in open(out / f"{name}.jsonl", encoding="utf-8")]
            scores = [process_results(doc, [doc["completion"]]) for doc in docs]
            summary[name] = {k: sum(s[k] for s in scores) / len(scores) for k in scores[0]}
            print(f"{name}, oracle answers through process_results: {summary[name]}")
        return summary
    import lm_eval
    from lm_eval.tasks import TaskManager

    results = lm_eval.simple_evaluate(model="hf", model_args=f"pretrained={args.model}", tasks=[GROUP],
                                      task_manager=TaskManager(include_path=str(out), include_defaults=False))
    summary = {name: {k: v for k, v in results["results"][name].items() if k.endswith(",none")} for name in names}
    for name, metrics in summary.items():
        print(name, metrics)
    return summary


if __name__ == "__main__":
    main()
