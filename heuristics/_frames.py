"""Frame helpers the heuristics share: address keys, services, contracts, amounts, star links."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from tracer.amounts import int128_or_null

NATIVE_KINDS = ("native", "internal")
_MAX_DECIMALS = 77  # 10**77 > 2**256: no token has more

#: The integer key column of each address column of ``transfers`` (see :func:`address_keys`).
KEYS = {"from_address": "from_key", "to_address": "to_key"}
_SEEDS = (0x6B657973, 0x636865636B)
#: The store's address id column of each address column (``tracer.schema.ADDRESS_IDS``).
_IDS = {"from_address": "from_id", "to_address": "to_id"}


def address_keys(transfers: pl.DataFrame) -> pl.DataFrame:
    """``transfers`` with ``from_key`` and ``to_key``: one integer per ``(chain, address)``.

    Keys are small (UInt32, numbered from 0 over the distinct pairs of both columns, at
    most one number left unused), so that a heuristic can index NumPy arrays with them; two
    rows get the same key exactly when their ``(chain, address)`` pairs are equal; a null
    address gets a null key. The caller computes them once and every heuristic shares them
    (:func:`keyed` computes nothing when present).

    When ``transfers`` carries the ids the store gave its addresses (``from_id``, ``to_id``:
    ``tracer.address_ids``), complete, they are the keys and nothing is computed. Otherwise
    (frames built in memory, a directory written before the store numbered addresses) the
    pairs are numbered through a 64-bit hash of each (an integer rank instead of a string
    sort: several times faster). A second, independent 64-bit hash checks the numbering: if
    two rows with one key differ in it, two distinct pairs share the first hash, and the
    exact (slower) string numbering is used instead. Two distinct addresses would have to
    collide in both hashes at once (128 bits) to share a key.

    Examples
    --------
    >>> tr = pl.DataFrame(
    ...     {
    ...         "chain": ["ethereum", "ethereum", "bitcoin"],
    ...         "from_address": ["0xa", "0xb", "0xa"],
    ...         "to_address": ["0xb", None, "0xa"],
    ...     }
    ... )
    >>> keys = address_keys(tr)
    >>> keys.get_column("from_key").dtype
    UInt32
    >>> k = keys.select(*KEYS.values()).rows()
    >>> k[0][1] == k[1][0], k[1][1], k[0][0] == k[2][0], k[2][0] == k[2][1]
    (True, None, False, True)
    """
    stored = _stored_ids(transfers)
    if stored is not None:
        return stored
    transfers = transfers.drop(list(_IDS.values()), strict=False)
    height = transfers.height
    both = pl.concat([transfers.get_column(c) for c in KEYS]).rename("address")
    if transfers.get_column("chain").n_unique() > 1:
        pairs = pl.DataFrame([pl.concat([transfers.get_column("chain")] * 2), both])
        hashes = [pairs.hash_rows(seed=seed) for seed in _SEEDS]
    else:  # one chain: the address alone will do
        hashes = [both.hash(seed=seed) for seed in _SEEDS]
    ids = (hashes[0].rank("dense") - 1).cast(pl.UInt32)  # 0, 1, ... in the order of the hashes
    if not consistent_ids(ids.to_numpy(), hashes[1].to_numpy()):
        ids = _exact_ids(transfers, both)
    del hashes
    if both.null_count():  # the nulls' id is left unused: keys stay below 2 * height
        ids = pl.select(pl.when(both.is_not_null()).then(ids)).to_series()
    return transfers.with_columns(ids[:height].alias("from_key"), ids[height:].alias("to_key"))


def _stored_ids(transfers: pl.DataFrame) -> pl.DataFrame | None:
    """``transfers`` keyed by the store's address ids, or ``None`` if any is missing."""
    if not set(_IDS.values()) <= set(transfers.columns):
        return None
    for address, ids in _IDS.items():
        if transfers.get_column(ids).null_count() != transfers.get_column(address).null_count():
            return None  # nulls only where the address is null: then every address has its id
    # The ids stay too: they tell keys_of and names_of that the store's addresses table
    # names these keys.
    return transfers.with_columns(pl.col(ids).alias(KEYS[a]) for a, ids in _IDS.items())


def consistent_ids(ids: npt.NDArray[np.integer[Any]], check: npt.NDArray[np.uint64]) -> bool:
    """Whether every row with one id has the same ``check`` value (an independent hash)."""
    if ids.shape[0] == 0:
        return True
    seen = np.empty(int(ids.max()) + 1, dtype=np.uint64)
    seen[ids] = check  # one of each id's values (the last one written)
    return bool(np.array_equal(seen[ids], check))


