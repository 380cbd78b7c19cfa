"""``tracer ingest files``: read exported files of one format and commit them in one go.

Each format has a reader module with one function ``read(paths, *, chain, options)`` that
returns the rows per table; this module checks the paths, dispatches, records every file in
``ingest_log`` by its sha256 and commits all tables at once, so a failure leaves the data
directory exactly as it was.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import cast

import polars as pl

from tracer.errors import InputError, UnknownFormat
from tracer.store import Store

__all__ = ["FORMATS", "expand_paths", "ingest_files", "read_files", "sha256_file"]

Reader = Callable[..., dict[str, pl.DataFrame]]

# format name -> module holding its ``read`` function
FORMATS: Mapping[str, str] = {
    "ethereum-etl": "tracer.ingest.etl",
    "etherscan": "tracer.ingest.etherscan",
    "mapped": "tracer.ingest.mapped",
    "bitcoin-etl": "tracer.ingest.bitcoin",
}
_SUFFIXES = (".csv", ".json", ".jsonl", ".ndjson", ".txt", ".gz")


def expand_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Files named, and the data files inside directories named, in a stable order."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in _SUFFIXES)
            if not inside:
                msg = "directory holds no .csv or .json files"
                raise InputError(msg, value=str(path), fix="Point at the exported files")
            files += inside
        elif path.is_file():
            files.append(path)
        else:
            msg = "no such file or directory"
            raise InputError(msg, value=str(path), fix="Check the path")
    return files


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _reader(fmt: str) -> Reader:
    if fmt not in FORMATS:
        msg = "unknown format"
        raise UnknownFormat(
            msg, field="--format", value=fmt, fix=f"Use one of {', '.join(FORMATS)}"
        )
    module = importlib.import_module(FORMATS[fmt])
    return cast(Reader, module.read)


def read_files(
    paths: Sequence[str | Path],
    *,
    fmt: str,
    chain: str = "ethereum",
    options: Mapping[str, str] | None = None,
) -> dict[str, pl.DataFrame]:
    """Read files of one format into canonical tables, without touching any data directory."""
    reader = _reader(fmt)
    files = expand_paths(paths)
    for file in files:
        if file.stat().st_size == 0:
            msg = "empty file"
            raise InputError(msg, source=file, fix="Export the data again; the file has no rows")
    return reader(files, chain=chain, options=dict(options or {}))


def ingest_files(
    store: Store,
    paths: Sequence[str | Path],
    *,
    fmt: str,
    chain: str = "ethereum",
    options: Mapping[str, str] | None = None,
) -> dict[str, int]:
    """Read files and commit their rows to ``store``; return the rows added per table.

    Re-ingesting a file adds no rows: rows are deduplicated on each table's key.
    """
    tables = read_files(paths, fmt=fmt, chain=chain, options=options)
    files = expand_paths(paths)
    log = pl.DataFrame(
        {
            "chain": [chain] * len(files),
            "source_kind": [f"file:{fmt}"] * len(files),
            "source_id": [sha256_file(f) for f in files],
            "from_block": [_min_block(tables)] * len(files),
            "to_block": [_max_block(tables)] * len(files),
            "rows": [sum(t.height for t in tables.values())] * len(files),
        }
    )
    added = store.commit({**tables, "ingest_log": log})
    added.pop("ingest_log", None)
    return added


def _min_block(tables: Mapping[str, pl.DataFrame]) -> int | None:
    lows = [t["block_number"].min() for t in tables.values() if "block_number" in t.columns]
    values = [int(cast(int, v)) for v in lows if v is not None]
    return min(values) if values else None


def _max_block(tables: Mapping[str, pl.DataFrame]) -> int | None:
    highs = [t["block_number"].max() for t in tables.values() if "block_number" in t.columns]
    values = [int(cast(int, v)) for v in highs if v is not None]
    return max(values) if values else None
