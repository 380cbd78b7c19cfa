"""Swaps: taint that changes asset at a swap venue (a DEX pool) inside one transaction.

A **swap venue** is an address labelled ``defi_dex`` or ``defi`` (its own label, or its
cluster's), unless it is a seed or a stop (a stop category wins: ``--stop-at defi_dex`` makes
pools endpoints). The ``contracts`` table is deliberately not used: a contract wallet (the Safe
multisig of the Bybit theft) is a contract too, and must be followed as an address.

A **swap** is one transaction ``T`` and one venue ``P`` such that, in ``T`` (in the direction of
the trace), ``P`` receives exactly one asset ``X`` and sends at least one other asset ``Y``. Then

* the *in-legs* (every transfer of ``X`` into ``P`` in ``T``) are converted: the taint they
  carry leaves asset ``X`` (``swapped_out``); it does not stay at ``P``, whose later outflows of
  ``X`` to other users carry none of it;
* each *out-leg* (a transfer of ``Y`` out of ``P`` in ``T``) carries
  ``value_Y * tainted_X / value_X`` (:func:`converted_taint`), where ``value_X`` is everything
  ``X`` that entered ``P`` in ``T`` (from every sender) and ``tainted_X`` the taint it carried;
  that taint enters asset ``Y`` (``swapped_in``).

A transaction where ``P`` receives two assets (adding liquidity), or sends back only ``X``, is
no swap: the taint ``P`` receives there stops at it, as at an endpoint. Transfers of ``X`` that
``P`` pays back in ``T`` (a refund) carry no taint. Addresses that are not venues are never
treated as converters, however many assets move in one transaction.

In the expansion a swap is a node of its own (like a Bitcoin transaction): every in-leg's sender
-> swap node -> every out-leg's receiver, so a receiver is two hops after the sender (the pool
is a hop) and the pool itself is never expanded (a pool's whole history is not replayed).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from fractions import Fraction

import polars as pl

from tracer.trace.expand import node_hash

__all__ = [
    "SWAP_CATEGORIES",
    "SwapTable",
    "converted_taint",
    "find_swaps",
    "swap_venues",
]

SWAP_CATEGORIES = ("defi_dex", "defi")

Amount = int | Fraction


def converted_taint(
    value: int, tainted: Amount, sent: int, *, model: str, paid_before: int = 0
) -> Amount:
    """The taint an out-leg of ``value`` units of ``Y`` carries out of a swap.

    Parameters
    ----------
    value
        The out-leg's amount of ``Y`` (base units).
    tainted
        The taint the swap's in-legs carried into the venue, in ``X``.
    sent
        Everything ``X`` that entered the venue in the transaction (``tainted <= sent``).
    model
        ``haircut``: the exact share ``value * tainted / sent`` (a Fraction). ``fifo``: the same
        share in whole units, rounded down on the running total of the swap's out-legs of ``Y``
        (``paid_before`` units already paid), so the remainder of one leg is carried to the
        next and the legs sum to ``floor(total * tainted / sent)``. ``poison``: the whole leg
        when any taint went in.
    paid_before
        Units of ``Y`` the swap paid out in earlier out-legs (``fifo`` only).

    Returns
    -------
    int | Fraction
        The exact taint, at most ``value``.

    Examples
    --------
    25 ETH (10 of it tainted) buy 44 VUSD paid in two legs of 22:

    >>> converted_taint(22, 10, 25, model="haircut")
    Fraction(44, 5)
    >>> (
    ...     converted_taint(22, 10, 25, model="fifo"),
    ...     converted_taint(22, 10, 25, model="fifo", paid_before=22),
    ... )
    (8, 9)
    >>> converted_taint(22, 10, 25, model="poison")
    22
    """
    if not tainted or not value or sent <= 0:
        return 0
    if model == "poison":
        return value
    if model == "fifo":
        share = Fraction(tainted, sent)
        total = _floor((paid_before + value) * share) - _floor(paid_before * share)
        return min(total, value)
    if tainted >= sent:
        return value
    return Fraction(value * tainted, sent)


def _floor(amount: Amount) -> int:
    return amount if isinstance(amount, int) else amount.numerator // amount.denominator


def swap_venues(
    labels: pl.DataFrame,
    clusters: pl.DataFrame | None = None,
    *,
    exclude: Collection[str] = (),
) -> list[str]:
    """The swap venues: addresses labelled (or clustered) ``defi_dex`` / ``defi``, sorted.

    Parameters
    ----------
    labels, clusters
        Rows of ``schema.LABELS`` and ``schema.CLUSTERS`` of the chain traced (``clusters``:
        ``None`` when clusters are not used).
    exclude
        Addresses that are never venues: the seeds and the stops.

    Examples
    --------
    >>> labels = pl.DataFrame({"address": ["0xp", "0xx"], "category": ["defi_dex", "exchange"]})
    >>> swap_venues(labels, exclude=["0xq"])
    ['0xp']
    """
    found = set(labels.filter(pl.col("category").is_in(SWAP_CATEGORIES))["address"].to_list())
    if clusters is not None and clusters.height:
        found |= set(
            clusters.filter(pl.col("category").is_in(SWAP_CATEGORIES))["address"].to_list()
        )
    return sorted(found - set(exclude))


@dataclass(frozen=True)
class SwapTable:
    """The swaps found in a transfers frame.

    Attributes
    ----------
    swaps
        One row per swap: ``transaction_hash``, ``venue``, ``asset`` (``X``, what went in),
        ``value`` (everything ``X`` that went in, a decimal string) and ``_node`` (the swap's
        node hash in the expansion).
    legs
        ``_pos`` (row in the transfers frame), ``transaction_hash``, ``venue``, ``_in`` (True
        for an in-leg, False for an out-leg), ``_node``.
    """

    swaps: pl.DataFrame
    legs: pl.DataFrame

    @classmethod
    def empty(cls) -> SwapTable:
        """No swaps (``follow_swaps`` off, or no venue)."""
        swaps = pl.DataFrame(
            schema={
                "transaction_hash": pl.String,
                "venue": pl.String,
                "asset": pl.String,
                "value": pl.String,
                "_node": pl.UInt64,
            }
        )
        legs = pl.DataFrame(
            schema={
                "_pos": pl.UInt32,
                "transaction_hash": pl.String,
                "venue": pl.String,
                "_in": pl.Boolean,
                "_node": pl.UInt64,
            }
        )
        return cls(swaps=swaps, legs=legs)

    def lookup(self) -> dict[tuple[str, str], tuple[str, int]]:
        """(transaction_hash, venue) -> (asset in, value in) for the replay."""
        return {
            (tx, venue): (asset, int(value))
            for tx, venue, asset, value in self.swaps.select(
                "transaction_hash", "venue", "asset", "value"
            ).iter_rows()
        }


def find_swaps(
    transfers: pl.DataFrame, venues: Collection[str], *, direction: str = "forward"
) -> SwapTable:
    """Every swap (see the module docstring) at ``venues`` in ``transfers``.

    Parameters
    ----------
    transfers
        Rows of ``schema.TRANSFERS`` (failed transactions already removed); ``_pos`` in the
        result is a row position in this frame.
    venues
        The swap venues (:func:`swap_venues`).
    direction
        ``forward``, or ``backward`` (value flows from ``to_address`` to ``from_address``: a
        receiver's asset converts back into what the venue was paid).

    Examples
    --------
    >>> from tracer.schema import TRANSFERS
    >>> rows = [
    ...     ("0xt1", "0xa", "0xp", "ETH", "25"),
    ...     ("0xt1", "0xp", "0xb", "VUSD", "44"),
    ...     ("0xt2", "0xa", "0xp", "ETH", "1"),  # a donation: nothing comes out
    ... ]
    >>> frame = pl.DataFrame(
    ...     [
    ...         {
    ...             "transaction_hash": t,
    ...             "from_address": f,
    ...             "to_address": d,
    ...             "asset": a,
    ...             "value": v,
    ...             "kind": "native" if a == "ETH" else "token",
    ...         }
    ...         for t, f, d, a, v in rows
    ...     ]
    ... )
    >>> table = find_swaps(frame, ["0xp"])
    >>> table.lookup()
    {('0xt1', '0xp'): ('ETH', 25)}
    >>> table.legs.select("_pos", "_in").rows()
    [(0, True), (1, False)]
    """
    if not venues or transfers.height == 0:
        return SwapTable.empty()
    src, dst = ("from_address", "to_address")
    if direction == "backward":
        src, dst = dst, src
    ids = pl.Series(sorted(venues), dtype=pl.String).implode()
    legs = (
        transfers.with_row_index("_pos")
        .filter(
            (pl.col("kind") != "utxo")
            & (pl.col(src) != pl.col(dst))
            & (pl.col(src).is_in(ids) | pl.col(dst).is_in(ids))
        )
        .select("_pos", "transaction_hash", src, dst, "asset", "value")
    )
    ins = legs.filter(pl.col(dst).is_in(ids)).rename({dst: "venue"})
    outs = legs.filter(pl.col(src).is_in(ids)).rename({src: "venue"})
    keys = ["transaction_hash", "venue"]
    one_asset = (
        ins.group_by(keys, maintain_order=True)
        .agg(pl.col("asset").n_unique().alias("_n"), pl.col("asset").first())
        .filter(pl.col("_n") == 1)
        .drop("_n")
    )
    converted = (
        outs.join(one_asset, on=keys, how="inner", suffix="_in")
        .filter(pl.col("asset") != pl.col("asset_in"))
        .select("_pos", *keys)
    )
    found = converted.select(keys).unique(maintain_order=True)
    if found.height == 0:
        return SwapTable.empty()
    in_legs = ins.join(found, on=keys, how="semi")
    totals: dict[tuple[str, str], int] = {}
    for tx, venue, value in in_legs.select(*keys, "value").iter_rows():
        totals[(tx, venue)] = totals.get((tx, venue), 0) + int(value)
    node = node_hash(
        pl.concat_str([pl.lit("swap:"), pl.col("transaction_hash"), pl.lit(":"), "venue"])
    )
    swaps = (
        found.join(one_asset, on=keys, how="left")
        .with_columns(
            pl.Series(
                "value", [str(totals[k]) for k in found.select(keys).iter_rows()], dtype=pl.String
            ),
            node.alias("_node"),
        )
        .sort(keys)
    )
    all_legs = (
        pl.concat(
            [
                in_legs.select("_pos", *keys, pl.lit(value=True).alias("_in")),
                converted.with_columns(pl.lit(value=False).alias("_in")),
            ]
        )
        .with_columns(node.alias("_node"))
        .sort("_pos")
    )
    return SwapTable(swaps=swaps, legs=all_legs)