def _exact_ids(transfers: pl.DataFrame, both: pl.Series) -> pl.Series:
    """Dense ids numbered by the ``(chain, address)`` strings themselves (exact, slower)."""
    chain = pl.concat([transfers.get_column("chain")] * 2)
    joined = pl.select(pl.concat_str(chain, both, separator="\x00")).to_series()
    return (joined.rank("dense") - 1).cast(pl.UInt32)


def keyed(transfers: pl.LazyFrame) -> pl.LazyFrame:
    """``transfers`` with the key columns of :func:`address_keys`, computed only if missing.

    Computing them reads ``transfers`` whole: callers that run several heuristics compute the
    keys once with :func:`address_keys` and pass the keyed frame.
    """
    if set(KEYS.values()) <= set(transfers.collect_schema().names()):
        return transfers
    return address_keys(transfers.collect()).lazy()


def among(keys: pl.Series, members: pl.Series) -> npt.NDArray[np.bool_]:
    """Whether each of ``keys`` (address keys) is one of ``members`` (a null key: no).

    A lookup in a table indexed by key, not a hash join: address keys are small, dense
    integers (:func:`address_keys`), so this costs one gather per row.

    Examples
    --------
    >>> among(pl.Series([3, None, 0, 3]), pl.Series([3, 5])).tolist()
    [True, False, False, True]
    """
    members = members.drop_nulls()
    top = max(int(keys.max() or 0), int(members.max() or 0))  # type: ignore[arg-type]
    table = np.zeros(top + 1, dtype=np.bool_)
    table[members.to_numpy()] = True
    found: npt.NDArray[np.bool_] = table[keys.fill_null(0).to_numpy()]
    if keys.null_count():
        found &= keys.is_not_null().to_numpy()
    return found


def take(column: pl.Series, rows: npt.NDArray[np.int64]) -> pl.Series:
    """``column.gather(rows)`` for ascending ``rows``, chunk by chunk, into one chunk.

    A scan yields a chunk per Parquet row group. Gathering 2.4M transaction hashes out of 20M
    rows in 163 chunks took 0.33 s at once and 0.06 s a chunk at a time; what is gathered
    from the single-chunk result afterwards is fast too.

    Examples
    --------
    >>> column = pl.concat([pl.Series(["a", "b"]), pl.Series(["c"])], rechunk=False)
    >>> take(column, np.array([0, 2])).to_list()
    ['a', 'c']
    """
    if column.n_chunks() == 1:
        return column.gather(rows)
    bounds = np.cumsum([0, *(len(chunk) for chunk in column.get_chunks())])
    cuts = np.searchsorted(rows, bounds)
    parts = [
        column.slice(int(lo), int(hi - lo)).gather(rows[a:b] - lo)
        for lo, hi, a, b in zip(bounds[:-1], bounds[1:], cuts[:-1], cuts[1:], strict=True)
        if b > a
    ]
    return pl.concat(parts, rechunk=True) if parts else column.clear()


def _naming(transfers: pl.LazyFrame, addresses: pl.LazyFrame | None) -> pl.LazyFrame | None:
    """``addresses`` (the store's table) if it names the keys of keyed ``transfers``.

    It does when the keys are the store's address ids (:func:`address_keys` then keeps the
    id columns beside them) and the table has rows.
    """
    if addresses is None or not set(_IDS.values()) <= set(transfers.collect_schema().names()):
        return None
    return addresses if addresses.select(pl.len()).collect().item() else None


def keys_of(
    transfers: pl.LazyFrame, wanted: pl.LazyFrame, addresses: pl.LazyFrame | None = None
) -> pl.DataFrame:
    """``chain, address, key``: the key of each of ``wanted`` that ``transfers`` numbers.

    ``transfers`` is keyed (:func:`keyed`); ``wanted`` has ``chain, address``. Heuristics
    turn the few addresses they look for (labelled services, exchanges) into keys with this,
    then join the transfers on integers. With the store's ``addresses`` table naming the
    keys, it is looked up there; otherwise the transfers are read for them.

    Examples
    --------
    >>> tr = keyed(
    ...     pl.LazyFrame(
    ...         {"chain": ["e", "e"], "from_address": ["a", "b"], "to_address": ["b", "c"]}
    ...     )
    ... )
    >>> keys_of(tr, pl.LazyFrame({"chain": ["e", "e"], "address": ["c", "z"]})).height
    1
    """
    wanted = wanted.select("chain", "address").unique()
    table = _naming(transfers, addresses)
    if table is not None:
        found = table.select("chain", "address", pl.col("address_id").alias("key"))
        return (
            found.join(wanted, on=["chain", "address"], how="semi")
            .sort("chain", "address")
            .collect()
        )
    sides = [
        transfers.select("chain", pl.col(address).alias("address"), pl.col(key).alias("key"))
        .join(wanted, on=["chain", "address"], how="semi")
        .unique()
        for address, key in KEYS.items()
    ]
    return pl.concat(sides).unique().sort("chain", "address").collect()


