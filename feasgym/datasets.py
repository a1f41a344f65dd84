"""Export env instances as files and Hugging Face datasets: prompt, oracle completion, chat messages, instance key.

Row ``k`` is instance ``k`` of the ``split`` stream seeded by ``seed`` (``start`` shifts the
window), the same instance ``env.reset(seed=seed, options={"instance": k})`` gives, so the
reward functions of :mod:`feasgym.envs.rewards` score a completion against its row exactly.
Reference solutions go through the env's on-disk reference cache, so a second export (or the
reward functions later) does not solve again. Splits draw from disjoint seed streams.

Rows are **streamed**: each is written to its files as it is produced (in index order) and then
dropped, so memory stays flat in ``n`` (:func:`export_rows`); :func:`export_dataset` streams into
an Arrow file and returns the ``datasets.Dataset`` memory-mapped from it. The work per instance
runs on an executor (:mod:`feasgym.envs.executors`: local processes by default, or Ray).

Output formats are pluggable: :data:`ROW_WRITERS` maps a format name to one small function
``writer(path)`` returning a context manager that yields ``write(row)``; the file appears
(atomically) when the block ends cleanly. A new format is one such function plus its suffix
in :data:`FORMAT_SUFFIX`.
"""
from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterator

from feasgym.envs.core.files import atomic_path
from feasgym.envs.dataset_rows import instance_records, iter_instance_results

RowWriter = Callable[[Path], ContextManager[Callable[[dict], None]]]
BATCH_ROWS = 256
"""Rows buffered per Arrow/Parquet record batch (the only rows held in memory while writing)."""


# ---- one function per format ---------------------------------------------------------------


@contextlib.contextmanager
def jsonl_writer(path: Path) -> Iterator[Callable[[dict], None]]:
    """One JSON object per line with exact floats (``Dataset.to_json`` rounds to 10 digits)."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        yield lambda row: fh.write(json.dumps(row, ensure_ascii=False) + "\n")


@contextlib.contextmanager
def _batched(open_sink: Callable, close_sink: Callable) -> Iterator[Callable[[dict], None]]:
    """Rows gathered into Arrow record batches of :data:`BATCH_ROWS`; the schema comes from the first batch."""
    import pyarrow as pa

    rows: list[dict] = []
    state: dict[str, Any] = {}

    def flush() -> None:
        table = pa.Table.from_pylist(rows, schema=state.get("schema"))
        if "sink" not in state:
            state["schema"] = table.schema
            state["sink"] = open_sink(table.schema)
        state["sink"].write_table(table)
        rows.clear()

    def write(row: dict) -> None:
        rows.append(row)
        if len(rows) >= BATCH_ROWS:
            flush()

    try:
        yield write
        if rows or "sink" not in state:
            flush()
    finally:
        if "sink" in state:
            close_sink(state["sink"])


@contextlib.contextmanager
def parquet_writer(path: Path) -> Iterator[Callable[[dict], None]]:
    """A Parquet file, one row group per batch of rows."""
    import pyarrow.parquet as pq

    with atomic_path(path) as tmp, _batched(lambda schema: pq.ParquetWriter(tmp, schema), lambda w: w.close()) as write:
        yield write


@contextlib.contextmanager
def arrow_writer(path: Path) -> Iterator[Callable[[dict], None]]:
    """An Arrow IPC stream: the file format ``datasets`` memory-maps (``Dataset.from_file``)."""
    import pyarrow as pa

    with atomic_path(path) as tmp, _batched(lambda schema: pa.ipc.new_stream(str(tmp), schema), lambda w: w.close()) as write:
        yield write


@contextlib.contextmanager
def hf_writer(folder: Path) -> Iterator[Callable[[dict], None]]:
    """An HF datasets folder (``save_to_disk``), built from the Arrow file the rows were streamed into."""
    import datasets

    staging = folder.with_name(folder.name + ".arrow")
    try:
        with arrow_writer(staging) as write:
            yield write
        with atomic_path(folder) as tmp:
            dataset = datasets.Dataset.from_file(str(staging))
            dataset.save_to_disk(str(tmp))
            del dataset
            if folder.is_dir():
                shutil.rmtree(folder)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(staging)


def verl_writer(path: Path) -> ContextManager[Callable[[dict], None]]:
    """verl's RL parquet layout (``data_source``, chat ``prompt``, ``ability``, ``reward_model``, ``extra_info``)."""
    from feasgym.integrations.verl import verl_writer as writer

    return writer(path)


ROW_WRITERS: dict[str, RowWriter] = {"jsonl": jsonl_writer, "parquet": parquet_writer, "hf": hf_writer,
                                     "verl": verl_writer}
FORMAT_SUFFIX: dict[str, str] = {"jsonl": ".jsonl", "parquet": ".parquet", "hf": "", "verl": ".parquet"}
"""File suffix of each format (``""``: a folder)."""
EXPORT_FORMATS = tuple(ROW_WRITERS) + ("both",)
"""``both``: an HF folder at OUT plus OUT.jsonl (the built-in formats; :func:`export_formats` also
lists writers registered later in :data:`ROW_WRITERS`)."""


def export_formats() -> tuple[str, ...]:
    """Every format name an export takes now (``auto`` aside)."""
    return tuple(ROW_WRITERS) + ("both",)


