"""verl: export feasgym instances as verl parquet rows and score responses with the compute_score verl loads.

Run: python examples/verl_rewards.py [--env ID] [--n 64] [--out data/]. ``FEASGYM_SMOKE=1`` (or
``--smoke``) writes two rows per split to a temporary folder. Then train with verl as usual,
pointing it at the files and the function (copy-pasteable)::

    feasgym export --env feasgym/ACOPF-case5-v0 --split train --n 1024 --format verl --out data/train.parquet
    feasgym export --env feasgym/ACOPF-case5-v0 --split test --n 64 --format verl --out data/test.parquet
    python -m verl.trainer.main_ppo data.train_files=data/train.parquet data.val_files=data/test.parquet \\
        reward.custom_reward_function.path=pkg://feasgym.integrations.verl \\
        reward.custom_reward_function.name=compute_score ...

``reward.custom_reward_function.reward_kwargs.weights=[0.1,1.0,0.3]`` scores format, feasibility,
optimality by those weights (default: the env's scalar reward); ``server_url`` (or
``$FEASGYM_SCORE_URL``) sends each batch to a ``feasgym serve`` instead of scoring in the worker.
"""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import gymnasium as gym
import pyarrow.parquet as pq

from feasgym.datasets import export_rows
from feasgym.integrations.verl import compute_score


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="feasgym/ACOPF-case5-v0")
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--out", default=None, help="folder for train.parquet and test.parquet (default: temporary)")
    parser.add_argument("--smoke", action="store_true", default=os.environ.get("FEASGYM_SMOKE") == "1")
    args = parser.parse_args(argv)
    if args.smoke:
        args.n = 2
    out = Path(args.out or tempfile.mkdtemp(prefix="feasgym-verl-"))
    for split, n in (("train", args.n), ("test", max(1, args.n // 4))):
        export_rows(args.env, out / f"{split}.parquet", "verl", split=split, n=n, progress=False)
    rows = pq.read_table(out / "test.parquet").to_pylist()
    print(f"wrote {out / 'train.parquet'} and {out / 'test.parquet'}; columns: {', '.join(rows[0])}")
    row = rows[0]
    env = gym.make(args.env, split="test")  # the oracle's answer to row 0, to show a full score
    env.reset(seed=row["extra_info"]["seed"], options={"instance": row["extra_info"]["instance"]})
    oracle = env.unwrapped.reference_answer()
    summary = {}
    for name, response in (("oracle", oracle), ("looks right", env.unwrapped.nominal_answer()), ("empty", "")):
        scores = compute_score(row["data_source"], response, row["reward_model"]["ground_truth"], row["extra_info"])
        summary[name] = scores
        print(f"compute_score({name:>11s}): " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()))
    return summary


if __name__ == "__main__":
    main()
