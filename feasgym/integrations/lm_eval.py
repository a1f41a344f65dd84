"""lm-evaluation-harness: a task folder of feasgym instances, for ``lm_eval --include_path FOLDER``.

:func:`write_task_folder` exports the instances of chosen env ids and a split (JSONL, the
instance columns included) and writes one task YAML per env id (``output_type:
generate_until``, the prompt as the question, ``process_results: !function utils.process_results``),
a ``feasgym`` group of them, and the ``utils.py`` that points at :func:`process_results`::

    python -m feasgym.integrations.lm_eval --env feasgym/ACOPF-case5-v0 --split test --n 50 --out tasks/
    lm_eval --model hf --model_args pretrained=MODEL --include_path tasks/ --tasks feasgym

Metrics per task (means over the instances): ``format`` (format score), ``constraint_satisfaction``
(the constraint-satisfaction rate), ``feasible`` (fully feasible rate) and ``optimality`` (the
optimality reward, 0 unless feasible), each scored by ``env.unwrapped.score`` on the row's
instance, guarded by its prompt hash.
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

from feasgym.integrations.scoring import InstanceKey, score_keys

METRICS = ("format", "constraint_satisfaction", "feasible", "optimality")
GROUP = "feasgym"
DOC_COLUMNS = ("prompt", "completion", "env_id", "seed", "split", "instance", "prompt_hash", "reference_objective",
               "env_kwargs")
UTILS = '''"""lm-eval hook of this feasgym task folder (written by feasgym.integrations.lm_eval)."""
from feasgym.integrations.lm_eval import process_results  # noqa: F401
'''


def task_name(env_id: str, split: str) -> str:
    """``feasgym/ACOPF-case5-v0``, ``test`` -> ``feasgym_acopf_case5_test``."""
    base = env_id.split("/")[-1]
    base = re.sub(r"-v\d+$", "", base)
    return f"feasgym_{re.sub(r'[^0-9a-zA-Z]+', '_', base).lower()}_{split}"


def process_results(doc: Mapping[str, Any], results: Sequence[str]) -> dict:
    """lm-eval's per-document hook: the generated text scored against the document's instance."""
    key = InstanceKey.from_mapping(doc)
    raw = doc.get("env_kwargs") or "{}"
    result = score_keys([key], [results[0] if results else ""], [json.loads(raw) if isinstance(raw, str) else raw])[0]
    return {"format": result["format"], "constraint_satisfaction": result["constraint_rate"],
            "feasible": float(result["feasible"]), "optimality": result["optimality"]}


def task_yaml(name: str, data_file: Path, max_gen_toks: int) -> str:
    """The YAML of one task (JSON-compatible scalars, plus lm-eval's ``!function`` tag)."""
    metrics = "".join(f"  - metric: {m}\n    aggregation: mean\n    higher_is_better: true\n" for m in METRICS)
    return (f"task: {name}\n"
            f"tag: [{GROUP}]\n"
            "dataset_path: json\n"
            "dataset_kwargs:\n"
            "  data_files:\n"
            f"    test: {json.dumps(str(data_file.resolve()))}\n"
            "test_split: test\n"
            "output_type: generate_until\n"
            "doc_to_text: prompt\n"
            "doc_to_target: completion\n"
            "generation_kwargs:\n"
            "  until: []\n"
            f"  max_gen_toks: {int(max_gen_toks)}\n"
            "  do_sample: false\n"
            "process_results: !function utils.process_results\n"
            f"metric_list:\n{metrics}"
            "metadata:\n  version: 1.0\n")


def write_task_folder(out: str | Path, env_ids: Sequence[str], *, split: str = "test", n: int = 20, seed: int = 0,
                      start: int = 0, env_kwargs: Mapping[str, Any] | None = None, max_gen_toks: int = 2048,
                      progress: bool = False) -> list[str]:
    """Write the task folder at ``out``; returns the task names (all tagged ``feasgym``)."""
    from feasgym.datasets import export_records

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for env_id in env_ids:
        name = task_name(env_id, split)
        rows = export_records(env_id, split=split, n=n, seed=seed, start=start, env_kwargs=dict(env_kwargs or {}),
                              progress=progress)
        data = folder / f"{name}.jsonl"
        with open(data, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps({c: row[c] for c in DOC_COLUMNS}, ensure_ascii=False) + "\n")
        (folder / f"{name}.yaml").write_text(task_yaml(name, data, max_gen_toks), encoding="utf-8")
        names.append(name)
    (folder / "utils.py").write_text(UTILS, encoding="utf-8")
    return names


def main(argv: list[str] | None = None) -> int:
    from feasgym.commands.export import parse_env_kwargs

    parser = argparse.ArgumentParser(prog="python -m feasgym.integrations.lm_eval", description=__doc__.splitlines()[0])
    parser.add_argument("--env", action="append", required=True, help="env id (repeatable)")
    parser.add_argument("--split", default="test", choices=("train", "test", "ood"))
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--max-gen-toks", type=int, default=2048)
    parser.add_argument("--env-kwarg", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", required=True, help="task folder to write (lm_eval --include_path OUT)")
    args = parser.parse_args(argv)
    names = write_task_folder(args.out, args.env, split=args.split, n=args.n, seed=args.seed, start=args.start,
                              env_kwargs=parse_env_kwargs(args.env_kwarg), max_gen_toks=args.max_gen_toks,
                              progress=True)
    print(f"wrote tasks {', '.join(names)} (group tag {GROUP!r}) to {args.out}: "
          f"lm_eval --include_path {args.out} --tasks {GROUP}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