def names_of(
    transfers: pl.LazyFrame, keys: pl.Series, addresses: pl.LazyFrame | None = None
) -> pl.DataFrame:
    """``key, address``: the address of each of ``keys``.

    Heuristics work on keys and name only the addresses of their output rows. With the
    store's ``addresses`` table naming the keys, the names come from it; otherwise from the
    keyed ``transfers``.

    Examples
    --------
    >>> tr = keyed(pl.LazyFrame({"chain": ["e"], "from_address": ["a"], "to_address": ["b"]}))
    >>> k = tr.select("to_key").collect().to_series()
    >>> names_of(tr, k).get_column("address").to_list()
    ['b']
    """
    wanted = keys.drop_nulls().unique().implode()
    table = _naming(transfers, addresses)
    if table is not None:
        return (
            table.select(pl.col("address_id").alias("key"), "address")
            .filter(pl.col("key").is_in(wanted))
            .collect()
        )
    sides = [
        transfers.select(pl.col(key).alias("key"), pl.col(address).alias("address")).filter(
            pl.col("key").is_in(wanted)
        )
        for address, key in KEYS.items()
    ]
    return pl.concat(sides).unique(subset="key").collect()


def with_names(
    frame: pl.DataFrame,
    transfers: pl.LazyFrame,
    columns: Mapping[str, str],
    addresses: pl.LazyFrame | None = None,
) -> pl.DataFrame:
    """``frame`` with an address column named for each key column (``columns``: key -> name).

    Examples
    --------
    >>> tr = keyed(pl.LazyFrame({"chain": ["e"], "from_address": ["a"], "to_address": ["b"]}))
    >>> pairs = tr.select("from_key", "to_key").collect()
    >>> with_names(pairs, tr, {"from_key": "x", "to_key": "y"}).select("x", "y").rows()
    [('a', 'b')]
    """
    table = _naming(transfers, addresses)
    by_id = None if table is None else dense_names(table.collect())
    if by_id is not None:  # row i of the table names key i: a gather, no join
        return frame.with_columns(
            by_id.gather(frame.get_column(k)).alias(n) for k, n in columns.items()
        )
    names = names_of(transfers, pl.concat([frame.get_column(k) for k in columns]), addresses)
    for key, name in columns.items():
        frame = frame.join(
            names.rename({"key": key, "address": name}), on=key, how="left", maintain_order="left"
        )
    return frame


def dense_names(table: pl.DataFrame) -> pl.Series | None:
    """The ``address`` column of a store's ``addresses`` table if row i holds id i, else None.

    Then naming a key is a gather from it, no join.
    """
    ids = table.get_column("address_id")
    dense = ids.null_count() == 0 and ids.equals(
        pl.int_range(0, table.height, dtype=pl.UInt32, eager=True), check_names=False
    )
    return table.get_column("address") if dense else None


def services(labels: pl.LazyFrame, categories: Sequence[str]) -> pl.LazyFrame:
    """``chain, address`` of every address labelled with one of ``categories``, once."""
    return (
        labels.filter(pl.col("category").is_in(list(categories)))
        .select("chain", "address")
        .unique(maintain_order=True)
    )


def not_in(
    frame: pl.LazyFrame, addresses: pl.LazyFrame, column: str, *, chain: str = "chain"
) -> pl.LazyFrame:
    """Rows of ``frame`` whose ``column`` is not among ``addresses`` (``chain, address``)."""
    return frame.join(
        addresses.select(pl.col("chain").alias(chain), pl.col("address").alias(column)),
        on=[chain, column],
        how="anti",
        nulls_equal=False,
        maintain_order="left",
    )


