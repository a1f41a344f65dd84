"""Study profiles: which envs, how big a model, how much training and evaluation.

``cpu-quick`` is sized for a 2-core laptop in under ten minutes (see the README's
training section for the measurements behind each number); ``gpu`` runs the same code
path with a bigger model and budgets.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from feasgym.agents.training.base_model import TinyModelSpec
from feasgym.agents.training.grpo import GRPOBudget
from feasgym.agents.training.sft import SFTBudget

# cpu-quick's out-of-distribution variant: loads scaled U[1.1, 1.2] (training draws
# U[0.8, 1.1]), same per-load noise, split "ood": a more stressed grid. Case5 solves it;
# bigger PGLib cases often have no AC-OPF solution up there, so the gpu profile uses the
# envs' registered downward shift (``ood="load"``, U[0.6, 0.8]) instead.
OOD_PERTURBATION = {"scale": [1.1, 1.2], "noise": 0.1}


@dataclass(frozen=True)
class StudyProfile:
    name: str
    env_ids: tuple[str, ...] = ("feasgym/ACOPF-case5-v0",)
    env_kwargs: dict = field(default_factory=dict)      # env id -> constructor kwargs (all splits)
    ood_kwargs: dict = field(default_factory=lambda: {"perturbation": OOD_PERTURBATION})
    ood_label: str = "loads x U[1.1, 1.2]"
    seed: int = 0
    n_train: int = 48
    n_test: int = 24
    n_ood: int = 24
    n_probe: int = 8
    data_workers: int = 2
    model: TinyModelSpec = TinyModelSpec()
    sft: SFTBudget = SFTBudget()
    grpo: GRPOBudget = GRPOBudget()
    max_new_tokens: int = 160
    eval_batch_size: int = 24

    def with_overrides(self, **changes) -> "StudyProfile":
        return replace(self, **changes)


PROFILES: dict[str, StudyProfile] = {
    # AC-OPF case5 in setpoint mode (generator P and V; the env runs the AC power flow):
    # measured on this 2-core machine, a 4x128 Llama ended every setpoint run at held-out
    # format 0.97-1.0, while the full-state answer (30 numbers, 170 tokens) was fragile: 0.72-0.74
    # after 300-600 steps, 1.0 with these settings. 168 steps leave a margin (format was 0.22
    # at step 80 and 1.0 at 120 of a 120-step run). See the README's training section.
    "cpu-quick": StudyProfile(
        name="cpu-quick",
        env_kwargs={"feasgym/ACOPF-case5-v0": {"answer_mode": "setpoints"}},
        n_train=48, n_test=24, n_ood=24, n_probe=8,
        model=TinyModelSpec(n_layer=4, n_embd=128, n_head=4, n_positions=1024, vocab_size=2048),
        sft=SFTBudget(epochs=14.0, learning_rate=2e-3, batch_size=4, probe_every=42, probe_at_start=False),
        # Sampling at temperature 1 broke the tiny model's answers (format ~0.25), so every
        # group scored 0 and GRPO got no gradient; at 0.3 groups differ in constraint
        # satisfaction. lr 3e-4 collapsed the format within 12 steps; 5e-5 keeps it.
        grpo=GRPOBudget(max_steps=24, num_generations=8, prompts_per_step=1, learning_rate=5e-5,
                        max_completion_length=200, temperature=0.3, probe_every=8, probe_at_start=False),
        max_new_tokens=200, eval_batch_size=24,  # the full-state answer (--env-option answer_mode=full) is 170 tokens
    ),
    "gpu": StudyProfile(
        name="gpu",
        env_ids=("feasgym/ACOPF-case5-v0", "feasgym/ACOPF-case14-v0"),
        n_train=512, n_test=100, n_ood=100, n_probe=32, data_workers=8,
        ood_kwargs={"ood": "load"}, ood_label="ood=load: loads x U[0.6, 0.8]",
        model=TinyModelSpec(n_layer=8, n_embd=512, n_head=8, n_positions=2048, vocab_size=4096),
        sft=SFTBudget(epochs=6.0, learning_rate=5e-4, batch_size=16, probe_every=100, probe_at_start=False),
        grpo=GRPOBudget(max_steps=300, num_generations=16, prompts_per_step=4, learning_rate=1e-5,
                        max_completion_length=400, probe_every=50, probe_at_start=False),
        max_new_tokens=400, eval_batch_size=64,
    ),
}
