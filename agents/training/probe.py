"""Held-out probes during training: generate answers greedily and score them with the env.

SFT's loss says nothing about whether answers parse or satisfy the physics, so both
trainers call a :class:`ProbeSet` every few steps; the records become the study's
training curves (format and feasibility over steps).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from feasgym.envs.rewards import EnvScorer, feasibility_value


class ProbeSet:
    """Fixed held-out rows (``prompt`` + instance columns) scored with :class:`EnvScorer`."""

    def __init__(self, rows: Sequence[dict], env_kwargs: dict[str, dict] | None = None, *,
                 max_new_tokens: int = 256, batch_size: int = 16):
        if not rows:
            raise ValueError("a probe set needs at least one row")
        self.rows = list(rows)
        self.max_new_tokens = int(max_new_tokens)
        self.batch_size = int(batch_size)
        env_kwargs = env_kwargs or {}
        self.scorers = {eid: EnvScorer(eid, env_kwargs.get(eid)) for eid in {r["env_id"] for r in self.rows}}

    def evaluate(self, model, tokenizer) -> dict:
        """Mean format, constraint-satisfaction rate, feasible rate and feasibility reward."""
        from feasgym.agents.hf import HFAgent
        from feasgym.agents.protocol import AnswerRequest

        was_training = model.training
        model.eval()
        try:
            agent = HFAgent(model=model, tokenizer=tokenizer, max_new_tokens=self.max_new_tokens,
                            batch_size=self.batch_size, name="probe")
            replies = agent.act([AnswerRequest(prompt=r["prompt"]) for r in self.rows])
        finally:
            if was_training:
                model.train()
        scores = [self.scorers[r["env_id"]].score(r["seed"], r["split"], r["instance"], reply.text)
                  for r, reply in zip(self.rows, replies)]
        return {
            "n": len(scores),
            "format": float(np.mean([s["format"]["score"] for s in scores])),
            "constraint_rate": float(np.mean([s["feasibility"]["score"] for s in scores])),
            "feasible": float(np.mean([s["feasibility"]["feasible"] for s in scores])),
            "feasibility_reward": float(np.mean([feasibility_value(s) for s in scores])),
            "completion_tokens": float(np.mean([reply.completion_tokens or 0 for reply in replies])),
        }


def probe_callback(probe: ProbeSet, every: int, log_path: str | Path | None = None, at_start: bool = True):
    """A ``TrainerCallback`` that evaluates ``probe`` at step 0 (if ``at_start``), every ``every`` steps
    and at the end."""
    from transformers import TrainerCallback

    class ProbeCallback(TrainerCallback):
        def __init__(self):
            self.records: list[dict] = []
            self._done_steps: set[int] = set()

        def _run(self, state, model, tokenizer):
            step = int(state.global_step)
            if step in self._done_steps or model is None:
                return
            self._done_steps.add(step)
            record = {"step": step, "epoch": state.epoch, **probe.evaluate(model, tokenizer)}
            self.records.append(record)
            if log_path is not None:
                with open(log_path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record) + "\n")

        def on_train_begin(self, args, state, control, model=None, processing_class=None, **kw):
            if at_start:
                self._run(state, model, processing_class)

        def on_step_end(self, args, state, control, model=None, processing_class=None, **kw):
            if every > 0 and state.global_step % every == 0:
                self._run(state, model, processing_class)

        def on_train_end(self, args, state, control, model=None, processing_class=None, **kw):
            self._run(state, model, processing_class)

    return ProbeCallback()


def probe_callbacks(probe: ProbeSet | None, budget, out: Path) -> list:
    """The trainer callbacks for a run: a held-out probe logging to ``out/probe.jsonl``, if any."""
    log = Path(out) / "probe.jsonl"
    log.unlink(missing_ok=True)
    return [] if probe is None else [probe_callback(probe, budget.probe_every, log, budget.probe_at_start)]


def train_and_save(trainer, out: Path, budget, n_rows: int, callbacks: list, extra: dict | None = None) -> dict:
    """Train, save the model to ``out/model`` and write ``out/summary.json`` (shared by SFT and GRPO)."""
    from dataclasses import asdict

    from feasgym.envs.core.files import write_json

    from .common import save_trained
    from .progress import quiet_trainer

    quiet_trainer(trainer)
    result = trainer.train()
    checkpoint = save_trained(trainer, Path(out) / "model")
    summary = {
        "checkpoint": str(checkpoint), "budget": asdict(budget), "rows": n_rows,
        "train_runtime_s": result.metrics.get("train_runtime"), "steps": trainer.state.global_step,
        "log_history": trainer.state.log_history,
        "probe": next((c.records for c in callbacks if hasattr(c, "records")), []),
        **(extra or {}),
    }
    write_json(Path(out) / "summary.json", summary)
    return summary
