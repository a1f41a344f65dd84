"""Where per-instance work runs: in this process, in local worker processes, or on a Ray cluster.

An executor maps a picklable module-level function over a stream of argument tuples and yields
the results **in task order**, keeping only a few tasks in flight (two per worker), so a long
export holds a bounded number of results whatever its length. The data-generation code
(:mod:`feasgym.envs.dataset_rows`) hands it chunks of instance indices, so the per-task overhead
(about 0.7 ms on Ray, less for local processes) is paid once per chunk, not once per solve.

``make_executor("local")``, ``"local:4"``, ``"serial"``, ``"ray"`` (``ray.init()``: a running
cluster named by ``RAY_ADDRESS``, else a new local one) or ``"ray:ADDRESS"`` (e.g.
``ray:auto``, ``ray:ray://head:10001``). Ray is the optional extra ``feasgym[ray]``.
"""
from __future__ import annotations

import multiprocessing
import os
from collections import deque
from typing import Any, Callable, Iterable, Iterator

IN_FLIGHT_PER_WORKER = 2


class Executor:
    """Runs ``fn(*args)`` for each task, yielding results in task order (this base: in-process)."""

    name = "serial"
    #: Whether workers write the caller's reference cache themselves (same machine, same cache dir).
    shares_cache = True
    #: Tasks run in the caller's process (no per-task overhead: no need to batch work into chunks).
    in_process = True

    @property
    def workers(self) -> int:
        return 1

    def map(self, fn: Callable, tasks: Iterable[tuple]) -> Iterator[Any]:
        for args in tasks:
            yield fn(*args)

    def close(self) -> None:
        """Release workers (a no-op for executors that own none)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(workers={self.workers})"


SerialExecutor = Executor


class LocalExecutor(Executor):
    """A pool of spawned processes on this machine, started at first use and reused until :meth:`close`.

    Spawn, not fork: the caller may hold threads (torch, tokenizers) that fork would break.
    Each worker process keeps its envs between tasks (see :func:`feasgym.envs.dataset_rows.worker_env`).
    """

    name = "local"
    in_process = False

    def __init__(self, workers: int | None = None):
        workers = (os.cpu_count() or 1) if workers is None else int(workers)
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self._workers = workers
        self._pool = None

    @property
    def workers(self) -> int:
        return self._workers

    def map(self, fn: Callable, tasks: Iterable[tuple]) -> Iterator[Any]:
        if self._pool is None:
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(max_workers=self._workers, mp_context=multiprocessing.get_context("spawn"))
        pool = self._pool
        yield from _ordered(lambda args: pool.submit(fn, *args), lambda fut: fut.result(), tasks,
                            self._workers * IN_FLIGHT_PER_WORKER, cancel=lambda fut: fut.cancel())

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class RayExecutor(Executor):
    """Tasks on a Ray cluster: ``address=None`` connects to ``RAY_ADDRESS`` or starts a local cluster.

    Connects at construction; shuts Ray down at :meth:`close` only if it started it here. Workers
    are Ray's reused worker processes (each keeps its envs between tasks), and they write their
    own machine's reference cache, so the caller stores the returned references itself
    (``shares_cache = False``). Every node needs feasgym installed (same version).
    """

    name = "ray"
    shares_cache = False
    in_process = False

    def __init__(self, address: str | None = None, *, num_cpus: int | None = None, **init_kwargs):
        try:
            import ray
        except ImportError as err:
            raise ImportError("the Ray executor needs Ray: pip install 'feasgym[ray]'") from err
        self._ray = ray
        self._owned = False
        if not ray.is_initialized():
            kwargs = dict(init_kwargs)
            if num_cpus is not None:
                kwargs["num_cpus"] = int(num_cpus)
            kwargs.setdefault("log_to_driver", False)
            ray.init(address=address, **kwargs)
            self._owned = True
        self._remote: dict[Callable, Any] = {}

    @property
    def workers(self) -> int:
        return max(1, int(self._ray.cluster_resources().get("CPU", 1)))

    def map(self, fn: Callable, tasks: Iterable[tuple]) -> Iterator[Any]:
        ray = self._ray
        remote = self._remote.get(fn)
        if remote is None:
            remote = self._remote[fn] = ray.remote(num_cpus=1)(fn)
        yield from _ordered(lambda args: remote.remote(*args), ray.get, tasks,
                            self.workers * IN_FLIGHT_PER_WORKER, cancel=lambda ref: ray.cancel(ref))

    def close(self) -> None:
        if self._owned and self._ray.is_initialized():
            self._ray.shutdown()
        self._owned = False

    def __repr__(self) -> str:
        return f"RayExecutor(workers={self.workers if self._ray.is_initialized() else '?'})"


def _ordered(submit: Callable, result: Callable, tasks: Iterable[tuple], in_flight: int,
             cancel: Callable) -> Iterator[Any]:
    """Submit tasks keeping at most ``in_flight`` pending; yield their results in submission order."""
    pending: deque = deque()
    try:
        for args in tasks:
            pending.append(submit(args))
            if len(pending) >= in_flight:
                yield result(pending.popleft())
        while pending:
            yield result(pending.popleft())
    finally:
        for handle in pending:  # the consumer stopped early or a task failed: drop the rest
            try:
                cancel(handle)
            except Exception:  # noqa: BLE001  (best effort: a finished task cannot be cancelled)
                pass


EXECUTOR_SPECS = ("serial", "local", "local:N", "ray", "ray:ADDRESS")


def make_executor(spec: "str | Executor | None" = None, workers: int = 1) -> Executor:
    """An executor from a spec string (see the module docstring); ``None`` means ``"local"``.

    ``"local"`` uses ``workers`` processes (in-process when ``workers == 1``). An
    :class:`Executor` passed in is returned as it is (the caller keeps ownership).
    """
    if isinstance(spec, Executor):
        return spec
    if spec is None:
        spec = "local"
    if not isinstance(spec, str):
        raise TypeError(f"executor must be a spec string or an Executor, got {type(spec).__name__}")
    kind, sep, arg = spec.partition(":")
    if kind == "serial" and not sep:
        return SerialExecutor()
    if kind == "local":
        if sep:
            try:
                workers = int(arg)
            except ValueError:
                raise ValueError(f"executor 'local:N' needs a number of workers, got {spec!r}") from None
        if int(workers) < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        return SerialExecutor() if int(workers) == 1 else LocalExecutor(int(workers))
    if kind == "ray":
        if sep and not arg:
            raise ValueError("executor 'ray:ADDRESS' needs an address (e.g. ray:auto), or use 'ray'")
        return RayExecutor(arg or None)
    raise ValueError(f"executor must be one of {', '.join(EXECUTOR_SPECS)}, got {spec!r}")
