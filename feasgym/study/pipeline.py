"""``run_study``: data -> base -> per training seed (SFT -> GRPO) -> arena -> report.

The instances (training, probes, evaluation) and the base are fixed by ``profile.seed``;
each training seed of ``profile.seeds`` trains its own SFT and RL model (batch order and
GRPO sampling from that seed), and every model answers the same evaluation instances,
so the report's statistics can treat seeds as the unit of replication. Every stage writes
into its own folder and is skipped when done, so an interrupted study resumes where it
stopped (see :mod:`feasgym.study.stages`). Settings are validated before anything is written.
"""
from __future__ import annotations

import os
import platform
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable

from .profiles import StudyProfile
from .layout import (agent_name, env_kwargs_for, eval_sets, pretrain_file, pretrain_label, pretrain_tasks, slug as _slug,
                     stage_names)
from .stages import RunFolder, StudyError

MODEL_AGENTS = ("base", "sft", "rl")
BASELINE_AGENTS = ("oracle", "looks-right")
DERIVED_STAGES = {"arena", "report"}

# what each stage's results depend on (the rest of the settings may change on resume)
DATA_KEYS = ("env_ids", "env_kwargs", "ood", "seed", "n_train", "n_test", "n_ood", "n_probe", "pretrain_envs",
             "base_model")
BASE_KEYS = DATA_KEYS + ("model", "pretrain", "threads")
SFT_KEYS = BASE_KEYS + ("sft", "max_new_tokens", "lora_above_params", "lora")
GRPO_KEYS = SFT_KEYS + ("grpo", "n_grpo")


def stage_deps(stage: str) -> tuple[str, ...] | None:
    if stage == "data":
        return DATA_KEYS
    if stage == "base":
        return BASE_KEYS
    if stage.endswith("/sft"):
        return SFT_KEYS
    if stage.endswith("/grpo"):
        return GRPO_KEYS
    return None  # arena, report: everything (they are redone when anything changed)


def study_settings(profile: StudyProfile, base_model: str | None) -> dict:
    return {**asdict(profile), "base_model": base_model}


def run_study(profile: StudyProfile, out_dir: str | Path, *, base_model: str | None = None,
              progress: bool = True, log: Callable[[str], None] = print) -> Path:
    """Run (or resume) the study into ``out_dir``; returns the report's path. Raises :class:`StudyError`."""
    from .validate import validate_profile

    validate_profile(profile, base_model)  # before anything is written
    _quiet_libraries()
    import torch

    torch.set_num_threads(int(profile.threads))
    folder = RunFolder(out_dir)
    names = stage_names(profile)
    folder.open(study_settings(profile, base_model), names, stage_deps, DERIVED_STAGES)
    start = time.perf_counter()
    stages = _Stages(profile, folder, base_model, progress)
    for name in names:
        if name.startswith("seed-"):
            seed_part, stage = name.split("/")
            work = getattr(stages, stage)
            seed = int(seed_part.removeprefix("seed-"))
            folder.run_stage(name, lambda out, w=work, s=seed: w(out, s), log)
        else:
            folder.run_stage(name, getattr(stages, name), log)
        if name == "base":
            stages.budget()  # the token budget from the base's tokenizer, checked before any training
    log(f"study finished in {time.perf_counter() - start:.0f} s (this session)")
    return folder.root / "report.md"


def _quiet_libraries() -> None:
    """No per-dataset map bars, weight-loading bars, info lines or deprecation notes between the stage bars."""
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers\.")
    try:
        import datasets
        from transformers.utils import logging as hf_logging

        datasets.disable_progress_bars()
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass


