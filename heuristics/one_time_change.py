"""One-time change (Meiklejohn et al. 2013, heuristic 2), advisory: the fresh output is change."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from heuristics import heuristic
from heuristics.multi_input import DUST_VALUES, coinjoin_transactions

__all__ = ["CONFIDENCE", "one_time_change"]

#: Confidence of a link between a change output's address and the spender: a guess, not a proof.
CONFIDENCE = 30


@heuristic(
    name="one_time_change",
    version=1,
    reference=(
        "Meiklejohn, S. et al. (2013). A Fistful of Bitcoins. IMC 2013, heuristic 2; with "
        "the conditions of GraphSense (Haslhofer, B. et al., 2021, GraphSense: A "
        "General-Purpose Cryptoasset Analytics Platform)."
    ),
    tables=("utxo_inputs", "utxo_outputs"),
    requires=("utxo_inputs", "utxo_outputs"),
    advisory=True,
    size_cap=10_000,
)
def one_time_change(
    utxo_inputs: pl.LazyFrame,
    utxo_outputs: pl.LazyFrame,
    *,
    dust_values: Sequence[int] = DUST_VALUES,
) -> pl.LazyFrame:
    """Link the one fresh output address of a transaction to its spender, as change.

    A transaction's output address is taken for change when all of these hold:

    1. the transaction is not a coinbase and not a CoinJoin (:func:`coinjoin_transactions`);
    2. it has exactly two outputs, to two distinct addresses;
    3. its number of inputs is not two (a 2-in/2-out shape is ambiguous);
    4. no output address is also an input address (no self-change);
    5. exactly one output address is fresh: its first appearance in any output is this
       transaction (an address first paid by two transactions of one block is fresh for
       neither), and the other output address has appeared in an earlier output.

    The change address is linked to the transaction's smallest input address.

    Parameters
    ----------
    utxo_inputs
        Rows of ``schema.UTXO_INPUTS``.
    utxo_outputs
        Rows of ``schema.UTXO_OUTPUTS``.
    dust_values
        Passed to the CoinJoin detector.

    Returns
    -------
    pl.LazyFrame
        Rows of ``schema.LINKS`` with confidence 30. Advisory: :mod:`heuristics.cluster` uses
        these links only when the heuristic is asked for by name.

    References
    ----------
    Meiklejohn, S. et al. (2013). A Fistful of Bitcoins: Characterizing Payments Among Men
    with No Names. IMC 2013.

    Notes
    -----
    False positives: "fresh" is relative to the data ingested (a short block range makes
    every address look fresh); payments to a new address of the payee with change returned
    to an old address; wallets that never use change. Kept advisory for these reasons.
    """
    keys = ["chain", "transaction_hash"]
    outs = utxo_outputs.filter(~pl.col("is_coinbase").fill_null(value=False))
    outs = outs.select(*keys, "block_number", "address")
    first_block = (
        utxo_outputs.filter(pl.col("address").is_not_null())
        .group_by("chain", "address")
        .agg(pl.col("block_number").min().alias("first_block"))
    )
    first_txs = (
        utxo_outputs.join(first_block, on=["chain", "address"], how="inner")
        .filter(pl.col("block_number") == pl.col("first_block"))
        .group_by("chain", "address")
        .agg(
            pl.col("transaction_hash").n_unique().alias("__n_first"),
            pl.col("transaction_hash").first().alias("__first_tx"),
        )
    )
    shaped = (
        outs.join(first_txs, on=["chain", "address"], how="left")
        .with_columns(
            (
                (pl.col("__n_first") == 1) & (pl.col("__first_tx") == pl.col("transaction_hash"))
            ).alias("fresh")
        )
        .with_columns(
            pl.len().over(keys).alias("__n_out"),
            pl.col("address").n_unique().over(keys).alias("__n_addr"),
            pl.col("fresh").sum().over(keys).alias("__n_fresh"),
            pl.col("address").is_null().any().over(keys).alias("__null_addr"),
        )
        .filter(
            (pl.col("__n_out") == 2)
            & (pl.col("__n_addr") == 2)
            & ~pl.col("__null_addr")
            & (pl.col("__n_fresh") == 1)
            & pl.col("fresh")
        )
    )
    ins = utxo_inputs.filter(pl.col("address").is_not_null())
    n_in = utxo_inputs.group_by(keys).agg(
        pl.len().alias("__n_in"), pl.col("address").drop_nulls().min().alias("spender")
    )
    reused = (
        utxo_outputs.select(*keys, "address")
        .join(ins.select(*keys, "address"), on=[*keys, "address"], how="semi")
        .select(keys)
        .unique()
    )
    joins = coinjoin_transactions(utxo_inputs, utxo_outputs, dust_values=dust_values)
    return (
        shaped.join(n_in, on=keys, how="inner")
        .filter(pl.col("__n_in") != 2)
        .join(reused, on=keys, how="anti")
        .join(joins, on=keys, how="anti")
        .select(
            "chain",
            pl.col("spender").alias("address_a"),
            pl.col("address").alias("address_b"),
            pl.col("transaction_hash").alias("evidence_transaction_hash"),
            "block_number",
            pl.lit(CONFIDENCE, dtype=pl.Int32).alias("confidence"),
        )
    )
