"""The one scorer behind every adapter (server, verl, OpenRLHF, verifiers, lm-eval).

An item is (instance key, completion). The key is the dataset's instance columns
(``env_id``, ``seed``, ``split``, ``instance``, optional ``prompt_hash``; see
:mod:`feasgym.envs.rewards`); the completion is scored by ``env.unwrapped.score`` on that
instance, and the three rewards are the TRL reward functions' values
(:func:`~feasgym.envs.rewards.feasibility_value`, :func:`~feasgym.envs.rewards.optimality_value`).
A ``prompt_hash`` that differs from the rebuilt prompt's is that item's error, so rows exported
with other env kwargs or another feasgym version are never scored against the wrong instance.

:class:`InstanceStore` keeps one env per loaded instance (its reference comes from the on-disk
cache, or is solved once), so scoring needs no reset and items of many instances interleave.
"""
from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from feasgym.envs.rewards import CHECK_COLUMN, completion_text, feasibility_value, optimality_value

SPLIT_NAMES = ("train", "test", "ood")
SCORE_NAMES = ("format", "feasibility", "optimality")
"""The three rewards of an item, in the order of the TRL reward functions."""


@dataclass(frozen=True)
class InstanceKey:
    """Which instance a completion answers: env id, stream seed, split, index (and the prompt's hash)."""

    env_id: str
    seed: int
    split: str
    instance: int
    prompt_hash: str | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], env_id: str | None = None) -> "InstanceKey":
        """Read the instance columns of a row (or a verl ``extra_info``); ``ValueError`` says what is wrong."""
        if not isinstance(data, Mapping):
            raise ValueError(f"an instance key is a mapping of env_id/seed/split/instance, got {type(data).__name__}")
        env = data.get("env_id") or env_id
        if not isinstance(env, str) or not env:
            raise ValueError("instance key has no env_id")
        missing = [c for c in ("seed", "split", "instance") if data.get(c) is None]
        if missing:
            raise ValueError(f"instance key lacks {missing} (columns env_id, seed, split, instance, prompt_hash)")
        seed, index = _integer(data["seed"], "seed"), _integer(data["instance"], "instance")
        split = data["split"]
        if split not in SPLIT_NAMES:
            raise ValueError(f"split must be one of {list(SPLIT_NAMES)}, got {split!r}")
        if index < 0 or seed < 0:
            raise ValueError(f"seed and instance must be >= 0, got seed={seed}, instance={index}")
        check = data.get(CHECK_COLUMN)
        if check is not None and not isinstance(check, str):
            raise ValueError(f"prompt_hash must be a string, got {type(check).__name__}")
        return cls(env, seed, str(split), index, check or None)

    @property
    def address(self) -> tuple[str, str, int, int]:
        return (self.env_id, self.split, self.seed, self.instance)

    def columns(self) -> dict:
        return {"env_id": self.env_id, "seed": self.seed, "split": self.split, "instance": self.instance,
                CHECK_COLUMN: self.prompt_hash}

    def to_json(self) -> str:
        """The key as a JSON string (what verl's ``ground_truth`` and OpenRLHF's label carry)."""
        return json.dumps(self.columns(), sort_keys=True)


def _integer(value: Any, name: str) -> int:
    if not isinstance(value, (bool, int)) and hasattr(value, "__index__"):  # numpy integers from parquet/pandas
        value = value.__index__()
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if not number.is_integer() or abs(number) > 2**62:
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return int(number)


def parse_key(value: Any, env_id: str | None = None) -> InstanceKey:
    """An :class:`InstanceKey` from a mapping or its JSON string (``ValueError`` when neither)."""
    if isinstance(value, (str, bytes)):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(f"instance key is not JSON: {str(value)[:80]!r}") from None
    return InstanceKey.from_mapping(value, env_id)


def scores_of(result: dict, optimality_scale: float) -> dict:
    """The three rewards plus the raw components, from ``env.unwrapped.score``'s result."""
    feas, opt = result["feasibility"], result["optimality"]
    return {
        "format": float(result["format"]["score"]),
        "feasibility": feasibility_value(result),
        "optimality": optimality_value(result, optimality_scale),
        "constraint_rate": float(feas["score"]),
        "feasible": bool(feas["feasible"]),
        "gap": opt["gap"],
        "objective": opt["objective"],
        "reference_objective": opt["reference_objective"],
        "reward": float(result["reward"]),
    }


