"""The parameters of a trace (:class:`TraceSpec`) and the tables it reads (:class:`TraceInputs`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import polars as pl

from tracer.errors import InputError
from tracer.schema import CATEGORIES, PEEL_CHAIN_TAGS, TABLES

__all__ = [
    "DEFAULT_STOP_AT",
    "DIRECTIONS",
    "TAINT_MODEL_NAMES",
    "TraceInputs",
    "TraceSpec",
]

DIRECTIONS = ("forward", "backward")
TAINT_MODEL_NAMES = ("poison", "haircut", "fifo")
DEFAULT_STOP_AT = ("exchange", "deposit_wallet", "mixing_service", "defi_bridge", "sanction")


@dataclass(frozen=True)
class TraceSpec:
    """What to trace and how: every parameter of a trace, recorded in ``trace.json``.

    Parameters
    ----------
    seeds
        Addresses to start from (normalised, lower-case for EVM chains). Empty means "the
        data directory's ``seeds`` table"; its ``transaction_hash`` column, when set, names the
        seeding transaction (the theft), from which the trace starts.
    direction
        ``forward`` (where did it go) or ``backward`` (where did it come from).
    max_hops
        Hops to follow; addresses first reached at this hop are endpoints ("hop limit").
    min_value
        Transfers below this amount in whole units (``"0.01"`` ETH; per asset, by its
        ``decimals``) are not followed; the taint they carry is counted as ``below_min_value``.
    taint
        The taint model of the main tables: ``poison``, ``haircut`` or ``fifo``.
    compare
        Also run every other model and report each endpoint's amount under each.
    stop_at
        Label categories where the trace stops (the address is an endpoint).
    since, until
        Only movements with ``since <= block_timestamp <= until`` (UTC) are considered.
    max_degree
        An address (not a seed) with more transfers than this in the data is a likely service:
        an endpoint. ``None`` disables the rule.
    top_k_paths
        Paths kept per endpoint and asset in the paths table.
    chain
        The chain to trace; ``None`` takes the one chain of the seeds.
    use_clusters
        With a ``clusters`` table: hops inside one cluster are not counted, and an address
        whose cluster's category is a stop category is an endpoint (a deposit address leads to
        its exchange).
    follow_swaps
        Follow taint through swaps at swap venues (addresses labelled ``defi_dex`` or
        ``defi``): what a traced address pays a venue in one asset converts into what the
        venue pays out in another asset in the same transaction (see
        :mod:`tracer.trace.swaps`). Off, each asset is traced on its own and a venue is an
        ordinary address.
    follow_peel_chains
        With peel-chain tags (:attr:`TraceInputs.peel_chains`): the change of a peel-chain
        transaction stays with its spender, so only the peeled output counts a hop and a
        whole chain sits at one hop. Off, every Bitcoin transaction is a hop.
    """

    seeds: tuple[str, ...] = ()
    direction: str = "forward"
    max_hops: int = 8
    min_value: str | None = None
    taint: str = "haircut"
    compare: bool = False
    stop_at: tuple[str, ...] = DEFAULT_STOP_AT
    since: datetime | None = None
    until: datetime | None = None
    max_degree: int | None = 10_000
    top_k_paths: int = 5
    chain: str | None = None
    use_clusters: bool = True
    follow_swaps: bool = True
    follow_peel_chains: bool = True

    def __post_init__(self) -> None:
        """Check every parameter, so that a bad spec fails before any data is read."""
        if self.direction not in DIRECTIONS:
            _bad("direction", self.direction, f"Use one of {', '.join(DIRECTIONS)}")
        if self.taint not in TAINT_MODEL_NAMES:
            _bad("taint", self.taint, f"Use one of {', '.join(TAINT_MODEL_NAMES)}")
        if not 1 <= self.max_hops <= 64:
            _bad("max_hops", self.max_hops, "Use a hop count between 1 and 64")
        unknown = [c for c in self.stop_at if c not in CATEGORIES]
        if unknown:
            _bad("stop_at", unknown[0], f"Categories are {', '.join(CATEGORIES)}")
        if self.min_value is not None:
            try:
                parsed = Decimal(self.min_value)
            except InvalidOperation:
                parsed = Decimal(-1)
            if not parsed.is_finite() or parsed < 0:
                _bad("min_value", self.min_value, "Give a non-negative amount in whole units")
        if self.max_degree is not None and self.max_degree < 1:
            _bad("max_degree", self.max_degree, "Give a positive transfer count or None")
        if self.top_k_paths < 0:
            _bad("top_k_paths", self.top_k_paths, "Give a non-negative count")
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                _bad(name, value, "Give a timezone-aware (UTC) datetime")

    @property
    def models(self) -> tuple[str, ...]:
        """The models to run: the main one first, then the others when comparing."""
        if not self.compare:
            return (self.taint,)
        return (self.taint, *(m for m in TAINT_MODEL_NAMES if m != self.taint))

    def to_json(self) -> dict[str, Any]:
        """The parameters as JSON-ready values (datetimes in ISO 8601)."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, datetime):
                out[key] = value.isoformat()
            elif isinstance(value, tuple):
                out[key] = list(value)
        return out


def _bad(name: str, value: object, fix: str) -> None:
    msg = "invalid trace parameter"
    raise InputError(msg, field=name, value=value, fix=fix)


def _empty(table: str) -> pl.LazyFrame:
    return pl.LazyFrame(schema=TABLES[table])


@dataclass(frozen=True)
class TraceInputs:
    """The tables a trace reads, as LazyFrames (absent tables are empty frames).

    Parameters
    ----------
    transfers, transactions, labels, clusters, seeds
        Rows of the tables of the same name in :mod:`tracer.schema`.
    peel_chains
        Rows of ``schema.PEEL_CHAIN_TAGS`` (``heuristics.peel_chain`` over the UTXO tables).
    tokens
        Rows of ``schema.TOKENS``: the symbols of the tokens traced, recorded for display.
    """

    transfers: pl.LazyFrame
    transactions: pl.LazyFrame = field(default_factory=lambda: _empty("transactions"))
    labels: pl.LazyFrame = field(default_factory=lambda: _empty("labels"))
    clusters: pl.LazyFrame = field(default_factory=lambda: _empty("clusters"))
    seeds: pl.LazyFrame = field(default_factory=lambda: _empty("seeds"))
    peel_chains: pl.LazyFrame = field(default_factory=lambda: pl.LazyFrame(schema=PEEL_CHAIN_TAGS))
    tokens: pl.LazyFrame = field(default_factory=lambda: _empty("tokens"))

    @classmethod
    def from_frames(cls, frames: Mapping[str, pl.DataFrame | pl.LazyFrame]) -> TraceInputs:
        """Build from a mapping of table name to frame (missing tables are empty)."""
        lazy = {name: frame.lazy() for name, frame in frames.items()}
        if "transfers" not in lazy:
            msg = "a trace needs a transfers table"
            raise InputError(msg, field="transfers", fix="Ingest transfers first")
        return cls(**lazy)
