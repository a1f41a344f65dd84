"""Families register themselves: ids, OOD variants, defaults and README text live in the family's folder.

A family module calls :func:`register_family` once at import; ``feasgym.envs.registry`` imports every
subpackage of ``feasgym.envs`` (so a new folder is found without being listed anywhere) and registers
the collected ids with Gymnasium. Every id is built by one generic factory, :func:`make_env`, which
hands the family's own constructor options to the family and the rest to :class:`FeasTextEnv`.
"""
from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

ENTRY_POINT = "feasgym.envs.core.registration:make_env"


@dataclass(frozen=True)
class FamilySpec:
    """What the README's family table and the registry need to know about one family."""

    name: str
    factory: Callable[..., Any] | str  # the ProblemFamily class, or "module:attr" imported on first use
    ids: dict[str, tuple[dict, str]]  # base id -> (family kwargs, one-line description)
    ood: dict[str, tuple[str, str]] = field(default_factory=dict)  # id suffix -> (ood kind, description)
    summary: dict[str, str] = field(default_factory=dict)  # README cells: answer, rows, objective

    def resolve(self) -> Callable[..., Any]:
        """The family class (a "module:attr" string is imported here, so registering stays light)."""
        if not isinstance(self.factory, str):
            return self.factory
        module, _, attr = self.factory.partition(":")
        return getattr(importlib.import_module(module), attr)

    def env_specs(self) -> dict[str, tuple[dict, str]]:
        """Every id of the family, OOD variants included: id -> (kwargs for :func:`make_env`, description).

        An ``-ood-<suffix>-v0`` id is its base id with ``ood=<kind>`` and ``split="ood"``: the variant
        applies to split "ood" only, so its other splits are the base id's."""
        out: dict[str, tuple[dict, str]] = {}
        for env_id, (kwargs, text) in self.ids.items():
            out[env_id] = ({"family": self.name, **kwargs}, text)
        for env_id, (kwargs, text) in self.ids.items():
            for suffix, (kind, what) in self.ood.items():
                out[env_id.replace("-v0", f"-ood-{suffix}-v0")] = (
                    {"family": self.name, **kwargs, "ood": kind, "split": "ood"}, f"{text}; OOD: {what}")
        return out


FAMILIES: dict[str, FamilySpec] = {}


def register_family(factory: Callable[..., Any] | str, *, name: str | None = None, ids: dict[str, tuple[dict, str]],
                    ood: dict[str, tuple[str, str]] | None = None, summary: dict[str, str] | None = None) -> FamilySpec:
    """Declare a family and its ids (idempotent for the same family; a clash of names or ids is an error).

    ``factory`` is the family class or its "module:attr" path (then ``name`` is required); ``ids`` maps
    each base id to (family kwargs, description); ``ood`` maps an id suffix to (ood kind, description)
    and adds ``<base>-ood-<suffix>-v0`` for every base id; ``summary`` holds the README table cells."""
    if isinstance(factory, str) and not name:
        raise ValueError("register_family: a family given by path needs a name")
    name = name or getattr(factory, "name", "") or factory.__name__
    spec = FamilySpec(name, factory, dict(ids), dict(ood or {}), dict(summary or {}))
    old = FAMILIES.get(name)
    if old is not None and old.factory is not factory:
        raise ValueError(f"family name {name!r} is already registered by {old.factory!r}")
    taken = {i for other in FAMILIES.values() if other.name != name for i in other.env_specs()}
    clash = taken & set(spec.env_specs())
    if clash:
        raise ValueError(f"family {name!r} registers ids another family has: {sorted(clash)}")
    FAMILIES[name] = spec
    return spec


@lru_cache(maxsize=None)
def family_options(factory: Callable[..., Any]) -> frozenset[str]:
    """The keyword options the family's constructor takes (everything else goes to the env)."""
    params = inspect.signature(factory).parameters.values()
    return frozenset(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def make_env(family: str, **kwargs: Any):
    """The one env factory behind every id: ``family``'s options build the family, the rest the env.

    ``gym.make("feasgym/ACOPF-case14-v0", answer_mode="setpoints", max_turns=3)`` ends here with
    ``family="ACOPF"``; an option neither takes raises a TypeError naming both lists."""
    from .text_env import FeasTextEnv

    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; registered: {sorted(FAMILIES)}")
    factory = FAMILIES[family].resolve()
    own = family_options(factory)
    env_own = family_options(FeasTextEnv) - {"family"}
    unknown = set(kwargs) - own - env_own
    if unknown:
        raise TypeError(f"{family}: unknown option(s) {sorted(unknown)}; family options: {sorted(own)}, "
                        f"env options: {sorted(env_own)}")
    fam = factory(**{k: v for k, v in kwargs.items() if k in own})
    return FeasTextEnv(fam, **{k: v for k, v in kwargs.items() if k not in own})
