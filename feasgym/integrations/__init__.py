"""Adapters to other RL and evaluation stacks, each a thin view of one scorer (:mod:`.scoring`).

- :mod:`.server`: the FastAPI app behind ``feasgym serve`` (``POST /score``).
- :mod:`.verl`: ``compute_score`` for verl's reward managers, and the parquet row layout.
- :mod:`.openrlhf`: ``reward_func(queries, prompts, labels)`` for OpenRLHF.
- :mod:`.verifiers`: ``load_environment`` for verifiers / prime-rl.
- :mod:`.lm_eval`: the lm-evaluation-harness task folder.

Nothing here is imported by ``import feasgym``; each module imports its library lazily.
"""
