"""feasgym.agents: who answers (models, baselines), training, and the arena.

Heavy dependencies (torch, transformers, trl) are imported lazily inside submodules.
"""