class _Stages:
    """The stage bodies; each takes its folder and returns a small JSON-able result."""

    def __init__(self, profile: StudyProfile, folder: RunFolder, base_model: str | None, progress: bool):
        self.p, self.folder, self.base_model, self.progress = profile, folder, base_model, progress
        self._budget = None

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
        if self.base_model is None:
            for i, (env_id, n, kwargs) in enumerate(pretrain_tasks(p)):
                label = pretrain_label(env_id, kwargs)
                rows = instance_rows(InstanceSource(env_id, "train", p.seed, dict(kwargs)), int(n),
                                     workers=p.data_workers, progress=self.progress, desc=f"pretraining {label}")
                write_rows(rows, out / pretrain_file(i, env_id))
                counts[f"pretrain {label}"] = len(rows)
        return {"rows": counts}

    def _rows(self, part: str) -> list[dict]:
        from feasgym.agents.training.data import read_rows

        rows = []
        for env_id in self.p.env_ids:
            rows.extend(read_rows(self.folder.stage_dir("data") / f"{_slug(env_id)}.{part}.jsonl"))
        return rows

    def _pretrain_rows(self) -> list[dict]:
        from feasgym.agents.training.data import read_rows

        return [row for i, (env_id, _n, _kw) in enumerate(pretrain_tasks(self.p))
                for row in read_rows(self.folder.stage_dir("data") / pretrain_file(i, env_id))]

    def _grpo_rows(self) -> list[dict]:
        from feasgym.agents.training.data import read_rows

        rows = []
        for env_id in self.p.env_ids:
            env_rows = read_rows(self.folder.stage_dir("data") / f"{_slug(env_id)}.train.jsonl")
            rows.extend(env_rows[: self.p.n_grpo] if self.p.n_grpo > 0 else env_rows)
        return rows

    def _env_kwargs(self) -> dict[str, dict]:
        return {env_id: env_kwargs_for(self.p, env_id) for env_id in self.p.env_ids}

    def _probe(self):
        from feasgym.agents.training.probe import ProbeSet

        return ProbeSet(self._rows("probe"), self._env_kwargs(), max_new_tokens=self.budget().max_new_tokens,
                        batch_size=self.p.eval_batch_size)

    # ---- token budget ----------------------------------------------------------------
    def _budget_rows(self) -> list[dict]:
        return [row for part in ("train", "probe", "test", "ood") for row in self._rows(part)]

    def _token_budget(self, model_path: str):
        from transformers import AutoConfig, AutoTokenizer

        from feasgym.agents.training.budgets import BudgetError, model_context, token_budget

        tokenizer = AutoTokenizer.from_pretrained(model_path)
        try:
            return token_budget(tokenizer, self._budget_rows(), user_limit=self.p.max_new_tokens,
                                context=model_context(AutoConfig.from_pretrained(model_path)))
        except BudgetError as exc:
            raise StudyError(str(exc)) from exc

    def budget(self):
        """Generation/completion limit: the longest oracle answer + margin, or the user's (checked) limit."""
        if self._budget is None:
            from feasgym.envs.core.files import write_json

            self._budget = self._token_budget(self._model("base"))
            write_json(self.folder.root / "budget.json", self._budget.as_dict())
        return self._budget

    # ---- models ----------------------------------------------------------------------
    def base(self, out: Path) -> dict:
        if self.base_model:
            self._token_budget(self.base_model)  # a too-small limit stops here, before any training
            return {"model": self.base_model, "built": False, "parameters": _parameter_count(self.base_model)}
        from feasgym.agents.training.base_model import build_base_model
        from feasgym.agents.training.probe import ProbeSet
        from feasgym.agents.training.sft import run_sft

        rows = self._pretrain_rows()
        texts = [r["prompt"] for r in rows] + [r["completion"] for r in rows]
        init = build_base_model(texts, out / "init", replace(self.p.model, seed=self.p.seed))
        budget = self._token_budget(str(init))  # same tokenizer as the pretrained model: check before training
        probe = ProbeSet(self._rows("probe"), self._env_kwargs(), max_new_tokens=budget.max_new_tokens,
                         batch_size=self.p.eval_batch_size)
        summary = run_sft(init, rows, out / "pretrain", self.p.pretrain, seed=self.p.seed, probe=probe,
                          progress=self.progress, desc="pretrain base (other tasks)")
        return {"model": summary["checkpoint"], "built": True, "parameters": _parameter_count(summary["checkpoint"]),
                "pretrain_rows": len(rows), "pretrain_envs": [pretrain_label(e, kw) for e, _n, kw in pretrain_tasks(self.p)],
                "steps": summary["steps"], "final_probe": summary["probe"][-1] if summary["probe"] else None}

    def _model(self, stage: str) -> str:
        done = self.folder.done(stage)
        if done is None:
            raise StudyError(f"stage {stage!r} has not finished")
        return done["result"]["model"]

    def _lora(self) -> dict | None:
        base = self.folder.done("base")["result"]
        if not base["built"] and (base.get("parameters") or 0) > self.p.lora_above_params:
            return dict(self.p.lora)
        return None

    def sft(self, out: Path, seed: int) -> dict:
        from feasgym.agents.training.sft import run_sft

        budget = replace(self.p.sft, lora=self._lora())
        summary = run_sft(self._model("base"), self._rows("train"), out, budget, seed=seed,
                          probe=self._probe(), progress=self.progress, desc=f"SFT seed {seed}")
        return {"model": summary["checkpoint"], "steps": summary["steps"], "train_runtime_s": summary["train_runtime_s"],
                "final_probe": summary["probe"][-1] if summary["probe"] else None}

    def grpo(self, out: Path, seed: int) -> dict:
        from feasgym.agents.training.grpo import run_grpo

        from .stats import within_instance_trend

        budget = replace(self.p.grpo, max_completion_length=self.budget().max_new_tokens, lora=self._lora())
        rows = self._grpo_rows()
        summary = run_grpo(self._model(f"seed-{seed}/sft"), rows, out, budget,
                           env_kwargs=self._env_kwargs(), seed=seed, probe=self._probe(),
                           progress=self.progress, desc=f"GRPO seed {seed}")
        return {"model": summary["checkpoint"], "steps": summary["steps"], "train_runtime_s": summary["train_runtime_s"],
                "prompts": len(rows), "final_probe": summary["probe"][-1] if summary["probe"] else None,
                "reward_trend": within_instance_trend(summary["reward_trace"])}

    # ---- evaluation ------------------------------------------------------------------
    def agent_models(self) -> dict[str, str]:
        models = {agent_name("base"): self._model("base")}
        for s in self.p.seeds:
            models[agent_name("sft", s)] = self._model(f"seed-{s}/sft")
            models[agent_name("rl", s)] = self._model(f"seed-{s}/grpo")
        return models

    def arena(self, out: Path) -> dict:
        from feasgym.agents import make_agent
        from feasgym.agents.arena import run_arena

        limit = self.budget().max_new_tokens
        agents = {name: make_agent(f"hf:{path}", max_new_tokens=limit, batch_size=self.p.eval_batch_size)
                  for name, path in self.agent_models().items()}
        agents.update({name: make_agent(name) for name in BASELINE_AGENTS})
        tools = tuple(self.p.tools)
        if tools:  # the calibrated "uses tools well" reference (README "Tool-using episodes")
            agents["tool-user"] = make_agent("tool-user")
        results = {}
        try:
            for label, spec in eval_sets(self.p).items():
                run_arena(env_ids=spec["envs"], agents=agents, episodes=spec["n"], seed=self.p.seed,
                          out_dir=out / _slug(label), split=spec["split"], progress=self.progress,
                          tools=tools or None, max_tool_calls=self.p.max_tool_calls)
                results[label] = str(out / _slug(label) / "summary.json")
        finally:
            for agent in agents.values():
                agent.close()
        return {"summaries": results}

    def report(self, out: Path) -> dict:
        from .report import write_study_report

        path = write_study_report(self.folder, self.p, machine_info(), self.budget().as_dict())
        return {"report": str(path)}


def _parameter_count(model_path: str) -> int:
    """Parameters of a checkpoint, counted on the meta device (nothing loaded)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(model_path)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return int(sum(p.numel() for p in model.parameters()))


def machine_info() -> dict:
    import torch

    info = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "load_avg_at_report": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}
    try:
        info["cpu_model"] = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                                 if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return info
