"""One readable progress bar per training stage, with the stage's key figure beside it.

transformers prints the raw log dict of every step (``PrinterCallback``) when its own bar is
off, and its bar shows no task metric; :class:`StageProgress` replaces both: one ``tqdm`` bar
per run whose postfix is the figure that says whether training works (SFT: loss; GRPO: the
sampled feasibility reward), plus the last held-out probe.
"""
from __future__ import annotations

from typing import Sequence

# what the bar shows for each trainer: (log key, short label)
KEY_FIGURES = {
    "sft": (("loss", "loss"),),
    "grpo": (("rewards/feasibility_reward/mean", "feas reward"), ("frac_reward_zero_std", "flat groups")),
}


def quiet_trainer(trainer) -> None:
    """Drop transformers' own console output (per-step dict printer and bar)."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)


def stage_progress(desc: str, figures: Sequence[tuple[str, str]], probe=None, enabled: bool = True):
    """A ``TrainerCallback`` drawing one bar (``desc``) with ``figures`` from the logs and ``probe``'s last record."""
    from transformers import TrainerCallback

    class StageProgress(TrainerCallback):
        def __init__(self):
            self.bar = None
            self.shown: dict[str, str] = {}

        def on_train_begin(self, args, state, control, **kw):
            if enabled:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=state.max_steps, desc=desc, unit="step", dynamic_ncols=True, leave=True)

        def on_step_end(self, args, state, control, **kw):
            if self.bar is not None:
                self.bar.update(state.global_step - self.bar.n)

        def on_log(self, args, state, control, logs=None, **kw):
            if self.bar is None or not logs:
                return
            for key, label in figures:
                if key in logs:
                    self.shown[label] = f"{float(logs[key]):.3f}"
            if probe is not None and probe.records:
                last = probe.records[-1]
                self.shown["probe fmt/feas"] = f"{last['format']:.2f}/{last['feasible']:.2f}"
            self.bar.set_postfix(self.shown, refresh=False)

        def on_train_end(self, args, state, control, **kw):
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    return StageProgress()
