"""The head-to-head arena: same instances for every agent, paired statistics, report and plots."""
from .runner import EnvSpec, run_arena
from .stats import mcnemar_exact, mean_ci, paired_diff_ci

__all__ = ["EnvSpec", "mcnemar_exact", "mean_ci", "paired_diff_ci", "run_arena"]
