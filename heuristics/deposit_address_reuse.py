"""Deposit address reuse (Victor, FC 2020): users who pay into one exchange deposit address."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import numpy.typing as npt
import polars as pl

from heuristics import SERVICE_CATEGORIES, heuristic
from heuristics._frames import (
    among,
    amount,
    excluded,
    first_per,
    keyed,
    keys_of,
    positive,
    star_links,
    take,
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
_SEED = 0x6173736574


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
    service_keys = keys_of(transfers, services(labels), addresses).get_column("key")
    never_keys = keys_of(transfers, excluded(labels, contracts, SERVICE_CATEGORIES), addresses)
    rows = transfers.select(*_READ).collect()
    # Gate on integers first, by lookups in tables indexed by key: a forward pays an exchange
    # from a non-service; a deposit pays an address that made a forward (its asset checked
    # later). Few rows pass; only they are copied and parsed.
    sender, payee = rows.get_column("from_key"), rows.get_column("to_key")
    forward = among(payee, exchange_keys.get_column("key")) & ~among(sender, service_keys)
    deposit = among(payee, sender.filter(pl.Series(forward)))
    deposit &= ~among(sender, never_keys.get_column("key"))
    picked = np.flatnonzero(forward | deposit)
    # From here on a row is a row of ``chosen``: ``__row`` numbers them in the transfers' order.
    chosen = pl.DataFrame([take(rows.get_column(c), picked) for c in _READ])
    del rows, sender, payee
    moves = _moves(chosen, forward[picked], deposit[picked], alpha)
    del forward, deposit
    matched = _pairs(moves, max_delay_blocks)
    del moves
    tx = chosen.get_column("transaction_hash")
    # A deposit and its forward are two transactions: hashes that differ prove it, equal
    # ones (rare) are compared as strings.
    same = matched.get_column("__tx") == matched.get_column("__forward_tx")
    if same.any():
        equal = tx.gather(matched.get_column("__row")) == tx.gather(
            matched.get_column("__forward_row")
        )
        matched = matched.filter(~(same & equal))
    # Each deposit transfer's earliest forward; then one row per deposit transaction (a
    # transaction may pay one deposit address twice, rare: settled by the strings).
    earliest = _earliest(matched, ["__row"], tx)
    repeated = earliest.select(
        pl.struct("deposit_key", "sender_key", "__tx").is_duplicated()
    ).to_series()
    if repeated.any():
        again = earliest.filter(repeated)
        again = again.with_columns(tx.gather(again.get_column("__row")))
        settled = _earliest(again, ["deposit_key", "transaction_hash", "sender_key"], tx)
        earliest = pl.concat([earliest.filter(~repeated), settled.drop("transaction_hash")])
    # Integers only: the strings are gathered after the sort, for the rows kept.
    found = earliest.sort("deposit_key", "block_number", "sender_key", "__row")
    at, forward_at = found.get_column("__row"), found.get_column("__forward_row")
    found = found.with_columns(
        chosen.get_column("chain").gather(at),
        chosen.get_column("asset").gather(at),
        tx.gather(at),
        tx.gather(forward_at).alias("forward_transaction_hash"),
    ).join(
        exchange_keys.select(
            pl.col("key").alias("__exchange"),
            pl.col("address").alias("exchange_address"),
            "exchange_label",
        ),
        on="__exchange",
        how="left",
        maintain_order="left",
    )
    del chosen, tx
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


#: The transfer columns deposit matching reads.
_READ = (
    "chain",
    "block_number",
    "transaction_hash",
    "from_key",
    "to_key",
    "asset",
    "value",
    "decimals",
    "kind",
)


def _moves(
    chosen: pl.DataFrame,
    forward: npt.NDArray[np.bool_],
    deposit: npt.NDArray[np.bool_],
    alpha: str | Fraction,
) -> pl.DataFrame:
    """The rows of ``chosen`` that move value, as integers: keys, block, amounts, asset code.

    ``__row`` is the row in ``chosen``; ``__asset`` a code equal exactly for equal assets;
    ``__tx`` a hash of the transaction hash; ``__big`` the decimal string of an amount that
    does not fit Int128 (null otherwise: such amounts match only an identical string).
    """
    value = amount("value")
    return (
        chosen.with_row_index("__row")
        .with_columns(pl.Series("__forward", forward), pl.Series("__deposit", deposit))
        .lazy()  # the streaming engine parses on both cores
        .with_columns(pl.col("transaction_hash").hash(seed=_SEED).alias("__tx"))
        .filter((pl.col("kind") != "utxo") & positive("value"))
        .select(
            "__row",
            "__forward",
            "__deposit",
            "__tx",
            "from_key",
            "to_key",
            "block_number",
            pl.col("asset").cast(pl.Categorical).to_physical().alias("__asset"),
            value.alias("amount"),
            pl.when(value.is_null()).then(pl.col("value")).alias("__big"),
            tolerance(alpha, "decimals").alias("tolerance"),
        )
        .collect()
    )


def _pairs(moves: pl.DataFrame, max_delay_blocks: int) -> pl.DataFrame:
    """Every (deposit, forward) pair of ``moves`` that meets the rule's conditions.

    The forward is from the deposit address to an exchange, of the same asset, in a later or
    the same block at most ``max_delay_blocks`` on, and is at most the deposit's
    ``tolerance`` below its amount, never above. ``__tx`` / ``__forward_tx`` are still to
    be told apart when equal (two transfers of one transaction).
    """
    keys = ["deposit_key", "__asset"]
    forwards = moves.filter(pl.col("__forward")).select(
        pl.col("from_key").alias("deposit_key"),
        pl.col("to_key").alias("__exchange"),
        "__asset",
        pl.col("amount").alias("out_amount"),
        pl.col("__big").alias("__out_big"),
        pl.col("__row").alias("__forward_row"),
        pl.col("__tx").alias("__forward_tx"),
        pl.col("block_number").alias("forward_block_number"),
    )
    deposits = (
        moves.lazy()
        .filter(pl.col("__deposit"))
        .select(
            pl.col("from_key").alias("sender_key"),
            pl.col("to_key").alias("deposit_key"),
            "__asset",
            "amount",
            "__big",
            "tolerance",
            "__row",
            "__tx",
            "block_number",
        )
        .join(forwards.lazy().select(keys).unique(), on=keys, how="semi")
    )
    # Pair deposits with forwards of the same (deposit address, asset) only within time
    # buckets of max_delay_blocks: a forward in bucket k can prove deposits of buckets k and
    # k - 1 and no others, so the pairs stay linear in the data on a busy deposit address
    # instead of (deposits x forwards) over its whole history.
    width = max(max_delay_blocks, 1)
    bucket = (pl.col("forward_block_number") // width).alias("__bucket")
    by_bucket = pl.concat(
        [forwards.lazy().with_columns(bucket), forwards.lazy().with_columns(bucket - 1)]
    )
    diff = pl.col("amount") - pl.col("out_amount")
    both_fit = pl.col("amount").is_not_null() & pl.col("out_amount").is_not_null()
    delay = pl.col("forward_block_number") - pl.col("block_number")
    return (
        deposits.with_columns((pl.col("block_number") // width).alias("__bucket"))
        .join(by_bucket, on=[*keys, "__bucket"], how="inner")
        .filter(
            (delay >= 0)
            & (delay <= max_delay_blocks)
            & (pl.col("sender_key") != pl.col("deposit_key"))
            & pl.when(both_fit)
            .then((diff >= 0) & (diff <= pl.col("tolerance")))
            .otherwise(pl.col("__big") == pl.col("__out_big"))
        )
        .drop("__bucket", "amount", "out_amount", "__big", "__out_big", "tolerance")
        .collect()
    )


def _earliest(matched: pl.DataFrame, group: list[str], tx: pl.Series) -> pl.DataFrame:
    """Per ``group``, the row with the earliest forward: by block, then by forward hash.

    Only the groups still tied on the block get their forwards' hashes (gathered from
    ``tx`` by ``__forward_row``) and a sort.
    """
    first = pl.col("forward_block_number").min().over(group)
    narrowed = matched.filter(pl.col("forward_block_number") == first)
    tied = narrowed.select(pl.len().over(group) > 1).to_series()
    if not tied.any():
        return narrowed
    ties = narrowed.filter(tied)
    ties = (
        ties.with_columns(tx.gather(ties.get_column("__forward_row")).alias("__forward_hash"))
        .sort([*group, "__forward_hash"])
        .unique(subset=group, keep="first", maintain_order=True)
        .drop("__forward_hash")
    )
    return pl.concat([narrowed.filter(~tied), ties])


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
        group=["deposit_key"],  # a key numbers (chain, address) pairs: it implies the chain
        address="sender",
        confidence=CONFIDENCE,
        key="sender_key",
    )
