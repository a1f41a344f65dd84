"""``feasgym study``: the controlled SFT-vs-RL comparison (see :func:`run_study`)."""
from .pipeline import STAGES, run_study
from .profiles import PROFILES, StudyProfile
from .stages import RunFolder, StudyError

__all__ = ["PROFILES", "STAGES", "RunFolder", "StudyError", "StudyProfile", "run_study"]
