"""Deposit address reuse (Victor, FC 2020): users who pay into one exchange deposit address."""

from __future__ import annotations

from fractions import Fraction

import polars as pl

from heuristics import SERVICE_CATEGORIES, heuristic
from heuristics._frames import (
    amount,
    excluded,
    first_per,
    keyed,
    keys_of,
    positive,
    star_links,
    tolerance,
    with_names,
)

__all__ = [
    "CONFIDENCE",
    "EXCHANGE_CATEGORIES",
    "deposit_address_reuse",
    "deposit_wallet_labels",
    "matched_deposits",
    "sender_links",
]

#: Confidence of a link between two senders of one deposit address.
CONFIDENCE = 80
#: Label categories that make an address an exchange's own wallet.
EXCHANGE_CATEGORIES = ("exchange", "hot_wallet")
#: GraphSense's confidence level for a tag derived by a heuristic.
LABEL_CONFIDENCE = 10
ALPHA = "0.01"
TAU = 3_200
_ASSET_SEED = 0x6173736574


def matched_deposits(
    transfers: pl.LazyFrame,
    labels: pl.LazyFrame,
    contracts: pl.LazyFrame,
    addresses: pl.LazyFrame | None = None,
    *,
    alpha: str | Fraction = ALPHA,
    max_delay_blocks: int = TAU,
) -> pl.LazyFrame:
    """Deposits into exchange deposit addresses, each paired with the forward that proves it.

    A transfer ``S -> D`` is a deposit when ``D`` forwards the same asset to a labelled exchange
    address ``E`` (category ``exchange`` or ``hot_wallet``) in a later transaction at most
    ``max_delay_blocks`` blocks after it, and the amount forwarded is at most ``alpha`` whole
    units (scaled by the asset's ``decimals``) below the amount received and never above it.
    ``D`` is never a labelled service or an exchange address; ``S`` is never a labelled
    service or a known contract. Amounts are compared exactly; a value that does not fit
    Int128 matches only an identical value.

    Returns
    -------
    pl.LazyFrame
        ``chain, sender, deposit_address, exchange_address, exchange_label, asset,
        transaction_hash, block_number, forward_transaction_hash, forward_block_number``, one
        row per deposit (its earliest matching forward), and the address keys
        ``deposit_key, sender_key``; sorted by deposit address key, block, sender key and
        the deposit's row in ``transfers`` (a deterministic order for the same data; what
        the other functions derive from it sorts by the strings).
    """
    # Joins and groups run on integers: the address keys, a hash of the asset (checked for
    # equality after the join) and each transfer's row number.
    keys = ["deposit_key", "__asset"]
    exchanges = (
        labels.filter(pl.col("category").is_in(list(EXCHANGE_CATEGORIES)))
        .sort("chain", "address", "confidence", "label", descending=[False, False, True, False])
        .unique(subset=["chain", "address"], keep="first", maintain_order=True)
        .select("chain", "address", pl.col("label").alias("exchange_label"))
        .collect()
    )
    transfers = keyed(transfers)
    # The few labelled addresses looked for, as keys: no join runs on address strings, and
    # the strings are named only for the deposits found (names_of).
    exchange_keys = keys_of(transfers, exchanges.lazy(), addresses).join(
        exchanges, on=["chain", "address"]
    )
    service_keys = keys_of(transfers, services(labels), addresses).select("chain", "key")
    never_keys = keys_of(transfers, excluded(labels, contracts, SERVICE_CATEGORIES), addresses)
    rows = transfers.select(
        "chain",
        "block_number",
        "transaction_hash",
        "from_key",
        "to_key",
        "asset",
        "value",
        "decimals",
        "kind",
    ).collect()  # read by both sides below: once (no copy of a frame already in memory)
    wanted = rows.select((pl.col("kind") != "utxo") & positive("value")).to_series()
    # Filter only when some row goes: a filter copies every column.
    moves = (
        (rows if wanted.all() else rows.filter(wanted))
        .drop("kind")
        .with_columns(pl.col("asset").hash(seed=_ASSET_SEED).alias("__asset"))
        .with_row_index("__row")
        .lazy()
    )
    del rows
    # Amounts are parsed only on the rows that can match (few, next to all transfers).
    parsed = [amount("value").alias("amount"), tolerance(alpha, "decimals").alias("tolerance")]
    forwards = (
        moves.join(
            exchange_keys.lazy().select(
                "chain",
                pl.col("key").alias("to_key"),
                pl.col("address").alias("exchange_address"),
                "exchange_label",
            ),
            on=["chain", "to_key"],
            how="inner",
        )
        .join(
            service_keys.lazy().rename({"key": "from_key"}),
            on=["chain", "from_key"],
            how="anti",
        )
        .with_columns(parsed)
        .select(
            pl.col("from_key").alias("deposit_key"),
            "exchange_address",
            "exchange_label",
            "__asset",
            pl.col("asset").alias("forward_asset"),
            pl.col("value").alias("out_value"),
            pl.col("amount").alias("out_amount"),
            pl.col("transaction_hash").alias("forward_transaction_hash"),
            pl.col("block_number").alias("forward_block_number"),
        )
        .cache()
    )  # read three times below: compute once
    deposits = moves.rename({"from_key": "sender_key", "to_key": "deposit_key"})
    diff = pl.col("amount") - pl.col("out_amount")
    both_fit = pl.col("amount").is_not_null() & pl.col("out_amount").is_not_null()
    delay = pl.col("forward_block_number") - pl.col("block_number")
    # Pair deposits with forwards of the same (deposit address, asset) only within time
    # buckets of max_delay_blocks: a forward in bucket k can prove deposits of buckets k and
    # k - 1 and no others, so the pairs stay linear in the data on a busy deposit address
    # instead of (deposits x forwards) over its whole history.
    width = max(max_delay_blocks, 1)
    bucket = (pl.col("forward_block_number") // width).alias("__bucket")
    forwards_b = pl.concat([forwards.with_columns(bucket), forwards.with_columns(bucket - 1)])
    matched = (
        deposits.join(forwards.select(keys).unique(), on=keys, how="semi")
        .join(
            never_keys.lazy().select("chain", pl.col("key").alias("sender_key")),
            on=["chain", "sender_key"],
            how="anti",
        )
        .with_columns(*parsed, (pl.col("block_number") // width).alias("__bucket"))
        .join(forwards_b, on=[*keys, "__bucket"], how="inner")
        .filter(
            (pl.col("asset") == pl.col("forward_asset"))
            & (delay >= 0)
            & (delay <= max_delay_blocks)
            & (pl.col("forward_transaction_hash") != pl.col("transaction_hash"))
            & (pl.col("sender_key") != pl.col("deposit_key"))
            & pl.when(both_fit)
            .then((diff >= 0) & (diff <= pl.col("tolerance")))
            .otherwise(pl.col("value") == pl.col("out_value"))
        )
    )
    # Each deposit transfer's earliest forward; then one row per deposit transaction (a
    # transaction may pay one deposit address twice): integer keys, with the rare rows whose
    # transaction hash repeats settled by the strings themselves.
    earliest = first_per(matched, ["__row"], ["forward_block_number", "forward_transaction_hash"])
    per_transaction = ["deposit_key", "transaction_hash", "sender_key"]
    repeated = pl.struct(
        "deposit_key", "sender_key", pl.col("transaction_hash").hash(seed=_ASSET_SEED)
    ).is_duplicated()
    earliest = earliest.with_columns(repeated.alias("__repeated")).cache()
    settled = pl.concat(
        [
            earliest.filter(~pl.col("__repeated")),
            earliest.filter(pl.col("__repeated")).pipe(
                first_per, per_transaction, ["forward_block_number", "forward_transaction_hash"]
            ),
        ]
    )
    # Integers only: a string column in a multi-column sort costs seconds at millions of
    # rows. ``__row`` (the deposit transfer) is unique among the rows left.
    found = settled.sort("deposit_key", "block_number", "sender_key", "__row").collect()
    names = {"sender_key": "sender", "deposit_key": "deposit_address"}
    return (
        with_names(found, transfers, names, addresses)
        .lazy()
        .select(
            "chain",
            "sender",
            "deposit_address",
            "exchange_address",
            "exchange_label",
            "asset",
            "transaction_hash",
            "block_number",
            "forward_transaction_hash",
            "forward_block_number",
            "deposit_key",
            "sender_key",
        )
    )


def services(labels: pl.LazyFrame) -> pl.LazyFrame:
    """Addresses labelled as services, deposit wallets excluded (they stay candidates)."""
    return (
        labels.filter(pl.col("category").is_in(list(SERVICE_CATEGORIES)))
        .select("chain", "address")
        .unique(maintain_order=True)
    )


def deposit_wallet_labels(deposits: pl.LazyFrame) -> pl.LazyFrame:
    """``labels`` rows (category ``deposit_wallet``) for the deposit addresses found.

    Parameters
    ----------
    deposits
        The output of :func:`matched_deposits`.

    Returns
    -------
    pl.LazyFrame
        Rows of ``schema.LABELS``: the exchange's label, source
        ``heuristic:deposit_address_reuse/1``, confidence 10 (GraphSense's level for a
        heuristic tag), not a cluster definer; sorted.
    """
    return (
        deposits.select("chain", pl.col("deposit_address").alias("address"), "exchange_label")
        .unique()
        .select(
            "chain",
            "address",
            pl.col("exchange_label").alias("label"),
            pl.lit("deposit_wallet").alias("category"),
            pl.lit("heuristic:deposit_address_reuse/1").alias("source"),
            pl.lit(LABEL_CONFIDENCE, dtype=pl.Int32).alias("confidence"),
            pl.lit(value=False).alias("is_cluster_definer"),
            pl.lit(None, dtype=pl.Date).alias("lastmod"),
        )
        .sort("chain", "address", "label")
    )


@heuristic(
    name="deposit_address_reuse",
    version=1,
    reference="Victor, F. (2020). Address Clustering Heuristics for Ethereum. FC 2020.",
    tables=("transfers", "labels", "contracts", "addresses"),
    requires=("transfers", "labels"),
    size_cap=5_000,
)
def deposit_address_reuse(
    transfers: pl.LazyFrame,
    labels: pl.LazyFrame,
    contracts: pl.LazyFrame,
    addresses: pl.LazyFrame | None = None,
    *,
    alpha: str | Fraction = ALPHA,
    max_delay_blocks: int = TAU,
) -> pl.LazyFrame:
    """Link the senders who pay into the same exchange deposit address.

    Parameters
    ----------
    transfers
        Rows of ``schema.TRANSFERS`` (native, internal and token transfers).
    labels
        Rows of ``schema.LABELS``; exchanges are ``exchange`` and ``hot_wallet`` rows.
    contracts
        Rows of ``schema.CONTRACTS``; a contract is never a sender.
    addresses
        The store's ``addresses`` table: when ``transfers`` carries the store's address ids,
        labelled addresses are found and senders named from it instead of from the transfers.
    alpha
        Largest amount, in whole units of the asset, by which the forward may fall short of
        the deposit (0.01 ETH by default, as in Tutela; gas is paid from the deposit).
    max_delay_blocks
        Largest number of blocks between a deposit and its forward (Tutela: 3,200).

    Returns
    -------
    pl.LazyFrame
        Rows of ``schema.LINKS``, confidence 80: each sender linked to the deposit address's
        smallest sender, evidenced by the sender's first deposit transaction.

    References
    ----------
    Victor, F. (2020). Address Clustering Heuristics for Ethereum. Financial Cryptography
    and Data Security 2020. Beres, F. et al. (2021). Blockchain is Watching You: Profiling
    and Deanonymizing Ethereum Users (Tutela).

    Notes
    -----
    False positives: shared custodial wallets and payment processors forwarding to an
    exchange look like deposit addresses; a deposit address an exchange reassigns links two
    customers. See :func:`matched_deposits` for the exact conditions.

    Examples
    --------
    >>> eth = 10**18
    >>> tr = pl.LazyFrame(
    ...     {
    ...         "chain": ["ethereum"] * 4,
    ...         "block_number": [1, 2, 3, 4],
    ...         "transaction_hash": ["t1", "t2", "t3", "t4"],
    ...         "kind": ["native"] * 4,
    ...         "from_address": ["0xa1", "0xa2", "0xd", "0xd"],
    ...         "to_address": ["0xd", "0xd", "0xe", "0xe"],
    ...         "asset": ["ETH"] * 4,
    ...         "value": [str(eth), str(2 * eth), str(eth - 10**15), str(2 * eth - 10**15)],
    ...         "decimals": [18] * 4,
    ...     }
    ... )
    >>> lab = pl.LazyFrame(
    ...     {
    ...         "chain": ["ethereum"],
    ...         "address": ["0xe"],
    ...         "label": ["Binance"],
    ...         "category": ["exchange"],
    ...         "confidence": [50],
    ...     }
    ... )
    >>> con = pl.LazyFrame(schema={"chain": pl.String, "address": pl.String})
    >>> deposit_address_reuse(tr, lab, con).select(
    ...     "address_a", "address_b", "evidence_transaction_hash", "confidence"
    ... ).collect().rows()
    [('0xa1', '0xa2', 't2', 80)]
    """
    members = matched_deposits(
        transfers, labels, contracts, addresses, alpha=alpha, max_delay_blocks=max_delay_blocks
    )
    return sender_links(members)


def sender_links(deposits: pl.LazyFrame) -> pl.LazyFrame:
    """Candidate links between the senders of each deposit address (before provenance).

    Each sender is linked to the deposit address's smallest sender, evidenced by its first
    deposit. :func:`deposit_address_reuse` is ``matched_deposits`` followed by this; callers
    that also need the deposits (for :func:`deposit_wallet_labels`) compute them once and
    pass them through :func:`heuristics.finish_links`.

    Parameters
    ----------
    deposits
        The output of :func:`matched_deposits`.
    """
    first = first_per(deposits, ["deposit_key", "sender_key"], ["block_number", "transaction_hash"])
    return star_links(
        first.rename({"transaction_hash": "evidence_transaction_hash"}),
        group=["deposit_key"],
        address="sender",
        confidence=CONFIDENCE,
    )
