"""Peel chains: one-input, two-output transactions that spend each other, as transaction tags.

Not a clustering rule (it links no addresses): it marks the transactions of a peel chain so
that a trace can follow the change and report the peeled payments.
"""

from __future__ import annotations

import polars as pl

from heuristics._frames import amount
from tracer.schema import PEEL_CHAIN_TAGS  # the tags' columns (the trace reads them too)

__all__ = ["NAME", "PEEL_CHAIN_TAGS", "REFERENCE", "VERSION", "peel_chain"]

NAME = "peel_chain"
VERSION = 1
REFERENCE = (
    "Meiklejohn, S. et al. (2013). A Fistful of Bitcoins. IMC 2013 (peeling chains); "
    "Kalodner, H. et al. (2020). BlockSci, USENIX Security 2020 (isPeelingChain)."
)


def peel_chain(utxo_inputs: pl.LazyFrame, utxo_outputs: pl.LazyFrame) -> pl.LazyFrame:
    """Tag the transactions of peel chains.

    A transaction has the peel shape when it is not a coinbase and has exactly one input and
    exactly two outputs. It is tagged when the chain continues through it: one of its outputs
    is spent by a transaction of the peel shape (its *next*), or its input spends an output of
    a transaction of the peel shape (its *previous*). The output the next transaction spends
    is the change; the other output is the peel. When both outputs are spent by peel-shaped
    transactions, the larger output is taken for the change (then the lower index).

    Parameters
    ----------
    utxo_inputs
        Rows of ``schema.UTXO_INPUTS`` (``spent_transaction_hash``, ``spent_output_index``).
    utxo_outputs
        Rows of ``schema.UTXO_OUTPUTS``.

    Returns
    -------
    pl.LazyFrame
        Rows of :data:`PEEL_CHAIN_TAGS`, sorted by chain, block and transaction; the last
        transaction of a chain has no next and no change index.

    References
    ----------
    Meiklejohn, S. et al. (2013). A Fistful of Bitcoins. IMC 2013.

    Notes
    -----
    False positives: ordinary payments with change whose change is spent in a payment with
    change again (the shape of a wallet used for one payment at a time).

    Examples
    --------
    >>> ins = pl.LazyFrame(
    ...     {
    ...         "chain": ["bitcoin"] * 2,
    ...         "transaction_hash": ["t1", "t2"],
    ...         "spent_transaction_hash": ["t0", "t1"],
    ...         "spent_output_index": [0, 1],
    ...     }
    ... )
    >>> outs = pl.LazyFrame(
    ...     {
    ...         "chain": ["bitcoin"] * 4,
    ...         "block_number": [5, 5, 6, 6],
    ...         "transaction_hash": ["t1", "t1", "t2", "t2"],
    ...         "index": [0, 1, 0, 1],
    ...         "value": ["10", "90", "20", "69"],
    ...         "is_coinbase": [False] * 4,
    ...     }
    ... )
    >>> peel_chain(ins, outs).select(
    ...     "transaction_hash", "next_transaction_hash", "change_output_index"
    ... ).collect().rows()
    [('t1', 't2', 1), ('t2', None, None)]
    """
    keys = ["chain", "transaction_hash"]
    n_in = utxo_inputs.group_by(keys).agg(
        pl.len().alias("__n_in"),
        pl.col("spent_transaction_hash").first().alias("previous_transaction_hash"),
    )
    n_out = utxo_outputs.group_by(keys).agg(
        pl.len().alias("__n_out"),
        pl.col("block_number").first(),
        pl.col("is_coinbase").fill_null(value=False).any().alias("__coinbase"),
    )
    shaped = (
        n_out.join(n_in, on=keys, how="inner")
        .filter((pl.col("__n_in") == 1) & (pl.col("__n_out") == 2) & ~pl.col("__coinbase"))
        .select(*keys, "block_number", "previous_transaction_hash")
    )
    shaped_keys = shaped.select(keys)
    # Edges parent -> child between two peel-shaped transactions.
    edges = (
        utxo_inputs.join(shaped_keys, on=keys, how="semi")
        .select(
            "chain",
            pl.col("spent_transaction_hash").alias("parent"),
            pl.col("spent_output_index").alias("change_output_index"),
            pl.col("transaction_hash").alias("next_transaction_hash"),
        )
        .join(
            shaped_keys.rename({"transaction_hash": "parent"}), on=["chain", "parent"], how="semi"
        )
        .join(
            utxo_outputs.select(
                "chain",
                pl.col("transaction_hash").alias("parent"),
                pl.col("index").alias("change_output_index"),
                amount("value").alias("__v"),
            ),
            on=["chain", "parent", "change_output_index"],
            how="left",
        )
        .sort(
            ["chain", "parent", "__v", "change_output_index"],
            descending=[False, False, True, False],
            nulls_last=True,
        )
        .unique(subset=["chain", "parent"], keep="first", maintain_order=True)
        .rename({"parent": "transaction_hash"})
        .drop("__v")
    )
    has_previous = shaped_keys.rename({"transaction_hash": "previous_transaction_hash"})
    tagged = (
        shaped.join(edges, on=keys, how="left")
        .join(
            has_previous.with_columns(pl.lit(value=True).alias("__prev_peel")),
            on=["chain", "previous_transaction_hash"],
            how="left",
        )
        .filter(pl.col("next_transaction_hash").is_not_null() | pl.col("__prev_peel").is_not_null())
        .with_columns(
            pl.when(pl.col("__prev_peel").is_not_null())
            .then(pl.col("previous_transaction_hash"))
            .alias("previous_transaction_hash"),
            (1 - pl.col("change_output_index")).alias("peel_output_index"),
        )
    )
    return tagged.select(pl.col(name).cast(dtype) for name, dtype in PEEL_CHAIN_TAGS.items()).sort(
        "chain", "block_number", "transaction_hash"
    )
