"""``feasgym study``: the controlled SFT-vs-RL comparison over training seeds (see :func:`run_study`)."""
from .layout import stage_names
from .pipeline import run_study
from .profiles import PROFILES, StudyProfile
from .stages import RunFolder, StudyError

__all__ = ["PROFILES", "RunFolder", "StudyError", "StudyProfile", "run_study", "stage_names"]
