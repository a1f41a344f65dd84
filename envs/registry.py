"""Every env id and its constructor, registered with Gymnasium in one place."""
from __future__ import annotations

import gymnasium as gym

GRID_CASES = ("case5", "case14", "case30", "case57", "case118")

# id -> (entry point, default kwargs, one-line description for the README)
ENV_SPECS: dict[str, tuple[str, dict, str]] = {}

for _case in GRID_CASES:
    ENV_SPECS[f"feasgym/ACOPF-{_case}-v0"] = (
        "feasgym.envs.grids.acopf:ACOPFEnv",
        {"case": _case},
        f"AC-OPF on PGLib {_case}, full state answer, perturbed loads",
    )

for _case in GRID_CASES:
    ENV_SPECS[f"feasgym/PowerFlow-{_case}-v0"] = (
        "feasgym.envs.grids.pf_task:PowerFlowEnv",
        {"case": _case},
        f"AC power flow on PGLib {_case}: bus voltages and generator P/Q from loads and setpoints",
    )
for _case in GRID_CASES:
    ENV_SPECS[f"feasgym/DCOPF-{_case}-v0"] = (
        "feasgym.envs.grids.dcopf:DCOPFEnv",
        {"case": _case},
        f"DC-OPF on PGLib {_case}: generator dispatch, MATPOWER DC model (makeBdc), perturbed loads",
    )

# Out-of-distribution variants of every id above: same family, instances of split "ood"
# (a SeedSequence stream disjoint from "train" and "test") drawn with the variant applied.
GRID_OOD = {
    "load": ("load", "global load factor U[0.6, 0.8], below the training U[0.8, 1.1]"),
    "n1": ("n-1", "one random branch out of service (grid stays connected)"),
    "relabel": ("relabel", "random new bus/generator/branch ids, prompt rows shuffled"),
}
for _base in [k for k in ENV_SPECS if k.startswith(("feasgym/ACOPF-", "feasgym/PowerFlow-", "feasgym/DCOPF-"))]:
    _entry, _kwargs, _text = ENV_SPECS[_base]
    for _suffix, (_kind, _what) in GRID_OOD.items():
        ENV_SPECS[_base.replace("-v0", f"-ood-{_suffix}-v0")] = (
            _entry, {**_kwargs, "ood": _kind, "split": "ood"}, f"{_text}; OOD: {_what}")

PORTFOLIO_SIZES = (10, 30, 100)
PORTFOLIO_OOD = {
    "return": "return floor 80-95% of the way to the best reachable (training 20-60%), factor vols 1.5x",
    "sectors": "twice as many sectors (at most 11) with skewed sizes",
    "relabel": "five-letter tickers, asset rows shuffled",
}
for _n in PORTFOLIO_SIZES:
    _id = f"feasgym/Portfolio-n{_n}-v0"
    ENV_SPECS[_id] = (
        "feasgym.envs.portfolio.family:PortfolioEnv",
        {"n_assets": _n},
        f"minimum-variance portfolio of {_n} assets: budget, box, sector caps, turnover, return floor",
    )
    for _kind, _what in PORTFOLIO_OOD.items():
        ENV_SPECS[_id.replace("-v0", f"-ood-{_kind}-v0")] = (
            ENV_SPECS[_id][0], {"n_assets": _n, "ood": _kind, "split": "ood"}, f"{ENV_SPECS[_id][2]}; OOD: {_what}")

ENV_IDS = tuple(ENV_SPECS)


def register_envs() -> None:
    """Register all ids (idempotent, so re-imports and reloads are harmless)."""
    for env_id, (entry_point, kwargs, _) in ENV_SPECS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point, kwargs=dict(kwargs), max_episode_steps=None)
