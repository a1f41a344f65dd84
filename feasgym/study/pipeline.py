"""``run_study``: base model -> SFT -> GRPO -> arena (in-distribution and OOD) -> report.

Every stage writes into its own folder of the run folder and is skipped when done, so an
interrupted study resumes where it stopped (see :mod:`feasgym.study.stages`).
"""
from __future__ import annotations

import os
import platform
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from .profiles import StudyProfile
from .stages import RunFolder, StudyError

STAGES = ("data", "base", "sft", "grpo", "arena", "report")
MODEL_AGENTS = ("base", "sft", "rl")
BASELINE_AGENTS = ("oracle", "looks-right")


def study_settings(profile: StudyProfile, base_model: str | None) -> dict:
    return {"profile": asdict(profile), "base_model": base_model}


def env_kwargs_for(profile: StudyProfile, env_id: str, ood: bool = False) -> dict:
    kwargs = dict(profile.env_kwargs.get(env_id, {}))
    if ood:
        kwargs.update(profile.ood_kwargs)
    return kwargs


def eval_sets(profile: StudyProfile) -> dict[str, dict]:
    """The arena's two evaluations: held-out test instances and the OOD variant."""
    return {
        "in-distribution": {"split": "test", "n": profile.n_test,
                            "envs": [(env_id, env_id, env_kwargs_for(profile, env_id)) for env_id in profile.env_ids]},
        "ood": {"split": "ood", "n": profile.n_ood,
                "envs": [(f"{env_id} OOD ({profile.ood_label})", env_id, env_kwargs_for(profile, env_id, ood=True))
                         for env_id in profile.env_ids]},
    }


def run_study(profile: StudyProfile, out_dir: str | Path, *, base_model: str | None = None,
              progress: bool = True, log: Callable[[str], None] = print) -> Path:
    """Run (or resume) the study into ``out_dir``; returns the report's path. Raises :class:`StudyError`."""
    folder = RunFolder(out_dir)
    folder.check_settings(study_settings(profile, base_model))
    start = time.perf_counter()
    stages = _Stages(profile, folder, base_model, progress)
    for name in STAGES:
        folder.run_stage(name, getattr(stages, name), log)
    log(f"study finished in {time.perf_counter() - start:.0f} s (this session)")
    return folder.root / "report.md"


class _Stages:
    """The stage bodies; each takes its folder and returns a small JSON-able result."""

    def __init__(self, profile: StudyProfile, folder: RunFolder, base_model: str | None, progress: bool):
        self.p, self.folder, self.base_model, self.progress = profile, folder, base_model, progress

    # ---- data ------------------------------------------------------------------------
    def data(self, out: Path) -> dict:
        from feasgym.agents.training.data import InstanceSource, instance_rows, write_rows

        p = self.p
        counts = {}
        for env_id in p.env_ids:
            slug = _slug(env_id)
            train = InstanceSource(env_id, "train", p.seed, env_kwargs_for(p, env_id))
            # probes are held-out training-split instances (after the ones trained on), so the
            # arena's test instances stay unseen until the head-to-head
            parts = {
                "train": (train, p.n_train, 0),
                "probe": (train, p.n_probe, p.n_train),
                "test": (InstanceSource(env_id, "test", p.seed, env_kwargs_for(p, env_id)), p.n_test, 0),
                "ood": (InstanceSource(env_id, "ood", p.seed, env_kwargs_for(p, env_id, ood=True)), p.n_ood, 0),
            }
            for part, (source, count, first) in parts.items():
                rows = instance_rows(source, count, start=first, workers=p.data_workers, progress=self.progress,
                                     desc=f"instances {env_id} {part}")
                write_rows(rows, out / f"{slug}.{part}.jsonl")
                counts[f"{env_id} {part}"] = len(rows)
        return {"rows": counts}

    def _rows(self, part: str) -> list[dict]:
        from feasgym.agents.training.data import read_rows

        rows = []
        for env_id in self.p.env_ids:
            rows.extend(read_rows(self.folder.stage_dir("data") / f"{_slug(env_id)}.{part}.jsonl"))
        return rows

    def _env_kwargs(self) -> dict[str, dict]:
        return {env_id: env_kwargs_for(self.p, env_id) for env_id in self.p.env_ids}

    def _probe(self):
        from feasgym.agents.training.probe import ProbeSet

        return ProbeSet(self._rows("probe"), self._env_kwargs(), max_new_tokens=self.p.max_new_tokens,
                        batch_size=self.p.eval_batch_size)

    # ---- models ----------------------------------------------------------------------
    def base(self, out: Path) -> dict:
        if self.base_model:
            return {"model": self.base_model, "built": False}
        from feasgym.agents.training.base_model import build_base_model

        rows = self._rows("train")
        texts = [r["prompt"] for r in rows] + [r["completion"] for r in rows]
        path = build_base_model(texts, out / "model", self.p.model)
        return {"model": str(path), "built": True}

    def _model(self, stage: str) -> str:
        done = self.folder.done(stage)
        if done is None:
            raise StudyError(f"stage {stage!r} has not finished")
        return done["result"]["model"]

    def sft(self, out: Path) -> dict:
        from feasgym.agents.training.sft import run_sft

        summary = run_sft(self._model("base"), self._rows("train"), out, self.p.sft, seed=self.p.seed,
                          probe=self._probe(), progress=self.progress)
        return {"model": summary["checkpoint"], "steps": summary["steps"], "train_runtime_s": summary["train_runtime_s"],
                "final_probe": summary["probe"][-1] if summary["probe"] else None}

    def grpo(self, out: Path) -> dict:
        from feasgym.agents.training.grpo import run_grpo

        summary = run_grpo(self._model("sft"), self._rows("train"), out, self.p.grpo,
                           env_kwargs=self._env_kwargs(), seed=self.p.seed, probe=self._probe(),
                           progress=self.progress)
        return {"model": summary["checkpoint"], "steps": summary["steps"], "train_runtime_s": summary["train_runtime_s"],
                "final_probe": summary["probe"][-1] if summary["probe"] else None}

    # ---- evaluation ------------------------------------------------------------------
    def arena(self, out: Path) -> dict:
        from feasgym.agents import make_agent
        from feasgym.agents.arena import run_arena

        agents = {name: make_agent(f"hf:{self._model(stage)}", max_new_tokens=self.p.max_new_tokens,
                                   batch_size=self.p.eval_batch_size)
                  for name, stage in zip(MODEL_AGENTS, ("base", "sft", "grpo"))}
        agents.update({name: make_agent(name) for name in BASELINE_AGENTS})
        results = {}
        try:
            for label, spec in eval_sets(self.p).items():
                run_arena(env_ids=spec["envs"], agents=agents, episodes=spec["n"], seed=self.p.seed,
                          out_dir=out / _slug(label), split=spec["split"], progress=self.progress)
                results[label] = str(out / _slug(label) / "summary.json")
        finally:
            for agent in agents.values():
                agent.close()
        return {"summaries": results}

    def report(self, out: Path) -> dict:
        from .report import write_study_report

        path = write_study_report(self.folder, self.p, machine_info())
        return {"report": str(path)}


def machine_info() -> dict:
    import torch

    info = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    try:
        info["cpu_model"] = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                                 if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return info


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "_" for c in text).strip("_")