def excluded(
    labels: pl.LazyFrame, contracts: pl.LazyFrame, categories: Sequence[str]
) -> pl.LazyFrame:
    """Labelled services and known contracts: addresses no heuristic links through."""
    return pl.concat(
        [services(labels, categories), contracts.select("chain", "address")], how="vertical"
    ).unique(maintain_order=True)


def positive(column: str) -> pl.Expr:
    """Whether a decimal-string amount is above zero (exact, also beyond Int128)."""
    digits = pl.col(column).str.strip_chars_start("0")
    return pl.col(column).is_not_null() & (digits.str.len_bytes() > 0)


def amount(column: str) -> pl.Expr:
    """A decimal-string amount as Int128, null when it does not fit (handle those rows)."""
    return int128_or_null(column)


def tolerance(alpha: str | Fraction, decimals: str | pl.Expr) -> pl.Expr:
    """``alpha`` whole units in base units for each row's ``decimals``, as exact Int128.

    Rows with null or unusual decimals get 0 (an exact match is required).

    Examples
    --------
    >>> lf = pl.LazyFrame({"decimals": [18, 6, None]}, schema={"decimals": pl.Int32})
    >>> lf.select(tolerance("0.01", "decimals")).collect().to_series().to_list()
    [10000000000000000, 10000, 0]
    """
    frac = Fraction(alpha)
    if frac < 0:
        msg = f"alpha must not be negative, got {alpha!r}"
        raise ValueError(msg)
    limit = 2**127 - 1
    mapping = {d: min(int(frac * 10**d), limit) for d in range(_MAX_DECIMALS + 1)}
    expr = pl.col(decimals) if isinstance(decimals, str) else decimals
    old = pl.Series(list(mapping), dtype=pl.Int32)
    new = pl.Series(list(mapping.values()), dtype=pl.Int128)
    return (
        expr.cast(pl.Int32, strict=False)
        .replace_strict(old, new, default=pl.lit(0, dtype=pl.Int128), return_dtype=pl.Int128)
        .fill_null(0)
    )


def star_links(
    members: pl.LazyFrame,
    *,
    group: Sequence[str],
    address: str,
    confidence: int,
    key: str | None = None,
) -> pl.LazyFrame:
    """Link every member of a group to the group's smallest address.

    ``members`` has ``chain``, the ``group`` columns, ``address``, ``evidence_transaction_hash``
    and ``block_number``; each member's own row supplies the evidence of its link. A group of
    n distinct addresses gives n - 1 links (a star), never n(n - 1)/2 pairs. The ``group``
    columns must tell chains apart (``chain`` among them, or an address key, which numbers
    ``(chain, address)`` pairs). With ``key``, the column of each address's key, the links
    carry ``key_a`` and ``key_b`` too.

    Examples
    --------
    >>> lf = pl.LazyFrame(
    ...     {
    ...         "chain": ["bitcoin"] * 3,
    ...         "tx": ["t"] * 3,
    ...         "address": ["c", "a", "b"],
    ...         "evidence_transaction_hash": ["t"] * 3,
    ...         "block_number": [1, 1, 1],
    ...     }
    ... )
    >>> star_links(lf, group=["chain", "tx"], address="address", confidence=90).select(
    ...     "address_a", "address_b"
    ... ).sort("address_b").collect().rows()
    [('a', 'b'), ('a', 'c')]
    """
    keys = list(group)
    hub = pl.col("__hub")
    links = members.filter(pl.col(address).is_not_null()).with_columns(
        pl.col(address).min().over(keys).alias("__hub")
    )
    carried: list[pl.Expr] = []
    if key is not None:  # the hub's key: that of the rows holding the hub (one address, one key)
        hub_key = pl.when(pl.col(address) == hub).then(pl.col(key)).max().over(keys)
        links = links.with_columns(hub_key.alias("key_a"))
        carried = [pl.col("key_a"), pl.col(key).alias("key_b")]
    return links.filter(pl.col(address) != hub).select(
        "chain",
        hub.alias("address_a"),
        pl.col(address).alias("address_b"),
        "evidence_transaction_hash",
        "block_number",
        pl.lit(confidence, dtype=pl.Int32).alias("confidence"),
        *carried,
    )


