"""Airdrop multi-participation (Victor, FC 2020): airdrop recipients who pool the tokens."""

from __future__ import annotations

import polars as pl

from heuristics import NOT_OWNED_CATEGORIES, heuristic
from heuristics._frames import KEYS, excluded, first_per, keyed, not_in, positive, with_names

__all__ = ["CONFIDENCE", "airdrop_multi_participation", "airdrops"]

#: Confidence of a link between an airdrop recipient and the aggregator it forwarded to.
CONFIDENCE = 60


def airdrops(transfers: pl.LazyFrame, *, min_recipients: int = 10) -> pl.LazyFrame:
    """Airdrop receipts: tokens a distributor sent to at least ``min_recipients`` addresses.

    Returns
    -------
    pl.LazyFrame
        ``chain, asset, distributor, recipient, block_number``: each recipient's first receipt
        of the token from a distributor that sent it to ``min_recipients`` or more distinct
        addresses.
    """
    tokens = transfers.filter((pl.col("kind") == "token") & positive("value")).select(
        "chain",
        "asset",
        pl.col("from_address").alias("distributor"),
        pl.col("to_address").alias("recipient"),
        "block_number",
        "transaction_hash",
    )
    first = first_per(
        tokens, ["chain", "asset", "distributor", "recipient"], ["block_number", "transaction_hash"]
    )
    return first.filter(pl.len().over(["chain", "asset", "distributor"]) >= min_recipients).select(
        "chain", "asset", "distributor", "recipient", "block_number"
    )


def _token_transfers(transfers: pl.LazyFrame, addresses: pl.LazyFrame | None) -> pl.LazyFrame:
    """The token transfers with a value, their addresses named only for these rows."""
    transfers = keyed(transfers)
    tokens = (
        transfers.select(
            "chain", "block_number", "transaction_hash", "kind", "asset", "value", *KEYS.values()
        )
        .filter((pl.col("kind") == "token") & positive("value"))
        .collect()
    )
    names = {key: address for address, key in KEYS.items()}
    return with_names(tokens, transfers, names, addresses).lazy()


@heuristic(
    name="airdrop_multi_participation",
    version=1,
    reference="Victor, F. (2020). Address Clustering Heuristics for Ethereum. FC 2020.",
    tables=("transfers", "labels", "contracts", "addresses"),
    requires=("transfers",),
    size_cap=1_000,
)
def airdrop_multi_participation(
    transfers: pl.LazyFrame,
    labels: pl.LazyFrame,
    contracts: pl.LazyFrame,
    addresses: pl.LazyFrame | None = None,
    *,
    min_recipients: int = 10,
    min_participants: int = 2,
) -> pl.LazyFrame:
    """Link airdrop recipients to the aggregator they forward the airdropped tokens to.

    An airdrop is a token a distributor sent to at least ``min_recipients`` distinct
    addresses (:func:`airdrops`). A recipient that later transfers the same token to an
    address ``G`` that received it from at least ``min_participants`` recipients of the same
    airdrop is linked to ``G`` (so the participants end up in one cluster with ``G``).

    Parameters
    ----------
    transfers
        Rows of ``schema.TRANSFERS``; only kind ``token`` is read.
    labels
        Rows of ``schema.LABELS``; a labelled service is never an aggregator or a participant.
    contracts
        Rows of ``schema.CONTRACTS``; a contract (a DEX router, the token) is never one either.
    addresses
        The store's ``addresses`` table: when ``transfers`` carries the store's address ids,
        the token transfers' addresses are named from it.
    min_recipients
        Distinct recipients that make a distribution an airdrop.
    min_participants
        Distinct recipients that must pool into one aggregator.

    Returns
    -------
    pl.LazyFrame
        Rows of ``schema.LINKS`` with confidence 60; the evidence is the recipient's first
        forward of the token to the aggregator.

    References
    ----------
    Victor, F. (2020). Address Clustering Heuristics for Ethereum. FC 2020.

    Notes
    -----
    False positives: an unlabelled exchange deposit or hot wallet (or an OTC desk) that many
    unrelated recipients sell into; airdrop farmers are the true positives.

    Examples
    --------
    >>> tr = pl.LazyFrame(
    ...     {
    ...         "chain": ["ethereum"] * 5,
    ...         "block_number": [1, 1, 1, 2, 3],
    ...         "transaction_hash": ["d1", "d2", "d3", "f1", "f2"],
    ...         "kind": ["token"] * 5,
    ...         "from_address": ["0xd", "0xd", "0xd", "0x1", "0x2"],
    ...         "to_address": ["0x1", "0x2", "0x3", "0xa", "0xa"],
    ...         "asset": ["0x70"] * 5,
    ...         "value": ["5"] * 5,
    ...     }
    ... )
    >>> none = pl.LazyFrame(
    ...     schema={"chain": pl.String, "address": pl.String, "category": pl.String}
    ... )
    >>> airdrop_multi_participation(tr, none, none, min_recipients=3).select(
    ...     "address_a", "address_b", "evidence_transaction_hash"
    ... ).collect().rows()
    [('0x1', '0xa', 'f1'), ('0x2', '0xa', 'f2')]
    """
    transfers = _token_transfers(transfers, addresses)
    received = airdrops(transfers, min_recipients=min_recipients)
    never = excluded(labels, contracts, NOT_OWNED_CATEGORIES)
    moves = transfers.select(
        "chain",
        "asset",
        pl.col("from_address").alias("recipient"),
        pl.col("to_address").alias("aggregator"),
        pl.col("block_number").alias("forward_block_number"),
        "transaction_hash",
        pl.col("from_key").alias("key_a"),
        pl.col("to_key").alias("key_b"),
    )
    forwards = (
        moves.join(received, on=["chain", "asset", "recipient"], how="inner")
        .filter(
            (pl.col("forward_block_number") >= pl.col("block_number"))
            & (pl.col("aggregator") != pl.col("distributor"))
            & (pl.col("aggregator") != pl.col("recipient"))
        )
        .select(
            "chain",
            "asset",
            "distributor",
            "recipient",
            "aggregator",
            "transaction_hash",
            pl.col("forward_block_number").alias("block_number"),
            "key_a",
            "key_b",
        )
    )
    forwards = not_in(not_in(forwards, never, "recipient"), never, "aggregator")
    airdrop = ["chain", "asset", "distributor", "aggregator"]
    first = first_per(forwards, [*airdrop, "recipient"], ["block_number", "transaction_hash"])
    pooled = first.filter(pl.len().over(airdrop) >= min_participants)
    return pooled.select(
        "chain",
        pl.col("recipient").alias("address_a"),
        pl.col("aggregator").alias("address_b"),
        pl.col("transaction_hash").alias("evidence_transaction_hash"),
        "block_number",
        pl.lit(CONFIDENCE, dtype=pl.Int32).alias("confidence"),
        "key_a",  # the addresses' keys, for the union (heuristics.LINK_KEYS)
        "key_b",
    )
