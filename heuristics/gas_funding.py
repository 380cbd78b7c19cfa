"""Gas funding: the address that first pays gas into an address, and the one it is swept to."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import numpy.typing as npt
import polars as pl

from heuristics import NOT_OWNED_CATEGORIES, heuristic
from heuristics._frames import (
    NATIVE_KINDS,
    among,
    checked_sum,
    excluded,
    first_rows,
    keyed,
    keys_of,
    positive,
    tolerance,
    with_names,
)

__all__ = ["FUNDING_CONFIDENCE", "SWEEP_CONFIDENCE", "gas_funding"]

#: Confidence of a link between an address and its first funder.
FUNDING_CONFIDENCE = 60
#: Confidence of a link between an address and the address that emptied it.
SWEEP_CONFIDENCE = 50
_ORDER = ["block_number", "transaction_index", "idx", "transaction_hash"]


# Keys, not address strings: the addresses are named only for the links found (names_of).
_COLUMNS = ["chain", "from_key", "to_key", *_ORDER, "value"]


def _fanned_in(partners: pl.Series, max_fan_out: int) -> npt.NDArray[np.bool_]:
    """Whether each row's partner is below the fan-out cap among these rows (null: no)."""
    present: npt.NDArray[np.bool_] = partners.is_not_null().to_numpy()
    keys = partners.fill_null(0).to_numpy().astype(np.int64)
    counts = np.bincount(keys[present], minlength=int(keys.max(initial=0)) + 1)
    below: npt.NDArray[np.bool_] = present & (counts[keys] < max_fan_out)
    return below


def _pairs(
    native: pl.DataFrame, rows: npt.NDArray[np.int64], *, sweep: bool, max_fan_out: int
) -> pl.DataFrame:
    """Link candidates from the chosen rows of ``native``, fan-out capped on the partner."""
    own, partner = ("from", "to") if sweep else ("to", "from")
    rows = rows[_fanned_in(native.get_column(f"{partner}_key").gather(rows), max_fan_out)]
    return native.select(
        "chain",
        pl.col(f"{own}_key").alias("key"),
        pl.col(f"{partner}_key").alias("partner_key"),
        "transaction_hash",
        "block_number",
    )[rows].with_columns(
        pl.lit(SWEEP_CONFIDENCE if sweep else FUNDING_CONFIDENCE, dtype=pl.Int32).alias(
            "confidence"
        )
    )


def _maybe_emptied(native: pl.DataFrame, limit: float) -> npt.NDArray[np.bool_]:
    """Per key: whether received minus sent may lie in ``[0, limit]`` (a superset, by floats).

    Float sums are exact to a relative error of about n * 2**-53 for n terms; the margin
    below is four times that for n the number of rows (no sum has more terms), so no
    emptied address is missed. Keys with an amount that does not parse are kept too. The
    exact test (:func:`_emptied`) runs only on these.
    """
    # Lazily: the streaming engine parses on both cores (an eager cast parses on one).
    as_float = native.lazy().select(pl.col("value").cast(pl.Float64, strict=False))
    value = as_float.collect().to_series().to_numpy()
    top = native.select(pl.max_horizontal(pl.col("from_key", "to_key").max())).item()
    n = 0 if top is None else int(top) + 1
    sums = []
    for column in ("to_key", "from_key"):
        keys, weights = native.get_column(column), value
        if keys.null_count():
            present = keys.is_not_null().to_numpy()
            keys, weights = keys.filter(present), value[present]
        sums.append(np.bincount(keys.to_numpy(), weights=weights, minlength=n))
    received, sent = sums
    residual = received - sent
    margin = (received + sent) * (native.height + 2) * 2.0**-50
    with np.errstate(invalid="ignore"):
        near: npt.NDArray[np.bool_] = (residual >= -margin) & (
            residual <= limit * (1 + 2.0**-40) + margin
        )
    # The amounts are positive (NaN where they do not parse): a sum is 0 only without rows.
    maybe: npt.NDArray[np.bool_] = (received != 0) & (sent != 0) & (near | ~np.isfinite(residual))
    return maybe


