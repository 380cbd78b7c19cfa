"""Gas funding: the address that first pays gas into an address, and the one it is swept to."""

from __future__ import annotations

from fractions import Fraction

import polars as pl

from heuristics import NOT_OWNED_CATEGORIES, heuristic
from heuristics._frames import (
    NATIVE_KINDS,
    checked_sum,
    excluded,
    first_per,
    keyed,
    not_in,
    positive,
    tolerance,
)

__all__ = ["FUNDING_CONFIDENCE", "SWEEP_CONFIDENCE", "gas_funding"]

#: Confidence of a link between an address and its first funder.
FUNDING_CONFIDENCE = 60
#: Confidence of a link between an address and the address that emptied it.
SWEEP_CONFIDENCE = 50
_ORDER = ["block_number", "transaction_index", "idx", "transaction_hash"]


def _first_funding(native: pl.LazyFrame, *, max_fan_out: int) -> pl.LazyFrame:
    first = first_per(
        native.select(
            "chain",
            pl.col("to_key").alias("key"),
            pl.col("from_key").alias("partner_key"),
            pl.col("to_address").alias("address"),
            pl.col("from_address").alias("partner"),
            *_ORDER,
        ),
        ["key"],
        _ORDER,
    )
    return first.filter(pl.len().over("partner_key") < max_fan_out).with_columns(
        pl.lit(FUNDING_CONFIDENCE, dtype=pl.Int32).alias("confidence")
    )


def _sweeps(native: pl.LazyFrame, *, max_fan_out: int, max_residual: Fraction) -> pl.LazyFrame:
    received = native.group_by(pl.col("to_key").alias("key")).agg(
        pl.col("chain").first(), checked_sum("value").alias("received")
    )
    sent = native.group_by(pl.col("from_key").alias("key")).agg(checked_sum("value").alias("sent"))
    decimals = (
        native.group_by("chain")
        .agg(pl.col("decimals").max().fill_null(18))
        .select("chain", "decimals")
    )
    residual = pl.col("received") - pl.col("sent")
    limit = tolerance(max_residual, "decimals")
    emptied = (
        received.join(sent, on="key", how="inner")
        .join(decimals, on="chain", how="left")
        .filter(residual.is_not_null() & (residual >= 0) & (residual <= limit))
        .select("key")
    )
    # The last transfer out, found only for the emptied addresses (few): the same rows as
    # finding it for every address and keeping the emptied ones, at a fraction of the cost.
    outgoing = native.select(
        "chain",
        pl.col("from_key").alias("key"),
        pl.col("to_key").alias("partner_key"),
        pl.col("from_address").alias("address"),
        pl.col("to_address").alias("partner"),
        *_ORDER,
    ).join(emptied, on="key", how="semi")
    last = first_per(outgoing, ["key"], _ORDER, last=True)
    return last.filter(pl.len().over("partner_key") < max_fan_out).with_columns(
        pl.lit(SWEEP_CONFIDENCE, dtype=pl.Int32).alias("confidence")
    )


@heuristic(
    name="gas_funding",
    version=1,
    reference=(
        "Victor, F. (2020). Address Clustering Heuristics for Ethereum. FC 2020; "
        "Beres, F. et al. (2021). Blockchain is Watching You (Tutela), PETS 2021."
    ),
    tables=("transfers", "labels", "contracts"),
    requires=("transfers",),
    size_cap=1_000,
)
def gas_funding(
    transfers: pl.LazyFrame,
    labels: pl.LazyFrame,
    contracts: pl.LazyFrame,
    *,
    max_fan_out: int = 20,
    max_residual: str | Fraction = "0.01",
) -> pl.LazyFrame:
    """Link an address to its first funder, and to the address that swept it empty.

    The *funder* of an address is the sender of the first native (or internal) transfer
    with a non-zero value into it, in (block, transaction index, position) order. The
    *sweep* is the address's last outgoing native transfer, when what it received minus what
    it sent is between 0 and ``max_residual`` whole units (the gas it paid).

    Parameters
    ----------
    transfers
        Rows of ``schema.TRANSFERS``; only kinds ``native`` and ``internal`` are read.
    labels
        Rows of ``schema.LABELS``; labelled services are never linked.
    contracts
        Rows of ``schema.CONTRACTS``; contracts are never linked.
    max_fan_out
        A funder that is the first funder of this many addresses or more (or a recipient of
        this many sweeps or more) is treated as a service and not linked.
    max_residual
        Largest balance, in whole native units, that a swept address may keep.

    Returns
    -------
    pl.LazyFrame
        Rows of ``schema.LINKS``: funding links (confidence 60), sweep links (confidence 50).

    References
    ----------
    Victor, F. (2020). Address Clustering Heuristics for Ethereum. FC 2020. Beres, F. et al.
    (2021). Blockchain is Watching You: Profiling and Deanonymizing Ethereum Users. PETS.

    Notes
    -----
    False positives: a payment that happens to be an address's first income (a salary, a
    withdrawal from an unlabelled exchange below the fan-out threshold), and an address that
    pays all it holds to a merchant. The fan-out cap misses funders who fund many wallets of
    their own (airdrop farmers), by design.

    Examples
    --------
    >>> tr = pl.LazyFrame(
    ...     {
    ...         "chain": ["ethereum"] * 2,
    ...         "block_number": [1, 2],
    ...         "transaction_hash": ["t1", "t2"],
    ...         "transaction_index": [0, 0],
    ...         "kind": ["native"] * 2,
    ...         "idx": [0, 0],
    ...         "from_address": ["0xf", "0xa"],
    ...         "to_address": ["0xa", "0xs"],
    ...         "value": ["1000000000000000000", "999000000000000000"],
    ...         "decimals": [18, 18],
    ...     }
    ... )
    >>> none = pl.LazyFrame(
    ...     schema={"chain": pl.String, "address": pl.String, "category": pl.String}
    ... )
    >>> gas_funding(tr, none, none).select(
    ...     "address_a", "address_b", "evidence_transaction_hash", "confidence"
    ... ).collect().rows()
    [('0xa', '0xf', 't1', 60), ('0xa', '0xs', 't2', 60)]
    """
    native = (
        keyed(transfers)
        .filter(pl.col("kind").is_in(list(NATIVE_KINDS)) & positive("value"))
        .cache()
    )
    never = excluded(labels, contracts, NOT_OWNED_CATEGORIES)
    pairs = pl.concat(
        [
            _first_funding(native, max_fan_out=max_fan_out),
            _sweeps(native, max_fan_out=max_fan_out, max_residual=Fraction(max_residual)),
        ]
    )
    pairs = not_in(not_in(pairs.drop("key", "partner_key"), never, "address"), never, "partner")
    return pairs.select(
        "chain",
        pl.col("address").alias("address_a"),
        pl.col("partner").alias("address_b"),
        pl.col("transaction_hash").alias("evidence_transaction_hash"),
        "block_number",
        "confidence",
    )
