"""Integer ids for addresses: the store numbers each ``(chain, address)`` once, when first written.

Clustering groups and joins millions of transfers by address. On 42-byte hex strings that is
the dominant cost (DESIGN.md: mapping 20M addresses to integers with a string join takes
about 22 s), and it would be paid again on every run. The store pays it once instead, for
the addresses an ingest brings that it has not seen, and writes two UInt32 columns beside
the strings (``transfers.from_id``, ``to_id``; the numbering is the ``addresses`` table).

Ids depend on the order in which data was ingested; nothing a user sees does (outputs are
sorted by the strings).
"""

from __future__ import annotations

import polars as pl

from tracer.errors import TracerError
from tracer.schema import ADDRESS_IDS, ADDRESSES

__all__ = ["MAX_ADDRESSES", "with_address_ids"]

#: UInt32 ids: one data directory holds at most this many distinct ``(chain, address)`` pairs.
MAX_ADDRESSES = 2**32

_SIDES = {"from_address": "from_id", "to_address": "to_id"}


def with_address_ids(
    transfers: pl.DataFrame, known: pl.LazyFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``transfers`` with ``from_id`` and ``to_id``, and the ``addresses`` rows it adds.

    Parameters
    ----------
    transfers
        Rows of ``schema.TRANSFERS`` (any id columns they carry are replaced).
    known
        The ``addresses`` rows already stored.

    Returns
    -------
    tuple
        The transfers with their ids (null for a null address), and the addresses new to
        ``known``, numbered from ``known``'s largest id + 1 in order of first appearance.

    Examples
    --------
    >>> known = pl.LazyFrame(
    ...     {"chain": ["ethereum"], "address": ["0xb"], "address_id": [0]}, schema=ADDRESSES
    ... )
    >>> tr = pl.DataFrame(
    ...     {"chain": ["ethereum"] * 2, "from_address": ["0xa", "0xb"], "to_address": ["0xb", None]}
    ... )
    >>> rows, new = with_address_ids(tr, known)
    >>> rows.select("from_id", "to_id").rows(), new.rows()
    ([(1, 0), (0, None)], [('ethereum', '0xa', 1)])
    """
    base = transfers.drop(list(ADDRESS_IDS), strict=False)
    both = (
        pl.concat([base.select("chain", pl.col(side).alias("address")) for side in _SIDES])
        .drop_nulls()
        .unique(maintain_order=True)  # first appearance: a deterministic numbering
    )
    seen = known.join(both.lazy(), on=["chain", "address"], how="semi").collect()
    new = both.join(seen, on=["chain", "address"], how="anti", maintain_order="left")
    top = known.select(pl.col("address_id").max()).collect().item()
    start = 0 if top is None else int(top) + 1
    if start + new.height > MAX_ADDRESSES:
        msg = (
            f"the data directory would hold {start + new.height:,} addresses, more than the "
            f"{MAX_ADDRESSES:,} its UInt32 address ids can number: split the case into "
            "several data directories (by chain or by block range)"
        )
        raise TracerError(msg)
    ids = pl.int_range(start, start + new.height, dtype=pl.Int64).cast(pl.UInt32)
    new = new.with_columns(ids.alias("address_id")).match_to_schema(ADDRESSES)
    index = pl.concat([seen.match_to_schema(ADDRESSES), new])
    out = base
    for side, column in _SIDES.items():
        out = out.join(
            index.rename({"address": side, "address_id": column}),
            on=["chain", side],
            how="left",
            maintain_order="left",
        )
    return out, new