def first_per(
    frame: pl.LazyFrame, keys: Sequence[str], order: Sequence[str], *, last: bool = False
) -> pl.LazyFrame:
    """The first (or last) row of each ``keys`` group in ``order``, deterministic.

    Rows are first narrowed to each group's smallest (largest) value of ``order[0]`` with a
    window; only the groups still tied after that are sorted: much cheaper than sorting the
    whole frame. Rows whose ``order[0]`` is null are never chosen.

    Examples
    --------
    >>> lf = pl.LazyFrame({"k": ["a", "a", "a", "b"], "t": [2, 1, 1, 5], "i": [0, 7, 3, 0]})
    >>> first_per(lf, ["k"], ["t", "i"]).sort("k").collect().rows()
    [('a', 1, 3), ('b', 5, 0)]
    >>> first_per(lf, ["k"], ["t", "i"], last=True).sort("k").collect().rows()
    [('a', 2, 0), ('b', 5, 0)]
    """
    head = pl.col(order[0])
    bound = head.max() if last else head.min()
    narrowed = (
        frame.filter(head == bound.over(list(keys)))
        .with_columns(pl.len().over(list(keys)).alias("__tied"))
        .cache()  # both branches below read it: compute the upstream plan once
    )
    single = narrowed.filter(pl.col("__tied") == 1)
    tied = (
        narrowed.filter(pl.col("__tied") > 1)
        .sort([*keys, *order], descending=last, nulls_last=True)
        .unique(subset=list(keys), keep="first", maintain_order=True)
    )
    return pl.concat([single, tied]).drop("__tied")


def first_rows(
    frame: pl.DataFrame, key: str, order: Sequence[str], *, last: bool = False
) -> npt.NDArray[np.int64]:
    """Row numbers of the first (or last) row of each ``key`` in ``order``, ascending.

    :func:`first_per` for an eager frame whose ``key`` is an integer address key
    (:func:`address_keys`): each key's smallest (largest) ``order[0]`` is found with NumPy in
    one pass, and only the keys still tied after it are sorted. Rows whose key or
    ``order[0]`` is null are never chosen.

    Examples
    --------
    >>> df = pl.DataFrame({"k": [0, 0, 0, 1], "t": [2, 1, 1, 5], "i": [0, 7, 3, 0]})
    >>> (
    ...     first_rows(df, "k", ["t", "i"]).tolist(),
    ...     first_rows(df, "k", ["t", "i"], last=True).tolist(),
    ... )
    ([2, 3], [0, 3])
    """
    keys, head = frame.get_column(key), frame.get_column(order[0])
    rows: npt.NDArray[np.int64] | None = None  # None: every row (the common case, no copies)
    if keys.null_count() or head.null_count():
        rows = np.flatnonzero((keys.is_not_null() & head.is_not_null()).to_numpy())
        keys, head = keys.gather(rows), head.gather(rows)
    if keys.len() == 0:
        return np.zeros(0, dtype=np.int64)
    k = keys.to_numpy()
    h = head.cast(pl.Int64).to_numpy()
    extreme = np.iinfo(np.int64).min if last else np.iinfo(np.int64).max
    best = np.full(int(k.max()) + 1, extreme, dtype=np.int64)
    (np.maximum if last else np.minimum).at(best, k, h)
    at_best = np.flatnonzero(h == best[k])
    rows, k = (at_best if rows is None else rows[at_best]), k[at_best]
    tied = np.bincount(k)[k] > 1
    settled = [rows[~tied]]
    if tied.any():  # few: the same sort as first_per's
        ties = (
            frame[rows[tied]]
            .with_columns(pl.Series("__row", rows[tied]))
            .sort([key, *order], descending=last, nulls_last=True)
            .unique(subset=[key], keep="first", maintain_order=True)
        )
        settled.append(ties.get_column("__row").to_numpy())
    return np.sort(np.concatenate(settled))


def checked_sum(column: str) -> pl.Expr:
    """Exact sum of a decimal-string amount as Int128, or null when it could overflow.

    An aggregation: Int128 ``sum()`` wraps silently past 2**127 (DESIGN.md), so the sum is
    trusted only when no value is beyond Int128 and a Float64 shadow sum stays below 1e38
    (far from the wrap, well beyond float error). Native-coin sums never get near it.

    Examples
    --------
    >>> lf = pl.LazyFrame({"value": [str(10**37), str(10**37), "1"]})
    >>> lf.select(checked_sum("value")).collect().item() == 2 * 10**37 + 1
    True
    >>> pl.LazyFrame({"value": [str(10**38)] * 2}).select(checked_sum("value")).collect().item()
    """
    exact = int128_or_null(column)
    shadow = pl.col(column).cast(pl.Float64, strict=False)
    safe = (exact.null_count() == 0) & (shadow.sum() < 1e38)
    return pl.when(safe).then(exact.sum()).otherwise(None).alias(column)