class UnknownInstance(LookupError):
    """The store does not hold this instance and may not load it."""


class InstanceStore:
    """Envs reset to their instances, one per key, shared by threads.

    ``env_kwargs`` (per env id) go to ``gym.make`` and must match those the rows were
    exported with (the prompt hash checks it). ``lazy=False`` answers only preloaded keys.
    Scoring is serialized per env id (the family's checker may fill caches on first use);
    throughput across cores comes from more server processes, not threads.
    """

    def __init__(self, env_kwargs: Mapping[str, dict] | None = None, *, lazy: bool = True,
                 max_instances: int = 100_000):
        import feasgym.envs  # noqa: F401  (registers the ids)

        self.env_kwargs = {k: dict(v) for k, v in (env_kwargs or {}).items()}
        self.lazy = bool(lazy)
        self.max_instances = int(max_instances)
        self._bases: dict[tuple[str, str], Any] = {}
        self._envs: dict[tuple, Any] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._load_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._envs)

    def keys(self) -> list[tuple]:
        return list(self._envs)

    def preload(self, keys: Iterable[InstanceKey], progress: bool = False) -> int:
        """Load (reference from the cache, else solved) every key; returns how many are held."""
        from tqdm.auto import tqdm

        keys = list(keys)
        for key in tqdm(keys, desc="preload", unit="instance", disable=not progress):
            self._load(key)
            self.check_hash(key)
        return len(self._envs)

    def env(self, key: InstanceKey):
        """The env of ``key``'s instance (loaded on demand when ``lazy``)."""
        env = self._envs.get(key.address)
        if env is not None:
            return env
        if key.env_id not in self._locks:
            import gymnasium as gym

            if key.env_id not in gym.registry:
                raise ValueError(f"unknown env id {key.env_id!r}")
        if not self.lazy:
            raise UnknownInstance(f"{key.env_id} split={key.split} seed={key.seed} instance={key.instance} is not "
                                  "loaded on this server (preload it, or start the server with lazy loading)")
        return self._load(key)

    def check_hash(self, key: InstanceKey) -> None:
        env = self.env(key)
        have = env.instance_key[CHECK_COLUMN]
        if key.prompt_hash is not None and key.prompt_hash != have:
            raise ValueError(
                f"{key.env_id} seed={key.seed} split={key.split} instance={key.instance}: the row's prompt_hash "
                f"{key.prompt_hash} differs from the rebuilt prompt's {have}; score with the env kwargs (and "
                "feasgym version) the rows were exported with")

    def score(self, key: InstanceKey, completion: Any, detail: bool = False) -> dict:
        """``scores_of(env.unwrapped.score(text))`` for ``key``'s instance (``detail``: also the full
        result under ``"detail"``); raises ``ValueError``/``UnknownInstance``."""
        env = self.env(key)
        self.check_hash(key)
        text = completion_text(completion)
        with self._locks[key.env_id]:
            result = env.score(text)
        out = scores_of(result, env.optimality_scale)
        if detail:
            out["detail"] = result
        return out

    def score_item(self, key: Any, completion: Any, detail: bool = False) -> dict:
        """Like :meth:`score`, but never raises: a bad key or failure is the item's ``error``."""
        try:
            key = key if isinstance(key, InstanceKey) else parse_key(key)
            out = self.score(key, completion, detail)
        except (ValueError, UnknownInstance, TypeError) as err:
            return error_scores(str(err))
        except Exception as err:  # noqa: BLE001  (one item's failure is that item's error)
            return error_scores(f"scoring failed: {type(err).__name__}: {err}")
        out["error"] = None
        return out

    # ---- loading ----------------------------------------------------------------------
    def _load(self, key: InstanceKey):
        import gymnasium as gym

        with self._load_lock:
            env = self._envs.get(key.address)
            if env is not None:
                return env
            if key.env_id not in gym.registry:
                raise ValueError(f"unknown env id {key.env_id!r}")
            if len(self._envs) >= self.max_instances:
                raise UnknownInstance(f"this store holds its maximum of {self.max_instances} instances")
            base = self._bases.get((key.env_id, key.split))
            if base is None:
                base = gym.make(key.env_id, split=key.split, **self.env_kwargs.get(key.env_id, {})).unwrapped
                self._bases[(key.env_id, key.split)] = base
            lock = self._locks.setdefault(key.env_id, threading.Lock())
            with lock:  # the family is shared with the envs being scored
                base.reset(seed=key.seed, options={"instance": key.instance})
                # reset rebinds the instance's attributes, so a shallow copy keeps this instance for good
                env = copy.copy(base)
            self._envs[key.address] = env
            return env


