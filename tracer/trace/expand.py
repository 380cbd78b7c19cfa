"""Hop expansion: which addresses and transfers a trace can reach, with Polars semi-joins.

The expansion works on a compact projection of the transfers (one row per transfer: 64-bit
hashes of the two addresses, a time key, two flags, the hops it counts), so that each round
is one vectorised ``is_in`` over the table and no index has to be built. It is
direction-agnostic: a backward trace is a forward trace over the reversed graph (``src``/``dst``
swapped, time negated).

It is a superset search: an edge is a candidate when it leaves a reached address no earlier
(same block and transaction allowed) than the earliest moment taint can be there. Whether it
carries taint, and how much, is decided afterwards by a taint model that replays the reached
transfers in exact order (:mod:`tracer.trace.models`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import polars as pl

__all__ = [
    "HASH_SEED",
    "KIND_ADDRESS",
    "KIND_DEGREE",
    "KIND_SEED",
    "KIND_STOP",
    "KIND_TX",
    "KIND_VENUE",
    "Reach",
    "cluster_hashes",
    "compact_transfers",
    "expand",
    "hashes_of",
    "min_value_thresholds",
    "node_hash",
    "peel_legs",
    "time_key",
    "windowed_transfers",
]

HASH_SEED = 0x7472616365  # "trace": any fixed seed; hashes never leave one process

KIND_SEED = "seed"  # a seed: hop 0, always followed
KIND_ADDRESS = "address"  # an ordinary address, followed while its hop < max_hops
KIND_TX = "tx"  # a Bitcoin transaction node: never a hop, never an endpoint
KIND_STOP = "stop"  # labelled with a stop category (or in such a cluster): an endpoint
KIND_DEGREE = "degree"  # more transfers than max_degree: a likely service, an endpoint
KIND_VENUE = "venue"  # a swap venue (tracer.trace.swaps): never expanded, crossed by swap nodes

_TX_SHIFT = 1 << 20  # time key = block_number * 2**20 + transaction_index


def node_hash(column: str | pl.Expr) -> pl.Expr:
    """The 64-bit key of an address (or Bitcoin transaction node) used inside a trace."""
    expr = pl.col(column) if isinstance(column, str) else column
    return expr.hash(HASH_SEED)


def windowed_transfers(
    transfers: pl.LazyFrame,
    *,
    chain: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> pl.LazyFrame:
    """The transfers a trace considers: one chain, inside the time window.

    Examples
    --------
    >>> from tracer.schema import TRANSFERS
    >>> windowed_transfers(pl.LazyFrame(schema=TRANSFERS), chain="ethereum").collect().height
    0
    """
    lf = transfers.filter(pl.col("chain") == chain)
    if since is not None:
        lf = lf.filter(pl.col("block_timestamp") >= since)
    if until is not None:
        lf = lf.filter(pl.col("block_timestamp") <= until)
    return lf


def min_value_thresholds(min_value: str, *, max_decimals: int = 36) -> dict[int, str]:
    """The smallest raw amount (decimal string) that passes ``min_value``, per ``decimals``.

    Examples
    --------
    >>> min_value_thresholds("0.015", max_decimals=3)
    {0: '1', 1: '1', 2: '2', 3: '15'}
    """
    amount = Decimal(min_value)
    out: dict[int, str] = {}
    for decimals in range(max_decimals + 1):
        scaled = amount.scaleb(decimals)
        whole = int(scaled)
        out[decimals] = str(whole + (1 if scaled > whole else 0))
    return out


def _at_least(value: pl.Expr, threshold: pl.Expr) -> pl.Expr:
    # Exact comparison of canonical decimal strings: longer is larger, equal length compares
    # lexically. Never through a float.
    lv, lt = value.str.len_bytes(), threshold.str.len_bytes()
    return (lv > lt) | ((lv == lt) & (value >= threshold))


def time_key() -> pl.Expr:
    """The replay order of a transfer as one Int64: ``block_number * 2**20 + transaction_index``.

    Exports without block numbers (Dune, spreadsheets: ``mapped`` files) carry only the block
    time: when any row of the frame lacks a block number, every row is keyed by its
    ``block_timestamp`` in seconds instead, so that one scale orders them all.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> t = datetime(2022, 3, 23, 13, 16, 57, tzinfo=UTC)
    >>> pl.DataFrame(
    ...     {"block_number": [None], "transaction_index": [None], "block_timestamp": [t]},
    ...     schema={
    ...         "block_number": pl.Int64,
    ...         "transaction_index": pl.Int64,
    ...         "block_timestamp": pl.Datetime("us", "UTC"),
    ...     },
    ... ).select(time_key()).item() == 1648041417 * 2**20
    True
    """
    position = pl.col("transaction_index").fill_null(0)
    by_block = pl.col("block_number") * _TX_SHIFT + position
    by_time = pl.col("block_timestamp").dt.epoch("s") * _TX_SHIFT + position
    return pl.when(pl.col("block_number").is_null().any()).then(by_time).otherwise(by_block)


def compact_transfers(
    windowed: pl.LazyFrame,
    *,
    direction: str,
    min_value: str | None,
    peel: pl.DataFrame | None = None,
) -> pl.LazyFrame:
    """The projection the expansion runs on: ``_src, _dst, _t, _from_tx, _big, _w``.

    ``_src``/``_dst`` are the hashed addresses in the direction of the trace, ``_t`` a time key
    (negated backward, so that "later" always means larger), ``_from_tx`` marks a leg leaving
    a Bitcoin transaction node (a transaction node is not a hop), ``_big`` a transfer of at
    least ``min_value``, ``_w`` the hops the leg counts (0 or 1, before clusters).

    ``peel`` (:func:`peel_legs`) names the peel-chain transactions to follow: the spender keeps
    the change, so of such a transaction's legs only the peeled output counts a hop, in either
    direction, and a whole chain sits at one hop.
    """
    src, dst = ("from_address", "to_address")
    if direction == "backward":
        src, dst = dst, src
    sign = 1 if direction == "forward" else -1
    if min_value is None:
        big = pl.lit(value=True)
    else:
        table = min_value_thresholds(min_value)
        threshold = (
            pl.col("decimals")
            .fill_null(0)
            .replace_strict(table, default=table[max(table)], return_dtype=pl.String)
        )
        big = _at_least(pl.col("value").str.strip_chars_start("0"), threshold)
    from_tx = (pl.col("kind") == "utxo") & (pl.col(src) == pl.col("transaction_hash"))
    weight = pl.when(from_tx).then(0).otherwise(1)
    if peel is not None and peel.height:
        # One row per transaction (left join, order kept): the rows stay aligned.
        windowed = windowed.join(
            peel.lazy(), on="transaction_hash", how="left", maintain_order="left"
        )
        peeled = (pl.col("from_address") == pl.col("transaction_hash")) & (
            pl.col("idx") == pl.col("_peel_index")
        )
        weight = (
            pl.when((pl.col("kind") == "utxo") & pl.col("_peel_index").is_not_null())
            .then(peeled.cast(pl.Int32))
            .otherwise(weight)
        )
    return windowed.select(
        node_hash(src).alias("_src"),
        node_hash(dst).alias("_dst"),
        (time_key() * sign).alias("_t"),
        from_tx.alias("_from_tx"),
        big.alias("_big"),
        weight.cast(pl.Int32).alias("_w"),
    )


def peel_legs(tags: pl.DataFrame, chain: str) -> pl.DataFrame:
    """``transaction_hash``, ``_peel_index``: the peel-chain transactions a trace follows.

    ``tags`` are rows of ``heuristics.peel_chain.PEEL_CHAIN_TAGS``; a transaction whose change
    is known (the chain goes on through it) is followed, the last of a chain is not (which
    output is the change is not known).

    Examples
    --------
    >>> tags = pl.DataFrame(
    ...     {
    ...         "chain": ["bitcoin"] * 2,
    ...         "transaction_hash": ["t1", "t2"],
    ...         "change_output_index": [1, None],
    ...         "peel_output_index": [0, None],
    ...     }
    ... )
    >>> peel_legs(tags, "bitcoin").rows()
    [('t1', 0)]
    """
    return (
        tags.filter((pl.col("chain") == chain) & pl.col("change_output_index").is_not_null())
        .select("transaction_hash", pl.col("peel_output_index").cast(pl.Int64).alias("_peel_index"))
        .sort("transaction_hash", "_peel_index")
        .unique(subset="transaction_hash", keep="first", maintain_order=True)
    )


@dataclass(frozen=True)
class Reach:
    """What an expansion reached.

    Attributes
    ----------
    nodes
        ``_node`` (hash), ``hop`` (fewest counted hops from a seed), ``_t`` (earliest time key
        at which taint can be there), ``kind`` (``seed``, ``address``, ``tx``, ``stop``,
        ``degree``) and ``followed`` (whether its outgoing transfers were expanded).
    rows
        Positions (in the compact frame) of every transfer touching a followed node: the
        transfers a taint model must replay, the followed nodes' whole history.
    touched
        Transfers touching a followed node, summed over rounds (a node expanded twice counts
        twice): the work the expansion did.
    rounds
        Expansion rounds run.
    """

    nodes: pl.DataFrame
    rows: pl.Series
    touched: int
    rounds: int

    def followed(self) -> pl.Series:
        """Hashes of the followed nodes: the transfers touching them are the ones to replay."""
        return self.nodes.filter(pl.col("followed")).get_column("_node")


def _followed(kind: pl.Expr, hop: pl.Expr, max_hops: int) -> pl.Expr:
    return (
        (kind == KIND_SEED)
        | ((kind == KIND_TX) & (hop <= max_hops))
        | ((kind == KIND_ADDRESS) & (hop < max_hops))
    )


def expand(
    compact: pl.DataFrame,
    seeds: pl.DataFrame,
    *,
    max_hops: int,
    stop: pl.Series,
    clusters: pl.DataFrame | None = None,
    max_degree: int | None = None,
    venues: pl.Series | None = None,
) -> Reach:
    """Expand hop by hop from ``seeds`` over ``compact`` (see :func:`compact_transfers`).

    Parameters
    ----------
    compact
        The compact transfers.
    seeds
        ``_node`` (hash) and ``_t`` (the time key from which the seed is tainted).
    max_hops
        Addresses first reached at this hop are not followed further.
    stop
        Hashes of addresses where the trace stops (stop categories).
    clusters
        ``_node``, ``_cluster`` (hashes): a transfer inside one cluster is not a hop.
    max_degree
        Addresses with more transfers than this are endpoints (``None``: no limit).
    venues
        Hashes of swap venues: reached, never expanded (their swaps are crossed through the
        swap nodes of :func:`tracer.trace.swaps.find_swaps`, added to ``compact`` as edges).

    Returns
    -------
    Reach
        The reached nodes and the rows to replay.

    Examples
    --------
    >>> h = lambda s: pl.Series([s]).hash(HASH_SEED)[0]
    >>> compact = pl.DataFrame(
    ...     {
    ...         "_src": [h("a"), h("b"), h("c")],
    ...         "_dst": [h("b"), h("c"), h("d")],
    ...         "_t": [1, 2, 3],
    ...         "_from_tx": [False] * 3,
    ...         "_big": [True] * 3,
    ...         "_w": [1] * 3,
    ...     }
    ... )
    >>> seeds = pl.DataFrame({"_node": [h("a")], "_t": [0]})
    >>> reach = expand(compact, seeds, max_hops=2, stop=pl.Series([], dtype=pl.UInt64))
    >>> sorted(reach.nodes["hop"].to_list()), reach.touched
    ([0, 1, 2], 3)
    """
    node_schema = {
        "_node": pl.UInt64,
        "hop": pl.Int32,
        "_t": pl.Int64,
        "kind": pl.String,
    }
    tx_nodes = compact.filter(pl.col("_from_tx")).get_column("_src").unique()
    venue_ids = (venues if venues is not None else pl.Series([], dtype=pl.UInt64)).implode()
    state = (
        seeds.select(
            pl.col("_node").cast(pl.UInt64),
            pl.lit(0, dtype=pl.Int32).alias("hop"),
            pl.col("_t").cast(pl.Int64),
            pl.lit(KIND_SEED).alias("kind"),
        )
        .group_by("_node", maintain_order=True)
        .agg(pl.col("hop").min(), pl.col("_t").min(), pl.col("kind").first())
        .cast(node_schema)  # type: ignore[arg-type]
    )
    frontier = state.select("_node", "hop", "_t")
    compact = compact.with_row_index("_row")
    rows: list[pl.Series] = []
    touched_rows = 0
    rounds = 0
    while frontier.height:
        rounds += 1
        ids = frontier.get_column("_node").implode()
        touched = compact.filter(pl.col("_src").is_in(ids) | pl.col("_dst").is_in(ids))
        if max_degree is not None:
            degree = (
                pl.concat([touched.select(n=pl.col("_src")), touched.select(n=pl.col("_dst"))])
                .filter(pl.col("n").is_in(ids))
                .group_by("n")
                .len()
                .filter(pl.col("len") > max_degree)
                .get_column("n")
            )
            busy = state.filter(
                pl.col("_node").is_in(degree.implode()) & (pl.col("kind") == KIND_ADDRESS)
            ).get_column("_node")
            if busy.len():
                state = state.with_columns(
                    pl.when(pl.col("_node").is_in(busy.implode()))
                    .then(pl.lit(KIND_DEGREE))
                    .otherwise(pl.col("kind"))
                    .alias("kind")
                )
                frontier = frontier.filter(~pl.col("_node").is_in(busy.implode()))
                ids = frontier.get_column("_node").implode()
                touched = touched.filter(pl.col("_src").is_in(ids) | pl.col("_dst").is_in(ids))
        touched_rows += touched.height
        rows.append(touched.get_column("_row"))
        edges = touched.join(
            frontier.rename({"_node": "_src", "_t": "_arrived"}), on="_src", how="inner"
        ).filter(pl.col("_big") & (pl.col("_t") >= pl.col("_arrived")))
        weight = pl.col("_w")
        if clusters is not None and clusters.height:
            edges = (
                edges.join(
                    clusters.rename({"_node": "_src", "_cluster": "_c_src"}),
                    on="_src",
                    how="left",
                )
                .join(
                    clusters.rename({"_node": "_dst", "_cluster": "_c_dst"}),
                    on="_dst",
                    how="left",
                )
                .with_columns(
                    _same=pl.col("_c_src").is_not_null() & (pl.col("_c_src") == pl.col("_c_dst"))
                )
            )
            weight = pl.when(pl.col("_same")).then(0).otherwise(pl.col("_w"))
        found = (
            edges.group_by("_dst")
            .agg((pl.col("hop") + weight).min().cast(pl.Int32).alias("hop"), pl.col("_t").min())
            .rename({"_dst": "_node"})
        )
        merged = found.join(state, on="_node", how="left", suffix="_old")
        new_nodes = merged.filter(pl.col("kind").is_null()).select(
            "_node",
            "hop",
            "_t",
            pl.when(pl.col("_node").is_in(stop.implode()))
            .then(pl.lit(KIND_STOP))
            .when(pl.col("_node").is_in(tx_nodes.implode()))
            .then(pl.lit(KIND_TX))
            .when(pl.col("_node").is_in(venue_ids))
            .then(pl.lit(KIND_VENUE))
            .otherwise(pl.lit(KIND_ADDRESS))
            .alias("kind"),
        )
        new_nodes = new_nodes.filter(
            (pl.col("hop") <= max_hops) | (pl.col("kind") == KIND_TX)
        ).cast(node_schema)  # type: ignore[arg-type]
        improved = merged.filter(
            pl.col("kind").is_not_null()
            & ((pl.col("hop") < pl.col("hop_old")) | (pl.col("_t") < pl.col("_t_old")))
        ).select(
            "_node",
            pl.min_horizontal("hop", "hop_old").alias("hop"),
            pl.min_horizontal("_t", "_t_old").alias("_t"),
            "kind",
        )
        if improved.height:
            state = state.update(improved.select("_node", "hop", "_t"), on="_node")
        state = pl.concat([state, new_nodes])
        changed = pl.concat([new_nodes, improved.cast(node_schema)])  # type: ignore[arg-type]
        frontier = changed.filter(
            _followed(pl.col("kind"), pl.col("hop"), max_hops) & (pl.col("hop") <= max_hops)
        ).select("_node", "hop", "_t")
    nodes = state.with_columns(
        _followed(pl.col("kind"), pl.col("hop"), max_hops).alias("followed")
    ).sort("_node")
    positions = pl.concat(rows).unique().sort() if rows else pl.Series("_row", [], dtype=pl.UInt32)
    return Reach(nodes=nodes, rows=positions, touched=touched_rows, rounds=rounds)


def cluster_hashes(clusters: pl.DataFrame) -> pl.DataFrame:
    """``_node``, ``_cluster`` hashes from rows of ``schema.CLUSTERS``."""
    return clusters.select(
        node_hash("address").alias("_node"), node_hash("cluster_id").alias("_cluster")
    )


def hashes_of(addresses: Sequence[str]) -> pl.Series:
    """The node hashes of some addresses (``_node``)."""
    return pl.Series("_node", list(addresses), dtype=pl.String).hash(HASH_SEED)
