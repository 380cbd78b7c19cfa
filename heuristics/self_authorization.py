"""Self-authorization (Victor, FC 2020): an ERC-20 approval granted to an externally owned one."""

from __future__ import annotations

import polars as pl

from heuristics import NOT_OWNED_CATEGORIES, heuristic
from heuristics._frames import excluded, not_in, positive

__all__ = ["CONFIDENCE", "self_authorization"]

#: Confidence of a link between an owner and the EOA it approved.
CONFIDENCE = 70


@heuristic(
    name="self_authorization",
    version=1,
    reference="Victor, F. (2020). Address Clustering Heuristics for Ethereum. FC 2020.",
    tables=("approvals", "labels", "contracts"),
    requires=("approvals",),
    size_cap=1_000,
)
def self_authorization(
    approvals: pl.LazyFrame, labels: pl.LazyFrame, contracts: pl.LazyFrame
) -> pl.LazyFrame:
    """Link the owner of an ERC-20 approval to its spender when the spender is an EOA.

    Users approve contracts (DEX routers, bridges); approving an externally owned account
    mostly means moving tokens between one's own addresses with ``transferFrom``.

    Parameters
    ----------
    approvals
        Rows of ``schema.APPROVALS``; approvals of zero (revocations) are ignored.
    labels
        Rows of ``schema.LABELS``; neither side may be a labelled service.
    contracts
        Rows of ``schema.CONTRACTS``: a spender listed here is a contract, any other spender
        is taken for an EOA.

    Returns
    -------
    pl.LazyFrame
        Rows of ``schema.LINKS`` with confidence 70, the approval's transaction as evidence.

    References
    ----------
    Victor, F. (2020). Address Clustering Heuristics for Ethereum. FC 2020.

    Notes
    -----
    False positives: an incomplete ``contracts`` table makes a contract spender look like an
    EOA; phishing approvals to a thief's EOA link the victim to the thief.

    Examples
    --------
    >>> ap = pl.LazyFrame(
    ...     {
    ...         "chain": ["ethereum"] * 2,
    ...         "block_number": [9, 9],
    ...         "transaction_hash": ["t1", "t2"],
    ...         "owner": ["0xa", "0xa"],
    ...         "spender": ["0xb", "0xc"],
    ...         "value": ["5", "5"],
    ...     }
    ... )
    >>> con = pl.LazyFrame({"chain": ["ethereum"], "address": ["0xc"]})
    >>> lab = pl.LazyFrame(schema={"chain": pl.String, "address": pl.String, "category": pl.String})
    >>> self_authorization(ap, lab, con).select("address_a", "address_b").collect().rows()
    [('0xa', '0xb')]
    """
    never = excluded(labels, contracts, NOT_OWNED_CATEGORIES)
    granted = approvals.filter(positive("value"))
    granted = not_in(not_in(granted, never, "spender"), never, "owner")
    return granted.select(
        "chain",
        pl.col("owner").alias("address_a"),
        pl.col("spender").alias("address_b"),
        pl.col("transaction_hash").alias("evidence_transaction_hash"),
        "block_number",
        pl.lit(CONFIDENCE, dtype=pl.Int32).alias("confidence"),
    )