def error_scores(message: str) -> dict:
    """An item that could not be scored: every score 0, and the reason."""
    return {"format": 0.0, "feasibility": 0.0, "optimality": 0.0, "constraint_rate": 0.0, "feasible": False,
            "gap": None, "objective": None, "reference_objective": None, "reward": 0.0, "error": message}


def row_key(row: Mapping[str, Any]) -> InstanceKey:
    """The instance key of an exported row: its own columns, or a verl row's ``extra_info``."""
    if row.get("seed") is None and isinstance(row.get("extra_info"), Mapping):
        return InstanceKey.from_mapping(row["extra_info"])
    return InstanceKey.from_mapping(row)


def read_rows(path: str) -> list[dict]:
    """Rows of an export: a ``.jsonl`` file, a ``.parquet`` file (also verl's layout) or an HF datasets folder."""
    from pathlib import Path

    p = Path(path)
    if p.suffix == ".jsonl":
        with open(p, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    if p.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(p).to_pylist()
    if p.is_dir():
        import datasets

        return list(datasets.load_from_disk(str(p)))
    raise ValueError(f"{path}: expected a .jsonl file, a .parquet file or an HF datasets folder")


def keys_and_kwargs(rows: Iterable[Mapping[str, Any]]) -> tuple[list[InstanceKey], dict[str, dict]]:
    """The keys of ``rows`` and, per env id, the env kwargs they were exported with (one set per id)."""
    keys, kwargs = [], {}
    for row in rows:
        key = row_key(row)
        keys.append(key)
        raw = row.get("env_kwargs")
        if raw is None and isinstance(row.get("extra_info"), Mapping):
            raw = row["extra_info"].get("env_kwargs")
        found = json.loads(raw) if isinstance(raw, str) else dict(raw or {})
        if kwargs.setdefault(key.env_id, found) != found:
            raise ValueError(f"rows of {key.env_id} were exported with different env kwargs: "
                             f"{kwargs[key.env_id]} and {found}")
    return keys, kwargs


# ---- the adapters' common path ------------------------------------------------------------------
_PROCESS_STORES: dict[str, InstanceStore] = {}


def process_store(env_id: str, env_kwargs: Mapping[str, Any] | None = None) -> InstanceStore:
    """One lazily loading store per (env id, env kwargs) in this process, so a trainer's reward
    worker loads each instance once."""
    env_kwargs = dict(env_kwargs or {})
    name = env_id + json.dumps(env_kwargs, sort_keys=True, default=repr)
    if name not in _PROCESS_STORES:
        _PROCESS_STORES[name] = InstanceStore({env_id: env_kwargs}, lazy=True)
    return _PROCESS_STORES[name]


def score_keys(keys: Sequence[InstanceKey], completions: Sequence[Any], env_kwargs: Sequence[Mapping | None] | None = None,
               server_url: str | None = None, store: InstanceStore | None = None) -> list[dict]:
    """Score each (key, completion) locally (``store``, else this process's stores) or on a ``feasgym serve``
    at ``server_url``. A bad key or prompt-hash mismatch raises ``ValueError``; completions never raise."""
    if server_url:
        from feasgym.integrations.client import score_remote

        results = score_remote(server_url, keys, list(completions))
        bad = [r["error"] for r in results if r.get("error")]
        if bad:
            raise ValueError(f"feasgym server {server_url}: {bad[0]}")
        return results
    kwargs = list(env_kwargs) if env_kwargs is not None else [None] * len(keys)
    return [(store or process_store(k.env_id, kw)).score(k, c) for k, c, kw in zip(keys, completions, kwargs)]


def weighted_score(result: Mapping[str, Any], weights: Sequence[float] | None) -> float:
    """The env's scalar reward, or ``weights`` (format, feasibility, optimality) times the three rewards."""
    if weights is None:
        return float(result["reward"])
    weights = [float(w) for w in weights]
    if len(weights) != 3:
        raise ValueError(f"weights are (format, feasibility, optimality), got {weights}")
    return float(sum(w * float(result[n]) for w, n in zip(weights, SCORE_NAMES)))
