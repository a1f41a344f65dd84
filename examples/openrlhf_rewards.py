"""OpenRLHF: a prompt dataset with a ``label`` column and feasgym's ``reward_func`` for ``--remote_rm_url``.

Run: python examples/openrlhf_rewards.py [--env ID] [--n 64] [--out prompts.jsonl]. ``FEASGYM_SMOKE=1``
(or ``--smoke``) writes two rows to a temporary file. Then (copy-pasteable)::

    python -m openrlhf.cli.train_ppo_ray ... --prompt_data prompts.jsonl --input_key prompt --label_key label \\
        --remote_rm_url "$(python -c 'import feasgym.integrations.openrlhf as m; print(m.__file__)')"

or share one preloaded scorer between all rollout workers::

    feasgym serve --rows prompts.jsonl --port 8000 &
    python -m openrlhf.cli.train_ppo_ray ... --remote_rm_url http://127.0.0.1:8000/openrlhf

``FEASGYM_REWARD_WEIGHTS=0.1,1,0.3`` weights format, feasibility, optimality (default: the env's
scalar reward); the three rewards, the constraint-satisfaction rate and feasibility are logged.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from feasgym.datasets import export_records
from feasgym.integrations.openrlhf import openrlhf_label, reward_func


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="feasgym/ACOPF-case5-v0")
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--out", default=None, help="JSONL to write (default: a temporary file)")
    parser.add_argument("--smoke", action="store_true", default=os.environ.get("FEASGYM_SMOKE") == "1")
    args = parser.parse_args(argv)
    if args.smoke:
        args.n = 2
    out = Path(args.out or Path(tempfile.mkdtemp(prefix="feasgym-openrlhf-")) / "prompts.jsonl")
    rows = export_records(args.env, n=args.n, progress=False)
    with open(out, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps({**row, "label": openrlhf_label(row)}) + "\n")
    print(f"wrote {len(rows)} prompts with a label column to {out}")
    # what OpenRLHF passes: queries = prompt + response (decoded), the prompts, the labels
    responses = [rows[0]["completion"], "The optimum is unclear."]
    out_rewards = reward_func([rows[0]["prompt"] + r for r in responses], [rows[0]["prompt"]] * 2,
                              [openrlhf_label(rows[0])] * 2)
    for name, i in (("oracle", 0), ("prose", 1)):
        logs = {k: round(float(v[i]), 3) for k, v in out_rewards["extra_logs"].items()}
        print(f"reward_func({name}): reward {float(out_rewards['rewards'][i]):.3f}, logs {logs}")
    return {"rewards": [float(x) for x in out_rewards["rewards"]], "path": str(out)}


if __name__ == "__main__":
    main()