def export_targets(out: str | os.PathLike, fmt: str = "auto") -> list[tuple[str, Path]]:
    """``(format, path)`` for each file an export to ``out`` writes.

    ``auto`` picks the format whose suffix ``out`` has (an HF folder otherwise); a file format
    appends its suffix when ``out`` lacks it; an HF folder drops a file suffix.
    """
    if fmt not in export_formats() + ("auto",):
        raise ValueError(f"format must be one of {('auto',) + export_formats()}, got {fmt!r}")
    out = Path(out)
    if fmt == "auto":
        fmt = next((f for f, suffix in FORMAT_SUFFIX.items() if suffix and out.name.endswith(suffix)), "hf")
    formats = ["hf", "jsonl"] if fmt == "both" else [fmt]
    targets = []
    for f in formats:
        suffix = FORMAT_SUFFIX[f]
        if suffix:
            targets.append((f, out if out.name.endswith(suffix) else out.with_name(out.name + suffix)))
        else:
            known = [s for s in FORMAT_SUFFIX.values() if s and out.name.endswith(s)]
            targets.append((f, out.with_name(out.name[: -len(known[0])]) if known else out))
    return targets


# ---- exports ---------------------------------------------------------------------------------
def export_records(env_id: str, **kwargs: Any) -> list[dict]:
    """One row per instance, in a list (arguments and columns:
    :func:`feasgym.envs.dataset_rows.iter_instance_results`); for large ``n`` use :func:`export_rows`."""
    kwargs.setdefault("desc", f"export {env_id} {kwargs.get('split', 'train')}")
    return instance_records(env_id, **kwargs)


def export_rows(env_id: str, out: str | os.PathLike, fmt: str = "auto", *, bundle: str | os.PathLike | None = None,
                **kwargs: Any) -> list[Path]:
    """Stream rows of ``env_id`` into ``out`` (formats: :func:`export_targets`); returns the paths written.

    ``bundle``: also write the rows' reference records into a reference bundle
    (:mod:`feasgym.envs.core.bundle`), to ship them to machines without this cache.
    Other arguments (``split``, ``n``, ``seed``, ``start``, ``env_kwargs``, ``system_prompt``,
    ``workers``, ``executor``, ``progress``, ``desc``): :func:`~feasgym.envs.dataset_rows.iter_instance_results`.
    """
    from feasgym.envs.core.bundle import bundle_writer

    targets = export_targets(out, fmt)
    kwargs.setdefault("desc", f"export {env_id} {kwargs.get('split', 'train')}")
    results = iter_instance_results(env_id, **kwargs)
    with contextlib.ExitStack() as stack:
        writers = [stack.enter_context(ROW_WRITERS[f](path)) for f, path in targets]
        add_reference = stack.enter_context(bundle_writer(bundle)) if bundle is not None else None
        for result in results:
            for write in writers:
                write(result["row"])
            if add_reference is not None:
                add_reference(result["reference"])
    return [path for _, path in targets]


def export_dataset(env_id: str, **kwargs: Any):
    """A ``datasets.Dataset`` of instances of ``env_id``, streamed into an Arrow file and memory-mapped.

    Arguments as :func:`export_rows` (``executor=`` picks where instances are solved). Columns:
    ``prompt`` (str), ``completion`` (the oracle's answer at the prompt's decimals), ``messages``
    (chat format: optional system, user prompt, assistant answer), the instance key ``env_id``,
    ``seed``, ``split``, ``instance``, ``prompt_hash`` (what the TRL reward functions read),
    ``reference_objective`` and ``env_kwargs`` (JSON, for the record). The Arrow file lives in a
    temporary folder removed when the process exits (``save_dataset`` to keep it).
    """
    import datasets

    path = Path(tempfile.mkstemp(dir=_scratch(), prefix="export-", suffix=".arrow")[1])
    kwargs.setdefault("desc", f"export {env_id} {kwargs.get('split', 'train')}")
    results = iter_instance_results(env_id, **kwargs)
    with arrow_writer(path) as write:
        for result in results:
            write(result["row"])
    return datasets.Dataset.from_file(str(path))


def save_dataset(dataset, out: str | os.PathLike, fmt: str = "auto") -> list[Path]:
    """Write ``dataset`` in the formats of :func:`export_targets` (row by row: flat memory); returns the paths."""
    written = []
    for f, path in export_targets(out, fmt):
        if f == "hf":
            with atomic_path(path) as tmp:
                dataset.save_to_disk(str(tmp))
                if path.is_dir():
                    shutil.rmtree(path)
        else:
            with ROW_WRITERS[f](path) as write:
                for row in _rows(dataset):
                    write(row)
        written.append(path)
    return written


def _rows(dataset) -> Iterator[dict]:
    """Rows of a ``datasets.Dataset`` read a batch at a time."""
    for batch in dataset.iter(batch_size=BATCH_ROWS):
        names = list(batch)
        for values in zip(*(batch[n] for n in names)):
            yield dict(zip(names, values))


def load_jsonl(path: str | os.PathLike):
    """Load an exported JSONL file back as a ``datasets.Dataset``."""
    import datasets

    return datasets.load_dataset("json", data_files=str(path), split="train")


_SCRATCH: list[Path] = []


def _scratch() -> Path:
    """This process's temporary folder for exported Arrow files (removed at exit)."""
    if not _SCRATCH:
        _SCRATCH.append(Path(tempfile.mkdtemp(prefix="feasgym-export-")))
        atexit.register(shutil.rmtree, _SCRATCH[0], True)
    return _SCRATCH[0]
