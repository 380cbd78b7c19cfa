"""Multi-input (Meiklejohn et al. 2013, heuristic 1): the inputs of a transaction share an owner."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from heuristics import heuristic
from heuristics._frames import amount, star_links

__all__ = ["CONFIDENCE", "coinjoin_transactions", "multi_input"]

#: Confidence of a multi-input link outside CoinJoins: co-spending needs every input's key.
CONFIDENCE = 90
#: Confidence of a link from a CoinJoin, kept only with ``exclude_coinjoins=False``.
COINJOIN_CONFIDENCE = 10
DUST_VALUES = (546, 2730)


def coinjoin_transactions(
    utxo_inputs: pl.LazyFrame,
    utxo_outputs: pl.LazyFrame,
    *,
    dust_values: Sequence[int] = DUST_VALUES,
) -> pl.LazyFrame:
    """Transactions that look like CoinJoins (generic detector, as in BlockSci).

    A transaction is a CoinJoin when it has at least 2 inputs and 3 outputs; with
    ``p = floor((outputs + 1) / 2)`` participants, ``p <= inputs`` and ``p <= distinct input
    addresses``; and the most common output value occurs exactly ``p`` times and is not one of
    ``dust_values`` (on a tie, the largest of the most common values is taken).

    Returns
    -------
    pl.LazyFrame
        ``chain, transaction_hash``, sorted.

    References
    ----------
    Kalodner, H. et al. (2020). BlockSci: Design and applications of a blockchain analysis
    platform. USENIX Security 2020 (``isCoinjoin``).

    Examples
    --------
    >>> ins = pl.LazyFrame(
    ...     {"chain": ["bitcoin"] * 3, "transaction_hash": ["t"] * 3, "address": ["a", "b", "c"]}
    ... )
    >>> outs = pl.LazyFrame(
    ...     {
    ...         "chain": ["bitcoin"] * 5,
    ...         "transaction_hash": ["t"] * 5,
    ...         "value": ["100000", "100000", "100000", "7", "9"],
    ...     }
    ... )
    >>> coinjoin_transactions(ins, outs).collect().rows()
    [('bitcoin', 't')]
    """
    keys = ["chain", "transaction_hash"]
    dust = [str(v) for v in dust_values]
    n_in = utxo_inputs.group_by(keys).agg(
        pl.len().alias("n_in"), pl.col("address").drop_nulls().n_unique().alias("n_in_addr")
    )
    by_value = utxo_outputs.group_by([*keys, "value"]).agg(pl.len().alias("k"))
    top = (
        by_value.with_columns(
            pl.col("k").sum().over(keys).alias("n_out"), amount("value").alias("__v")
        )
        .sort(
            [*keys, "k", "__v", "value"],
            descending=[False, False, True, True, True],
            nulls_last=True,
        )
        .unique(subset=keys, keep="first", maintain_order=True)
    )
    p = ((pl.col("n_out") + 1) // 2).alias("p")
    return (
        top.join(n_in, on=keys, how="inner")
        .with_columns(p)
        .filter(
            (pl.col("n_in") >= 2)
            & (pl.col("n_out") >= 3)
            & (pl.col("p") <= pl.col("n_in"))
            & (pl.col("p") <= pl.col("n_in_addr"))
            & (pl.col("k") == pl.col("p"))
            & ~pl.col("value").is_in(dust)
        )
        .select(keys)
        .sort(keys)
    )


@heuristic(
    name="multi_input",
    version=1,
    reference=(
        "Meiklejohn, S. et al. (2013). A Fistful of Bitcoins: Characterizing Payments Among "
        "Men with No Names. IMC 2013, heuristic 1."
    ),
    tables=("utxo_inputs", "utxo_outputs"),
    requires=("utxo_inputs",),
    size_cap=None,
    joins_services=True,
)
def multi_input(
    utxo_inputs: pl.LazyFrame,
    utxo_outputs: pl.LazyFrame,
    *,
    exclude_coinjoins: bool = True,
    dust_values: Sequence[int] = DUST_VALUES,
) -> pl.LazyFrame:
    """Link the input addresses of each transaction: spending them needs every key.

    Each input address is linked to the transaction's smallest input address (a star: n - 1
    links for n addresses), with the transaction as evidence.

    Parameters
    ----------
    utxo_inputs
        Rows of ``schema.UTXO_INPUTS``; inputs without an address are ignored.
    utxo_outputs
        Rows of ``schema.UTXO_OUTPUTS`` (read only by the CoinJoin detector).
    exclude_coinjoins
        Drop transactions :func:`coinjoin_transactions` flags (default). When ``False`` they
        are linked with confidence 10.
    dust_values
        Output values (satoshi) that never make a CoinJoin's common denomination.

    Returns
    -------
    pl.LazyFrame
        Rows of ``schema.LINKS``; confidence 90.

    References
    ----------
    Meiklejohn, S. et al. (2013). A Fistful of Bitcoins. IMC 2013.

    Notes
    -----
    False positives: CoinJoins (excluded by the detector only when they have the generic
    equal-output shape; PayJoin and unequal-amount joins pass), and shared custodial spends.

    Examples
    --------
    >>> ins = pl.LazyFrame(
    ...     {
    ...         "chain": ["bitcoin"] * 3,
    ...         "block_number": [5] * 3,
    ...         "transaction_hash": ["t"] * 3,
    ...         "address": ["1B", "1A", "1B"],
    ...     }
    ... )
    >>> outs = pl.LazyFrame({"chain": ["bitcoin"], "transaction_hash": ["t"], "value": ["10"]})
    >>> multi_input(ins, outs).select("address_a", "address_b", "confidence").collect().rows()
    [('1A', '1B', 90)]
    """
    keys = ["chain", "transaction_hash"]
    members = utxo_inputs.filter(pl.col("address").is_not_null()).select(
        *keys, "block_number", "address"
    )
    joins = coinjoin_transactions(utxo_inputs, utxo_outputs, dust_values=dust_values)
    plain = members.join(joins, on=keys, how="anti")
    evidence = pl.col("transaction_hash").alias("evidence_transaction_hash")
    links = star_links(
        plain.with_columns(evidence),
        group=keys,
        address="address",
        confidence=CONFIDENCE,
    )
    if exclude_coinjoins:
        return links
    mixed = members.join(joins, on=keys, how="semi").with_columns(evidence)
    return pl.concat(
        [
            links,
            star_links(
                mixed,
                group=keys,
                address="address",
                confidence=COINJOIN_CONFIDENCE,
            ),
        ]
    )
