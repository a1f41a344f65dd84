"""``feasgym study``: the controlled SFT-vs-RL comparison over training seeds (see :func:`run_study`)."""
from .pipeline import run_study, stage_names
from .profiles import PROFILES, StudyProfile
from .stages import RunFolder, StudyError

__all__ = ["PROFILES", "RunFolder", "StudyError", "StudyProfile", "run_study", "stage_names"]