def _emptied(native: pl.DataFrame, decimals: pl.DataFrame, max_residual: Fraction) -> pl.Series:
    """Keys whose exact received minus sent lies between 0 and ``max_residual`` whole units."""
    received = native.group_by(pl.col("to_key").alias("key")).agg(
        pl.col("chain").first(), checked_sum("value").alias("received")
    )
    sent = native.group_by(pl.col("from_key").alias("key")).agg(checked_sum("value").alias("sent"))
    residual = pl.col("received") - pl.col("sent")
    return (
        received.join(sent, on="key", how="inner")
        .join(decimals, on="chain", how="left")
        .filter(residual.is_not_null() & (residual >= 0))
        .filter(residual <= tolerance(max_residual, "decimals"))
        .get_column("key")
    )


def _sweeps(native: pl.DataFrame, *, max_fan_out: int, max_residual: Fraction) -> pl.DataFrame:
    top = native.get_column("decimals").max()
    widest = max(top if isinstance(top, int) else 0, 18)  # null decimals count as 18
    candidates = pl.Series(np.flatnonzero(_maybe_emptied(native, float(max_residual * 10**widest))))
    # Every row into or out of a candidate: its sums are whole (those of the other address
    # of such a row are not, so only candidates are tested).
    near = native.filter(
        pl.col("to_key").is_in(candidates.implode())
        | pl.col("from_key").is_in(candidates.implode())
    )
    # Each chain's native decimals, from its rows among these (cheaper than from all rows;
    # the native coin's decimals are the same on every row of a chain).
    decimals = near.group_by("chain").agg(pl.col("decimals").max().fill_null(18))
    emptied = _emptied(near, decimals, max_residual)
    emptied = emptied.filter(emptied.is_in(candidates.implode()))
    outgoing = near.filter(pl.col("from_key").is_in(emptied.implode()))
    last = first_rows(outgoing, "from_key", _ORDER, last=True)
    return _pairs(outgoing, last, sweep=True, max_fan_out=max_fan_out)


@heuristic(
    name="gas_funding",
    version=1,
    reference=(
        "Victor, F. (2020). Address Clustering Heuristics for Ethereum. FC 2020; "
        "Beres, F. et al. (2021). Blockchain is Watching You (Tutela), PETS 2021."
    ),
    tables=("transfers", "labels", "contracts", "addresses"),
    requires=("transfers",),
    size_cap=1_000,
)
def gas_funding(
    transfers: pl.LazyFrame,
    labels: pl.LazyFrame,
    contracts: pl.LazyFrame,
    addresses: pl.LazyFrame | None = None,
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
    addresses
        The store's ``addresses`` table: when ``transfers`` carries the store's address ids,
        the linked addresses are named from it instead of from the transfers.
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
    transfers = keyed(transfers)
    rows = transfers.select(*_COLUMNS, "decimals", "kind").collect()
    wanted = rows.select(pl.col("kind").is_in(list(NATIVE_KINDS)) & positive("value"))
    # Filter only when some row goes: a filter copies every column, even keeping them all.
    native = rows if wanted.to_series().all() else rows.filter(wanted.to_series())
    funding = first_rows(native, "to_key", _ORDER)
    pairs = pl.concat(
        [
            _pairs(native, funding, sweep=False, max_fan_out=max_fan_out),
            _sweeps(native, max_fan_out=max_fan_out, max_residual=Fraction(max_residual)),
        ]
    )
    del native, rows
    never = keys_of(transfers, excluded(labels, contracts, NOT_OWNED_CATEGORIES), addresses)
    never_keys = never.get_column("key")
    owned = ~among(pairs.get_column("key"), never_keys)
    owned &= ~among(pairs.get_column("partner_key"), never_keys)
    pairs = with_names(
        pairs.filter(pl.Series(owned)),
        transfers,
        {"key": "address", "partner_key": "partner"},
        addresses,
    )
    return pairs.lazy().select(
        "chain",
        pl.col("address").alias("address_a"),
        pl.col("partner").alias("address_b"),
        pl.col("transaction_hash").alias("evidence_transaction_hash"),
        "block_number",
        "confidence",
        pl.col("key").alias("key_a"),  # the addresses' keys, for the union (LINK_KEYS)
        pl.col("partner_key").alias("key_b"),
    )
