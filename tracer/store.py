"""The case data directory: one folder of Parquet parts per table, with atomic commits.

``DIR/<table>/part-<sha256>.parquet`` holds the rows, so any tool can read a table with
``pl.scan_parquet("DIR/transfers/*.parquet")`` or DuckDB without going through tracer.

A :meth:`Store.commit` writes several tables at once, all or nothing: the new parts are written
under ``DIR/.staging/<id>/``, a ``COMMIT`` journal is written last, and only then are the parts
renamed into place. Opening a store finishes a commit whose journal exists and discards one
whose journal does not, so an ingest killed at any moment loses no committed row and leaves no
half-written one. Appends drop rows whose key (:data:`tracer.schema.KEYS`) is already stored,
so re-ingesting the same input adds nothing.

Appending ``transfers`` also numbers their addresses (:mod:`tracer.address_ids`): the store
fills ``from_id`` and ``to_id`` and adds the new addresses to the ``addresses`` table in the
same commit, so the ids and the rows that use them land together or not at all.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import polars as pl

from tracer.address_ids import with_address_ids
from tracer.errors import DataMissing, InputError
from tracer.schema import KEYS, STORED, TABLES, conform

__all__ = ["Store"]

_STAGING = ".staging"
_JOURNAL = "COMMIT"


#: The command that writes each table a command may require.
_FILLED_BY = {
    "seeds": "tracer seeds",
    "labels": "tracer labels",
    "links": "tracer cluster",
    "clusters": "tracer cluster",
}


class Store:
    """A case data directory.

    Parameters
    ----------
    root
        The directory. It is created on the first commit.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            msg = "not a directory"
            raise InputError(
                msg,
                field="--data",
                value=str(self.root),
                fix="Pass a directory for the case data (it is created if missing)",
            )
        if (self.root / _STAGING).is_dir():
            with self._locked():
                self._recover()
        # The ``addresses`` rows read for the last commit, by the names of their parts.
        self._addresses: tuple[frozenset[str], pl.DataFrame] | None = None

    # --- reading ------------------------------------------------------------------------------

    def parts(self, table: str) -> list[Path]:
        """The Parquet parts of ``table``, in a stable order."""
        _check_table(table)
        return sorted((self.root / table).glob("part-*.parquet"))

    def has(self, table: str) -> bool:
        """Whether ``table`` has at least one part."""
        return bool(self.parts(table))

    def scan(self, table: str) -> pl.LazyFrame:
        """All rows of ``table`` (an empty frame with its schema when there are none).

        ``transfers`` also has the address ids (:data:`tracer.schema.STORED`); in a directory
        written before the store assigned them, they are null.
        """
        parts = self.parts(table)
        if not parts:
            return pl.LazyFrame(schema=STORED[table])
        return pl.scan_parquet(parts, schema=STORED[table], missing_columns="insert")

    def has_address_ids(self) -> bool:
        """Whether every stored transfer carries its address ids (``from_id``, ``to_id``).

        Parts written before the store numbered addresses lack the columns; the check reads
        only each part's schema.
        """
        parts = self.parts("transfers")
        return bool(parts) and all(
            {"from_id", "to_id"} <= set(pl.read_parquet_schema(part)) for part in parts
        )

    def require(self, table: str) -> pl.LazyFrame:
        """Like :meth:`scan`, but a missing table is an error that says how to fill it."""
        if not self.has(table):
            how = _FILLED_BY.get(table, "tracer ingest files|rpc")
            msg = f"{self.root} has no {table} table: run {how} first"
            raise DataMissing(msg)
        return self.scan(table)

    # --- writing ------------------------------------------------------------------------------

    def commit(
        self,
        append: Mapping[str, pl.DataFrame | pl.LazyFrame] | None = None,
        *,
        replace: Mapping[str, pl.DataFrame | pl.LazyFrame] | None = None,
        dedupe: bool = True,
    ) -> dict[str, int]:
        """Write tables atomically and return the rows added to each.

        Parameters
        ----------
        append
            Rows to add per table; rows whose key is already stored (or repeated within the
            batch) are dropped.
        replace
            Tables whose whole content becomes the given rows (derived tables: links,
            clusters).
        dedupe
            Set to ``False`` only when the caller knows the rows are new (an RPC chunk whose
            block range is not in ``ingest_log``); it skips reading the stored keys.
        """
        append = append or {}
        replace = replace or {}
        if "addresses" in append or "addresses" in replace:
            msg = "the addresses table is numbered by the store as transfers are appended"
            raise ValueError(msg)
        with self._locked():
            self._recover()
            stage = self.root / _STAGING / uuid.uuid4().hex
            stage.mkdir(parents=True)
            moves: list[tuple[str, str]] = []
            deletes: list[str] = []
            added: dict[str, int] = {}
            grown = None  # the addresses once this commit is applied
            try:
                for table, rows in append.items():
                    frame = self._new_rows(table, rows, dedupe=dedupe)
                    added[table] = frame.height
                    if table == "transfers" and frame.height:
                        frame, grown = self._number_addresses(frame, stage, moves)
                    if frame.height:
                        moves.append(self._stage(stage, table, frame))
                for table, rows in replace.items():
                    frame = _sorted(table, conform(rows, table).collect())
                    added[table] = frame.height
                    deletes += [str(p.relative_to(self.root)) for p in self.parts(table)]
                    if frame.height:
                        moves.append(self._stage(stage, table, frame))
                        deletes = [d for d in deletes if d != moves[-1][1]]
                journal = stage / _JOURNAL
                tmp = stage / (_JOURNAL + ".tmp")
                tmp.write_text(json.dumps({"moves": moves, "deletes": deletes}))
                _fsync(tmp)
                tmp.rename(journal)
            except BaseException:
                shutil.rmtree(stage, ignore_errors=True)
                _remove_if_empty(stage.parent)
                raise
            self._apply(stage)
            if grown is not None:
                self._addresses = grown
        return added

    def _number_addresses(
        self, frame: pl.DataFrame, stage: Path, moves: list[tuple[str, str]]
    ) -> tuple[pl.DataFrame, tuple[frozenset[str], pl.DataFrame] | None]:
        """``frame`` with its address ids, the addresses new to the store staged in ``moves``.

        Also returns what :meth:`_known_addresses` holds once the commit is applied (``None``
        when no address is new).
        """
        names, known = self._known_addresses()
        frame, new = with_address_ids(frame, known.lazy())
        if not new.height:
            return frame, None
        moves.append(self._stage(stage, "addresses", new))
        both = pl.concat([known, new], rechunk=False)
        both = both.rechunk() if both.n_chunks() > 64 else both  # a chunk per commit, merged
        return frame, (names | {Path(moves[-1][1]).name}, both)

    def _known_addresses(self) -> tuple[frozenset[str], pl.DataFrame]:
        """The stored ``addresses`` rows, and the names of the parts they were read from.

        Kept in memory between this store's commits: once a directory holds millions of
        addresses, reading them is most of what numbering a commit's addresses costs. Parts
        are named by a hash of their content, so the same names mean the same rows; any
        other writer's commit changes the names, and the rows are read again.
        """
        names = frozenset(p.name for p in self.parts("addresses"))
        if self._addresses is None or self._addresses[0] != names:
            self._addresses = (names, self.scan("addresses").collect())
        return self._addresses

    def _new_rows(
        self, table: str, rows: pl.DataFrame | pl.LazyFrame, *, dedupe: bool
    ) -> pl.DataFrame:
        key = list(KEYS[table])
        lf = conform(rows, table)
        if dedupe:
            lf = lf.unique(subset=key, keep="first", maintain_order=True)
            if self.has(table):
                stored = self.scan(table).select(key)
                lf = lf.join(stored, on=key, how="anti", nulls_equal=True, maintain_order="left")
        return _sorted(table, lf.collect())

    def _stage(self, stage: Path, table: str, frame: pl.DataFrame) -> tuple[str, str]:
        (stage / table).mkdir(exist_ok=True)
        tmp = stage / table / "incoming.parquet"
        frame.write_parquet(tmp, compression="zstd", statistics=True)
        digest = hashlib.sha256(tmp.read_bytes()).hexdigest()[:24]
        final = f"{table}/part-{digest}.parquet"
        staged = stage / final
        tmp.rename(staged)
        _fsync(staged)
        return str(staged.relative_to(self.root)), final

    # --- the journal --------------------------------------------------------------------------

    def _apply(self, stage: Path) -> None:
        plan = json.loads((stage / _JOURNAL).read_text())
        for src, dst in plan["moves"]:
            source, target = self.root / src, self.root / dst
            if source.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                source.replace(target)
        for rel in plan["deletes"]:
            (self.root / rel).unlink(missing_ok=True)
        shutil.rmtree(stage)
        _remove_if_empty(stage.parent)

    def _recover(self) -> None:
        staging = self.root / _STAGING
        if not staging.is_dir():
            return
        for stage in sorted(staging.iterdir()):
            if (stage / _JOURNAL).exists():
                self._apply(stage)
            else:
                shutil.rmtree(stage, ignore_errors=True)
        _remove_if_empty(staging)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _check_table(table: str) -> None:
    if table not in TABLES:
        msg = f"unknown table {table!r}; tables are {', '.join(TABLES)}"
        raise KeyError(msg)


def _sorted(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    # Sorted parts make the bytes of a part depend only on its rows, not on arrival order.
    return frame.sort(list(KEYS[table]), nulls_last=True, maintain_order=True)


def _remove_if_empty(directory: Path) -> None:
    with contextlib.suppress(OSError):
        directory.rmdir()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
